"""Run the chosen evaluators over one `VectorSet` of any rule and hand their outputs to
`compare`.

The reference evaluator (``cfg.reference_evaluator``: ``numba`` for the LNS rules,
``numpy`` for IEEE; its outputs are the set's expectations) and ``python`` (the exact
scalar reference, on a sample spread over every group: it is ~10^4 times slower) always
run; ``icarus`` and ``verilator`` run the fast-path vector testbench over every case;
``amaranth`` runs Amaranth's simulator on the RTL array (`rtl.design.array_of`, driven by
`rtl.sim.drive`) over a sample.  A sample is the first cases of each group, so stochastic
lanes start from states the model knows (`VectorSet.lane_states_at`).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import fastpath
from .compare import Outputs, compare
from .design import Design, generate
from .tools import Simulator, require
from .vectors import VectorSet, expected_outputs

__all__ = ["sample_chunks", "run_python", "run_amaranth", "amaranth_words", "run_hdl",
           "evaluate", "replay_file"]


def sample_chunks(vs: VectorSet, k: int):
    """``[(start, stop), ...]``: about ``k`` cases, the first of every group (whole beats)."""
    groups = vs.groups()
    if k >= len(vs):
        return [(a, b) for a, b, _ in groups]
    each = max(vs.lanes, -(-k // max(1, len(groups))))
    each = -(-each // vs.lanes) * vs.lanes
    return [(a, min(b, a + each)) for a, b, _ in groups]


def _chunked(vs, chunks, fn):
    out = Outputs.unknown(vs.out_roles, len(vs))
    count = 0
    for a, b in chunks:
        for k, words in fn(a, b).items():
            out.words[k][a:b] = words
        count += b - a
    out.vectors = count
    return out


def _slice(vs, a, b):
    return ({k: c[a:b] for k, c in vs.tensor.items()},
            {k: c[a:b] for k, c in vs.words.items()})


def run_python(vs: VectorSet, k: int = 2000) -> Outputs:
    """The exact scalar reference (``evaluator="python"``) over a sample of about ``k``
    cases."""
    def fn(a, b):
        tensor, words = _slice(vs, a, b)
        return expected_outputs(vs.cfg, vs.t[a:b], tensor, words, lanes=vs.lanes,
                                lfsr_seed=vs.lane_states_at(a), evaluator="python")
    return _chunked(vs, sample_chunks(vs, k), fn)


_ARRAYS: dict = {}


def amaranth_words(cfg, words: dict, held: dict, *, lanes: int = 1, lfsr_state=None,
                   gap: float = 0.0, stall: float = 0.0, seed: int = 0) -> dict:
    """One group of any rule's words (``{role: array}``, whole beats) through its RTL
    array in Amaranth's simulator (`rtl.sim.drive`, seeded input gaps ``gap`` and output
    stalls ``stall``, probabilities), the held ports ``held``, stochastic lanes loaded
    from ``lfsr_state``: ``{role: int64 array}`` of ``cfg.output_roles``."""
    require(Simulator.AMARANTH)
    from rtl.design import array_of
    from rtl.lanes import pack_beats, unpack_beats
    from rtl.sim import RandomHandshake, drive
    key = (cfg, lanes)
    if key not in _ARRAYS:
        _ARRAYS.clear()                   # one array at a time: elaboration is the cost
        _ARRAYS[key] = array_of(cfg, lanes)
    dut = _ARRAYS[key]
    fmts = cfg.word_formats
    n = len(next(iter(words.values())))
    beats = -(-n // lanes)
    packed = {k: pack_beats(np.asarray(words[k], dtype=np.int64), fmts[k].total_bits, lanes)
              for k in cfg.WORD_ROLES}
    r = drive(dut, beats=beats, steps=1, held=lambda s: held,
              inputs=lambda s, previous: packed, handshake=RandomHandshake(gap, stall, seed),
              lfsr_state=None if lfsr_state is None else list(lfsr_state),
              max_cycles=beats * 20 + 200 + 4 * dut.latency)
    return {k: unpack_beats(r.out[0][k], fmts[k].total_bits, lanes, n)
            for k in cfg.output_roles}


def run_amaranth(vs: VectorSet, k: int = 1000, *, gap: float = 0.2, stall: float = 0.3,
                 seed: int = 1) -> Outputs:
    """Amaranth's simulator on the rule's RTL array over a sample of about ``k`` cases,
    with random input gaps and output back-pressure."""
    def fn(a, b):
        _, words = _slice(vs, a, b)
        return amaranth_words(vs.cfg, words, vs.held_at(a), lanes=vs.lanes,
                              lfsr_state=vs.lane_states_at(a), gap=gap, stall=stall,
                              seed=seed + a)
    return _chunked(vs, sample_chunks(vs, k), fn)


def run_hdl(sim, design: Design, vs: VectorSet, **kw):
    """One HDL simulator's fast-path run as `Outputs` (and the raw `HdlRun`)."""
    r = fastpath.run_vectors(sim, design, vs, **kw)
    return Outputs.checked_against(vs, r.details, r.mismatches, r.vectors, r.protocol), r


def evaluate(vs: VectorSet, sims=(Simulator.ICARUS, Simulator.VERILATOR), *,
             design: Design | None = None, python_sample: int = 2000,
             amaranth_sample: int = 1000, gap: int = 10, bp: int = 20, rng_seed: int = 1,
             max_report: int = 10, out=None, failures_dir=None, progress=None,
             verilog=None) -> dict:
    """Every evaluator in ``sims`` (plus the reference and ``python``) over ``vs``,
    compared.

    Returns `compare`'s dict with ``"runs"``: per HDL simulator its cycles and seconds.
    ``progress`` is called with a message as each evaluator starts (the CLI prints it on
    stderr).  ``verilog`` replaces the design's Verilog (fault injection).  A missing
    simulator raises `tools.MissingSimulator`.
    """
    say = progress or (lambda msg: None)
    sims = Simulator.parse_all(sims)
    for sim in sims:
        require(sim)
    cfg = vs.cfg
    results = {cfg.reference_evaluator: Outputs.full(vs.expected)}
    say(f"python reference on {min(python_sample, len(vs))} cases")
    results["python"] = run_python(vs, python_sample)
    runs = {}
    hdl = [s for s in sims if s.is_hdl]
    if hdl and design is None:
        say(f"generating Verilog for {cfg.name} x{vs.lanes}")
        design = generate(cfg, vs.lanes)
    for sim in hdl:
        say(f"{sim}: {len(vs)} vectors")
        t0 = time.perf_counter()
        results[str(sim)], r = run_hdl(sim, design, vs, gap=gap, bp=bp, rng_seed=rng_seed,
                                       maxerr=max_report, verilog=verilog)
        runs[str(sim)] = {"cycles": r.cycles, "seconds": round(r.seconds, 3),
                          "build_seconds": round(r.build_seconds, 3),
                          "wall_seconds": round(time.perf_counter() - t0, 3)}
    if Simulator.AMARANTH in sims:
        say(f"amaranth on {min(amaranth_sample, len(vs))} cases")
        t0 = time.perf_counter()
        results[str(Simulator.AMARANTH)] = run_amaranth(vs, amaranth_sample, seed=rng_seed)
        runs[str(Simulator.AMARANTH)] = {"wall_seconds": round(time.perf_counter() - t0, 3)}
    summary = compare(vs, results, max_report=max_report,
                      out=sys.stdout if out is None else out, failures_dir=failures_dir)
    summary["runs"] = runs
    return summary


def replay_file(path, sims=tuple(Simulator), out=False) -> dict:
    """Replay one saved case (`compare.save_case`) through every evaluator."""
    from .compare import load_case
    vs = load_case(path)
    return evaluate(vs, sims, python_sample=1, amaranth_sample=1, gap=0, bp=0, out=out)

