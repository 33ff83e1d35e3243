"""Operands that exercise an IEEE operation: an edge table and seeded random operands.

Shared by the tests of the reference (`tests/test_ieee_*`), the SoftFloat benchmark and the
tests of the float hardware, so every checker looks at the same corners:

* `edge_words`: +-0, the smallest and largest subnormals, the smallest normal, 1 and its
  neighbours, 1.5, the largest finite and its predecessor, +-inf, NaNs (canonical, with a
  payload, signalling, negative).
* `tie_pairs`: operand pairs whose exact sum or product is a midpoint between two
  neighbouring words (ties to even), among them products that underflow onto a midpoint of
  the subnormal grid and sums that carry into the next binade.
* `random_operands`: a seeded mixture of uniform bit patterns (every special and subnormal
  shows up), operands with close exponents (cancellation, ties, exact results), operands in a
  band of exponents where products and quotients stay in range, operands with few
  significand bits (exact results and ties) and operands near the subnormal range.
"""

from __future__ import annotations

import numpy as np

from .fast import word_dtype
from .format import FloatFormat

__all__ = ["edge_words", "tie_pairs", "edge_pairs", "random_operands"]


def _word(fmt: FloatFormat, sign: int, big_e: int, t: int) -> int:
    return (sign << (fmt.total_bits - 1)) | (big_e << fmt.frac_bits) | t


def edge_words(fmt: FloatFormat) -> np.ndarray:
    """The edge table: both signs of every special magnitude, plus four NaNs."""
    p, one_e = fmt.frac_bits, fmt.bias
    mags = sorted({
        0, 1, 2, 3, fmt.frac_mask - 1, fmt.frac_mask,         # zero and subnormals
        fmt.min_normal, fmt.min_normal + 1,                      # smallest normals
        _word(fmt, 0, one_e, 0), _word(fmt, 0, one_e, 1),        # 1, 1 + ulp
        _word(fmt, 0, one_e - 1, fmt.frac_mask),                 # 1 - ulp/2
        _word(fmt, 0, one_e, 1 << (p - 1)),                      # 1.5
        _word(fmt, 0, one_e + 1, 0),                             # 2
        fmt.max_finite - 1, fmt.max_finite,
        _word(fmt, 0, fmt.exp_max - 1, 0),                       # 2**emax
        fmt.pos_inf,
    })
    words = mags + [m | fmt.sign_mask for m in mags]
    words += [fmt.canonical_nan, fmt.pos_inf | 1,                # quiet, signalling NaN
              fmt.pos_inf | fmt.frac_mask, fmt.canonical_nan | fmt.sign_mask]
    return np.array(sorted(set(words)), dtype=word_dtype(fmt))


def tie_pairs(fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a, b)`` whose exact sum or product lies on a rounding midpoint."""
    p, one_e = fmt.frac_bits, fmt.bias
    a, b = [], []
    # 2**-(p+1) and its neighbours need a normal exponent field; tiny formats skip them.
    if one_e - p - 1 >= 1:
        half_ulp = _word(fmt, 0, one_e - p - 1, 0)               # half an ulp of 1
        for t in sorted({0, 1, 2, 3, fmt.frac_mask}):
            x = _word(fmt, 0, one_e, t)                          # 1 + t ulp
            a += [x, x | fmt.sign_mask]
            b += [half_ulp, half_ulp | fmt.sign_mask]
    for t in sorted({1, 3, fmt.frac_mask}):
        # 1.5 * (1 + t ulp), t odd: the product's last bit is exactly half an ulp.
        a.append(_word(fmt, 0, one_e, 1 << (p - 1)))
        b.append(_word(fmt, 0, one_e, t))
    # Underflow onto the subnormal grid's midpoints: k * min_subnormal * 0.5, k odd.
    half = _word(fmt, 0, one_e - 1, 0) if one_e >= 2 else 0
    for k in ([] if half == 0 else
              sorted(k for k in {1, 3, 5, fmt.frac_mask} if k <= fmt.frac_mask)):
        a += [k, k | fmt.sign_mask]
        b += [half, half]
    # The overflow threshold: the largest finite plus half its ulp (a tie that goes to inf).
    if fmt.exp_max - 2 - p >= 1:
        a.append(fmt.max_finite)
        b.append(_word(fmt, 0, fmt.exp_max - 2 - p, 0))
    dt = word_dtype(fmt)
    return np.array(a, dtype=dt), np.array(b, dtype=dt)


def edge_pairs(fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of the edge table, then the tie pairs (both orders)."""
    e = edge_words(fmt)
    a, b = np.meshgrid(e, e, indexing="ij")
    ta, tb = tie_pairs(fmt)
    return (np.concatenate([a.ravel(), ta, tb]), np.concatenate([b.ravel(), tb, ta]))


def _assemble(fmt: FloatFormat, sign, big_e, t) -> np.ndarray:
    dt = np.uint64
    w = ((sign.astype(dt) << dt(fmt.total_bits - 1)) | (big_e.astype(dt) << dt(fmt.frac_bits))
         | t.astype(dt))
    return w.astype(word_dtype(fmt))


def random_operands(fmt: FloatFormat, n: int, rng: np.random.Generator,
                    arity: int = 2) -> tuple[np.ndarray, ...]:
    """`arity` seeded arrays of `n` words, a mixture of five kinds in equal parts (see the
    module docstring); the kinds are interleaved at random positions.  With ``arity=1`` (a
    square root's operand) the structured kinds are negative a quarter of the time instead
    of half, so most operands are in the domain."""
    p, emax_f = fmt.frac_bits, fmt.exp_max
    kind = rng.integers(0, 5, n)
    outs = []
    base_e = rng.integers(1, emax_f, n)                          # shared for "close" operands
    for i in range(arity):
        # a single operand (sqrt) is negative a quarter of the time: its domain is x >= 0
        sign = rng.integers(0, 2, n) if arity > 1 else (rng.integers(0, 4, n) == 0)
        t = rng.integers(0, 1 << p, n, dtype=np.uint64)
        uniform = rng.integers(0, fmt.word_mask + 1, n, dtype=np.uint64).astype(
            word_dtype(fmt))
        # close exponents: within p + 3 binades of a shared one
        close_e = np.clip(base_e + (rng.integers(-p - 3, p + 4, n) if i else 0), 0, emax_f - 1)
        # a band around 1 where products and quotients stay finite and normal
        band = max(1, fmt.bias // 2)
        band_e = rng.integers(fmt.bias - band, fmt.bias + band + 1, n)
        # few significand bits: one or two set bits, or all ones
        sparse_t = np.where(rng.integers(0, 2, n) == 0,
                            (np.uint64(1) << rng.integers(0, p, n, dtype=np.uint64)),
                            np.uint64(0))
        sparse_t = np.where(rng.integers(0, 4, n) == 0, np.uint64((1 << p) - 1), sparse_t)
        # near the subnormal range: exponent field 0..p+1
        low_e = rng.integers(0, min(p + 2, emax_f), n)
        big_e = np.select([kind == 1, kind == 2, kind == 3, kind == 4],
                          [close_e, band_e, close_e, low_e], 0)
        tt = np.where(kind == 3, sparse_t, t)
        w = _assemble(fmt, sign, big_e, tt)
        outs.append(np.where(kind == 0, uniform, w).astype(word_dtype(fmt)))
    return tuple(outs)
