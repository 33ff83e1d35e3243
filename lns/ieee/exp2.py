"""``exp2``: a faithful ``2**x`` on the words of any `FloatFormat`, defined exactly in
integers (the model of `rtl.float.exp2`, which computes the same integers bit for bit).

Design (Tang's table-driven method, "Table-driven implementation of the exponential
function in IEEE floating-point arithmetic", ACM TOMS 15(2), 1989, with base 2 and a
Taylor polynomial of fixed coefficients instead of a minimax one).  All widths follow from
the format's ``p = frac_bits`` through `exp2_params`:

* ``W = p + guard`` fraction bits of the fixed-point datapath (``guard = 8``); ``u = 2**-W``.
* **Specials first**: NaN -> the canonical NaN, +inf -> +inf, -inf -> +0.  With
  ``M = bit_length(bias + p + 2)``, ``|x| >= 2**M`` is out of range: ``x > 0`` gives +inf
  (``2**x >= 2**(emax + 1)``), ``x < 0`` gives +0 (``2**x < 2**(emin - p - 2)``, under
  half the smallest subnormal).  Zeros, subnormals and every other word take the datapath
  (``2**(+-0) = 1`` exactly, no special case).
* **Range reduction** ``x = n + f``: ``X = floor(x * 2**W)`` (exact for ``|x| < 2**M``
  down to ``2**-W``; below, the bits cut off only lower ``X`` by one for a negative ``x``),
  ``M + W + 1`` bits signed; ``n = X >> W`` (floor), ``f = X mod 2**W`` in ``[0, 1)``.
  ``f`` splits into the top ``k`` bits ``i`` (the table index) and the rest ``rho`` (``r =
  rho u`` in ``[0, 2**-k)``).
* **Table**: ``T[i] = round(2**(i / 2**k) * 2**W)``, ``2**k`` words of ``W + 1`` bits (the
  top bit always 1), computed exactly with nested integer square roots
  (``floor(N**(1/2**k))`` is ``k`` nested `math.isqrt`; ties cannot occur: the values are
  irrational for ``i > 0``).
* **Polynomial**: ``2**r ~ P(r) = sum_{j <= d} (r ln 2)**j / j!`` with the coefficients
  ``C_j = round(ln(2)**j / j! * 2**W)`` (``ln 2`` from the integer series ``2 atanh(1/3)``
  with 64 extra bits), by Horner on integers with one floor a step:
  ``a_d = C_d;  a_j = C_j + floor(a_{j+1} rho / 2**W);  P = 2**W + floor(a_1 rho / 2**W)``.
  ``k`` and ``d`` are the smallest with the Taylor remainder ``(2**-k ln 2)**(d+1) /
  (d+1)! * 2**(2**-k) <= u / 4``, ``d`` growing only when ``k`` would pass 10 (fp32: ``d =
  2``, ``k = 10``: a 1024-word table, a block RAM; fp16 ``k = 6``; FloatFormat(5, 6)
  ``k = 4``).
* **One rounding**: ``Y = T[i] * P`` exactly (``2W`` fraction bits, in ``[1, 4)``), and the
  result is ``Y * 2**(n - 2W)`` rounded to nearest, ties to even, once
  (`lns.ieee.exact.round_scaled`: subnormals by gradual underflow, overflow to +inf).

Error (``u = 2**-W``): truncating ``x`` costs a factor ``2**-delta``, ``0 <= delta < u``
(relative error ``< ln2 u``); the table ``<= u/2``; the Taylor remainder ``<= u/4``; the
rounded coefficients ``<= u/2 sum_j 2**-jk``; the Horner floors ``< u / (1 - 2**-k)``; so
``Y`` is within ``(ln 2 + 0.5 + 0.25 + 0.5 * 2**-k/(1 - 2**-k) + 1/(1 - 2**-k)) u`` of
``2**x`` relatively, ``< 2.7 u`` for ``k >= 3`` and ``< 4 u`` for any ``k``.  On the
significand in ``[1, 2)`` that is under ``8 u = 2**-(p + 5)`` absolute, far below the half
ulp ``2**-(p + 1)`` that faithfulness allows (a subnormal result has a coarser ulp, so even
more room): every result is one of the two words around ``2**x`` (faithful), and it is the
correctly rounded one unless ``2**x`` lies within that error of a midpoint.  Measured
against mpmath (tests/test_ieee_exp2.py): FloatFormat(5, 6), fp16 and bf16 exhaustively
and fp32 on random and edge words, all faithful; not correctly rounded: FloatFormat(5, 6)
2 of the 2,458 words whose result is neither 0 nor inf by range, fp16 150 of 39,554
(0.38%), bf16 4 of 34,313, fp32 321 of 100,000 x uniform in [-150, 128] (0.32%).

Two paths give the same words: ``"exact"`` (Python integers, one word at a time, any
format) and ``"numpy"`` (vectorised ``uint64`` arithmetic, the formats whose widths fit in
64 bits: ``W <= 31`` and ``p + 1 + M + W <= 64``; fp32, bf16, fp16 and the small ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import factorial, isqrt, log, log2

import numpy as np

from ..errors import InvalidType, InvalidValue
from . import exact
from .fast import word_dtype
from .format import FloatFormat

__all__ = ["Exp2Params", "exp2_params", "exp2_table", "exp2_rom", "exp2_rom_row",
           "exp2_coeffs", "exp2", "IMPLS",
           "numpy_supported", "GUARD", "MAX_TABLE_BITS"]

IMPLS = ("auto", "exact", "numpy")
GUARD = 8                   # W - p: an error bound 2**-(p+5), ~20x below faithful's limit
MAX_TABLE_BITS = 10         # 1024 words; past that a higher degree instead of a larger table
_LN2_EXTRA = 64             # bits of ln 2 beyond those a coefficient needs


@dataclass(frozen=True)
class Exp2Params:
    """The widths of `exp2` for one format (see the module docstring)."""

    fmt: FloatFormat
    work_bits: int          # W: fraction bits of X, the table, the polynomial
    table_bits: int         # k: the table has 2**k words
    degree: int             # d: the polynomial's degree
    range_bits: int         # M: |x| >= 2**M is out of range (+inf or +0)

    @property
    def x_bits(self) -> int:
        """Width of the signed fixed-point ``X`` (``|X| <= 2**(M + W)``)."""
        return self.range_bits + self.work_bits + 1

    @property
    def rho_bits(self) -> int:
        """Width of ``rho``, the fraction bits below the table index."""
        return self.work_bits - self.table_bits


def _check_format(fmt) -> None:
    if not isinstance(fmt, FloatFormat):
        raise InvalidType(f"fmt must be a FloatFormat, not {type(fmt).__name__}")


def _taylor_bound_log2(k: int, d: int) -> float:
    """log2 of ``(2**-k ln 2)**(d+1) / (d+1)! * 2**(2**-k)``, the remainder of degree d."""
    return (d + 1) * (log2(log(2)) - k) - log2(factorial(d + 1)) + 2.0 ** -k


@lru_cache(maxsize=None)
def exp2_params(fmt: FloatFormat) -> Exp2Params:
    """The widths for ``fmt``: ``W = p + GUARD``; the smallest degree ``d >= 2`` whose
    table of at most ``2**MAX_TABLE_BITS`` words meets the remainder bound ``u/4``, with
    the smallest such ``k``."""
    _check_format(fmt)
    w = fmt.frac_bits + GUARD
    for d in range(2, 16):
        for k in range(1, MAX_TABLE_BITS + 1):
            if _taylor_bound_log2(k, d) <= -(w + 2):
                return Exp2Params(fmt, w, k, d, (fmt.bias + fmt.frac_bits + 2).bit_length())
    raise AssertionError("no exp2 table and degree for this width")    # pragma: no cover


@lru_cache(maxsize=None)
def exp2_table(fmt: FloatFormat) -> tuple[int, ...]:
    """``T[i] = round(2**(i / 2**k) * 2**W)`` for ``i < 2**k``, each ``W + 1`` bits."""
    prm = exp2_params(fmt)
    k, w = prm.table_bits, prm.work_bits
    out = []
    for i in range(1 << k):
        # floor(2**(i/2**k) * 2**(W+1)) = floor(N**(1/2**k)), N = 2**(i + (W+1) 2**k):
        # k nested integer square roots give the floor of the exact root
        # (floor(sqrt(floor(y))) = floor(sqrt(y)) for real y >= 0).
        v = 1 << (i + ((w + 1) << k))
        for _ in range(k):
            v = isqrt(v)
        out.append((v + 1) >> 1)                    # round(y) = floor((floor(2y) + 1) / 2)
    return tuple(out)


@lru_cache(maxsize=None)
def exp2_rom(fmt: FloatFormat) -> tuple[int, ...]:
    """The table as the hardware holds it: ``T[i] - 2**W`` (every ``T[i]`` lies in
    ``[2**W, 2**(W + 1))``, so its top bit is known and not stored); `rtl.float.exp2` reads
    it, `rom_bits` counts it."""
    w = exp2_params(fmt).work_bits
    return tuple(v - (1 << w) for v in exp2_table(fmt))


def exp2_rom_row(fmt: FloatFormat) -> dict:
    """The ROM of `exp2_rom` as a rule reports it (`lns.rule.Rule.rom_tables`): entries,
    width and bits."""
    rom = exp2_rom(fmt)
    width = max(1, max(rom).bit_length())
    return {"entries": len(rom), "width": width, "bits": len(rom) * width}


def _ln2_fixed(q: int) -> int:
    """``ln 2 * 2**q`` to within ``2 * (terms + 1)`` units: ``2 sum 1/((2n+1) 3**(2n+1))``."""
    total, n = 0, 0
    while True:
        term = (1 << q) // ((2 * n + 1) * 3 ** (2 * n + 1))
        if term == 0:
            return 2 * total
        total += term
        n += 1


@lru_cache(maxsize=None)
def exp2_coeffs(fmt: FloatFormat) -> tuple[int, ...]:
    """``(C_0, ..., C_d)``, ``C_j = round(ln(2)**j / j! * 2**W)`` (``C_0 = 2**W``)."""
    prm = exp2_params(fmt)
    w = prm.work_bits
    q = w + _LN2_EXTRA
    ln2 = _ln2_fixed(q)
    out = [1 << w]
    for j in range(1, prm.degree + 1):
        den = factorial(j) << (q * j - w)
        two_c, rem = divmod(ln2 ** j << 1, den)
        # the approximation of ln 2 is far finer than the margin checked here: a value
        # this close to a rounding midpoint would need more bits of ln 2
        margin = den >> 20
        assert (rem > margin) if two_c & 1 else (rem < den - margin), "ln 2 too coarse"
        out.append((two_c + 1) >> 1)
    return tuple(out)


def numpy_supported(fmt: FloatFormat) -> bool:
    """Whether the vectorised path's ``uint64`` words hold every intermediate of ``fmt``:
    ``Y < 2**(2W + 2)`` and the shifted significand ``p + 1 + M + W`` bits."""
    prm = exp2_params(fmt)
    return (2 * prm.work_bits + 2 <= 64
            and fmt.frac_bits + 1 + prm.range_bits + prm.work_bits <= 64)


# ---- the exact path -------------------------------------------------------------------
def _special(fmt: FloatFormat, prm: Exp2Params, word: int):
    """The result word of a special or out-of-range input, else None."""
    s, big_e, t = fmt.fields(word)
    if big_e == fmt.exp_max:
        if t:
            return fmt.canonical_nan
        return 0 if s else fmt.pos_inf
    if max(big_e, 1) - fmt.bias >= prm.range_bits:       # |x| >= 2**M
        return 0 if s else fmt.pos_inf
    return None


def _exact_one(fmt: FloatFormat, word: int) -> int:
    prm = exp2_params(fmt)
    special = _special(fmt, prm, word)
    if special is not None:
        return special
    w, k = prm.work_bits, prm.table_bits
    cls, s, n_x, e_x = exact.decode(fmt, word)
    # X = floor(x * 2**W), x = (-1)**s * n_x * 2**e_x
    sh = e_x + w
    if sh >= 0:
        mag, lost = n_x << sh, 0
    else:
        mag, lost = n_x >> -sh, int(n_x & ((1 << -sh) - 1) != 0)
    x_fix = -(mag + lost) if s else mag
    n, f = x_fix >> w, x_fix & ((1 << w) - 1)
    i, rho = f >> (w - k), f & ((1 << (w - k)) - 1)
    coeffs = exp2_coeffs(fmt)
    acc = coeffs[prm.degree]
    for j in range(prm.degree - 1, 0, -1):
        acc = coeffs[j] + ((acc * rho) >> w)
    poly = (1 << w) + ((acc * rho) >> w)
    y = exp2_table(fmt)[i] * poly
    return exact.round_scaled(fmt, 0, y, n - 2 * w)


# ---- the numpy path -------------------------------------------------------------------
def _numpy(fmt: FloatFormat, words: np.ndarray) -> np.ndarray:
    prm = exp2_params(fmt)
    p, w, k = fmt.frac_bits, prm.work_bits, prm.table_bits
    u64 = np.uint64
    x = words.astype(np.uint64)
    sign = (x >> u64(fmt.total_bits - 1)) & u64(1)
    big_e = ((x >> u64(p)) & u64(fmt.exp_max)).astype(np.int64)
    t = x & u64(fmt.frac_mask)
    exp = np.maximum(big_e, 1)
    sig = np.where(big_e > 0, t | u64(1 << p), t)
    # X: sig << (exp - bias + W + 1) seen through p + 1 bits below the point (as the RTL)
    sh = np.clip(exp - fmt.bias + w + 1, 0, prm.range_bits + w).astype(np.uint64)
    z = sig << sh
    mag = z >> u64(p + 1)
    lost = (z & u64((1 << (p + 1)) - 1)) != 0
    mag = mag.astype(np.int64)
    x_fix = np.where(sign == 1, -(mag + lost), mag)
    n = x_fix >> w
    f = (x_fix & ((1 << w) - 1)).astype(np.uint64)
    i = (f >> u64(w - k)).astype(np.intp)
    rho = f & u64((1 << (w - k)) - 1)
    coeffs = exp2_coeffs(fmt)
    acc = np.full(x.shape, coeffs[prm.degree], dtype=np.uint64)
    for j in range(prm.degree - 1, 0, -1):
        acc = u64(coeffs[j]) + ((acc * rho) >> u64(w))
    poly = u64(1 << w) + ((acc * rho) >> u64(w))
    table = np.array(exp2_table(fmt), dtype=np.uint64)
    y = table[i] * poly                              # < 2**(2W + 2) <= 2**64: exact
    out = _round_np(fmt, y, n, 2 * w)
    # the specials and the out-of-range words
    out = np.where((exp - fmt.bias >= prm.range_bits) & (sign == 1), u64(0), out)
    out = np.where((exp - fmt.bias >= prm.range_bits) & (sign == 0), u64(fmt.pos_inf), out)
    inf = (big_e == fmt.exp_max) & (t == 0)
    out = np.where(inf, np.where(sign == 1, u64(0), u64(fmt.pos_inf)), out)
    out = np.where((big_e == fmt.exp_max) & (t != 0), u64(fmt.canonical_nan), out)
    return out.astype(word_dtype(fmt))


def _round_np(fmt: FloatFormat, y: np.ndarray, n: np.ndarray, frac: int) -> np.ndarray:
    """``y * 2**(n - frac)`` rounded to nearest even, ``y`` in ``[2**frac, 2**(frac+2))``:
    jam ``y`` to ``p + 3`` bits (the lowest sticky), shift a subnormal right by ``1 - exp``
    (at most ``p + 4`` matters), round, pack; a packed word at or above +inf is +inf."""
    p = fmt.frac_bits
    u64 = np.uint64
    top = (y >> u64(frac + 1)).astype(np.int64)          # y >= 2**(frac + 1)
    exp = n + fmt.bias + top                             # biased exponent of the leading bit
    low = frac + 1 - (p + 2)                             # bits under the p + 2 kept + round
    low_t = u64(low) + top.astype(np.uint64)
    s3 = ((y >> low_t) << u64(1)) | ((y & ((u64(1) << low_t) - u64(1))) != 0)
    # s3 has p + 3 bits: leading one, p fraction bits, round, sticky
    sh = np.where(exp >= 1, 2, np.minimum(2 + 1 - exp, p + 4)).astype(np.uint64)
    ip = s3 >> sh
    rem = s3 & ((u64(1) << sh) - u64(1))
    half = u64(1) << (sh - u64(1))
    up = (rem > half) | ((rem == half) & ((ip & u64(1)) == 1))
    base = np.maximum(exp, 1) - 1
    word = (base.astype(np.uint64) << u64(p)) + ip + up
    return np.where(word >= u64(fmt.pos_inf), u64(fmt.pos_inf), word)


# ---- the API --------------------------------------------------------------------------
def exp2(fmt: FloatFormat, x_words, impl: str = "auto"):
    """``2**x`` for words ``x_words`` of ``fmt`` (an int or an integer array), faithful,
    as `exp2_params` defines it; an int in, an int out.  ``impl``: ``"exact"`` (any
    format), ``"numpy"`` (the formats of `numpy_supported`) or ``"auto"`` (numpy where it
    can)."""
    from .ops import check_words
    _check_format(fmt)
    if impl not in IMPLS:
        raise InvalidValue(f"impl must be one of {', '.join(IMPLS)}, not {impl!r}")
    value, scalar = check_words(fmt, x_words, "x_words")
    fast = numpy_supported(fmt)
    if impl == "numpy" and not fast:
        raise InvalidValue(f"impl must be 'exact' or 'auto' for {fmt.name}, whose exp2 "
                           f"widths pass 64 bits, not 'numpy'")
    if impl == "exact" or not fast:
        if scalar:
            return _exact_one(fmt, value)
        out = np.empty(value.shape, dtype=word_dtype(fmt))
        out.ravel()[:] = [_exact_one(fmt, v) for v in value.ravel().tolist()]
        return out
    out = _numpy(fmt, np.atleast_1d(np.asarray(value)))
    return int(out[0]) if scalar else out.reshape(np.shape(value))
