"""A quick look at a configuration (what `lnsmadam demo` and `lnsmadam presets` print).

`describe` summarises a configuration's formats, ranges and table sizes; `quick_look` runs
one bit-exact step of a seeded tensor of any rule (timed through the rule contract, the fast
evaluator checked against the exact scalar reference on a sample) and tracks base-2 float
Madam with every Madam preset.
"""

from __future__ import annotations

import time

import numpy as np

from lns import presets
from lns.modes import Optimizer

from .tracking import track

__all__ = ["describe", "quick_look", "TENSOR_WEIGHTS", "CHECKED"]

TENSOR_WEIGHTS = 100_000          # weights of the timed tensor step
CHECKED = 2000                    # of them checked against the scalar reference


def describe(cfg) -> dict:
    """The configuration's modes, hyperparameters and table bits, and per word its format,
    bits, fields and range (JSON): `lns.rule.Rule.describe`."""
    return cfg.describe()


def tensor_step(cfg, seed: int = 0, n: int = TENSOR_WEIGHTS, checked: int = CHECKED) -> dict:
    """One update (t = 1, every state word zero) of ``n`` seeded weights by any rule, with
    its fast evaluator (`lns.rule.Rule.reference_evaluator`; Madam's Numba kernel), timed,
    and its first ``checked`` results (every word written) compared with the exact scalar
    reference (``"python"``).  The weights' held values (Madam's clip) are the tensor's
    (`lns.rule.Rule.tensor_held`).

    Returns ``{"weights", "seconds", "updates_per_s", "python_agrees", "python_checked"}``.
    """
    rng = np.random.default_rng(seed)
    w0 = rng.normal(0, 0.05, n)
    words = cfg.initial_words(w0)
    words["g"] = cfg.encode_words("g", rng.normal(0, 1e-3, n))
    held = cfg.held(1, **cfg.tensor_held(w0))

    def step(k, evaluator=None):       # a fresh LFSR state for each run (it is advanced)
        return cfg.update({r: a[:k] for r, a in words.items()}, 1, held,
                          lfsr_state=cfg.lane_state(1, seed), evaluator=evaluator)

    step(10)                           # compile
    t0 = time.perf_counter()
    fast = step(n)
    dt = time.perf_counter() - t0
    k = min(checked, n)
    ref = step(k, "python")
    agree = int(np.sum(np.all([ref[r] == fast[r][:k] for r in ref], axis=0)))
    return {"weights": n, "seconds": dt, "updates_per_s": n / dt, "python_agrees": agree,
            "python_checked": k}


def quick_look(cfg, steps: int = 300, weights: int = 2000, seed: int = 0,
               progress=None) -> dict:
    """`describe` of ``cfg`` (any rule), its `tensor_step`, and how every Madam preset but
    ``tiny`` (made for exhaustive checks) tracks base-2 float Madam over ``steps`` steps of
    ``weights`` weights (`sim.analysis.tracking.track`).

    ``progress(i, n, label)`` is called as each preset's tracking starts.  Returns
    ``{"preset": describe(cfg), "tensor": tensor_step(...), "tracking": [rows]}``.
    """
    for name, value in (("steps", steps), ("weights", weights)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, not {value!r}")
    tensor = tensor_step(cfg, seed)
    names = [p for p in presets.names(Optimizer.MADAM) if p != "tiny"]
    rows = []
    for i, name in enumerate(names):
        if progress is not None:
            progress(i, len(names), name)
        rows.append(track(presets.get(name), steps=steps, weights=weights, seed=seed).to_dict())
    return {"preset": describe(cfg), "tensor": tensor, "tracking": rows}
