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

Flush to zero (a configuration with ``ftz``, `lns.ieee.ftz`): the edges also hold
`flush_words`, rows that put the mode's boundary into the program's operations: subnormal
words in every role and in all four at once, differences ``g - m`` of normals just below,
exactly at and just above ``2**emin``, products ``c1 (g - m)``, ``c2 (g*g - v)`` and
``alpha_t m'`` whose exact value is just below (rounding up to ``2**emin`` or not), at and
above it, and quotients ``(alpha_t m') / d`` whose IEEE result is the largest subnormal,
``2**emin`` or its successor, both signs.

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
           "last_op_words", "flush_words"]

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


def _below_word(fmt, x) -> int:
    """The largest positive word of ``fmt`` whose value is below the exact ``x > 0``."""
    w = exact.round_to_format(fmt, 0, x)
    while w > 0 and exact.to_fraction(fmt, w) >= x:
        w -= 1
    return w


def _product_rows(fmt, c_word: int, role_rows) -> list:
    """Rows whose product ``c x`` (``c`` the word ``c_word``, ``x`` the word a row builds
    with ``role_rows(x)``) is just below ``2**emin`` (the largest such ``x`` and the one
    below it), at or just above it, both signs of ``x``."""
    from fractions import Fraction
    c = abs(exact.to_fraction(fmt, c_word))
    if c == 0:
        return []
    x0 = _below_word(fmt, Fraction(2) ** fmt.emin / c)
    rows = []
    for x in (x0 - 1, x0, x0 + 1, x0 + 2):
        if 0 < x < fmt.pos_inf:
            rows += role_rows(x) + role_rows(x | fmt.sign_mask)
    return rows


def flush_words(cfg, t: int, rng) -> dict:
    """The rows of the flush-to-zero boundary (see the module's doc) at step ``t``."""
    f = _fmts(cfg)
    typical = adam_like_words(cfg, 1, np.random.default_rng(0))
    ty = {k: int(typical[k][0]) for k in KEYS}
    rows = []

    def row(**kw):
        return tuple(int(kw.get(k, ty[k])) for k in KEYS)

    def subnormal(fmt, n):
        frac = rng.integers(1, 1 << fmt.frac_bits, n)
        return [int(x) | (fmt.sign_mask if s else 0)
                for x, s in zip(frac, rng.integers(0, 2, n))]

    for k in KEYS:                                # a subnormal in each role, all four
        rows += [row(**{k: x}) for x in subnormal(f[k], 8)]
    rows += list(zip(*(subnormal(f[k], 8) for k in KEYS)))
    if len(set(f.values())) == 1:
        fmt = f["w"]
        mn, sm = 1 << fmt.frac_bits, fmt.sign_mask
        # g - m of normals: below (3 quanta; 2**emin - 1 quantum), at, above 2**emin
        for g, m in ((mn + 3, mn), (2 * mn, mn + 1), (2 * mn, mn), (2 * mn + 1, mn)):
            rows += [row(g=g, m=m), row(g=g | sm, m=m | sm), row(g=m, m=g)]
        held = cfg.held(t)
        c1, c2 = cfg.constants["c1"], cfg.constants["c2"]
        rows += _product_rows(fmt, c1, lambda x: [row(g=x, m=0)])          # c1 (g - 0)
        rows += _product_rows(fmt, c2, lambda x: [row(g=0, v=x & ~sm)])    # c2 (0 - v)
        rows += _product_rows(fmt, held["alpha_t"], lambda x: [row(g=x, m=x)])  # alpha_t m
        rows += _quotient_rows(cfg, fmt, t, held, ty)
    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return {k: arr[:, i].copy() for i, k in enumerate(KEYS)}


def _quotient_rows(cfg, fmt, t, held, ty) -> list:
    """Rows whose quotient ``q = (alpha_t m') / d`` is near ``2**emin``, with ``g = m`` (so
    ``m' = m``), ``n = alpha_t m`` and ``d = sqrt(v') + eps_t`` computed as the unit does
    (`lns.ieee.ftz.apply`).

    A quotient of words cannot round up to ``2**emin`` from below unless it is the tie
    ``2**emin - quantum / 2``: ``2**emin d`` is a word, so the word below it divided by
    ``d`` is more than half a quantum below ``2**emin`` unless ``d`` is a power of two.
    So: ``v`` with ``v' = 4`` (``d = 2``: ``eps_t`` is below half its ulp) and ``m`` with
    ``n`` the word below ``2**(emin + 1)`` (the tie, rounding up to ``2**emin``, which the
    mode flushes) and its neighbours; and a scan of ``m`` around ``2**emin d / alpha_t``
    for a few other ``v``, kept where ``q`` rounds to the largest subnormal, ``2**emin``
    or its successor."""
    from fractions import Fraction

    from lns.ieee import ftz
    from lns.ieee.fast import to_floats
    mn, sm = 1 << fmt.frac_bits, fmt.sign_mask
    dt = ftz.ops.word_dtype(fmt)
    one = (fmt,) * 2
    alpha = float(to_floats(fmt, [held["alpha_t"]])[0])
    c2 = float(to_floats(fmt, [cfg.constants["c2"]])[0])

    def full(word, like):
        return np.full(len(like), word, dtype=dt)

    def chain(ms, vw):
        """``(n, d, v')`` words of the unit for ``g = m = ms`` and ``v = vw``."""
        g = np.asarray(ms).astype(dt)
        vs = np.asarray(vw).astype(dt) if np.ndim(vw) else full(vw, g)
        dv = ftz.apply("sub", one, fmt, ftz.apply("mul", one, fmt, g, g), vs)
        v2 = ftz.apply("add", one, fmt, vs,
                       ftz.apply("mul", one, fmt, full(cfg.constants["c2"], g), dv))
        d = ftz.apply("add", one, fmt, ftz.apply("sqrt", (fmt,), fmt, v2),
                      full(held["eps_t"], g))
        return ftz.apply("mul", one, fmt, full(held["alpha_t"], g), g), d, v2

    def around(x, k):
        w = int(from_float(fmt, np.array([x]))[0])
        return np.arange(max(w - k, mn), min(w + k + 1, fmt.pos_inf), dtype=np.int64)

    picked = []                                   # (m, v) words
    for j in (1, 2):                              # d = 2, 4: v' = 4, 16
        vs = around(4.0 ** j / (1 - c2), 64)
        m_any = around(2.0 ** (fmt.emin + j) / alpha, 0)
        _, d, v2 = chain(np.repeat(m_any, len(vs)), vs)
        exact_v = vs[(v2 == int(from_float(fmt, np.array([4.0 ** j]))[0]))
                     & (d == int(from_float(fmt, np.array([2.0 ** j]))[0]))]
        if not exact_v.size:
            continue
        vw = int(exact_v[0])
        ms = around(2.0 ** (fmt.emin + j) / alpha, 256)
        n, _, _ = chain(ms, vw)
        top = (j + 1) << fmt.frac_bits            # the word of 2**(emin + j)
        picked += [(x, vw) for x in ms[(n >= top - 2) & (n <= top)].tolist()]
    tiny = Fraction(2) ** fmt.emin
    for v in (3.7, 7.0, 13.0, 5.0):
        vw = int(from_float(fmt, np.array([v]))[0])
        ms = around(2.0 ** fmt.emin * np.sqrt(v * (1 - c2)) / alpha, 32)
        n, d, _ = chain(ms, vw)
        for x, nw, dw in zip(ms.tolist(), n.tolist(), d.tolist()):
            q = exact.to_fraction(fmt, nw) / exact.to_fraction(fmt, dw)
            if mn - 1 <= exact.round_to_format(fmt, 0, q) <= mn + 1 or q == tiny:
                picked.append((x, vw))
    rows = []
    for x, vw in picked:
        for sign in (0, sm):
            rows.append((ty["w"], x | sign, x | sign, vw))
            rows.append((sign ^ sm, x | sign, x | sign, vw))   # w' = -q + (-0 or +0)
    return rows


def edges(cfg, group) -> dict:
    """The edge table of ``group``'s step (see the module's doc); deterministic.  Each
    role's edge words and ties are of its own format; where the formats differ (mixed
    precision) a tie pair's word is rounded to the other role's format.  A configuration
    with ``ftz`` also has `flush_words`."""
    out = _edges(cfg, group)
    if getattr(cfg, "ftz", False):
        more = flush_words(cfg, group.t, np.random.default_rng([0xF7, group.t]))
        out = {k: np.concatenate([out[k], more[k]]) for k in KEYS}
    return out


def _edges(cfg, group) -> dict:
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
