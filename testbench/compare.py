"""The one compare of every evaluator's outputs, its mismatch report, and saved failing
cases, for any rule.

`compare` takes the outputs of the evaluators keyed by name (``python``, the reference
evaluator ``numba`` or ``numpy``, ``amaranth``, ``icarus``, ``verilator``) over one
`VectorSet`.  On a case where they disagree it groups the evaluators by the value they agree
with, so the report says who is probably wrong::

    case 17: t=10 x_bc=-755 clip=0x7ff lane 0 of 1
      in  w=0x1a3 (-0.01234) g=0x0f2 (0.00123) v=0x0c351 (1.2e-06)
      w'  numba, python, icarus agree on 0x1a3 (-0.01234); verilator says 0x1a4 (-0.01241)
      v'  all agree on 0x0c361 (1.3e-06)

Words are printed in hex and decoded: LNS words by `lns.decode`, IEEE words exactly
(`word_text`).  It stops after ``max_report`` cases.  Each reported case can be saved as a
self-contained JSON file (`case_dict`: the config with its ``optimizer``, lanes = 1, ``t``,
the tensor-held values, the input words by role, the lane's LFSR state before the case)
that `load_case` turns back into a one-case `VectorSet`; ``tests/test_testbench_replay.py``
replays every file under ``tests/failures/`` through every evaluator.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import lns

from .tools import digest
from .vectors import VectorSet, config_dict, expected_outputs, tensor_held

__all__ = ["Outputs", "compare", "save_case", "load_case", "case_dict", "write_case",
           "case_vectors", "case_report", "word_text", "describe", "UNKNOWN"]

UNKNOWN = -1


@dataclass
class Outputs:
    """One evaluator's outputs over a vector set, by output role.

    ``words[role]`` has one entry a case, `UNKNOWN` (-1) where the evaluator did not run
    the case or did not report its value (a vector testbench reports only its first
    mismatches: every other case it checked equals the expectation it was given).
    ``mismatches`` is a count the evaluator made itself (it may exceed the cases it
    showed); ``protocol`` its handshake errors (lost or duplicated beats, time-outs).  A
    role's words are also an attribute (``out.w``)."""

    words: dict
    vectors: int
    mismatches: int | None = None
    protocol: list = field(default_factory=list)

    def __getattr__(self, name):
        words = self.__dict__.get("words", {})
        if name in words:
            return words[name]
        raise AttributeError(f"Outputs has no attribute {name!r}")

    @classmethod
    def full(cls, words: dict) -> "Outputs":
        """Outputs known for every case (copies, int64)."""
        words = {k: np.array(a, dtype=np.int64) for k, a in words.items()}
        return cls(words, int(len(next(iter(words.values())))))

    @classmethod
    def unknown(cls, roles, n: int) -> "Outputs":
        return cls({k: np.full(n, UNKNOWN, dtype=np.int64) for k in roles}, 0)

    @classmethod
    def checked_against(cls, vs: VectorSet, details, mismatches, vectors, protocol=()):
        """Outputs of a testbench that compared against ``vs``'s expectations itself:
        equal to them except the ``details`` it printed ``(case, {role: got}, _)``;
        unknown everywhere when it reported more mismatches than it showed."""
        words = {k: np.array(a, dtype=np.int64) for k, a in vs.expected.items()}
        if mismatches > len(details):
            for a in words.values():
                a[:] = UNKNOWN
        for case, got, _ in details:
            if 0 <= case < len(vs):
                for k, value in got.items():
                    words[k][case] = value
        return cls(words, vectors, mismatches, list(protocol))


def word_text(fmt, code) -> str:
    """A word and its value for a report: hex, then the value (an LNS word decoded by
    `lns.decode`; an IEEE word exactly, ``inf``/``-inf``/``nan`` for the specials)."""
    if code == UNKNOWN or code < 0:
        return "?"
    digits = max(1, (fmt.total_bits + 3) // 4)
    from lns.ieee.format import FloatFormat
    if isinstance(fmt, FloatFormat):
        from lns.ieee import exact
        if int(code) > fmt.word_mask:
            return f"0x{int(code):x} (not a word of {fmt.name})"
        kind = exact.decode(fmt, int(code))[0]
        val = kind if kind in ("nan", "inf") else \
            f"{float(exact.to_fraction(fmt, int(code))):.6g}"
        if kind == "inf" and int(code) >> (fmt.total_bits - 1):
            val = "-inf"
        return f"0x{int(code):0{digits}x} ({val})"
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


def describe(fmt, names, values) -> str:
    """Who agrees on which word: ``numba, python agree on 0x1a3 (...); verilator says
    0x1a4 (...)`` (the largest group first)."""
    groups = _groups(names, values)
    if len(groups) == 1:
        return f"all agree on {word_text(fmt, groups[0][0])}"
    parts = []
    for k, (value, who) in enumerate(groups):
        verb = ("agree on" if len(who) > 1 else "says") if k == 0 else \
            ("say" if len(who) > 1 else "says")
        parts.append(f"{', '.join(who)} {verb} {word_text(fmt, value)}")
    return "; ".join(parts)


def compare(vs: VectorSet, results: dict, *, reference: str | None = None,
            max_report: int = 10, out=None, failures_dir=None, max_saved: int = 3) -> dict:
    """Compare every evaluator's `Outputs` over ``vs``; print the first ``max_report``
    disagreeing cases to ``out`` (stdout by default; ``False`` prints nothing).

    Returns ``{"ok": bool, "evaluators": {name: {"vectors": n, "mismatches": m}},
    "cases": [first disagreeing case indices], "disagreeing": count, "saved": [paths]}``.
    An evaluator's mismatches are the cases where it differs from ``reference`` (default
    the rule's reference evaluator, ``cfg.reference_evaluator``, which defines the
    outputs), or its own larger count, plus its protocol errors.
    """
    if out is None:
        out = sys.stdout
    if reference is None:
        reference = vs.cfg.reference_evaluator
    if reference not in results:
        raise ValueError(f"reference {reference!r} must be one of the evaluators "
                         f"{', '.join(results)}")
    names = list(results)
    roles = vs.out_roles
    n = len(vs)
    stacks = {}
    for k in roles:
        stacks[k] = np.stack([np.asarray(results[name].words[k], dtype=np.int64)
                              for name in names])
        if stacks[k].shape != (len(names), n):
            raise ValueError(f"outputs must have {n} entries of {k}, not {stacks[k].shape}")
    ref = names.index(reference)
    known = np.ones((len(names), n), dtype=bool)
    for S in stacks.values():
        known &= S != UNKNOWN
    diff = np.zeros((len(names), n), dtype=bool)
    spread = np.zeros(n, dtype=bool)
    for S in stacks.values():
        diff |= S != S[ref]
        hi = np.where(known, S, np.iinfo(np.int64).min).max(axis=0)
        lo = np.where(known, S, np.iinfo(np.int64).max).min(axis=0)
        spread |= hi != lo
    differs = known & known[ref] & diff
    summary = {}
    for k, name in enumerate(names):
        r = results[name]
        count = int(differs[k].sum())
        if r.mismatches is not None:
            count = max(count, int(r.mismatches))
        summary[name] = {"vectors": int(r.vectors), "mismatches": count}
    # A case disagrees when any two known values differ (not only against the reference).
    bad = np.flatnonzero((known.sum(axis=0) > 1) & spread)
    protocol = {name: results[name].protocol for name in names if results[name].protocol}
    ok = not any(s["mismatches"] for s in summary.values()) and bad.size == 0 \
        and not protocol
    saved = []
    if out is not False:
        for name, lines in protocol.items():
            for line in lines[:max_report]:
                print(f"{name}: {line}", file=out)
        for i in bad[:max_report]:
            print(case_text(vs, int(i), names, {k: S[:, i] for k, S in stacks.items()}),
                  file=out)
        if bad.size > max_report:
            print(f"... and {bad.size - max_report} more disagreeing cases", file=out)
        unshown = {k: s["mismatches"] for k, s in summary.items()
                   if s["mismatches"] and not differs[names.index(k)].any()}
        for name, m in unshown.items():
            print(f"{name}: {m} mismatches (values not reported)", file=out)
    if failures_dir is not None:
        for i in bad[:max_saved]:
            saved.append(save_case(vs, int(i), failures_dir, observed={
                name: [int(stacks[r][k, i]) for r in roles] for k, name in enumerate(names)
                if known[k, i]}))
    return {"ok": bool(ok), "evaluators": summary, "cases": bad[:max_report].tolist(),
            "disagreeing": int(bad.size), "saved": [str(p) for p in saved]}


def _held_text(cfg, port, value) -> str:
    lo, _ = cfg.held_range(port)
    return f"{port}={int(value)}" if lo < 0 else f"{port}=0x{int(value):x}"


def case_text(vs, i, names, values: dict, where: str | None = None) -> str:
    """The report of case ``i``: its step, held ports, lane, inputs, and per output role
    who agrees on which word (``values[role]``: one value per name of ``names``)."""
    c, fmts = vs.cfg, vs.cfg.word_formats
    held = " ".join(_held_text(c, p, v) for p, v in vs.held_at(i).items())
    lines = [f"{where or f'case {i}'}: t={int(vs.t[i])}{' ' + held if held else ''} "
             f"lane {i % vs.lanes} of {vs.lanes}" +
             (f" lfsr=0x{vs.lfsr_states_before(i):08x}" if vs.stochastic else ""),
             "  in  " + " ".join(f"{k}={word_text(fmts[k], vs.words[k][i])}"
                                 for k in vs.in_roles)]
    for k in vs.out_roles:
        lines.append(f"  {k}'  {describe(fmts[k], names, list(values[k]))}")
    return "\n".join(lines)


# ---- saved cases ------------------------------------------------------------------------
def _case_keys(data: dict) -> tuple:
    """The keys of a case dict that make it what it is (its file name hashes them)."""
    from lns.optimizers import config_from_dict
    cfg = config_from_dict(data["config"])
    return ("config", "lanes", "t", *tensor_held(cfg), *cfg.WORD_ROLES, "lfsr_state")


def case_dict(vs: VectorSet, i: int, *, observed=None, note: str = "",
              fault: dict | None = None, origin: dict | None = None) -> dict:
    """Case ``i`` of ``vs`` as the self-contained dict `save_case` writes: ``config``,
    ``lanes`` (1), ``t``, the tensor-held values and the input words by name/role at the
    top level, ``lfsr_state``, ``expected`` by output role, ``observed`` (evaluator ->
    the output words in ``cfg.output_roles`` order), ``origin`` (default ``{"case",
    "lanes", "seed"}``), ``note`` and ``fault``."""
    case = {"config": config_dict(vs.cfg), "lanes": 1, "t": int(vs.t[i])}
    case.update({k: int(a[i]) for k, a in vs.tensor.items()})
    case.update({k: int(vs.words[k][i]) for k in vs.in_roles})
    case["lfsr_state"] = vs.lfsr_states_before(i)
    data = dict(case, expected={k: int(vs.expected[k][i]) for k in vs.out_roles},
                observed=observed or {},
                origin=origin or {"case": i, "lanes": vs.lanes, "seed": vs.seed}, note=note)
    if fault is not None:
        data["fault"] = fault
    return data


def write_case(data: dict, folder) -> Path:
    """Write a case dict (`case_dict`) into ``folder``; the name is the config's name and
    a hash of its inputs, so saving the same case twice writes one file."""
    key = digest(json.dumps({k: data[k] for k in _case_keys(data)}, sort_keys=True))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = data["config"].get("name") or "case"
    path = folder / f"{name}_{key}.json"
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
    from lns.optimizers import config_from_dict
    if "config" not in data:
        raise ValueError(f"saved case {path} must have a 'config' entry")
    cfg = config_from_dict(data["config"])
    names, roles = tensor_held(cfg), tuple(cfg.WORD_ROLES)
    for key in ("t", *names, *roles):
        if key not in data:
            raise ValueError(f"saved case {path} must have a {key!r} entry")
    one = {k: np.array([int(data[k])], dtype=np.int64) for k in ("t", *names, *roles)}
    lfsr = None
    if cfg.is_stochastic:
        if data.get("lfsr_state") is None:
            raise ValueError(f"saved case {path} of a stochastic config needs lfsr_state")
        lfsr = np.array([int(data["lfsr_state"])], dtype=np.int64)
    tensor = {k: one[k] for k in names}
    words = {k: one[k] for k in roles}
    expected = expected_outputs(cfg, one["t"], tensor, words, lanes=1, lfsr_seed=lfsr)
    return VectorSet(cfg, 1, one["t"], tensor, words, expected, lfsr_seed=lfsr, seed=None)


def case_report(data: dict) -> str:
    """A saved failing case (`case_dict`) as the compare's report text."""
    vs = case_vectors(data)
    names = list(data.get("observed", {}))
    values = {k: [data["observed"][nm][j] for nm in names]
              for j, k in enumerate(vs.out_roles)}
    o = data.get("origin", {})
    where = (f"case {o.get('vector', '?')} (block {o.get('block', '?')} case "
             f"{o.get('case', '?')})") if "block" in o else "case"
    return case_text(vs, 0, names, values, where)
