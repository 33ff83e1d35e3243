"""Single-fault mutants of any rule's generated Verilog, to show the testbench catches
faults, and the replay corpus of saved cases they make.

Classes (each mutant is one fault in a copy of the design's Verilog, found by pattern in
the text, so every rule's unit gets them):

``table``      one bit flipped (the second-highest) in one ROM entry (``name[i] = W'h..;``;
               not in the zero padding up to a power of two, which nothing reads): the LNS
               units' exp2 and Gaussian-logarithm tables
``constant``   a constant added in the datapath (a log constant, a bias offset, an IEEE
               exponent bias) off by one or with one bit flipped
``rounding``   a round-to-nearest-even made ties-round-up: a ``>`` against the half-way
               constant of the bits shifted out (``x[k-1:0] > k'h8..``, every copy of it)
               made ``>=``, or a half-up rounding's tie correction (``up ^ {0, tie &
               lsb}``) dropped (the LNS units), or the IEEE rounding's ``round & (sticky | lsb)`` made
               ``round`` (ties away from zero; the float units)
``handshake``  a wrapper with the module's name around the renamed original: ``in_ready``
               stuck 0 (dropped ready), ``in_ready`` stuck 1 (ignores back-pressure),
               ``out_valid`` stuck 1 or stuck 0

The replay corpus: `save_corpus` (``python -m testbench.faults --save-corpus
tests/failures``) saves, for every entry of `CORPUS` (an evaluator path and a preset: every
evaluator path, python, numba, amaranth, icarus, verilator, and every rule of the
registry), a case that one injected fault on that path got wrong; the test suite replays
them on every evaluator.  `rom_fault` makes the model's and the RTL's fault (one bit of
Madam's exp2 ROM flipped, through a copy of the configuration); `faulty_verilog` rebuilds
the IEEE unit with a flipped constant or its rounding's sticky bit stuck at 1.
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
from .compare import Outputs, compare, save_case
from .design import generate
from .tools import Simulator
from .vectors import expected_outputs, generate as generate_vectors

__all__ = ["Mutant", "mutants", "table_mutants", "constant_mutants", "rounding_mutants",
           "handshake_mutants", "rom_fault", "faulty_verilog", "FLOAT_FAULTS", "save_corpus",
           "CORPUS", "CORPUS_PATHS", "caught"]

_TABLE = re.compile(r"^(\s*)([\w\\$]+)\[(\d+)\] = (\d+)'h([0-9a-fA-F]+);", re.M)
_ADD_CONST = re.compile(r"(?<=\+ )(\$signed\((\d+)'h([0-9a-fA-F]+)\))")
_HALF_GT = re.compile(r"(\S+ ?\[(\d+):0\]) > (\d+)'h([0-9a-fA-F]+);")
_RNE_UP = re.compile(r"(\w+_rp_round) & (\\\$\d+ )")
_TIE_XOR = re.compile(r"(\S+\[\d+:\d+\]) \^ \{ \d+'h0+, \\\$\d+  \};")


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


def _sub_all(text, spans, new):
    """``text`` with every ``(start, end)`` of ``spans`` (disjoint) replaced by ``new``."""
    for start, end in sorted(spans, reverse=True):
        text = _sub(text, start, end, new)
    return text


def rounding_mutants(text: str):
    """Every nearest-even rounding of the text made to round ties up (see the module's
    doc)."""
    out = []
    # One rounding's half-way compare may be written out more than once (Amaranth's
    # backend repeats an expression used in several places: the additive units' round_pack
    # uses the round-up bit for the result and for both range compares): one fault is
    # every copy of the same compare changed.
    copies: dict = {}
    for m in _HALF_GT.finditer(text):
        bits, width, value = int(m.group(2)) + 1, int(m.group(3)), int(m.group(4), 16)
        if bits != width or value != 1 << (width - 1):
            continue                      # not the half-way point of the bits shifted out
        copies.setdefault(m.group(0), (m, []))[1].append((m.start(), m.end()))
    for found, (m, spans) in copies.items():
        new = f"{m.group(1)} >= {m.group(3)}'h{m.group(4)};"
        n = f" ({len(spans)} copies)" if len(spans) > 1 else ""
        out.append(Mutant("rounding", f"'{found}' made '>='{n} (ties round up)",
                          _sub_all(text, spans, new)))
    # The half-up rounding with a tie clearing the LSB (rtl.log_adder._rne_of_half_up:
    # ``up ^ {0.., tie & up[0]}``): the tie's correction dropped, ties round up
    for m in _TIE_XOR.finditer(text):
        out.append(Mutant("rounding", f"'{m.group(0)}' made '{m.group(1)};' (ties round up)",
                          _sub(text, m.start(), m.end(), m.group(1) + ";")))
    for m in _RNE_UP.finditer(text):
        out.append(Mutant("rounding", f"'{m.group(0).strip()}' made '{m.group(1)}' (ties "
                                      f"away from zero)",
                          _sub(text, m.start(), m.end(), m.group(1) + " ")))
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


def caught(design, vs, mutant: Mutant, workdir, *, sim=Simulator.ICARUS, gap: int = 10,
           bp: int = 20, maxerr: int = 2):
    """Run ``vs`` through ``mutant`` of ``design`` on ``sim`` (the vector testbench): the
    `fastpath.HdlRun` (``mismatches`` or ``protocol`` tell the fault was caught)."""
    from .tools import digest
    d = Path(workdir) / f"mutant-{digest(mutant.text)}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / design.verilog.name
    path.write_text(mutant.text)
    return fastpath.run_vectors(sim, design, vs, gap=gap, bp=bp, verilog=path, maxerr=maxerr,
                                workdir=d)


# ---- the IEEE unit rebuilt with one fault ---------------------------------------------------
FLOAT_FAULTS = ("constant", "rounding")


def _flipped_constant_rule(cfg, name: str, bit: int):
    """A copy of ``cfg`` (any IEEE program rule) whose constant ``name`` has bit ``bit``
    flipped (the hardware built from it holds one wrong constant; the model keeps the right
    one)."""
    from functools import cached_property
    base = type(cfg)

    class FlippedConstant(base):
        @cached_property
        def constants(self):
            c = dict(base.constants.func(self))
            c[name] ^= 1 << bit
            return c

    return FlippedConstant(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                              if f.init})


class _sticky_stuck_at_one:
    """Within the block, every float operator's `round_pack` sees its sticky bit stuck at
    1: a tie rounds away from zero instead of to even (and nothing else changes)."""

    MODULES = ("add", "mul", "div", "sqrt", "convert")

    def __enter__(self):
        import importlib
        from amaranth.hdl import Value
        self.saved = []
        for name in self.MODULES:
            mod = importlib.import_module(f"rtl.float.{name}")
            orig = mod.round_pack

            def broken(m, pipe, fmt, sign, exp, sig, *, _orig=orig, **kw):
                return _orig(m, pipe, fmt, sign, exp, Value.cast(sig) | 1, **kw)

            self.saved.append((mod, orig))
            mod.round_pack = broken
        return self

    def __exit__(self, *exc):
        for mod, orig in self.saved:
            mod.round_pack = orig
        return False


def faulty_verilog(cfg, fault: str, out_dir, *, lanes: int = 1, constant: str = "b1",
                   bit: int = 0):
    """Write the Verilog of an IEEE float Adam unit (``cfg`` a
    `lns.rules.ieee_adam.FloatAdamConfig`) rebuilt with one fault, module name and ports as the
    design's (a drop-in for the ``verilog=`` of `fastpath.run_vectors`, `evaluate.evaluate`
    and `streaming.stream`); returns its path.

    ``"constant"``: bit ``bit`` of the constant ``constant`` flipped; ``"rounding"``: the
    rounding's sticky bit stuck at 1 in every operator (ties away from zero).
    """
    import os
    from lns.rules.ieee_program import FloatProgram
    from rtl.design import array_of, module_name
    if not isinstance(cfg, FloatProgram):
        raise TypeError(f"cfg must be a FloatAdamConfig, not {type(cfg).__name__} (or "
                        f"another IEEE program rule; the Verilog mutants of `mutants` fault "
                        f"every rule)")
    if fault not in FLOAT_FAULTS:
        raise ValueError(f"fault must be one of {', '.join(FLOAT_FAULTS)}, not {fault!r}")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    from amaranth.back import verilog as back
    name = module_name(cfg, lanes)
    if fault == "constant":
        top = array_of(_flipped_constant_rule(cfg, constant, bit), lanes)
        text = back.convert(top, name=name, emit_src=False)
    else:
        with _sticky_stuck_at_one():
            top = array_of(cfg, lanes)
            text = back.convert(top, name=name, emit_src=False)
    path = Path(out_dir) / f"{name}_{fault}.v"
    path.write_text(text)
    return path


# ---- the replay corpus ------------------------------------------------------------------
# tests/failures/ holds, for every evaluator path and every rule, a saved case that a single
# fault got wrong.  `tests/test_testbench_replay.py` replays every saved case on every
# evaluator against the correct model, so the corpus is never empty and its cases are
# known to tell a faulty evaluator from a correct one.  `save_corpus` regenerates it.
#
# The model and Amaranth paths take their faults through the configuration: a copy of
# Madam's config whose ``exp2`` ROM (the step's ``2**frac`` table, which both the model and
# the RTL read from ``cfg.exp_table``) has one bit flipped, the same fault class as a
# ``table`` mutant of the Verilog.  The Verilog paths take a mutant from `mutants` (any
# rule).

#: (evaluator path, preset) of every corpus case: each evaluator path, each rule.
_I, _V, _A = Simulator.ICARUS, Simulator.VERILATOR, Simulator.AMARANTH
CORPUS = (("python", "lns12"), ("numba", "lns8_sign"), (_A, "lns12"), (_I, "lns12"),
          (_V, "lns8_sign"), (_V, "lns12_adam"), (_I, "lns12_sgd"), (_V, "lns12_lion"),
          (_I, "bf16_adam"), (_V, "fp12_adam"), (_I, "mp_adam"), (_I, "fp12_madam"))
#: The evaluator paths and the Madam preset each one's case is made on (the first five).
CORPUS_PATHS = dict(CORPUS[:5])
CORPUS_NOTE = "fault injection"           # the note of every generated case
_MODEL_PATHS = ("python", "numba", _A)


def rom_fault(cfg, index: int, bit: int):
    """A copy of ``cfg`` (Madam) whose ``exp2`` ROM entry ``index`` has bit ``bit`` flipped.

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
    out = Outputs.unknown(vs.out_roles, len(vs))
    for case, got, _ in details:
        for k, value in got.items():
            out.words[k][case] = value
    out.vectors = len(vs)
    return out


def _faulty_run(path: str, cfg, vs, rng: random.Random, workdir):
    """``(fault, {evaluator: Outputs}, reference)``: the first single fault on ``path`` (in
    a seeded order) that makes it disagree with the model over ``vs``; ``fault`` is a
    JSON-able record of it (``path``, ``kind``, ``description``; ``index``/``bit`` of an
    exp2 ROM fault, which `rom_fault` re-creates)."""
    ref = cfg.reference_evaluator
    model = Outputs.full(vs.expected)
    if path in _MODEL_PATHS:
        for index, bit in _rom_fault_sites(cfg, rng):
            faulty = dataclasses.replace(vs, cfg=rom_fault(cfg, index, bit))
            what = {"path": str(path), "kind": "exp2_rom", "index": index, "bit": bit,
                    "description": f"exp2[{index}] bit {bit} flipped in the {path} "
                                   f"evaluator's ROM"}
            if path == "python":
                out, against = {ref: model, "python": evaluate.run_python(faulty, 2000)}, ref
            elif path == "numba":
                words = expected_outputs(faulty.cfg, vs.t, vs.tensor, vs.words,
                                         lanes=vs.lanes, lfsr_seed=vs.lfsr_seed)
                out = {"python": evaluate.run_python(vs, 2000), "numba": Outputs.full(words)}
                against = "python"
            else:
                out = {ref: model, str(_A): evaluate.run_amaranth(faulty, 300)}
                against = ref
            if _disagreeing(vs, out, against):
                return what, out, against
        raise RuntimeError(f"no exp2 fault of {cfg.name} is caught on {path}")
    sim = Simulator.parse(path)
    design = generate(cfg, vs.lanes)
    text = design.verilog.read_text()
    found = [m for m in mutants(text, design, seed=rng.randrange(1 << 30), tables=64,
                                constants=64) if m.kind != "handshake"]
    rng.shuffle(found)
    for k, m in enumerate(found):
        # Icarus screens the mutants (no build of its own); Verilator runs the caught ones.
        r = caught(design, vs, m, workdir, maxerr=5, gap=0, bp=0)
        if r.details and not r.protocol and sim is not Simulator.ICARUS:
            r = caught(design, vs, m, workdir, sim=sim, maxerr=5, gap=0, bp=0)
        if r.details and not r.protocol:
            out = {ref: model, str(sim): _hdl_outputs(vs, r.details)}
            return {"path": str(path), "kind": f"verilog_{m.kind}",
                    "description": f"{m.kind} mutant of the Verilog: {m.description}"}, \
                out, ref
    raise RuntimeError(f"no mutant of {cfg.name} is caught on {path}")


def _disagreeing(vs, out, ref):
    return compare(vs, out, reference=ref, out=False, max_report=50)["cases"]


def save_corpus(folder, *, seed: int = 1, vectors: int = 3000, progress=None,
                only=None) -> list:
    """Regenerate the fault-injection corpus in ``folder``: for every entry of `CORPUS`
    (``only``: those whose preset or path is in it), the first case a single fault on that
    path gets wrong, saved with `compare.save_case` (its ``observed`` entry records the
    faulty value).  Cases saved by earlier runs of this function for those entries (note
    `CORPUS_NOTE`) are removed first; other saved cases (real failures) are kept.
    Returns the paths written.  The same seed gives the same files."""
    say = progress or (lambda msg: None)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(k, path, preset) for k, (path, preset) in enumerate(CORPUS)
            if only is None or path in only or preset in only]
    for old in folder.glob("*.json"):
        data = json.loads(old.read_text())
        if not data.get("note", "").startswith(CORPUS_NOTE):
            continue
        mine = any(data["config"].get("name") == preset
                   and data.get("fault", {}).get("path") == path for _, path, preset in todo)
        if only is None or mine:
            old.unlink()
    written, seen = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for k, path, preset in todo:
            say(f"{path}: looking for a caught fault on {preset}")
            cfg = presets.get(preset)
            rng = random.Random(f"{seed}:{path}" if k < 5 else f"{seed}:{path}:{preset}")
            vs = generate_vectors(cfg, vectors, seed=seed + k)
            what, out, ref = _faulty_run(path, cfg, vs, rng, tmp)
            names = list(out)
            for i in _disagreeing(vs, out, ref):
                key = (preset, int(vs.t[i]), *(int(a[i]) for a in vs.tensor.values()),
                       *(int(a[i]) for a in vs.words.values()), vs.lfsr_states_before(i))
                if key in seen:                  # one file a case: keep the first path's
                    continue
                seen.add(key)
                observed = {n: [int(out[n].words[r][i]) for r in vs.out_roles] for n in names
                            if all(out[n].words[r][i] >= 0 for r in vs.out_roles)}
                written.append(save_case(vs, i, folder, observed=observed, fault=what,
                                         note=f"{CORPUS_NOTE} on {path}: "
                                              f"{what['description']}"))
                break
            say(f"{path} ({preset}): {what['description']} -> {written[-1].name}")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbench.faults",
        description="Regenerate the fault-injection corpus of saved cases that "
                    "tests/test_testbench_replay.py replays.")
    parser.add_argument("--save-corpus", metavar="DIR", required=True,
                        help="the folder of saved cases (tests/failures)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", metavar="P,Q", default=None,
                        help="only the corpus entries of these presets or evaluator paths")
    args = parser.parse_args(argv)
    only = None if args.only is None else {x.strip() for x in args.only.split(",")}
    for p in save_corpus(args.save_corpus, seed=args.seed, only=only,
                         progress=lambda msg: print(msg, file=sys.stderr, flush=True)):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
