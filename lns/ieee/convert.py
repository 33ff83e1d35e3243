"""Conversion between IEEE formats, correctly rounded: ``convert(src, dst, words)``.

A word of ``src`` becomes the word of ``dst`` nearest to its value (nearest even, gradual
underflow, overflow to infinity), signed zeros and infinities kept, every NaN the canonical
NaN of ``dst`` (as SoftFloat's RISC-V specialisation: ``f32_to_bf16`` of any NaN is 0x7FC0).
A widening conversion (bf16 -> fp32: every bf16 value is an fp32 value) is exact; a
narrowing one (fp32 -> bf16) rounds once.

Two paths, as `lns.ieee.ops`:

``"exact"``  decode to ``n 2**e`` (`lns.ieee.exact.decode`) and round with
             `lns.ieee.exact.round_scaled`, the one rounding function of the reference.
``"numpy"``  the words decoded exactly to float64 (`lns.ieee.fast.to_floats`: every format of
             at most 52 fraction bits is exact there) and rounded once to ``dst``
             (`lns.ieee.fast.round_floats`), vectorised.  ``"auto"`` takes it.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidType, InvalidValue
from . import exact, fast
from .format import FloatFormat
from .ops import check_words, word_dtype

__all__ = ["convert", "convert_exact", "IMPLS"]

IMPLS = ("auto", "exact", "numpy")


def convert_exact(src: FloatFormat, dst: FloatFormat, word: int) -> int:
    """One word of ``src`` as the nearest word of ``dst`` (exact integers)."""
    cls, s, n, e = exact.decode(src, word)
    if cls == exact.NAN:
        return dst.canonical_nan
    if cls == exact.INF:
        return dst.neg_inf if s else dst.pos_inf
    if cls == exact.ZERO:
        return dst.sign_mask if s else 0
    return exact.round_scaled(dst, s, n, e)


def convert(src: FloatFormat, dst: FloatFormat, words, *, impl: str = "auto"):
    """``words`` of ``src`` (an int or an integer array) as words of ``dst``, correctly
    rounded; an int gives an int, an array an array of ``dst``'s word dtype."""
    for name, f in (("src", src), ("dst", dst)):
        if not isinstance(f, FloatFormat):
            raise InvalidType(f"{name} must be a FloatFormat, not {type(f).__name__}")
    if impl not in IMPLS:
        raise InvalidValue(f"impl must be one of {', '.join(IMPLS)}, not {impl!r}")
    x, scalar = check_words(src, words, "words")
    if impl == "exact":
        if scalar:
            return convert_exact(src, dst, x)
        flat = np.asarray(x).ravel().tolist()
        out = np.array([convert_exact(src, dst, w) for w in flat], dtype=word_dtype(dst))
        return out.reshape(np.shape(x))
    out = fast.round_floats(dst, fast.to_floats(src, np.asarray(x))).astype(word_dtype(dst))
    return int(out) if scalar else out
