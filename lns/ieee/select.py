"""Exact word operations of the float Madam program that do not round: clamps and sign
changes, defined on the integer words (the model of `rtl.float.select`).

An IEEE word's magnitude bits ``x & ~sign_mask`` order like the values they encode (IEEE
754-2019, 5.10, the total order restricted to one sign), so a clamp of the magnitude is
one integer compare and a select, and every result is an input word: nothing rounds.

* ``clamp(x, b)``: ``x`` with its magnitude limited to ``b``'s (``|x| > |b|`` gives
  ``sign(x) |b|``), a NaN ``x`` the canonical NaN.  Madam's ``clip(w, -sigma*, sigma*)``.
* ``nan0_clamp(x, b)``: the same with a NaN ``x`` giving +0: Madam's normalised gradient
  (NaN from ``0/0`` -> 0, then ``clip(g_hat, -g_bound, g_bound)``).
* ``copysign(x, s)``: ``|x|`` with ``s``'s sign bit.
* ``negsign(x, w)``: ``-x sign(w)`` for Madam's exponent: ``x`` with its sign bit flipped
  when ``w``'s sign bit is clear.  For ``w = +-0`` it gives ``-+x`` rather than 0; the
  program multiplies ``w`` by ``2**(that)``, a finite factor, so a zero weight stays the
  same zero as with ``2**0``.

Each takes ints or integer arrays (broadcast like numpy) and returns the same kind.
"""

from __future__ import annotations

import numpy as np

from .format import FloatFormat

__all__ = ["clamp", "nan0_clamp", "copysign", "negsign", "OPS"]


def _arrays(*words):
    scalar = all(isinstance(w, (int, np.integer)) for w in words)
    return scalar, [np.asarray(w, dtype=np.int64) for w in words]


def _out(fmt: FloatFormat, scalar: bool, y):
    from .fast import word_dtype
    return int(y) if scalar else np.asarray(y).astype(word_dtype(fmt))


def _clamp(fmt: FloatFormat, x, b, nan_word: int):
    scalar, (x, b) = _arrays(x, b)
    mag, bound = x & ~fmt.sign_mask, b & ~fmt.sign_mask
    y = np.where(mag > bound, (x & fmt.sign_mask) | bound, x)
    return _out(fmt, scalar, np.where(mag > fmt.pos_inf, nan_word, y))


def clamp(fmt: FloatFormat, x, b):
    """``x`` with ``|x| <= |b|`` (sign kept); a NaN ``x`` the canonical NaN."""
    return _clamp(fmt, x, b, fmt.canonical_nan)


def nan0_clamp(fmt: FloatFormat, x, b):
    """``x`` with ``|x| <= |b|`` (sign kept); a NaN ``x`` +0."""
    return _clamp(fmt, x, b, 0)


def copysign(fmt: FloatFormat, x, s):
    """``|x|`` with the sign bit of ``s``."""
    scalar, (x, s) = _arrays(x, s)
    return _out(fmt, scalar, (x & ~fmt.sign_mask) | (s & fmt.sign_mask))


def negsign(fmt: FloatFormat, x, w):
    """``x`` with its sign bit flipped unless ``w``'s is set: ``-x sign(w)`` for ``w != 0``."""
    scalar, (x, w) = _arrays(x, w)
    return _out(fmt, scalar, x ^ (~w & fmt.sign_mask))


OPS = {"clamp": clamp, "nan0_clamp": nan0_clamp, "copysign": copysign, "negsign": negsign}
