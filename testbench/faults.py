"""Single-fault mutants of the generated Verilog, to show the testbench catches faults.

Classes (each mutant is one fault in a copy of the design's Verilog):

``table``      one bit flipped (the second-highest) in one ROM entry (``name[i] = W'h..;``;
               not in the zero padding up to a power of two, which nothing reads)
``constant``   a constant added in the datapath (a log constant, a bias offset) off by one
               or with one bit flipped
``rounding``   a ``>`` against a half-way constant (``W'h8..``) made ``>=``: ties round up
``handshake``  a wrapper with the module's name around the renamed original: ``in_ready``
               stuck 0 (dropped ready), ``in_ready`` stuck 1 (ignores back-pressure),
               ``out_valid`` stuck 1 or stuck 0
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

__all__ = ["Mutant", "mutants", "handshake_mutants"]

_TABLE = re.compile(r"^(\s*)([\w\\$]+)\[(\d+)\] = (\d+)'h([0-9a-fA-F]+);", re.M)
_ADD_CONST = re.compile(r"(?<=\+ )(\$signed\((\d+)'h([0-9a-fA-F]+)\))")
_HALF_GT = re.compile(r"(\S+ \[\d+:0\]) > (\d+)'h(8[0]*);")


@dataclass(frozen=True)
class Mutant:
    kind: str
    description: str
    text: str


def _flip(value: int, bit: int) -> int:
    return value ^ (1 << bit)


def _sub(text, start, end, new):
    return text[:start] + new + text[end:]


def table_mutants(text: str, rng: random.Random, count: int):
    # ROMs are padded to a power of two with zero entries nothing reads: skip the padding.
    found = [m for m in _TABLE.finditer(text) if int(m.group(4)) >= 2]
    last = {}
    for m in found:
        if int(m.group(5), 16):
            last[m.group(2)] = max(last.get(m.group(2), -1), int(m.group(3)))
    sites = [m for m in found if int(m.group(3)) <= last.get(m.group(2), -1)]
    out = []
    for m in rng.sample(sites, min(count, len(sites))):
        width, value = int(m.group(4)), int(m.group(5), 16)
        new = _flip(value, width - 2)
        line = f"{m.group(1)}{m.group(2)}[{m.group(3)}] = {width}'h{new:x};"
        out.append(Mutant("table", f"{m.group(2)}[{m.group(3)}] bit {width - 2} flipped "
                                   f"(0x{value:x} -> 0x{new:x})",
                          _sub(text, m.start(), m.end(), line)))
    return out


def constant_mutants(text: str, rng: random.Random, count: int):
    sites = [m for m in _ADD_CONST.finditer(text) if int(m.group(3), 16) > 1]
    out = []
    for m in rng.sample(sites, min(count, len(sites))):
        width, value = int(m.group(2)), int(m.group(3), 16)
        if rng.random() < 0.5:
            new, what = (value + 1) % (1 << width), "off by one"
        else:
            bit = rng.randrange(max(1, width - 1))
            new, what = _flip(value, bit), f"bit {bit} flipped"
        out.append(Mutant("constant", f"constant {width}'h{value:x} {what} -> {width}'h{new:x} "
                                      f"at offset {m.start()}",
                          _sub(text, m.start(), m.end(), f"$signed({width}'h{new:x})")))
    return out


def rounding_mutants(text: str):
    out = []
    for m in _HALF_GT.finditer(text):
        new = f"{m.group(1)} >= {m.group(2)}'h{m.group(3)};"
        out.append(Mutant("rounding", f"'{m.group(0)}' made '>=' (ties round up)",
                          _sub(text, m.start(), m.end(), new)))
    return out


def handshake_mutants(text: str, design):
    """Wrappers that keep the module's name and ports and break one handshake signal."""
    mod = design.module
    renamed = re.sub(rf"\bmodule {mod}\b", f"module {mod}__orig", text, count=1)
    ports = design.ports
    decls, conns = [], []
    for name, p in ports.items():
        direction = "input" if p["direction"].startswith("in") else "output"
        rng_ = f"[{p['width'] - 1}:0] " if p["width"] > 1 else ""
        sign = "signed " if p.get("signed") else ""
        decls.append(f"  {direction} wire {sign}{rng_}{name}")
        inner = f"{name}__i" if name in ("in_ready", "out_valid") else name
        conns.append(f".{name}({inner})")
    out = []
    for sig, value, what in (("in_ready", "1'b0", "in_ready stuck 0 (dropped ready)"),
                             ("in_ready", "1'b1", "in_ready stuck 1 (ignores back-pressure)"),
                             ("out_valid", "1'b1", "out_valid stuck 1"),
                             ("out_valid", "1'b0", "out_valid stuck 0")):
        other = "out_valid" if sig == "in_ready" else "in_ready"
        wrapper = (f"\nmodule {mod} (\n" + ",\n".join(decls) + "\n);\n"
                   f"  wire in_ready__i, out_valid__i;\n"
                   f"  {mod}__orig inner ({', '.join(conns)});\n"
                   f"  assign {sig} = {value};\n  assign {other} = {other}__i;\n"
                   f"endmodule\n")
        out.append(Mutant("handshake", what, renamed + wrapper))
    return out


def mutants(text: str, design, *, seed: int = 1, tables: int = 6, constants: int = 6):
    """A seeded selection of single-fault mutants of ``text`` (the design's Verilog)."""
    rng = random.Random(seed)
    return (table_mutants(text, rng, tables) + constant_mutants(text, rng, constants)
            + rounding_mutants(text) + handshake_mutants(text, design))
