"""The fast IEEE path: numpy arithmetic on word arrays viewed as floats.

For a format with a numpy scalar type (`FloatFormat.numpy_dtype`: fp32 -> ``float32``,
fp64 -> ``float64``, fp16 -> ``float16``, bf16 -> ``ml_dtypes.bfloat16``) the words are
viewed as that type.  fp32 and fp64 compute natively (IEEE single / double on the host, round
to nearest even, no flush to zero: numpy leaves the FPU's default mode alone).  fp16 and bf16
compute explicitly in ``float32`` and round once more to the narrow type (numpy's and
ml_dtypes' ``astype`` round to nearest even and keep subnormals); why that double rounding
gives the correctly rounded result is argued in `lns.ieee.ops` and tested against the exact
path (`lns.ieee.exact`).  Every NaN result is replaced by the format's canonical NaN.
"""

from __future__ import annotations

import numpy as np

from .format import FloatFormat

__all__ = ["word_dtype", "from_float", "binary", "unary", "BINARY_UFUNCS"]

BINARY_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def word_dtype(fmt: FloatFormat):
    """The smallest unsigned numpy integer type that holds a word of `fmt`."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if fmt.total_bits <= np.dtype(dt).itemsize * 8:
            return dt
    raise AssertionError("FloatFormat words are at most 64 bits")


def _compute_dtype(fmt: FloatFormat):
    """The type the arithmetic runs in: the format's own for fp32 / fp64, float32 for the
    narrow formats (see the module docstring)."""
    dt = np.dtype(fmt.numpy_dtype)
    return dt if dt.itemsize >= 4 else np.dtype(np.float32)


def _to_float(fmt: FloatFormat, words: np.ndarray) -> np.ndarray:
    f = words.astype(word_dtype(fmt), copy=False).view(fmt.numpy_dtype)
    return f.astype(_compute_dtype(fmt), copy=False)       # exact widening


def _to_words(fmt: FloatFormat, f: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):                        # overflow to inf is the answer
        narrow = np.asarray(f).astype(fmt.numpy_dtype)     # the (second) rounding, RNE
    words = narrow.view(word_dtype(fmt)).copy()
    words[np.isnan(f)] = fmt.canonical_nan
    return words


def from_float(fmt: FloatFormat, x) -> np.ndarray:
    """float64 values rounded to ``fmt`` once (numpy's correctly rounded conversion; bf16
    through ml_dtypes; a format numpy lacks through `lns.ieee.exact`), as int64 words."""
    dt = fmt.numpy_dtype
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
