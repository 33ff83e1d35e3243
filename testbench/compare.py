"""The one compare of every evaluator's outputs, its mismatch report, and saved failing
cases.

`compare` takes the outputs of the evaluators keyed by name (``python``, ``numba``,
``amaranth``, ``icarus``, ``verilator``) over one `VectorSet`.  On a case where they
disagree it groups the evaluators by the value they agree with, so the report says who is
probably wrong::

    case 17: t=10 x_bc=-0x2f3 clip=0x7ff lane 0
      in  w=0x1a3 (-0.01234) g=0x0f2 (0.00123) v=0x0c351 (1.2e-06)
      w'  numba, python, icarus agree on 0x1a3 (-0.01234); verilator says 0x1a4 (-0.01241)
      v'  all agree on 0x0c361 (1.3e-06)

It stops after ``max_report`` cases.  Each reported case can be saved as a self-contained
JSON file (config, lanes = 1, t, clip, inputs, the lane's LFSR state before the case) that
`load_case` turns back into a one-case `VectorSet`; ``tests/test_testbench_replay.py``
replays every file under ``tests/failures/`` through every evaluator.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import lns
from lns import MadamConfig

from .tools import digest
from .vectors import VectorSet, expected_outputs

__all__ = ["Outputs", "compare", "save_case", "load_case", "case_dict", "write_case",
           "case_vectors", "UNKNOWN"]

UNKNOWN = -1


@dataclass
class Outputs:
    """One evaluator's outputs over a vector set.

    ``w``/``v`` have one entry a case, `UNKNOWN` (-1) where the evaluator did not run the
    case or did not report its value (a vector testbench reports only its first mismatches:
    every other case it checked equals the expectation it was given).  ``mismatches`` is a
    count the evaluator made itself (it may exceed the cases it showed); ``protocol`` its
    handshake errors (lost or duplicated beats, time-outs)."""

    w: np.ndarray
    v: np.ndarray
    vectors: int
    mismatches: int | None = None
    protocol: list = field(default_factory=list)

    @classmethod
    def full(cls, w, v) -> "Outputs":
        w, v = np.array(w, dtype=np.int64), np.array(v, dtype=np.int64)    # copies
        return cls(w, v, int(w.shape[0]))

    @classmethod
    def checked_against(cls, vs: VectorSet, details, mismatches, vectors, protocol=()):
        """Outputs of a testbench that compared against ``vs``'s expectations itself:
        equal to them except the ``details`` it printed ``(case, w_got, _, v_got, _)``;
        unknown everywhere when it reported more mismatches than it showed."""
        w, v = vs.exp_w.copy(), vs.exp_v.copy()
        if mismatches > len(details):
            w[:] = UNKNOWN
            v[:] = UNKNOWN
        for case, wg, _, vg, _ in details:
            if 0 <= case < len(vs):
                w[case], v[case] = wg, vg
        return cls(w, v, vectors, mismatches, list(protocol))


def _fmt(fmt, code) -> str:
    if code == UNKNOWN or code < 0:
        return "?"
    digits = max(1, (fmt.total_bits + 3) // 4)
    try:
        val = float(lns.decode(fmt, int(code)))
        return f"0x{int(code):0{digits}x} ({val:.6g})"
    except ValueError:
        return f"0x{int(code):x} (not a word of {fmt.name})"


def _groups(names, values):
    by_value = {}
    for name, value in zip(names, values):
        if value != UNKNOWN:
            by_value.setdefault(int(value), []).append(name)
    return sorted(by_value.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _describe(fmt, names, values) -> str:
    groups = _groups(names, values)
    if len(groups) == 1:
        return f"all agree on {_fmt(fmt, groups[0][0])}"
    parts = []
    for k, (value, who) in enumerate(groups):
        verb = ("agree on" if len(who) > 1 else "says") if k == 0 else \
            ("say" if len(who) > 1 else "says")
        parts.append(f"{', '.join(who)} {verb} {_fmt(fmt, value)}")
    return "; ".join(parts)


def compare(vs: VectorSet, results: dict, *, reference: str = "numba", max_report: int = 10,
            out=None, failures_dir=None, max_saved: int = 3) -> dict:
    """Compare every evaluator's `Outputs` over ``vs``; print the first ``max_report``
    disagreeing cases to ``out`` (stdout by default; ``False`` prints nothing).

    Returns ``{"ok": bool, "evaluators": {name: {"vectors": n, "mismatches": m}},
    "cases": [first disagreeing case indices], "saved": [paths]}``.  An evaluator's
    mismatches are the cases where it differs from ``reference`` (the model's kernel,
    which defines the outputs), or its own larger count, plus its protocol errors.
    """
    if out is None:
        out = sys.stdout
    if reference not in results:
        raise ValueError(f"reference {reference!r} must be one of the evaluators "
                         f"{', '.join(results)}")
    names = list(results)
    n = len(vs)
    W = np.stack([results[k].w for k in names])
    V = np.stack([results[k].v for k in names])
    for k, name in enumerate(names):
        if W[k].shape != (n,) or V[k].shape != (n,):
            raise ValueError(f"{name} outputs must have {n} entries, not {W[k].shape}")
    ref = names.index(reference)
    known = (W != UNKNOWN) & (V != UNKNOWN)
    differs = known & known[ref] & ((W != W[ref]) | (V != V[ref]))
    summary = {}
    for k, name in enumerate(names):
        r = results[name]
        count = int(differs[k].sum())
        if r.mismatches is not None:
            count = max(count, int(r.mismatches))
        summary[name] = {"vectors": int(r.vectors), "mismatches": count}
    # A case disagrees when any two known values differ (not only against the reference).
    wmax = np.where(known, W, np.iinfo(np.int64).min).max(axis=0)
    wmin = np.where(known, W, np.iinfo(np.int64).max).min(axis=0)
    vmax = np.where(known, V, np.iinfo(np.int64).min).max(axis=0)
    vmin = np.where(known, V, np.iinfo(np.int64).max).min(axis=0)
    bad = np.flatnonzero((known.sum(axis=0) > 1) & ((wmax != wmin) | (vmax != vmin)))
    protocol = {name: results[name].protocol for name in names if results[name].protocol}
    ok = not any(s["mismatches"] for s in summary.values()) and bad.size == 0 \
        and not protocol
    saved = []
    if out is not False:
        for name, lines in protocol.items():
            for line in lines[:max_report]:
                print(f"{name}: {line}", file=out)
        for i in bad[:max_report]:
            print(_case_report(vs, int(i), names, W[:, i], V[:, i]), file=out)
        if bad.size > max_report:
            print(f"... and {bad.size - max_report} more disagreeing cases", file=out)
        unshown = {k: s["mismatches"] for k, s in summary.items()
                   if s["mismatches"] and not differs[names.index(k)].any()}
        for name, m in unshown.items():
            print(f"{name}: {m} mismatches (values not reported)", file=out)
    if failures_dir is not None:
        for i in bad[:max_saved]:
            saved.append(save_case(vs, int(i), failures_dir, observed={
                name: [int(W[k, i]), int(V[k, i])] for k, name in enumerate(names)
                if known[k, i]}))
    return {"ok": bool(ok), "evaluators": summary, "cases": bad[:max_report].tolist(),
            "disagreeing": int(bad.size), "saved": [str(p) for p in saved]}


def _case_report(vs, i, names, wvals, vvals) -> str:
    c = vs.cfg
    x_bc = c.bias_correction_code(int(vs.t[i]))
    lines = [f"case {i}: t={int(vs.t[i])} x_bc={x_bc} clip=0x{int(vs.clip[i]):x} "
             f"lane {i % vs.lanes} of {vs.lanes}" +
             (f" lfsr=0x{vs.lfsr_states_before(i):08x}" if vs.stochastic else ""),
             f"  in  w={_fmt(c.weight, vs.w[i])} g={_fmt(c.grad, vs.g[i])} "
             f"v={_fmt(c.moment, vs.v[i])}",
             f"  w'  {_describe(c.weight, names, wvals)}",
             f"  v'  {_describe(c.moment, names, vvals)}"]
    return "\n".join(lines)


# ---- saved cases ------------------------------------------------------------------------
def case_dict(vs: VectorSet, i: int, *, observed=None, note: str = "",
              fault: dict | None = None, origin: dict | None = None) -> dict:
    """Case ``i`` of ``vs`` as the self-contained dict `save_case` writes (``origin``
    replaces the default ``{"case", "lanes", "seed"}`` record of where it came from)."""
    case = {"config": vs.cfg.to_dict(), "lanes": 1, "t": int(vs.t[i]),
            "clip": int(vs.clip[i]), "w": int(vs.w[i]), "g": int(vs.g[i]), "v": int(vs.v[i]),
            "lfsr_state": vs.lfsr_states_before(i)}
    data = dict(case, expected={"w": int(vs.exp_w[i]), "v": int(vs.exp_v[i])},
                observed=observed or {},
                origin=origin or {"case": i, "lanes": vs.lanes, "seed": vs.seed}, note=note)
    if fault is not None:
        data["fault"] = fault
    return data


_CASE_KEYS = ("config", "lanes", "t", "clip", "w", "g", "v", "lfsr_state")


def write_case(data: dict, folder) -> Path:
    """Write a case dict (`case_dict`) into ``folder``; the name is a hash of its inputs, so
    saving the same case twice writes one file."""
    key = digest(json.dumps({k: data[k] for k in _CASE_KEYS}, sort_keys=True))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['config']['name']}_{key}.json" if "name" in data["config"] \
        else folder / f"{MadamConfig.from_dict(data['config']).name}_{key}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def save_case(vs: VectorSet, i: int, folder, *, observed=None, note: str = "",
              fault: dict | None = None) -> Path:
    """Write case ``i`` of ``vs`` as a self-contained JSON file in ``folder``; the name is
    a hash of its inputs, so saving the same case twice writes one file.  ``fault``
    (JSON-able) records the injected fault a case was made with (`faults.save_corpus`)."""
    return write_case(case_dict(vs, i, observed=observed, note=note, fault=fault), folder)


def load_case(path) -> VectorSet:
    """A saved case as a one-case, one-lane `VectorSet`, its expectation recomputed by the
    model as it is now."""
    return case_vectors(json.loads(Path(path).read_text()), str(path))


def case_vectors(data: dict, path: str = "the case") -> VectorSet:
    """A case dict (`case_dict`) as a one-case, one-lane `VectorSet` (see `load_case`)."""
    for key in ("config", "t", "clip", "w", "g", "v"):
        if key not in data:
            raise ValueError(f"saved case {path} must have a {key!r} entry")
    cfg = MadamConfig.from_dict(data["config"])
    one = {k: np.array([int(data[k])], dtype=np.int64) for k in ("t", "clip", "w", "g", "v")}
    lfsr = None
    if cfg.is_stochastic:
        if not data.get("lfsr_state"):
            raise ValueError(f"saved case {path} of a stochastic config needs lfsr_state")
        lfsr = np.array([int(data["lfsr_state"])], dtype=np.int64)
    ew, ev = expected_outputs(cfg, one["t"], one["clip"], one["w"], one["g"], one["v"],
                              lanes=1, lfsr_seed=lfsr)
    return VectorSet(cfg, 1, one["t"], one["clip"], one["w"], one["g"], one["v"], ew, ev,
                     lfsr_seed=lfsr, seed=None)
