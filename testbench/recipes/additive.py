"""The vector recipe of the additive LNS rules: Adam (`lns.rules.adam.AdamConfig`), SGD with
momentum (`lns.rules.sgd.SGDConfig`) and Lion (`lns.rules.lion.LionConfig`); words ``w, g, m[, v]`` by
role, no tensor-held value (the interface: `testbench.recipes`).

* **Groups**: one step a group, ``t`` in `T_VALUES` for a rule with held per-step inputs
  (Adam's bias corrections ``x_bc1``, ``x_bc2``), ``t = 1`` alone for the others (SGD and
  Lion do not depend on ``t``).
* **Edges**: zero words in every combination of the roles (and beside typical words); the
  momentum's two terms (``X_m + c_m`` and ``(X_g << g_shift) + c_g`` of every sum the
  datapath forms: Adam's ``beta1 m + (1 - beta1) g``, SGD's ``mu m + g``, Lion's update
  direction ``c = beta1 m + (1 - beta1) g`` and its ``m' = beta2 m + (1 - beta2) g``) at
  equal codes (exact cancellation: ``m' = 0``, or Lion's ``c = 0``, no step) and one and two
  LSBs apart, with every sign combination; random gradients with the momentum at the
  cancelling code (kept where the model's sum is the zero word); saturation (max words of
  g, m, v) and the flush of min words; a swamped step (a large weight, a tiny step);
  weights exactly at the step (``w' = 0``), one weight LSB beside it and below it (the
  weight crosses zero).
* **Specials**: the momentum beside the cancellation of one of its sums (within 160
  LSBs), and exactly on it; the weight beside the step (sums and differences, and exactly
  on it); a sweep of both adders' tables: the momentum's two terms, and the weight and
  the step, ``z`` apart for ``z`` over every ``sb``/``db`` entry (half of them in the near
  ROM, half anywhere up to the tables' end), with either sign combination, so every ROM
  entry and interpolation segment is read.
* **Randoms**: half uniform words, half words of typical magnitudes (so the sums read
  every part of the tables).
"""

from __future__ import annotations

import numpy as np

import lns
import lns.word
from lns.modes import Optimizer

from . import Group

__all__ = ["TENSOR_HELD", "T_VALUES", "groups", "edges", "specials", "randoms",
           "exhaustive", "step_of", "sum_pairs"]

TENSOR_HELD = ()
T_VALUES = (1, 2, 10, 1000, 1_000_000)

# The sums of the momentum's two terms each rule forms: (constant added to X_m, constant
# added to X_g << g_shift), as the names of the fields of ``cfg.params`` (None: 0).
_SUMS = {Optimizer.ADAM: (("c_beta1", "c_one_minus_beta1"),),
         Optimizer.SGD: (("c_mu", None),),
         Optimizer.LION: (("c_beta1", "c_one_minus_beta1"), ("c_beta2", "c_one_minus_beta2"))}


def sum_pairs(cfg) -> list[tuple[int, int]]:
    """``[(c_m, c_g), ...]``: the momentum sums of ``cfg``'s datapath, each adding
    ``c_m`` to the momentum's code and ``c_g`` to the gradient's (at the momentum's
    precision); equal terms of opposite signs cancel exactly."""
    p = cfg.params
    return [(getattr(p, a), 0 if b is None else getattr(p, b)) for a, b in _SUMS[cfg.optimizer]]


def groups(cfg, seed: int) -> tuple:
    steps = T_VALUES if cfg.HELD else (1,)
    return tuple(Group.of(t) for t in steps)


def _word(fp, sign, x):
    x = int(min(max(x, fp.x_min), fp.x_max))
    return ((int(sign) & fp.signed) << fp.log_bits) | (x + fp.offset)


def _model(cfg, words, t, seeds=None):
    st = None if seeds is None else np.array(seeds, dtype=np.int64)
    if cfg.is_stochastic and st is None:
        st = np.array(lns.lane_seeds(0, 1), dtype=np.int64)
    return cfg.update(words, t, lfsr_state=st)


def _random_words(cfg, n, rng):
    """Half fully random words, half near typical magnitudes (so the sums read every part of
    the tables)."""
    out = {}
    for k, f in cfg.word_formats.items():
        p = f.params
        full = rng.integers(0, 1 << f.total_bits, n)
        lo, hi = max(p.x_min, -(12 << p.frac_bits)), min(p.x_max, 2 << p.frac_bits)
        if lo > hi:                       # a format outside 2**-12 .. 4: its whole range
            lo, hi = p.x_min, p.x_max
        x = rng.integers(lo, hi + 1, n)
        typical = ((rng.integers(0, 2, n) & p.signed) << p.log_bits) | (x + p.offset)
        out[k] = np.where(rng.random(n) < 0.5, full, typical).astype(np.int64)
    return out


def step_of(cfg, words, t, seeds=None):
    """The weight step of each element as arrays ``(sign, L, zero)`` (``L`` its log at
    ``Fa``), by the config's own rule: Lion's ``step_sign`` of the inputs (``L`` the
    constant ``eta``), else ``step_log`` of the model's ``m'``, ``v'``."""
    if hasattr(cfg, "step_sign"):
        s, z = cfg.step_sign(words)
        return s, np.full(len(s), cfg.params.eta_acc, dtype=np.int64), z
    out = _model(cfg, {**words, "w": np.zeros_like(words["g"])}, t, seeds)
    return cfg.step_log(out["m"], out.get("v"), t)


def _pad(words, keys):
    return {k: np.asarray(words[k], dtype=np.int64) for k in keys}


def edges(cfg, group) -> dict:
    """The edge table of ``group``'s step (see the module's doc); deterministic."""
    t = group.t
    rng = np.random.default_rng([0xADD, t])
    p = cfg.params
    keys = tuple(cfg.WORD_ROLES)
    adam = "v" in keys
    pv = p.v if adam else None
    v_typ = _word(pv, 0, -8 << pv.frac_bits) if adam else 0
    v_max = _word(pv, 0, pv.x_max) if adam else 0
    v_min = _word(pv, 0, pv.x_min) if adam else 0
    rows = []

    def row(w, g, m, v=v_typ):
        rows.append((w, g, m, v))

    # zero words in every combination, and beside typical ones
    wt, gt = _word(p.w, 0, -2 << p.w.frac_bits), _word(p.g, 1, -4 << p.g.frac_bits)
    mt = _word(p.m, 0, -5 << p.m.frac_bits)
    for mask in range(1 << len(keys)):
        row(*[(wt, gt, mt, v_typ)[i] if mask >> i & 1 else 0 for i in range(4)])
    # each sum's two terms: X_m + c_m and (X_g << g_shift) + c_g; equal codes cancel
    # exactly, codes one LSB apart nearly
    for c_m, c_g in sum_pairs(cfg):
        for xg in (-5 << p.g.frac_bits, -1, 0, 3 << p.g.frac_bits, p.g.x_min + 7,
                   p.g.x_max - 3, int(rng.integers(p.g.x_min, p.g.x_max + 1))):
            tg = (xg << p.g_shift) + c_g
            for d in (0, 1, -1, 2, -2):
                xm = tg - c_m + d
                if not p.m.x_min <= xm <= p.m.x_max:
                    continue
                for sg, sm in ((0, 1), (1, 0), (0, 0), (1, 1)):
                    row(_word(p.w, 0, -2 << p.w.frac_bits), _word(p.g, sg, xg),
                        _word(p.m, sm, xm))
    # saturation (max words) of m and v, their flush by the decay, extreme weights
    for sw, sg, sm in ((1, 0, 0), (0, 1, 1), (0, 0, 1), (1, 1, 0)):
        row(_word(p.w, sw, 0), _word(p.g, sg, p.g.x_max), _word(p.m, sm, p.m.x_max), v_max)
        row(_word(p.w, sw, p.w.x_max), _word(p.g, sg, p.g.x_max), _word(p.m, sm, p.m.x_max),
            v_min)
    row(_word(p.w, 0, 5), 0, _word(p.m, 1, p.m.x_min), v_min)
    row(_word(p.w, 0, p.w.x_max), _word(p.g, 0, -1), 0, 0)
    row(_word(p.w, 1, p.w.x_min), _word(p.g, 0, p.g.x_min), _word(p.m, 1, p.m.x_min), 0)
    row(_word(p.w, 0, p.w.x_min), _word(p.g, 1, p.g.x_max), _word(p.m, 0, p.m.x_max), v_max)
    # a swamped step: a large weight, a tiny momentum
    for s in (0, 1):
        row(_word(p.w, s, p.w.x_max), _word(p.g, s, p.g.x_min + 1),
            _word(p.m, s, p.m.x_min + 1), _word(pv, 0, 0) if adam else 0)
        row(_word(p.w, s, p.w.x_max - 1), _word(p.g, 1 - s, p.g.x_min),
            _word(p.m, s, p.m.x_min), v_max)
    base = np.array(rows, dtype=np.int64)[:, :len(keys)]
    # exact cancellation found with the model: random g, m = the cancelling code
    n = 600
    cand = _random_words(cfg, n, rng)
    cancel = _cancelling(cfg, cand, rng)
    if len(cancel["w"]):
        out = _model(cfg, cancel, t)
        zero = lns.word.unpack_all(p.m, out["m"])[2]
        if hasattr(cfg, "step_sign"):              # Lion: c = 0 (no step) counts too
            zero = zero | cfg.step_sign(cancel)[1]
        cancel = np.stack([cancel[k][zero][:24] for k in keys], axis=1)
    else:
        cancel = np.zeros((0, len(keys)), dtype=np.int64)
    # weights at the step (exactly zero), beside it and below it (crossing zero)
    s, L, z = step_of(cfg, cand, t)
    extra = []
    g_ = cfg.guard_bits
    for i in range(n):
        if z[i] or len(extra) >= 48:
            continue
        ds = ((0, 1 << g_, -(1 << g_), 3 << (g_ + p.w.frac_bits))
              if L[i] % (1 << g_) == 0 else (3 << (g_ + p.w.frac_bits),))
        for d in ds:
            xw = (int(L[i]) - d) >> g_
            if p.w.x_min <= xw <= p.w.x_max:
                extra.append((_word(p.w, int(s[i]), xw),
                              *(int(cand[k][i]) for k in keys[1:])))
    allrows = np.concatenate([base, cancel, np.array(extra, dtype=np.int64)
                              .reshape(-1, len(keys))])
    return {k: allrows[:, i].copy() for i, k in enumerate(keys)}


def _cancelling(cfg, words, rng):
    """``words`` with ``m`` at the code that cancels one of the datapath's sums exactly
    (opposite sign to ``g``), where that code is a word; the elements of a zero gradient
    dropped."""
    p = cfg.params
    pairs = sum_pairs(cfg)
    n = len(words["g"])
    pick = rng.integers(0, len(pairs), n)
    c_m = np.array([c for c, _ in pairs], dtype=np.int64)[pick]
    c_g = np.array([c for _, c in pairs], dtype=np.int64)[pick]
    sg, xg, zg = lns.word.unpack_all(p.g, words["g"])
    xm = (xg << p.g_shift) + c_g - c_m
    ok = ~zg & (xm >= p.m.x_min) & (xm <= p.m.x_max)
    m = (((1 - sg) & p.m.signed) << p.m.log_bits) | (np.clip(xm, p.m.x_min, p.m.x_max)
                                                     + p.m.offset)
    out = {k: np.asarray(a, dtype=np.int64)[ok] for k, a in words.items()}
    out["m"] = m[ok].astype(np.int64)
    return out


def _near_words(cfg, n, t, rng) -> dict:
    """Random words pushed into the adders' near regions: m beside the cancellation of one
    of the momentum sums (and on it), the weight beside the step (and on it), with random
    signs (sums and differences)."""
    p = cfg.params
    pairs = sum_pairs(cfg)
    w = _random_words(cfg, n, rng)
    pick = rng.integers(0, len(pairs), n)
    c_m = np.array([c for c, _ in pairs], dtype=np.int64)[pick]
    c_g = np.array([c for _, c in pairs], dtype=np.int64)[pick]
    _, xg, zg = lns.word.unpack_all(p.g, w["g"])
    d = np.where(rng.random(n) < 0.1, 0, rng.integers(-160, 161, n))
    xm = np.clip((xg << p.g_shift) + c_g - c_m + d, p.m.x_min, p.m.x_max)
    sm = rng.integers(0, 2, n) & p.m.signed
    near_m = (~zg) & (rng.random(n) < 0.6)
    w["m"] = np.where(near_m, (sm << p.m.log_bits) | (xm + p.m.offset), w["m"])
    s, L, z = step_of(cfg, w, t)
    g_ = cfg.guard_bits
    R = max(8, 1100 >> g_)
    off = np.where(rng.random(n) < 0.1, 0, rng.integers(-R, R + 1, n))
    xw = np.clip((L >> g_) + off, p.w.x_min, p.w.x_max)
    sw = np.where(rng.random(n) < 0.7, s, rng.integers(0, 2, n)) & p.w.signed
    w["w"] = np.where(z, w["w"], (sw << p.w.log_bits) | (xw + p.w.offset))
    return w


def _distances(rng, n, tables):
    """``n`` distances ``z`` between two terms: half inside the near ROM of ``tables``
    (``(sb, db)``), half anywhere up to a little past their end."""
    near = max(1, max(len(t.near) for t in tables))
    end = max(t.end for t in tables) + 8
    return np.where(rng.random(n) < 0.5, rng.integers(0, near, n), rng.integers(0, end, n))


def _table_sweep(cfg, t, rng, n) -> dict:
    """``n / 2`` cases whose momentum terms are ``z`` apart and ``n / 2`` whose weight is
    ``z`` from the step (at ``Fa``), for ``z`` over the tables (`_distances`), with random
    signs (sums read ``sb``, differences ``db``); the cases out of range dropped."""
    p = cfg.params
    keys = tuple(cfg.WORD_ROLES)
    k = n // 2
    a = _random_words(cfg, k, rng)
    pairs = sum_pairs(cfg)
    pick = rng.integers(0, len(pairs), k)
    c_m = np.array([c for c, _ in pairs], dtype=np.int64)[pick]
    c_g = np.array([c for _, c in pairs], dtype=np.int64)[pick]
    xg = rng.integers(p.g.x_min, p.g.x_max + 1, k)
    z = _distances(rng, k, cfg.m_tables)
    xm = (xg << p.g_shift) + c_g - c_m + np.where(rng.random(k) < 0.5, z, -z)
    sg, sm = (rng.integers(0, 2, k) for _ in range(2))
    a["g"] = (sg << p.g.log_bits) | (xg + p.g.offset)
    a["m"] = (sm << p.m.log_bits) | (np.clip(xm, p.m.x_min, p.m.x_max) + p.m.offset)
    ok_a = (xm >= p.m.x_min) & (xm <= p.m.x_max)
    b = _random_words(cfg, n - k, rng)
    s, L, zs = step_of(cfg, b, t)
    z = _distances(rng, n - k, cfg.weight_tables)
    xw = (L + np.where(rng.random(n - k) < 0.5, z, -z)) >> cfg.guard_bits
    sw = rng.integers(0, 2, n - k)
    b["w"] = (sw << p.w.log_bits) | (np.clip(xw, p.w.x_min, p.w.x_max) + p.w.offset)
    ok_b = ~zs & (xw >= p.w.x_min) & (xw <= p.w.x_max)
    return {key: np.concatenate([a[key][ok_a], b[key][ok_b]]).astype(np.int64)
            for key in keys}


def specials(cfg, group, rng, n: int, seed: int) -> dict:
    """About ``n / 2`` words in the adders' near regions (`_near_words`), ``n / 8`` of the
    tables' sweep (`_table_sweep`) and ``n / 64`` with the momentum exactly at a
    cancelling code."""
    near = _near_words(cfg, n // 2, group.t, rng)
    sweep = _table_sweep(cfg, group.t, rng, n // 8)
    cancel = _cancelling(cfg, _random_words(cfg, max(1, n // 64), rng), rng)
    return {k: np.concatenate([near[k], sweep[k], cancel[k]]) for k in cfg.WORD_ROLES}


def randoms(cfg, group, rng, n: int) -> dict:
    return _random_words(cfg, n, rng)


def exhaustive(cfg, seed: int = 1):
    """None: the additive recipe offers no exhaustive set."""
    return None
