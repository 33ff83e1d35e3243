"""Float <-> word conversion, and the checks every public function makes on its inputs.

`encode` rounds ``log2|x|`` to the nearest multiple of ``2**-F`` *correctly* (the
rounding boundary is irrational, so it is never an exact tie; see
`lns.tables.encode_boundaries`), then saturates overflow and applies the underflow policy.
`decode` gives the float64 nearest to the word's exact value.

Words are taken apart and put together only by `lns.word` (``split``/``join`` over arrays,
``fields_ref``/``store_ref`` on one word are its names for the codec's callers).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np

from .errors import InvalidType, InvalidValue
from .format import LNSFormat
from .tables import decode_fractions, encode_boundaries
from .word import pack, pack_all, unpack, unpack_all, zero_word

__all__ = ["encode", "decode", "encode_ref", "decode_ref", "as_codes", "split", "join",
           "fields_ref", "store_ref"]


def _check_format(fmt) -> LNSFormat:
    if not isinstance(fmt, LNSFormat):
        raise InvalidType(f"fmt must be an LNSFormat, not {type(fmt).__name__}")
    return fmt


def as_codes(fmt: LNSFormat, codes, name: str = "codes") -> np.ndarray:
    """``codes`` as an int64 array, checked to be words of ``fmt``."""
    arr = np.asarray(codes)
    if arr.size == 0 and arr.dtype.kind == "f":
        return arr.astype(np.int64)     # [] (numpy makes it float64): no words, none bad
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidType(f"{name} must be integer codes, not {arr.dtype}")
    if arr.size:
        # Checked in the array's own dtype (a uint64 above 2**63 would wrap in int64).
        lo, hi = int(arr.min()), int(arr.max())
        top = (1 << fmt.total_bits) - 1
        if lo < 0 or hi > top:
            bad = lo if lo < 0 else hi
            raise InvalidValue(f"{name} must be codes of {fmt.name} (0..{top}), not {bad}")
    return arr.astype(np.int64, copy=False)


def split(fmt: LNSFormat, words: np.ndarray):
    """Words -> (sign, X, is_zero) arrays (`lns.word.unpack` of each)."""
    return unpack_all(fmt.params, words)


def join(fmt: LNSFormat, sign, x, zero=None) -> np.ndarray:
    """(sign, unbounded X[, is_zero]) -> words (`lns.word.pack` of each; an ``is_zero``
    element gives the zero word)."""
    words = pack_all(fmt.params, sign, x)
    if zero is not None:
        words = np.where(zero, zero_word(fmt.params), words)
    return words


def _real_array(x) -> np.ndarray:
    """``x`` as a float64 array; InvalidType unless it holds integers or floats (a bool,
    None, a string or a complex number is not a magnitude to encode)."""
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raw = None
    if raw is not None and raw.dtype == object and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw.flat):
        return raw.astype(np.float64)            # Python ints beyond int64 (they saturate)
    if raw is None or not (np.issubdtype(raw.dtype, np.integer)
                           or np.issubdtype(raw.dtype, np.floating)):
        if raw is None or raw.dtype == object or raw.ndim == 0:
            kind = type(x).__name__
        else:
            kind = f"an array of {'str' if raw.dtype.kind in 'US' else raw.dtype}"
        raise InvalidType(f"x must be real numbers, not {kind}")
    return raw.astype(np.float64)


def encode(fmt: LNSFormat, x) -> np.ndarray:
    """Encode floats as words of ``fmt`` (vectorised; int64 array of the input's shape).

    Raises ValueError for NaN or infinity, and for a negative value in an unsigned format;
    TypeError for anything but integers and floats (None, bools, strings, complex).
    ``0`` encodes as the word 0 where the format has a zero code; otherwise it follows the
    underflow policy (the smallest magnitude).
    """
    fmt = _check_format(fmt)
    arr = _real_array(x)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].flat[0]
        raise InvalidValue(f"x must be finite, not {bad}")
    if not fmt.signed and np.any(arr < 0):
        raise InvalidValue(f"x must be non-negative for the unsigned format {fmt.name}, "
                           f"not {arr[arr < 0].flat[0]}")
    sign = np.signbit(arr).astype(np.int64) & (arr != 0)
    mag = np.abs(arr)
    m, exp = np.frexp(mag)                       # mag = m * 2**exp, m in [0.5, 1)
    m, exp = m * 2.0, exp.astype(np.int64) - 1   # exact: m in [1, 2)
    frac = np.searchsorted(encode_boundaries(fmt.frac_bits), m, side="right")
    xcode = (exp << fmt.frac_bits) + frac
    return join(fmt, sign, xcode, mag == 0)


def encode_ref(fmt: LNSFormat, x: float) -> int:
    """Scalar reference of `encode`: ``nint(log2|x| * 2**F)`` with mpmath at 200 bits."""
    fmt = _check_format(fmt)
    x = float(_real_array(x))
    if not math.isfinite(x):
        raise InvalidValue(f"x must be finite, not {x}")
    if not fmt.signed and x < 0:
        raise InvalidValue(f"x must be non-negative for the unsigned format {fmt.name}, not {x}")
    sign = 1 if x < 0 else 0
    if x == 0:
        return store_ref(fmt, 0, None)
    with mpmath.workprec(200):
        xcode = int(mpmath.nint(mpmath.log(abs(mpmath.mpf(x)), 2) * 2 ** fmt.frac_bits))
    return store_ref(fmt, sign, xcode)


def decode(fmt: LNSFormat, codes) -> np.ndarray:
    """Decode words of ``fmt`` to float64: the nearest float64 to each exact value."""
    fmt = _check_format(fmt)
    words = as_codes(fmt, codes)
    sign, xcode, zero = split(fmt, words)
    frac = xcode & ((1 << fmt.frac_bits) - 1)
    whole = xcode >> fmt.frac_bits
    with np.errstate(over="ignore"):     # never overflows: LNSFormat keeps to float64's range
        mag = np.ldexp(decode_fractions(fmt.frac_bits)[frac], whole)
    # Below 2**-1022 ldexp would round a second time (the fraction is already rounded to 53
    # bits): round those few once, on the 2**-1074 grid.
    sub = np.flatnonzero((whole < -1022) & ~zero)
    if sub.size:
        mag = np.array(mag, dtype=np.float64, ndmin=1)
        mag.reshape(-1)[sub] = [_subnormal(int(x), fmt.frac_bits)
                                for x in np.ravel(xcode)[sub]]
        mag = mag.reshape(np.shape(xcode))
    out = np.where(sign == 1, -mag, mag)
    return np.where(zero, 0.0, out)


def _subnormal(xcode: int, frac_bits: int) -> float:
    """2**(xcode / 2**F) rounded once to float64 where that is below 2**-1022."""
    with mpmath.workprec(200):
        exact = mpmath.power(2, mpmath.mpf(xcode) / 2 ** frac_bits)
        return math.ldexp(int(mpmath.nint(exact * mpmath.mpf(2) ** 1074)), -1074)


def decode_ref(fmt: LNSFormat, code: int) -> float:
    """Scalar reference of `decode`, through mpmath."""
    fmt = _check_format(fmt)
    code = int(as_codes(fmt, code))
    sign, xcode, zero = fields_ref(fmt, code)
    if zero:
        return 0.0
    if xcode >> fmt.frac_bits < -1022:
        mag = _subnormal(xcode, fmt.frac_bits)
    else:
        with mpmath.workprec(200):
            mag = float(mpmath.power(2, mpmath.mpf(xcode) / 2 ** fmt.frac_bits))
    return -mag if sign else mag


def fields_ref(fmt: LNSFormat, word: int):
    """Scalar word -> (sign, X, is_zero): `lns.word.unpack`, called from Python."""
    sign, x, zero = unpack(int(word), fmt.params)
    return sign, x, bool(zero)


def store_ref(fmt: LNSFormat, sign: int, x: int | None) -> int:
    """Scalar (sign, unbounded X) -> word with saturation and the underflow policy
    (`lns.word.pack`, called from Python); ``x=None`` is an exact zero (the smallest
    magnitude where the format has no zero)."""
    if x is None:
        return zero_word(fmt.params)
    return pack(int(sign), int(x), fmt.params)
