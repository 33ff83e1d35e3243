"""Correctly rounded IEEE-754 operations on words: ``add``, ``sub``, ``mul``, ``div``, ``sqrt``.

Each takes a `FloatFormat` and words (a Python int, or a numpy array of integers, broadcast
like numpy) and returns words of the same kind: round to nearest, ties to even; subnormals in
and out (no flush to zero); the IEEE special cases (signed zeros: ``x - x = +0``,
``-0 + -0 = -0``, ``sqrt(-0) = -0``; ``inf - inf``, ``0 * inf``, ``0/0``, ``inf/inf`` and the
root of a negative number are invalid; ``x/0`` is a signed infinity); every NaN result is
``fmt.canonical_nan``, whatever the operands' NaN payloads.

Two implementations stand behind the one API (``impl=``):

``"exact"``  `lns.ieee.exact`: any format.  Decode to integers, compute exactly, round once
             with `lns.ieee.exact.round_scaled`, the one rounding function of the reference.
``"numpy"``  `lns.ieee.fast`: the formats with a numpy type (fp32, fp64, fp16, bf16),
             vectorised, thousands of times faster.
``"float32"`` `lns.ieee.fast` for the narrow formats without a numpy type
             (`lns.ieee.fast.is_narrow`: at most 5 exponent and 10 fraction bits, such as
             the 12-bit ``FloatFormat(5, 6)``): decoded exactly to float32, computed there,
             rounded once to the format.  ``"auto"`` (the default) takes ``"numpy"`` when
             the format has a numpy type, ``"float32"`` when it is narrow, the exact path
             otherwise.

Why fp16 and bf16 computed in float32 and rounded once more are correctly rounded
------------------------------------------------------------------------------------
The fast path computes ``r = round32(a op b)`` and then ``round16(r)``: two roundings.  For
the five basic operations on operands of a ``p``-bit format (significand with the hidden
bit), a first rounding to a ``q``-bit format with ``q >= 2p + 2`` never changes the final
result (Figueroa 1995, "When is double rounding innocuous?", SIGNUM Newsl. 30(3); the bound
covers +, -, *, / and sqrt): the exact result is never close enough to a midpoint of the
narrow format, without being on it, for the wide rounding to move it onto that midpoint.
float32 has ``q = 24``: bf16 has ``p = 8`` (24 >= 18), fp16 ``p = 11`` (24 >= 24, just).
The theorem is about normal numbers in both formats, so the ranges need a look:

* **fp16 in float32.**  Every fp16 operand and every intermediate result lies well inside the
  float32 *normal* range (|products| >= 2**-48, |quotients| <= 2**40, fp16's smallest
  subnormal 2**-24 is a float32 normal), so the first rounding is the 24-bit rounding of the
  theorem.  When the fp16 result is subnormal its grid is a fixed quantum 2**-24, coarser than
  the ``p``-bit grid, so look at it directly: a sum of fp16 numbers below 2**-14 is an exact
  multiple of 2**-24 (float32 holds it exactly: one rounding only); a product of two 11-bit
  significands has <= 22 bits and is exact in float32; a quotient ``(A/B) 2**s`` with 11-bit
  significands ``A, B`` (so ``A/B`` in (1/2, 2)) is, for ``s >= -25``, either on an fp16
  midpoint (an odd multiple of 2**-25) or at least ``2**-25 / 2**11 = 2**-36`` from it,
  farther than float32's half-ulp there (<= 2**-39), and for ``s < -25`` below 2**-24 / 2,
  which rounds to zero both ways (see the bf16 product below); a square root is never
  subnormal.
* **bf16 in float32.**  Same exponent range: bf16's subnormals (quantum 2**-133, below
  2**-126) are float32 *subnormals* too (quantum 2**-149), so the first rounding there is a
  fixed-point rounding with 16 more fraction bits, not a 24-bit one.  Case by case: a sum of
  bf16 numbers below 2**-126 is a multiple of 2**-133, exact in float32; a product
  ``A B 2**s`` (``A, B < 2**8``) with ``s >= -149`` is on the float32 grid, exact, and with
  ``s < -149`` it is below 2**-134, half the smallest bf16 subnormal, so bf16 rounds it to
  zero, and float32 rounds it to at most 2**-134, which bf16 rounds to zero too (a tie, to
  the even zero); a quotient ``(A/B) 2**s`` with ``A/B`` in (1/2, 2) either has ``s < -134``
  (below 2**-134: zero both ways, as for the product) or sits at least ``2**-134 / 2**8 =
  2**-142`` from any bf16 midpoint it is not on, far beyond float32's half-ulp 2**-150; a
  square root is never subnormal (sqrt(2**-133) ~ 2**-66.5).  At the top, float32 and bf16
  overflow together: an exact result at or above bf16's overflow threshold
  ``(2 - 2**-8) 2**127`` (a float32 number) rounds in float32 to a value still at or above it
  (rounding is monotone), which bf16 rounds to infinity (the tie goes to the even 2**128).

* **Narrow formats in float32** (``"float32"``, `lns.ieee.fast.is_narrow`: exponent field
  ``w <= 5``, fraction ``p <= 10`` with ``emin <= -p``; significands of ``P = p + 1 <= 11``
  bits, so ``24 >= 2 P + 2``).  Every operand lies in ``[2**(emin - p), 2**16)`` with
  ``emin - p >= -24``, so every exact result of one operation (products down to 2**-48,
  quotients within 2**+-40, roots) is a float32 normal: the first rounding is Figueroa's
  24-bit one, and for a normal result of the narrow format his bound applies
  (``FloatFormat(5, 6)``: ``P = 7 <= (24 - 2) / 2 = 11``, a wide margin).  A subnormal
  result lies on the fixed grid ``2**(emin - p)``; case by case, as for fp16 above: a sum
  below ``2**emin`` is a multiple of the quantum of at most ``p`` bits (exact in float32:
  one rounding); a product of two ``P``-bit significands has at most ``2 P <= 22`` bits
  (exact); a quotient ``(A/B) 2**s`` with normalised ``P``-bit ``A, B`` (``A/B`` in (1/2,
  2)) either has ``s < emin - p - 1`` (below half the smallest subnormal: zero both ways,
  float32's monotone rounding staying at or below that half, a tie to the even zero at
  worst) or sits at least ``2**(emin - p - 1) / 2**P`` from any midpoint (odd multiples of
  ``2**(emin - p - 1)``) it is not on, farther than float32's half-ulp below ``2**emin``,
  ``2**(emin - 25)``, since ``p + 1 + P <= 23``; a square root is never subnormal
  (``sqrt(2**(emin - p)) >= 2**emin`` because ``emin <= -p``).  At the top, the overflow
  threshold ``(2 - 2**-(p+1)) 2**emax`` is a float32 number, so float32 and the format
  overflow together (monotone rounding, the tie to the even infinity).  The ``"float32"``
  path is checked against the exact one on every pair of ``FloatFormat(4, 3)`` words for
  every operation and on edge and random samples of ``FloatFormat(5, 6)``
  (`tests/test_ieee_program.py`).

The tests (`tests/test_ieee_ops.py`) check the numpy path against the exact one on edge
tables and random operands for every operation and format, and both against Berkeley
SoftFloat (`tests/test_ieee_softfloat.py`).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidType, InvalidValue
from . import exact, fast
from .format import FloatFormat

__all__ = ["add", "sub", "mul", "div", "sqrt", "IMPLS", "BINARY_OPS", "UNARY_OPS", "apply",
           "word_dtype", "check_words"]

IMPLS = ("auto", "exact", "numpy", "float32")
BINARY_OPS = ("add", "sub", "mul", "div")
UNARY_OPS = ("sqrt",)
word_dtype = fast.word_dtype

_EXACT = {"add": exact.add, "sub": exact.sub, "mul": exact.mul, "div": exact.div,
          "sqrt": exact.sqrt}


def _check_format(fmt) -> None:
    if not isinstance(fmt, FloatFormat):
        raise InvalidType(f"fmt must be a FloatFormat, not {type(fmt).__name__}")


def check_words(fmt: FloatFormat, x, name: str):
    """`x` validated: ``(value, is_scalar)`` with value an int or a word-dtype array."""
    if isinstance(x, (bool, np.bool_)):
        raise InvalidType(f"{name} must be an int word or an integer array, not bool")
    if isinstance(x, (int, np.integer)):
        x = int(x)
        if not 0 <= x <= fmt.word_mask:
            raise InvalidValue(f"{name} must be a {fmt.name} word in 0..{fmt.word_mask:#x}, "
                               f"not {x}")
        return x, True
    arr = np.asarray(x)
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype(word_dtype(fmt))   # [] (numpy makes it float64): no words, none bad
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidType(f"{name} must be an int word or an integer array, "
                          f"not {type(x).__name__} of {arr.dtype}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > fmt.word_mask):
        raise InvalidValue(f"{name} must hold {fmt.name} words in 0..{fmt.word_mask:#x}, "
                           f"not values in {int(arr.min())}..{int(arr.max())}")
    return arr.astype(word_dtype(fmt), copy=False), False


def _resolve(fmt: FloatFormat, impl: str) -> str:
    if impl not in IMPLS:
        raise InvalidValue(f"impl must be one of {', '.join(IMPLS)}, not {impl!r}")
    if impl == "auto":
        return ("numpy" if fmt.numpy_dtype is not None
                else "float32" if fast.is_narrow(fmt) else "exact")
    if impl == "numpy" and fmt.numpy_dtype is None:
        alt = "'exact', 'float32'" if fast.is_narrow(fmt) else "'exact'"
        raise InvalidValue(f"impl must be {alt} or 'auto' for {fmt.name}, which has no "
                           f"numpy type, not 'numpy'")
    if impl == "float32" and not fast.is_narrow(fmt):
        raise InvalidValue(f"impl must be 'exact', 'numpy' or 'auto' for {fmt.name}, which "
                           f"is not a narrow format (at most 5 exponent and 10 fraction bits "
                           f"without a numpy type), not 'float32'")
    return impl


def apply(fmt: FloatFormat, op: str, *operands, impl: str = "auto"):
    """``op(*operands)`` by name (one of `BINARY_OPS` / `UNARY_OPS`), correctly rounded."""
    _check_format(fmt)
    arity = 2 if op in BINARY_OPS else 1 if op in UNARY_OPS else None
    if arity is None:
        raise InvalidValue(f"op must be one of {', '.join(BINARY_OPS + UNARY_OPS)}, "
                           f"not {op!r}")
    if len(operands) != arity:
        raise InvalidValue(f"{op} takes {arity} operand(s), not {len(operands)}")
    checked = [check_words(fmt, x, name) for x, name in zip(operands, "ab")]
    values = [v for v, _ in checked]
    scalar = all(s for _, s in checked)
    how = _resolve(fmt, impl)
    if how == "exact":
        f = _EXACT[op]
        if scalar:
            return f(fmt, *values)
        arrays = np.broadcast_arrays(*[np.asarray(v, dtype=word_dtype(fmt)) for v in values])
        out = np.empty(arrays[0].shape, dtype=word_dtype(fmt))
        flat = [a.ravel().tolist() for a in arrays]
        out.ravel()[:] = [f(fmt, *args) for args in zip(*flat)]
        return out
    arrays = [np.asarray(v, dtype=word_dtype(fmt)) for v in values]
    out = fast.binary(fmt, op, *arrays) if arity == 2 else fast.unary(fmt, op, arrays[0])
    return int(out) if scalar else out


def add(fmt: FloatFormat, a, b, *, impl: str = "auto"):
    """``a + b`` correctly rounded (words in, words out)."""
    return apply(fmt, "add", a, b, impl=impl)


def sub(fmt: FloatFormat, a, b, *, impl: str = "auto"):
    """``a - b`` correctly rounded (words in, words out)."""
    return apply(fmt, "sub", a, b, impl=impl)


def mul(fmt: FloatFormat, a, b, *, impl: str = "auto"):
    """``a * b`` correctly rounded (words in, words out)."""
    return apply(fmt, "mul", a, b, impl=impl)


def div(fmt: FloatFormat, a, b, *, impl: str = "auto"):
    """``a / b`` correctly rounded (words in, words out)."""
    return apply(fmt, "div", a, b, impl=impl)


def sqrt(fmt: FloatFormat, a, *, impl: str = "auto"):
    """``sqrt(a)`` correctly rounded (words in, words out)."""
    return apply(fmt, "sqrt", a, impl=impl)
