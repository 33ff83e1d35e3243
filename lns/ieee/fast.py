"""The fast IEEE path: numpy arithmetic on word arrays viewed as floats.

For a format with a numpy scalar type (`FloatFormat.numpy_dtype`: fp32 -> ``float32``,
fp64 -> ``float64``, fp16 -> ``float16``, bf16 -> ``ml_dtypes.bfloat16``) the words are
viewed as that type.  fp32 and fp64 compute natively (IEEE single / double on the host, round
to nearest even, no flush to zero: numpy leaves the FPU's default mode alone).  fp16 and bf16
compute explicitly in ``float32`` and round once more to the narrow type (numpy's and
ml_dtypes' ``astype`` round to nearest even and keep subnormals); why that double rounding
gives the correctly rounded result is argued in `lns.ieee.ops` and tested against the exact
path (`lns.ieee.exact`).  Every NaN result is replaced by the format's canonical NaN.

Narrow formats without a numpy type (`is_narrow`: at most 5 exponent and 10 fraction bits,
``emin <= -frac_bits``, such as ``FloatFormat(5, 6)``, 12 bits) take the same route with
the decoding and the last rounding done here: the words decoded exactly to float32
(`to_floats`), the operation in float32, the result rounded once to the format
(`round_floats`, nearest even, gradual underflow, overflow to infinity).  Why that is
correctly rounded is argued in `lns.ieee.ops`.
"""

from __future__ import annotations

import numpy as np

from .format import FloatFormat

__all__ = ["word_dtype", "from_float", "binary", "unary", "BINARY_UFUNCS", "is_narrow",
           "to_floats", "round_floats"]

BINARY_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def word_dtype(fmt: FloatFormat):
    """The smallest unsigned numpy integer type that holds a word of `fmt`."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if fmt.total_bits <= np.dtype(dt).itemsize * 8:
            return dt
    raise AssertionError("FloatFormat words are at most 64 bits")


def is_narrow(fmt: FloatFormat) -> bool:
    """Whether ``fmt`` has no numpy type but computes in float32 with one more rounding
    (`lns.ieee.ops`: significands of at most 11 bits, so float32's 24 >= 2 * 11 + 2, and an
    exponent range whose operands, products, quotients and roots are float32 normals, and
    no subnormal square root: ``emin <= -frac_bits``)."""
    return (fmt.numpy_dtype is None and fmt.exp_bits <= 5 and fmt.frac_bits <= 10
            and fmt.emin <= -fmt.frac_bits)


def to_floats(fmt: FloatFormat, words) -> np.ndarray:
    """The exact float64 value of each word of ``fmt`` (any format of at most 11 exponent and
    52 fraction bits; signed zeros, infinities, NaN kept)."""
    w = np.asarray(words).astype(np.int64)
    p = fmt.frac_bits
    big_e = (w >> p) & fmt.exp_max
    t = w & fmt.frac_mask
    sig = np.where(big_e == 0, t, t | (1 << p)).astype(np.float64)
    val = np.ldexp(sig, (np.where(big_e == 0, fmt.emin, big_e - fmt.bias) - p).astype(np.int32))
    special = big_e == fmt.exp_max
    val = np.where(special, np.where(t == 0, np.inf, np.nan), val)
    return np.where((w >> (fmt.total_bits - 1)) & 1 == 1, -val, val)


def round_floats(fmt: FloatFormat, x) -> np.ndarray:
    """float64 values rounded once to ``fmt`` as int64 words: nearest even at the quantum of
    the value's binade (``2**(max(binade, emin) - p)``: gradual underflow), a rounded
    magnitude at or beyond the infinity word infinity, NaN the canonical NaN; the same
    packing as `lns.ieee.exact.round_scaled`.  ``|x| / quantum`` is exact in float64 (a
    power-of-two scaling) and ``np.rint`` rounds it to nearest even."""
    x = np.asarray(x, dtype=np.float64)
    p = fmt.frac_bits
    a = np.abs(x)
    finite = np.isfinite(a) & (a > 0)
    safe = np.where(finite, a, 1.0)
    _, ex = np.frexp(safe)                          # safe = f 2**ex, f in [1/2, 1)
    te = np.maximum(ex.astype(np.int64) - 1, fmt.emin)
    with np.errstate(all="ignore"):
        q = np.rint(np.ldexp(safe, (p - te).astype(np.int32))).astype(np.int64)
    word = np.minimum(((te - fmt.emin) << p) + q, fmt.pos_inf)
    word = np.where(finite, word, np.where(np.isinf(a), fmt.pos_inf, 0))
    word = word | np.where(np.signbit(x), fmt.sign_mask, 0)
    return np.where(np.isnan(x), fmt.canonical_nan, word).astype(np.int64)


def _compute_dtype(fmt: FloatFormat):
    """The type the arithmetic runs in: the format's own for fp32 / fp64, float32 for the
    narrow formats (see the module docstring)."""
    if fmt.numpy_dtype is None:
        return np.dtype(np.float32)
    dt = np.dtype(fmt.numpy_dtype)
    return dt if dt.itemsize >= 4 else np.dtype(np.float32)


def _to_float(fmt: FloatFormat, words: np.ndarray) -> np.ndarray:
    if fmt.numpy_dtype is None:                            # a narrow format: exact in float32
        return to_floats(fmt, words).astype(np.float32)
    f = words.astype(word_dtype(fmt), copy=False).view(fmt.numpy_dtype)
    return f.astype(_compute_dtype(fmt), copy=False)       # exact widening


def _to_words(fmt: FloatFormat, f: np.ndarray) -> np.ndarray:
    if fmt.numpy_dtype is None:                            # a narrow format: one rounding
        return round_floats(fmt, np.asarray(f, dtype=np.float64)).astype(word_dtype(fmt))
    with np.errstate(all="ignore"):                        # overflow to inf is the answer
        narrow = np.asarray(f).astype(fmt.numpy_dtype)     # the (second) rounding, RNE
    words = narrow.view(word_dtype(fmt)).copy()
    words[np.isnan(f)] = fmt.canonical_nan
    return words


def from_float(fmt: FloatFormat, x) -> np.ndarray:
    """float64 values rounded to ``fmt`` once (numpy's correctly rounded conversion; bf16
    through ml_dtypes; a narrow format through `round_floats`; any other format numpy lacks
    through `lns.ieee.exact`), as int64 words."""
    dt = fmt.numpy_dtype
    if dt is None and is_narrow(fmt):
        return round_floats(fmt, x).reshape(np.shape(x))
    if dt is None:
        from fractions import Fraction

        from . import exact
        return np.array([exact.round_to_format(fmt, int(v < 0), Fraction(abs(float(v))))
                         for v in np.ravel(x)], dtype=np.int64).reshape(np.shape(x))
    return np.asarray(x, dtype=np.float64).astype(dt).view(word_dtype(fmt)).astype(np.int64)


def binary(fmt: FloatFormat, op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a op b`` on word arrays (broadcast); `op` one of `BINARY_UFUNCS`."""
    with np.errstate(all="ignore"):
        r = BINARY_UFUNCS[op](_to_float(fmt, a), _to_float(fmt, b))
    return _to_words(fmt, r)


def unary(fmt: FloatFormat, op: str, a: np.ndarray) -> np.ndarray:
    """``op(a)`` on a word array; `op` is ``"sqrt"``."""
    if op != "sqrt":
        raise AssertionError(f"unknown unary op {op!r}")
    with np.errstate(all="ignore"):
        r = np.sqrt(_to_float(fmt, a))
    return _to_words(fmt, r)
