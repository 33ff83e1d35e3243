"""The vector recipe of float Madam (`lns.rules.ieee_madam.FloatMadamConfig`): words ``w, g,
v`` of the rule's `FloatFormat`, the tensor-held clip ``sigma`` (``TENSOR_HELD = ("clip",)``,
a word of the format, +inf for no clip), steps ``t`` in `T_VALUES` (the step's ``bc`` is
``cfg.held(t)``; the interface: `testbench.recipes`).

* **Edges**: every word of `lns.ieee.vectors.edge_words` in each of w, g, v beside typical
  words of the others; random combinations of edge words in all three; the Madam corners
  (`madam_corners`): ``g = 0`` with ``v = 0`` (``0/0``, g_hat 0), ``g`` far above
  ``sqrt(v)`` (g_hat clamped at ``+-g_bound``), zero and negative weights, weights at,
  just below and above the clip.
* **Specials**: seeded operand mixtures (`lns.ieee.vectors.random_operands`) and
  Madam-like words (`madam_like_words`), some of them at the clip.
* **Randoms**: uniform bit patterns.
"""

from __future__ import annotations

import numpy as np

from lns.ieee.fast import from_float
from lns.ieee.vectors import edge_words as ieee_edges
from lns.ieee.vectors import random_operands

from . import Group, each_role_rows

__all__ = ["TENSOR_HELD", "T_VALUES", "groups", "edges", "specials", "randoms",
           "exhaustive", "madam_like_words", "madam_corners", "clips"]

TENSOR_HELD = ("clip",)
T_VALUES = (1, 2, 10, 1000, 1_000_000)
KEYS = ("w", "g", "v")


def clips(cfg) -> tuple:
    """The clip words of a run: a typical ``sigma* = 3 RMS(w0)`` for ``w0 ~ N(0, 0.05)``
    (0.15), a tight one (0.01, so updates reach it), and +inf (no clip)."""
    f = cfg.fmt
    return tuple(int(from_float(f, np.array([x]))[0]) for x in (0.15, 0.01)) + (f.pos_inf,)


def groups(cfg, seed: int) -> tuple:
    """Every step with a clip in turn (the first ``t = 1`` with the typical clip), then
    the remaining pairs."""
    cs = clips(cfg)
    combos = [(t, cs[i % len(cs)]) for i, t in enumerate(T_VALUES)]
    combos += [(t, c) for t in T_VALUES for c in cs if (t, c) not in combos]
    return tuple(Group.of(t, clip=c) for t, c in combos)


def madam_like_words(cfg, n: int, rng) -> dict:
    """Words as a training run holds them: w ~ N(0, 0.05), g ~ N(0, 1) x 1e-3 x a
    per-weight scale, v ~ g**2 of a neighbouring step, each rounded to the format."""
    f = cfg.fmt
    scale = 1e-3 * np.exp(rng.normal(0.0, 1.0, n))
    return {"w": from_float(f, rng.normal(0.0, 0.05, n)).astype(np.int64),
            "g": from_float(f, scale * rng.normal(0.0, 1.0, n)).astype(np.int64),
            "v": from_float(f, (scale * rng.normal(0.0, 1.0, n)) ** 2).astype(np.int64)}


def madam_corners(cfg, clip: int, rng, n: int = 16) -> dict:
    """The update's corners: ``0/0``, the g_hat clamp, zero and negative weights, weights
    at the clip and its neighbours (both signs), each with gradients of both signs."""
    f = cfg.fmt
    base = madam_like_words(cfg, n, rng)
    rows = []
    for i in range(n):
        w, g, v = (int(base[k][i]) for k in KEYS)
        gn = g ^ f.sign_mask
        rows += [(w, 0, 0), (w, f.sign_mask, 0), (w, g, 0), (w, gn, 0)]   # 0/0; v = 0
        big = int(from_float(f, np.array([1.0]))[0])                      # g >> sqrt(v)
        rows += [(w, big, v), (w, big ^ f.sign_mask, v)]
        rows += [(0, g, v), (f.sign_mask, g, v), (w ^ f.sign_mask, g, v)]
        if clip < f.pos_inf:
            for c in (clip - 1, clip, clip + 1):
                for s in (0, f.sign_mask):
                    rows += [(c | s, g, v), (c | s, gn, v)]
    arr = np.array(rows, dtype=np.int64)
    return {k: arr[:, i].copy() for i, k in enumerate(KEYS)}


def edges(cfg, group) -> dict:
    """The edge table of ``group`` (see the module's doc); deterministic."""
    f = cfg.fmt
    rng = np.random.default_rng([0x3AD, group.t, group.kw["clip"]])
    e = ieee_edges(f).astype(np.int64)
    typical = madam_like_words(cfg, 1, np.random.default_rng(0))
    ty = {k: int(typical[k][0]) for k in KEYS}
    rows = each_role_rows(dict.fromkeys(KEYS, e), ty, KEYS)
    rows += [tuple(int(x) for x in c) for c in rng.choice(e, size=(4 * len(e), 3))]
    arr = np.array(rows, dtype=np.int64)
    corners = madam_corners(cfg, group.kw["clip"], rng)
    return {k: np.concatenate([arr[:, i], corners[k]]) for i, k in enumerate(KEYS)}


def specials(cfg, group, rng, n: int, seed: int) -> dict:
    """``n / 4`` operand mixtures, ``n / 4`` Madam-like words, the corners of 8 more."""
    mixed = dict(zip(KEYS, (a.astype(np.int64) for a in
                            random_operands(cfg.fmt, n // 4, rng, arity=3))))
    like = madam_like_words(cfg, n // 4, rng)
    corners = madam_corners(cfg, group.kw["clip"], rng, 8)
    return {k: np.concatenate([mixed[k], like[k], corners[k]]) for k in KEYS}


def randoms(cfg, group, rng, n: int) -> dict:
    return {k: rng.integers(0, cfg.fmt.word_mask + 1, n, dtype=np.int64) for k in KEYS}


def exhaustive(cfg, seed: int = 1):
    """None: the float recipe offers no exhaustive set."""
    return None
