"""Hash what a refactor must not change, to compare two checkouts: for every preset of every
rule, the generated Verilog (text, ports, latency; lanes 1 and 2) and the model's output
words (the fast evaluator at several steps on 20,000 seeded random words a role; the scalar
reference on 500), and the operation counts per update.

    .venv/bin/python scripts/behaviour_hash.py OUT_DIR     # writes OUT_DIR/summary.json
    diff <(python3 -m json.tool A/summary.json) <(python3 -m json.tool B/summary.json)

It runs on checkouts from before and after the one rule contract (issue 17): where the
registry (`lns.presets.names()` of every rule, `cfg.update`) is missing it falls back to
the older getters, so the two summaries hash the same computations.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

import lns
import rtl
from lns import presets


def _hash(*arrays) -> str:
    return hashlib.sha256(b"".join(np.asarray(a, np.int64).tobytes() for a in arrays)).hexdigest()


def _all_presets() -> dict:
    """``{name: config}`` of every rule."""
    if hasattr(presets, "for_bits"):                       # the one preset registry
        return {n: presets.get(n) for n in presets.names()}
    from lns.ieee.adam import FLOAT_ADAM_PRESETS
    out = {n: presets.get(n) for n in presets.names()}
    out.update({n: presets.get_any(n) for n in presets.optimizer_names()})
    out.update({n: presets.get_any(n) for n in FLOAT_ADAM_PRESETS})
    return out


def _rule(cfg) -> str:
    return str(getattr(cfg, "optimizer", "madam"))


def _update(cfg, words: dict, t: int, evaluator: str, seeds) -> dict:
    if hasattr(cfg, "held"):                               # the rule contract
        held = cfg.held(t, clip=None)
        return cfg.update(words, t, held, lfsr_state=seeds, evaluator=evaluator)
    from lns.optimizers import update_words
    return update_words(cfg, words, t, lfsr_state=seeds, evaluator=evaluator)


def _formats(cfg) -> dict:
    if hasattr(cfg, "word_formats"):
        return cfg.word_formats
    if _rule(cfg) == "float_adam":
        return {k: cfg.fmt for k in "wgmv"}
    return {k: getattr(cfg, r) for k, r in cfg.WORD_ROLES.items()}


def _ops(cfg):
    from sim.analysis import ops
    for fn in ("operation_counts", "additive_operation_counts"):
        try:
            return getattr(ops, fn)(cfg)
        except Exception:           # not this function's rule
            continue
    return None


def main(out: Path) -> dict:
    summary = {}
    for name, cfg in _all_presets().items():
        for lanes in (1, 2):
            v, j = rtl.generate_verilog(cfg, out / "verilog" / f"{name}_x{lanes}", lanes=lanes)
            meta = json.loads(j.read_text())
            summary[f"{name}_x{lanes}"] = {"latency": meta["latency"], "ports": meta["ports"],
                                           "vsha": hashlib.sha256(v.read_bytes()).hexdigest()}
        rng = np.random.default_rng(5)
        n = 20000

        def seeds():
            return lns.lane_seeds(3, 1) if cfg.is_stochastic else None
        if _rule(cfg) == "madam":
            w = rng.integers(0, 1 << cfg.weight.total_bits, n)
            g = rng.integers(0, 1 << cfg.grad.total_bits, n)
            v = rng.integers(0, 1 << cfg.moment.total_bits, n)
            words = {str(t): _hash(*lns.madam_update(cfg, w, g, v, t, lfsr_state=seeds()))
                     for t in (1, 2, 7, 1000)}
            words["py"] = _hash(*lns.madam_update(cfg, w[:500], g[:500], v[:500], 3,
                                                  lfsr_state=seeds(), evaluator="python"))
        else:
            fast = "numpy" if _rule(cfg) == "float_adam" else "numba"
            ins = {k: rng.integers(0, 1 << f.total_bits, n) for k, f in _formats(cfg).items()}
            words = {}
            for t in (1, 2, 7, 1000):
                o = _update(cfg, ins, t, fast, seeds())
                words[str(t)] = _hash(*(o[k] for k in sorted(o)))
            o = _update(cfg, {k: a[:500] for k, a in ins.items()}, 3, "python", seeds())
            words["py"] = _hash(*(o[k] for k in sorted(o)))
        words["ops"] = _ops(cfg)
        summary[name] = words
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True,
                                                 default=str))
    return summary


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    main(target)
    print(f"wrote {target / 'summary.json'}")
