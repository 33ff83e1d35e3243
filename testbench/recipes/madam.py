"""The vector recipe of LNS Madam (`lns.rules.madam.MadamConfig`): words ``w, g, v`` by role,
the tensor-held clip word, steps ``t`` in `STEPS` (the interface: `testbench.recipes`).

* **Groups**: every step of `STEPS` with a clip of the run (the format's largest, the clip
  of a random ``w0``, a middle one, the floor + 1); the first ``t = 1`` at the largest clip
  (``t = 1`` with ``v = 0`` makes ``|g_hat| = 1``; large ``t`` makes ``X_bc = 0``).
* **Edges**: the edge tables crossed: weights (zero with either sign bit, min, min + 1/2,
  the middle, clip - 1 / clip / clip + 1, max - 1, max, magnitude one) x gradients (zero
  with either sign, min, max, magnitudes around one) x moments (zero, min, max, magnitude
  one, the middle).
* **Specials**: from a seeded pool run through the model, cases that hit an exact tie of a
  rounding (of ``log2|g_hat|`` and of the step, `tie_flags`), the ``g_bound`` clamp, the
  floor or the clip; and a sweep of the second-moment terms over every entry and
  interpolation segment of the ``sb`` table (rms only).
* **Randoms**: uniform words mixed with "realistic" cases (weights below the clip, second
  moments near the square of the gradient).
* **Exhaustive**: every ``(w, g, v)`` word triple for three groups (small formats: ``tiny``
  has 131,072 a group).
"""

from __future__ import annotations

import numpy as np

from lns.codec import split
from lns.errors import InvalidValue
from lns.rounding import round_shift_rne_array

from . import Group

__all__ = ["TENSOR_HELD", "STEPS", "groups", "edges", "specials", "randoms", "exhaustive",
           "tie_flags", "clips", "EXHAUSTIVE_MAX"]

TENSOR_HELD = ("clip",)
#: The steps of the groups: t = 1 makes |g_hat| = 1 for v = 0; large t makes X_bc = 0.
STEPS = (1, 2, 3, 10, 100, 1000, 1_000_000)
#: Most (w, g, v) cases of one exhaustive group.
EXHAUSTIVE_MAX = 1 << 22
_SPECIAL_POOL = 1 << 13          # the largest pool the tie/clamp/floor/clip cases come from


def _words(fmt, sign, e):
    return np.asarray(sign, dtype=np.int64) << fmt.log_bits | np.asarray(e, dtype=np.int64) \
        if fmt.signed else np.asarray(e, dtype=np.int64)


def _edge_w(cfg, clip):
    W = cfg.weight
    es = [W.e_min, W.e_min + 1, W.e_min + 2, (W.e_min + W.e_max) // 2, clip - 1, clip,
          clip + 1, W.e_max - 1, W.e_max, W.offset]
    es = sorted({e for e in es if W.e_min <= e <= W.e_max})
    words = [_words(W, s, e) for s in (0, 1) for e in es]
    if W.has_zero:
        words += [_words(W, 0, 0), _words(W, 1, 0)]     # zero, and zero with the sign bit
    return np.unique(np.array(words, dtype=np.int64))


def _edge_g(cfg):
    G = cfg.grad
    es = [G.e_min, G.e_min + 1, G.e_max - 1, G.e_max, G.offset - 1, G.offset, G.offset + 1,
          (G.e_min + G.e_max) // 2]
    es = sorted({e for e in es if G.e_min <= e <= G.e_max})
    words = [_words(G, s, e) for s in (0, 1) for e in es]
    words += [_words(G, 0, 0), _words(G, 1, 0)]
    return np.unique(np.array(words, dtype=np.int64))


def _edge_v(cfg):
    V = cfg.moment
    es = [0, V.e_min, V.e_min + 1, V.e_max - 1, V.e_max, V.offset, (V.e_min + V.e_max) // 2]
    return np.unique(np.array([e for e in es if 0 <= e <= V.e_max], dtype=np.int64))


def clips(cfg, rng) -> list[int]:
    """The clip words of a run: the largest, that of a random ``w0``, a middle one, the
    floor + 1 (distinct, in that order)."""
    W = cfg.weight
    w0 = rng.normal(0.0, 0.05, 256)
    cs = [W.e_max, cfg.clip_code(w0), (W.e_min + W.e_max) // 2, W.e_min + 1]
    return [int(c) for c in dict.fromkeys(min(max(c, W.e_min), W.e_max) for c in cs)]


def groups(cfg, seed: int) -> tuple:
    """Every step of `STEPS` with a clip of the run, the steps first each with a clip in
    turn (so the first blocks see every step), then the remaining pairs; the first group
    is ``t = 1`` at the largest clip."""
    rng = np.random.default_rng([int(seed), 0x4C4E53])
    cs = clips(cfg, rng)
    combos = [(t, cs[i % len(cs)]) for i, t in enumerate(STEPS)]
    combos += [(t, c) for t in STEPS for c in cs if (t, c) not in combos]
    return tuple(Group.of(t, clip=c) for t, c in combos)


def edges(cfg, group) -> dict:
    """The edge tables of weights, gradients and moments crossed."""
    ew, eg, ev = _edge_w(cfg, group.kw["clip"]), _edge_g(cfg), _edge_v(cfg)
    cross = np.stack(np.meshgrid(ew, eg, ev, indexing="ij"), axis=-1).reshape(-1, 3)
    return {"w": cross[:, 0].copy(), "g": cross[:, 1].copy(), "v": cross[:, 2].copy()}


def _random_cases(cfg, rng, n, clip):
    """Uniform words mixed with 'realistic' cases: weights below the clip, second moments
    near the square of the gradient (the update's usual regime)."""
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    kind = rng.integers(0, 3, n)
    w = rng.integers(0, 1 << W.total_bits, n)
    g = rng.integers(0, 1 << G.total_bits, n)
    v = rng.integers(0, 1 << V.total_bits, n)
    real = kind > 0
    w_e = rng.integers(W.e_min, max(W.e_min, clip) + 1, n)
    w = np.where(real, _words(W, rng.integers(0, 2, n), w_e), w)
    _, xg, zg = split(G, g)
    xv = (2 * xg) << (V.frac_bits - G.frac_bits) if V.frac_bits >= G.frac_bits \
        else (2 * xg) >> (G.frac_bits - V.frac_bits)
    noise = rng.integers(-3 << V.frac_bits, (3 << V.frac_bits) + 1, n)
    v_real = np.clip(xv + noise + V.offset, V.e_min, V.e_max)
    v = np.where((kind == 2) & ~zg, v_real, v)
    return w.astype(np.int64), g.astype(np.int64), v.astype(np.int64)


def _table_sweep(cfg, rng, n, clip):
    """Cases whose second-moment terms are ``z`` apart for ``z`` uniform over the whole
    ``sb`` table and a little past its end, so every ROM entry and interpolation segment
    is read (rms only)."""
    V, G, p = cfg.moment, cfg.grad, cfg.params
    w, g, v = _random_cases(cfg, rng, n, clip)
    if not p.rms or n == 0:
        return w, g, v
    end = cfg.sb_table.end
    e_g = rng.integers(G.e_min, G.e_max + 1, n)
    g = _words(G, rng.integers(0, 2, n), e_g)
    b = ((e_g - G.offset) << p.g2_shift) + p.c_one_minus_beta
    z = rng.integers(0, end + 8, n)
    a = np.where(rng.integers(0, 2, n) == 1, b + z, b - z)
    e_v = a - p.c_beta + V.offset
    ok = (e_v >= V.e_min) & (e_v <= V.e_max)
    return w[ok], g[ok], e_v[ok].astype(np.int64)


def tie_flags(cfg, t, w, g, v_new):
    """Which cases hit an exact tie of a rounding, from the model's ``v'``.

    Returns ``(norm_tie, step_tie, bound)``: a tie in the rounding of ``log2|g_hat|``, a tie
    in the rounding of the step (nearest-even only), ``|g_hat|`` clamped at ``g_bound``.
    """
    p = cfg.params
    t = np.asarray(t)
    _, xw, zw = split(cfg.weight, w)
    _, xg, zg = split(cfg.grad, g)
    active = ~zw & ~zg
    steps = np.unique(t)
    x_bc = np.array([cfg.bias_correction_code(int(x)) for x in steps])
    xbc = x_bc[np.searchsorted(steps, t)]
    n = len(w)
    if p.rms:
        _, xv2, zv2 = split(cfg.moment, v_new)
        num = (xg << p.norm_g_shift) - ((xv2 - xbc) << p.norm_v_shift)
        nr = p.norm_round
        L = round_shift_rne_array(num, nr)
        if nr > 0:      # a tie: the bits shifted out are exactly one half
            norm_tie = active & ~zv2 & ((num & ((1 << nr) - 1)) == 1 << (nr - 1))
        else:
            norm_tie = np.zeros(n, dtype=bool)
        bound = active & (zv2 | (L >= p.l_bound))
        L = np.where(zv2, p.l_bound, np.minimum(L, p.l_bound))
    else:
        norm_tie = np.zeros(n, dtype=bool)
        bound = np.zeros(n, dtype=bool)
        L = np.zeros(n, dtype=np.int64)
    E = L + (p.eta_shift << p.step_frac_bits)
    q = E >> p.step_frac_bits
    P = np.asarray(cfg.exp_table, dtype=np.int64)[E & ((1 << p.step_frac_bits) - 1)]
    s = np.clip(p.exp_bits - q, 0, 62)
    one = np.ones_like(s)
    step_tie = active & (s > 0) & ((P & ((one << s) - 1)) == (one << np.maximum(s - 1, 0)))
    if p.stochastic:
        step_tie[:] = False
    return norm_tie, step_tie, bound


def _pick_specials(cfg, rng, t, clip, quota, lanes_seed, pool):
    """Cases from a random pool that hit a tie of a rounding, the g_bound clamp, the floor
    or the clip (found by running the model on the pool)."""
    w, g, v = _random_cases(cfg, rng, pool, clip)
    from lns import lane_seeds
    state = np.array(lane_seeds(lanes_seed, 1), dtype=np.int64) if cfg.is_stochastic \
        else None
    out = cfg.update({"w": w, "g": g, "v": v}, t, cfg.held(t, clip=clip), lfsr_state=state)
    ow, ov = out["w"], out["v"]
    norm_tie, step_tie, bound = tie_flags(cfg, np.full(pool, t), w, g, ov)
    _, xw, zw = split(cfg.weight, w)
    e_out = ow & ((1 << cfg.weight.log_bits) - 1)
    moved = ow != w
    floor = ~zw & moved & (e_out == cfg.weight.e_min)
    at_clip = ~zw & moved & (e_out == clip)
    each = max(1, quota // 5)
    idx = np.concatenate([np.flatnonzero(f)[:each]
                          for f in (norm_tie, step_tie, bound, floor, at_clip)])
    idx = np.unique(idx)[:quota]
    return w[idx], g[idx], v[idx]


def specials(cfg, group, rng, n: int, seed: int) -> dict:
    """About ``n / 32`` tie / clamp / floor / clip cases picked from a seeded pool, and
    ``n / 8`` cases of the ``sb`` table sweep."""
    t, clip = group.t, group.kw["clip"]
    quota = max(1, n // 32)
    sw, sg, sv = _pick_specials(cfg, rng, t, clip, quota, seed,
                                pool=min(_SPECIAL_POOL, max(4 * quota, 2048)))
    tw, tg, tv = _table_sweep(cfg, rng, n // 8, clip)
    return {"w": np.concatenate([sw, tw]), "g": np.concatenate([sg, tg]),
            "v": np.concatenate([sv, tv])}


def randoms(cfg, group, rng, n: int) -> dict:
    w, g, v = _random_cases(cfg, rng, n, group.kw["clip"])
    return {"w": w, "g": g, "v": v}


def exhaustive(cfg, seed: int = 1):
    """Every ``(w, g, v)`` word triple, for three groups: ``(t=1, largest clip)``, ``(t=3,
    a middle clip)``, ``(t=10**6, clip of a random w0)``."""
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    count = (1 << W.total_bits) * (1 << G.total_bits) * (1 << V.total_bits)
    if count > EXHAUSTIVE_MAX:
        raise InvalidValue(f"exhaustive vectors need at most {EXHAUSTIVE_MAX} (w, g, v) cases "
                           f"a step, not {count} for {cfg.name}")
    rng = np.random.default_rng([int(seed), 0x455848])
    cs = clips(cfg, rng)
    combos = [(1, W.e_max), (3, cs[2 % len(cs)]), (1_000_000, cs[1 % len(cs)])]
    w, g, v = (a.ravel().astype(np.int64) for a in np.meshgrid(
        np.arange(1 << W.total_bits), np.arange(1 << G.total_bits),
        np.arange(1 << V.total_bits), indexing="ij"))
    return [(Group.of(t, clip=c), {"w": w, "g": g, "v": v}) for t, c in combos]
