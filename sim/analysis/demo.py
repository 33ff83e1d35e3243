"""A quick look at a configuration (what `lnsmadam demo` and `lnsmadam presets` print).

`describe` summarises a configuration's formats, ranges and table sizes; `quick_look` runs
one bit-exact step of a seeded tensor (timed, the Numba kernel checked against the scalar
reference on a sample) and tracks base-2 float Madam with every preset.
"""

from __future__ import annotations

import time

import numpy as np

import lns
from lns import presets

from .tracking import track

__all__ = ["describe", "quick_look", "TENSOR_WEIGHTS", "CHECKED"]

TENSOR_WEIGHTS = 100_000          # weights of the timed tensor step
CHECKED = 2000                    # of them checked against the scalar reference


def describe(cfg) -> dict:
    """The configuration's modes, hyperparameters and table bits, and per word its format,
    bits, fields and range (JSON): `lns.rule.Rule.describe`."""
    return cfg.describe()


def tensor_step(cfg, seed: int = 0, n: int = TENSOR_WEIGHTS, checked: int = CHECKED) -> dict:
    """One update (t = 1, v = 0) of ``n`` seeded weights with the Numba kernel, timed, and
    its first ``checked`` results compared with the scalar reference.

    Returns ``{"weights", "seconds", "updates_per_s", "python_agrees", "python_checked"}``.
    """
    rng = np.random.default_rng(seed)
    w = lns.encode(cfg.weight, rng.normal(0, 0.05, n))
    g = lns.encode(cfg.grad, rng.normal(0, 1e-3, n))
    v = np.zeros(n, dtype=np.int64)
    clip = cfg.clip_code(lns.decode(cfg.weight, w))

    def lanes():                       # a fresh LFSR state for each run (it is advanced)
        return lns.lane_seeds(seed, 1) if cfg.is_stochastic else None

    lns.madam_update(cfg, w[:10], g[:10], v[:10], 1, clip=clip, lfsr_state=lanes())  # compile
    t0 = time.perf_counter()
    w1, v1 = lns.madam_update(cfg, w, g, v, 1, clip=clip, lfsr_state=lanes())
    dt = time.perf_counter() - t0
    k = min(checked, n)
    w_ref, v_ref = lns.madam_update(cfg, w[:k], g[:k], v[:k], 1, clip=clip, lfsr_state=lanes(),
                                    evaluator="python")
    agree = int(np.sum((w_ref == w1[:k]) & (v_ref == v1[:k])))
    return {"weights": n, "seconds": dt, "updates_per_s": n / dt, "python_agrees": agree,
            "python_checked": k}


def quick_look(cfg, steps: int = 300, weights: int = 2000, seed: int = 0,
               progress=None) -> dict:
    """`describe` of ``cfg``, its `tensor_step`, and how every preset but ``tiny`` (made
    for exhaustive checks) tracks base-2 float Madam over ``steps`` steps of ``weights``
    weights (`sim.analysis.tracking.track`).

    ``progress(i, n, label)`` is called as each preset's tracking starts.  Returns
    ``{"preset": describe(cfg), "tensor": tensor_step(...), "tracking": [rows]}``.
    """
    for name, value in (("steps", steps), ("weights", weights)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, not {value!r}")
    tensor = tensor_step(cfg, seed)
    names = [p for p in presets.names("madam") if p != "tiny"]
    rows = []
    for i, name in enumerate(names):
        if progress is not None:
            progress(i, len(names), name)
        rows.append(track(presets.get(name), steps=steps, weights=weights, seed=seed).to_dict())
    return {"preset": describe(cfg), "tensor": tensor, "tracking": rows}
