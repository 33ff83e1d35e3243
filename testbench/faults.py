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

The replay corpus: `save_corpus` (``python -m testbench.faults --save-corpus
tests/failures``) saves, for every evaluator path (python, numba, amaranth, icarus,
verilator), a case that one injected fault on that path got wrong; the test suite replays
them on every evaluator.  `rom_fault` makes the model's and the RTL's fault (one bit of
the exp2 ROM flipped, through a copy of the configuration).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lns import presets

from . import evaluate, fastpath
from .compare import UNKNOWN, Outputs, compare, save_case
from .design import generate
from .vectors import expected_outputs, generate as generate_vectors

__all__ = ["Mutant", "mutants", "handshake_mutants", "rom_fault", "save_corpus", "CORPUS_PATHS"]

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


# ---- the replay corpus ------------------------------------------------------------------
# tests/failures/ holds, for every evaluator path, a saved case that a single fault on that
# path got wrong.  `tests/test_testbench_replay.py` replays every saved case on every
# evaluator against the correct model, so the corpus is never empty and its cases are
# known to tell a faulty evaluator from a correct one.  `save_corpus` regenerates it.
#
# The model and Amaranth paths take their faults through the configuration: a copy of the
# config whose ``exp2`` ROM (the step's ``2**frac`` table, which both the model and the RTL
# read from ``cfg.exp_table``) has one bit flipped, the same fault class as a ``table``
# mutant of the Verilog.  The Verilog paths take a mutant from `mutants`.

#: The evaluator paths and the preset each one's case is made on.
CORPUS_PATHS = {"python": "lns12", "numba": "lns8_sign", "amaranth": "lns12",
                "icarus": "lns12", "verilator": "lns8_sign"}
CORPUS_NOTE = "fault injection"           # the note of every generated case


def rom_fault(cfg, index: int, bit: int):
    """A copy of ``cfg`` whose ``exp2`` ROM entry ``index`` has bit ``bit`` flipped.

    The copy is an instance of a subclass, so it never equals ``cfg`` and shares no cache
    entry with it (the model's kernel constants are cached per configuration)."""
    table = np.array(cfg.exp_table, dtype=np.int64)
    table[index] ^= 1 << bit
    table.setflags(write=False)
    faulty = type(f"{type(cfg).__name__}ExpFault", (type(cfg),),
                  {"exp_table": property(lambda self: table), "__module__": __name__})
    return faulty(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})


def _rom_fault_sites(cfg, rng: random.Random):
    """``(index, bit)`` of every exp2 entry, second-highest bit, in a seeded order; only
    entry 0 for the sign normaliser (``|g_hat| = 1``: it reads nothing else)."""
    order = list(range(len(cfg.exp_table)))
    rng.shuffle(order)
    if not cfg.has_second_moment:
        order = [0]
    return [(i, cfg.exp_table_width - 2) for i in order]


def _hdl_outputs(vs, details):
    """A vector testbench's printed mismatches as `Outputs`: known only where printed."""
    w = np.full(len(vs), UNKNOWN, dtype=np.int64)
    v = np.full(len(vs), UNKNOWN, dtype=np.int64)
    for case, wg, _, vg, _ in details:
        w[case], v[case] = wg, vg
    return Outputs(w, v, len(vs))


def _faulty_run(path: str, cfg, vs, rng: random.Random, workdir):
    """``(fault, {evaluator: Outputs}, reference)``: the first single fault on ``path`` (in
    a seeded order) that makes it disagree with the model over ``vs``; ``fault`` is a
    JSON-able record of it (``path``, ``kind``, ``description``; ``index``/``bit`` of an
    exp2 ROM fault, which `rom_fault` re-creates)."""
    model = Outputs.full(vs.exp_w, vs.exp_v)
    if path in ("python", "numba", "amaranth"):
        for index, bit in _rom_fault_sites(cfg, rng):
            faulty = dataclasses.replace(vs, cfg=rom_fault(cfg, index, bit))
            what = {"path": path, "kind": "exp2_rom", "index": index, "bit": bit,
                    "description": f"exp2[{index}] bit {bit} flipped in the {path} "
                                   f"evaluator's ROM"}
            if path == "python":
                out = {"numba": model, "python": evaluate.run_python(faulty, 2000)}
                ref = "numba"
            elif path == "numba":
                w, v = expected_outputs(faulty.cfg, vs.t, vs.clip, vs.w, vs.g, vs.v,
                                        lanes=vs.lanes, lfsr_seed=vs.lfsr_seed)
                out = {"python": evaluate.run_python(vs, 2000), "numba": Outputs.full(w, v)}
                ref = "python"
            else:
                out = {"numba": model, "amaranth": evaluate.run_amaranth(faulty, 300)}
                ref = "numba"
            if _disagreeing(vs, out, ref):
                return what, out, ref
        raise RuntimeError(f"no exp2 fault of {cfg.name} is caught on {path}")
    design = generate(cfg, vs.lanes)
    text = design.verilog.read_text()
    found = [m for m in mutants(text, design, seed=rng.randrange(1 << 30), tables=64,
                                constants=64) if m.kind != "handshake"]
    rng.shuffle(found)
    for k, m in enumerate(found):
        verilog = Path(workdir) / f"{path}-m{k}" / design.verilog.name
        verilog.parent.mkdir(parents=True)
        verilog.write_text(m.text)
        # Icarus screens the mutants (no build of its own); Verilator runs the caught ones.
        r = fastpath.run_vectors("icarus", design, vs, verilog=verilog, maxerr=5,
                                 workdir=workdir)
        if r.details and not r.protocol and path != "icarus":
            r = fastpath.run_vectors(path, design, vs, verilog=verilog, maxerr=5,
                                     workdir=workdir)
        if r.details and not r.protocol:
            out = {"numba": model, path: _hdl_outputs(vs, r.details)}
            return {"path": path, "kind": f"verilog_{m.kind}",
                    "description": f"{m.kind} mutant of the Verilog: {m.description}"}, \
                out, "numba"
    raise RuntimeError(f"no mutant of {cfg.name} is caught on {path}")


def _disagreeing(vs, out, ref):
    return compare(vs, out, reference=ref, out=False, max_report=50)["cases"]


def save_corpus(folder, *, seed: int = 1, vectors: int = 3000, progress=None) -> list:
    """Regenerate the fault-injection corpus in ``folder``: for every evaluator path of
    `CORPUS_PATHS`, the first case a single fault on that path gets wrong, saved with
    `compare.save_case` (its ``observed`` entry records the faulty value).  Cases saved by
    earlier runs of this function (note `CORPUS_NOTE`) are removed first; other saved
    cases (real failures) are kept.  Returns the paths written.  The same seed gives the
    same files."""
    say = progress or (lambda msg: None)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        if json.loads(old.read_text()).get("note", "").startswith(CORPUS_NOTE):
            old.unlink()
    written, seen = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for k, (path, preset) in enumerate(CORPUS_PATHS.items()):
            say(f"{path}: looking for a caught fault on {preset}")
            cfg = presets.get(preset)
            rng = random.Random(f"{seed}:{path}")
            vs = generate_vectors(cfg, vectors, seed=seed + k)
            what, out, ref = _faulty_run(path, cfg, vs, rng, tmp)
            names = list(out)
            for i in _disagreeing(vs, out, ref):
                key = (preset, int(vs.t[i]), int(vs.clip[i]), int(vs.w[i]), int(vs.g[i]),
                       int(vs.v[i]), vs.lfsr_states_before(i))
                if key in seen:                  # one file a case: keep the first path's
                    continue
                seen.add(key)
                observed = {n: [int(out[n].w[i]), int(out[n].v[i])] for n in names
                            if out[n].w[i] >= 0 and out[n].v[i] >= 0}
                written.append(save_case(vs, i, folder, observed=observed, fault=what,
                                         note=f"{CORPUS_NOTE} on {path}: "
                                              f"{what['description']}"))
                break
            say(f"{path}: {what['description']} -> {written[-1].name}")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbench.faults",
        description="Regenerate the fault-injection corpus of saved cases that "
                    "tests/test_testbench_replay.py replays.")
    parser.add_argument("--save-corpus", metavar="DIR", required=True,
                        help="the folder of saved cases (tests/failures)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for p in save_corpus(args.save_corpus, seed=args.seed,
                         progress=lambda msg: print(msg, file=sys.stderr, flush=True)):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
