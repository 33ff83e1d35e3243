"""Every rounding rule of the model, each written once.

Integer in, integer out: ``x / 2**s`` rounded by one rule.  Each rule exists twice, as an
obviously-correct Python reference built on `fractions.Fraction` (``*_ref``) and as a
Numba function used inside the kernels and, through them, mirrored by the RTL.  The tests
run both over the same inputs.

Rules
-----
``rne``        round to nearest, ties to even (IEEE's default; Python's ``round``).
``rtz``        round toward zero (truncate the magnitude).
``stochastic`` ``floor(x / 2**s + r / 2**rbits)`` with ``r`` uniform in ``[0, 2**rbits)``
               taken from the LFSR (`lns.lfsr`): unbiased to ``2**-rbits``.
For ``s <= 0`` every rule is the exact left shift ``x * 2**-s``.
"""

from __future__ import annotations

import math
from fractions import Fraction

from numba import njit

__all__ = [
    "ROUNDING_MODES",
    "round_shift_rne", "round_shift_rtz", "round_shift_stochastic",
    "round_shift_rne_ref", "round_shift_rtz_ref", "round_shift_stochastic_ref",
]

ROUNDING_MODES = ("nearest_even", "stochastic")


# ---- references ---------------------------------------------------------------------------
def round_shift_rne_ref(x: int, s: int) -> int:
    return round(Fraction(x, 1) / Fraction(2) ** s)     # Python's round() is ties-to-even


def round_shift_rtz_ref(x: int, s: int) -> int:
    return math.trunc(Fraction(x, 1) / Fraction(2) ** s)


def round_shift_stochastic_ref(x: int, s: int, r: int, rbits: int) -> int:
    return math.floor(Fraction(x, 1) / Fraction(2) ** s + Fraction(r, 1 << rbits))


# ---- kernels ------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def round_shift_rne(x, s):
    if s <= 0:
        return x << -s
    q = x >> s                              # floor
    rem = x - (q << s)                      # 0 <= rem < 2**s
    half = 1 << (s - 1)
    if rem > half or (rem == half and (q & 1) == 1):
        q += 1
    return q


@njit(cache=True, inline="always")
def round_shift_rtz(x, s):
    if s <= 0:
        return x << -s
    if x >= 0:
        return x >> s
    return -((-x) >> s)


@njit(cache=True, inline="always")
def round_shift_stochastic(x, s, r, rbits):
    if s <= 0:
        return x << -s
    if s <= rbits:
        return ((x << (rbits - s)) + r) >> rbits
    # Bits below 2**-rbits can never carry into the result once r is an integer.
    return ((x >> (s - rbits)) + r) >> rbits
