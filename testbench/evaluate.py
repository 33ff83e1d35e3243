"""Run the chosen evaluators over one `VectorSet` and hand their outputs to `compare`.

``numba`` (the model's kernel; its outputs are the set's expectations) and ``python`` (the
scalar reference, on a sample spread over every group: it is ~10^4 times slower) always
run; ``icarus`` and ``verilator`` run the fast-path vector testbench over every case;
``amaranth`` runs Amaranth's simulator on the RTL over a sample (it manages ~5 k cycles/s).
A sample is the first cases of each group, so stochastic lanes start from states the
model knows (`VectorSet.lane_states_at`).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import fastpath
from .compare import UNKNOWN, Outputs, compare
from .design import Design, generate
from .tools import require
from .vectors import VectorSet, expected_outputs

__all__ = ["sample_chunks", "run_python", "run_amaranth", "run_hdl", "evaluate",
           "replay_file"]


def sample_chunks(vs: VectorSet, k: int):
    """``[(start, stop), ...]``: about ``k`` cases, the first of every group (whole beats)."""
    groups = vs.groups()
    if k >= len(vs):
        return [(a, b) for a, b, _, _ in groups]
    each = max(vs.lanes, -(-k // max(1, len(groups))))
    each = -(-each // vs.lanes) * vs.lanes
    return [(a, min(b, a + each)) for a, b, _, _ in groups]


def _chunked(vs, chunks, fn):
    w = np.full(len(vs), UNKNOWN, dtype=np.int64)
    v = np.full(len(vs), UNKNOWN, dtype=np.int64)
    count = 0
    for a, b in chunks:
        w[a:b], v[a:b] = fn(a, b)
        count += b - a
    return Outputs(w, v, count)


def run_python(vs: VectorSet, k: int = 2000) -> Outputs:
    """The scalar reference over a sample of about ``k`` cases."""
    def fn(a, b):
        return expected_outputs(vs.cfg, vs.t[a:b], vs.clip[a:b], vs.w[a:b], vs.g[a:b],
                                vs.v[a:b], lanes=vs.lanes, lfsr_seed=vs.lane_states_at(a),
                                evaluator="python")
    return _chunked(vs, sample_chunks(vs, k), fn)


def run_amaranth(vs: VectorSet, k: int = 1000, *, gap: float = 0.2, stall: float = 0.3,
                 seed: int = 1) -> Outputs:
    """Amaranth's simulator on the RTL's `MadamUpdateArray` (through ``rtl.sim``) over a
    sample of about ``k`` cases, with random input gaps and output back-pressure."""
    require("amaranth")
    try:
        from rtl.sim import simulate_update
    except ImportError as exc:
        raise RuntimeError(f"the amaranth evaluator needs rtl.sim.simulate_update ({exc})") \
            from None

    def fn(a, b):
        r = simulate_update(vs.cfg, vs.w[a:b], vs.g[a:b], vs.v[a:b], int(vs.t[a]),
                            clip=int(vs.clip[a]), lanes=vs.lanes,
                            lfsr_state=vs.lane_states_at(a), gap=gap, stall=stall,
                            seed=seed + a)
        return np.asarray(r.w, dtype=np.int64)[:b - a], np.asarray(r.v, dtype=np.int64)[:b - a]
    return _chunked(vs, sample_chunks(vs, k), fn)


def run_hdl(sim: str, design: Design, vs: VectorSet, **kw):
    """One HDL simulator's fast-path run as `Outputs` (and the raw `HdlRun`)."""
    r = fastpath.run_vectors(sim, design, vs, **kw)
    return Outputs.checked_against(vs, r.details, r.mismatches, r.vectors, r.protocol), r


def evaluate(vs: VectorSet, sims=("icarus", "verilator"), *, design: Design | None = None,
             python_sample: int = 2000, amaranth_sample: int = 1000, gap: int = 10,
             bp: int = 20, rng_seed: int = 1, max_report: int = 10, out=None,
             failures_dir=None, progress=None) -> dict:
    """Every evaluator in ``sims`` (plus ``numba`` and ``python``) over ``vs``, compared.

    Returns `compare`'s dict with ``"runs"``: per HDL simulator its cycles and seconds.
    ``progress`` is called with a message as each evaluator starts (the CLI prints it on
    stderr).  A missing simulator raises `tools.MissingSimulator`.
    """
    say = progress or (lambda msg: None)
    for sim in sims:
        require(sim)
    results = {"numba": Outputs.full(vs.exp_w, vs.exp_v)}
    say(f"python reference on {min(python_sample, len(vs))} cases")
    results["python"] = run_python(vs, python_sample)
    runs = {}
    hdl = [s for s in sims if s in ("icarus", "verilator")]
    if hdl and design is None:
        say(f"generating Verilog for {vs.cfg.name} x{vs.lanes}")
        design = generate(vs.cfg, vs.lanes)
    for sim in hdl:
        say(f"{sim}: {len(vs)} vectors")
        t0 = time.perf_counter()
        results[sim], r = run_hdl(sim, design, vs, gap=gap, bp=bp, rng_seed=rng_seed,
                                  maxerr=max_report)
        runs[sim] = {"cycles": r.cycles, "seconds": round(r.seconds, 3),
                     "build_seconds": round(r.build_seconds, 3),
                     "wall_seconds": round(time.perf_counter() - t0, 3)}
    if "amaranth" in sims:
        say(f"amaranth on {min(amaranth_sample, len(vs))} cases")
        t0 = time.perf_counter()
        results["amaranth"] = run_amaranth(vs, amaranth_sample, seed=rng_seed)
        runs["amaranth"] = {"wall_seconds": round(time.perf_counter() - t0, 3)}
    summary = compare(vs, results, max_report=max_report,
                      out=sys.stdout if out is None else out, failures_dir=failures_dir)
    summary["runs"] = runs
    return summary


def replay_file(path, sims=("icarus", "verilator", "amaranth"), out=False) -> dict:
    """Replay one saved case (`compare.save_case`) through every evaluator."""
    from .compare import load_case
    vs = load_case(path)
    return evaluate(vs, sims, python_sample=1, amaranth_sample=1, gap=0, bp=0, out=out)
