"""The vector recipe of IEEE float Adam (`lns.rules.ieee_adam.FloatAdamConfig`, and every
IEEE Adam program: the efficient `lns.rules.ieee_adam_fast`, the mixed-precision
`lns.rules.ieee_mp_adam`): words ``w, g, m, v``, each of its role's IEEE format
(``cfg.word_formats``: mixed precision reads a BF16 gradient), no tensor-held value,
steps ``t`` in `T_VALUES` (the step's held words are ``cfg.held(t)``: ``k1, k2`` of the
literal unit, ``alpha_t, eps_t`` of the efficient ones; the interface:
`testbench.recipes`).  Reduced formats (at most 20 input bits) have an exhaustive set.

* **Edges**: every word of `lns.ieee.vectors.edge_words` (+-0, the smallest and largest
  subnormals, the smallest normal, 1 and its neighbours, the largest finite, +-inf, quiet,
  signalling and negative NaNs) in each of w, g, m, v beside typical words of the others;
  random combinations of edge words in all four; the tie pairs of
  `lns.ieee.vectors.tie_pairs` as (w, g), (m, g) and (g, v); and *ties of the last
  operation* (`last_op_words`).
* **Specials**: seeded operand mixtures (`lns.ieee.vectors.random_operands`: uniform bit
  patterns, subnormals, close exponents, few significand bits), Adam-like words
  (`adam_like_words`) and a few more ties of the last operation.
* **Randoms**: uniform bit patterns.

Ties of the last operation: for a typical (g, m, v) the step ``q = (lr mh)/d`` is read
from the reference (with ``w = +0`` the unit returns ``-q``) and ``w`` is made so that
``w - q`` lies exactly half way between two words (``w``'s last place twice ``q``'s lowest
set bit), with weights equal to ``q`` (exact cancellation: ``+0``) and to ``q``'s
neighbours.
"""

from __future__ import annotations

import numpy as np

from lns.ieee import exact
from lns.ieee.fast import from_float
from lns.ieee.vectors import edge_words as ieee_edges
from lns.ieee.vectors import random_operands, tie_pairs

from . import Group, each_role_rows

__all__ = ["TENSOR_HELD", "T_VALUES", "groups", "edges", "specials", "randoms",
           "exhaustive", "EXHAUSTIVE_MAX", "adam_like_words", "step_words", "tie_count",
           "last_op_words"]

TENSOR_HELD = ()
T_VALUES = (1, 2, 10, 1000, 1_000_000)
KEYS = ("w", "g", "m", "v")


def groups(cfg, seed: int) -> tuple:
    return tuple(Group.of(t) for t in T_VALUES)


def _fmts(cfg) -> dict:
    """``{role: format}`` of the input words."""
    f = cfg.word_formats
    return {k: f[k] for k in KEYS}


def adam_like_words(cfg, n: int, rng) -> dict:
    """Words as a training run holds them: w ~ N(0, 0.05), g ~ N(0, 1) x 1e-3 x a
    per-weight scale, m ~ g and v ~ g**2, each rounded to its role's format."""
    f = _fmts(cfg)
    scale = 1e-3 * np.exp(rng.normal(0.0, 1.0, n))
    g = scale * rng.normal(0.0, 1.0, n)
    return {"w": from_float(f["w"], rng.normal(0.0, 0.05, n)).astype(np.int64),
            "g": from_float(f["g"], g).astype(np.int64),
            "m": from_float(f["m"], scale * rng.normal(0.0, 1.0, n)).astype(np.int64),
            "v": from_float(f["v"], (scale * rng.normal(0.0, 1.0, n)) ** 2).astype(np.int64)}


def step_words(cfg, words: dict, t: int) -> np.ndarray:
    """The step ``q = (lr mh)/d`` of each element, from the reference: with ``w = +0`` the
    update is ``0 - q``, which is ``-q`` exactly (its sign flipped; NaN stays NaN)."""
    out = cfg.update({**words, "w": np.zeros_like(words["g"])}, t)["w"]
    return np.asarray(out, dtype=np.int64) ^ _fmts(cfg)["w"].sign_mask


def _lowest_bit(fmt, q: int) -> int | None:
    """The exponent of ``q``'s lowest set bit (``q`` a finite non-zero word)."""
    kind, _, n, e = exact.decode(fmt, q)
    if kind != "finite" or n == 0:
        return None
    return e + ((n & -n).bit_length() - 1)


def _word_of(fmt, sign: int, sig: int, e: int) -> int | None:
    """The word of ``(-1)**sign * sig * 2**e`` if ``sig`` has ``p + 1`` bits and it is a
    finite normal number, else None."""
    p = fmt.frac_bits
    if sig.bit_length() != p + 1:
        return None
    big_e = e + p + fmt.bias
    if not 1 <= big_e < fmt.exp_max:
        return None
    return (sign << (fmt.total_bits - 1)) | (big_e << p) | (sig & fmt.frac_mask)


def _tie_pool(cfg, n: int) -> int:
    """How many typical elements to draw for ``n`` wanted: eight times more below 7 fraction
    bits (a 12-bit float's step has fewer spare bits, so fewer steps can tie at w's ulp)."""
    return n if _fmts(cfg)["w"].frac_bits >= 7 else 8 * n


def last_op_words(cfg, t: int, rng, n: int = 64) -> dict:
    """Weights at the last operation's corners for ``n`` typical (g, m, v): ``w - q``
    exactly on a midpoint (both signs of ``w``), ``w = q`` (exact cancellation to +0) and
    its neighbours."""
    fmt = _fmts(cfg)["w"]
    p = fmt.frac_bits
    n = _tie_pool(cfg, n)
    base = adam_like_words(cfg, n, rng)
    q = step_words(cfg, base, t)
    rows = []
    for i in range(n):
        qi = int(q[i])
        low = _lowest_bit(fmt, qi)
        g, m, v = (int(base[k][i]) for k in "gmv")
        if low is None:
            continue
        # w's last place is 2**(low + 1): w - q is an odd multiple of half w's ulp; with w's
        # significand in [1.25, 1.5) 2**p and |q| below w's ulp times 2**(p - 2) the
        # difference stays in w's binade, so it is a tie.
        q_mag = abs(float(exact.to_fraction(fmt, qi)))
        e_w = low + 1
        while 2.0 ** (e_w + p - 2) <= q_mag:
            e_w += 1
        if e_w != low + 1:
            continue                              # q has too many bits to tie at w's ulp
        for sign in (0, 1):
            sig = (1 << p) + (1 << (p - 2)) + int(rng.integers(0, 1 << max(p - 3, 0)))
            w = _word_of(fmt, sign, sig, e_w)
            if w is not None:
                rows.append((w, g, m, v))
        rows.append((qi, g, m, v))                # w = q: +0
        rows.append(((qi + 1) & fmt.word_mask, g, m, v))
        rows.append(((qi - 1) & fmt.word_mask, g, m, v))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return {k: arr[:, i].copy() for i, k in enumerate(KEYS)}


def tie_count(cfg, words: dict, t: int) -> int:
    """How many elements' last operation ``w - q`` is exactly a rounding midpoint (checked
    in exact arithmetic: the difference is not a word and lies half way between the words
    on either side)."""
    fmt = _fmts(cfg)["w"]
    q = step_words(cfg, words, t)
    count = 0
    for w, qi in zip(np.asarray(words["w"]).tolist(), q.tolist()):
        if exact.decode(fmt, w)[0] != "finite" or exact.decode(fmt, qi)[0] != "finite":
            continue
        x = exact.to_fraction(fmt, w) - exact.to_fraction(fmt, qi)
        rw = exact.round_to_format(fmt, 0 if x >= 0 else 1, abs(x))
        if exact.decode(fmt, rw)[0] == "inf":
            continue
        r = exact.to_fraction(fmt, rw)
        if x == r:
            continue
        # a midpoint: the point as far beyond x as r is before it is a word too
        other = 2 * x - r
        ow = exact.round_to_format(fmt, 0 if other >= 0 else 1, abs(other))
        if exact.decode(fmt, ow)[0] != "inf" and exact.to_fraction(fmt, ow) == other:
            count += 1
    return count


def edges(cfg, group) -> dict:
    """The edge table of ``group``'s step (see the module's doc); deterministic.  Each
    role's edge words and ties are of its own format; where the formats differ (mixed
    precision) a tie pair's word is rounded to the other role's format."""
    f = _fmts(cfg)
    rng = np.random.default_rng([0xF1A7, group.t])
    if len(set(f.values())) == 1:
        return _edges_one_format(cfg, group, rng)
    e = {k: ieee_edges(f[k]).astype(np.int64) for k in KEYS}
    typical = adam_like_words(cfg, 1, np.random.default_rng(0))
    ty = {k: int(typical[k][0]) for k in KEYS}
    cols = {k: [] for k in KEYS}

    def add(**row):
        for k in KEYS:
            cols[k].append(int(row.get(k, ty[k])))

    for row in each_role_rows(e, ty, KEYS):       # every edge word in each role
        add(**dict(zip(KEYS, row)))
    size = 4 * max(len(a) for a in e.values())    # edge words in all four roles
    combos = {k: rng.choice(e[k], size=size) for k in KEYS}
    for i in range(size):
        add(**{k: combos[k][i] for k in KEYS})
    for k1, k2 in (("w", "g"), ("m", "g"), ("g", "v")):
        ta, tb = (a.astype(np.int64) for a in tie_pairs(f[k1]))
        same = f[k1] == f[k2]
        for a, b in zip(ta.tolist(), tb.tolist()):
            if k2 == "v":
                b &= ~f[k1].sign_mask
            if not same:                          # b rounded to the other role's format
                b = int(from_float(f[k2], np.array([_value(f[k1], b)]))[0])
            add(**{k1: a, k2: b})
    last = last_op_words(cfg, group.t, rng)
    return {k: np.concatenate([np.array(cols[k], dtype=np.int64), last[k]]) for k in KEYS}


def _edges_one_format(cfg, group, rng) -> dict:
    """`edges` where every word is of one format (the table the literal unit always had)."""
    fmt = _fmts(cfg)["w"]
    e = ieee_edges(fmt).astype(np.int64)
    typical = adam_like_words(cfg, 1, np.random.default_rng(0))
    ty = {k: int(typical[k][0]) for k in KEYS}
    rows = each_role_rows(dict.fromkeys(KEYS, e), ty, KEYS)
    combos = rng.choice(e, size=(4 * len(e), 4))  # edge words in all four roles
    rows += [tuple(int(x) for x in c) for c in combos]
    ta, tb = (a.astype(np.int64) for a in tie_pairs(fmt))
    for a, b in zip(ta.tolist(), tb.tolist()):
        rows.append((a, b, ty["m"], ty["v"]))
        rows.append((ty["w"], b, a, ty["v"]))
        rows.append((ty["w"], a, ty["m"], b & ~fmt.sign_mask))
    arr = np.array(rows, dtype=np.int64)
    last = last_op_words(cfg, group.t, rng)
    return {k: np.concatenate([arr[:, i], last[k]]) for i, k in enumerate(KEYS)}


def _value(fmt, word: int) -> float:
    """A word's value as a float64 (NaN and infinities included)."""
    kind, s, n, e = exact.decode(fmt, word)
    if kind == "nan":
        return float("nan")
    if kind == "inf":
        return float("-inf") if s else float("inf")
    v = float(n) * 2.0 ** e
    return -v if s else v


def specials(cfg, group, rng, n: int, seed: int) -> dict:
    """``n / 4`` operand mixtures, ``n / 4`` Adam-like words and ties of the last
    operation from 32 typical elements."""
    f = _fmts(cfg)
    if len(set(f.values())) == 1:                 # shared exponents across the four roles
        mixed = dict(zip(KEYS, (a.astype(np.int64) for a in
                                random_operands(f["w"], n // 4, rng, arity=4))))
    else:
        mixed = {k: random_operands(f[k], n // 4, rng, arity=2)[0].astype(np.int64)
                 for k in KEYS}
    like = adam_like_words(cfg, n // 4, rng)
    last = last_op_words(cfg, group.t, rng, 32)
    return {k: np.concatenate([mixed[k], like[k], last[k]]) for k in KEYS}


def randoms(cfg, group, rng, n: int) -> dict:
    f = _fmts(cfg)
    return {k: rng.integers(0, f[k].word_mask + 1, n, dtype=np.int64) for k in KEYS}


#: The most (w, g, m, v) cases a step of an exhaustive set holds (2**20: four 5-bit words)
EXHAUSTIVE_MAX = 1 << 20


def exhaustive(cfg, seed: int = 1):
    """Every ``(w, g, m, v)`` word combination at steps 1 and 1000 where that is at most
    `EXHAUSTIVE_MAX` cases a step (a reduced format such as ``FloatFormat(3, 1)``); None
    (no exhaustive set) for wider words."""
    f = _fmts(cfg)
    bits = [f[k].total_bits for k in KEYS]
    if sum(bits) > EXHAUSTIVE_MAX.bit_length() - 1:
        return None
    grids = np.meshgrid(*(np.arange(1 << b) for b in bits), indexing="ij")
    words = {k: g.ravel().astype(np.int64) for k, g in zip(KEYS, grids)}
    return [(Group.of(t), words) for t in (1, 1000)]
