"""Every rounding rule of the model, each written once.

Integer in, integer out: ``x / 2**s`` rounded by one rule.  Each rule exists twice, as an
obviously-correct Python reference built on `fractions.Fraction` (``*_ref``) and as a
Numba function used inside the kernels and, through them, mirrored by the RTL.  The tests
run both over the same inputs.  ``round_shift_rne_array`` runs the kernel's own body (its
``py_func``) on a numpy array with one shift, for the vectorised table builders.

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

import numpy as np
from numba import njit

__all__ = [
    "round_shift_rne", "round_shift_rtz", "round_shift_stochastic", "round_shift_rne_array",
    "round_shift_rne_ref", "round_shift_rtz_ref", "round_shift_stochastic_ref",
]


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
    # Written without branches: on real data the round-up decision is a coin flip, and as a
    # select it costs no misprediction.  ``s <= 0`` folds into the left shift; comparing
    # ``2 rem`` with ``2**s`` keeps ``s = 0`` exact (rem = 0, never a tie).
    x = x << max(-s, 0)
    s = max(s, 0)
    q = x >> s                              # floor
    rem2 = (x - (q << s)) << 1              # 2 * (x mod 2**s)
    one = np.int64(1) << s
    return q + ((rem2 > one) | ((rem2 == one) & ((q & 1) == 1)))


@njit(cache=True, inline="always")
def round_shift_rtz(x, s):
    if s <= 0:
        return x << -s
    if x >= 0:
        return x >> s
    return -((-x) >> s)


@njit(cache=True, inline="always")
def round_shift_stochastic(x, s, r, rbits):
    # One expression for every s: for s <= rbits the sum is (x << (rbits - s)) + r, which for
    # s <= 0 is exactly x << -s after the final shift (r < 2**rbits); above rbits, the bits
    # under 2**-rbits are dropped first, as they can never carry once r is an integer.
    return (((x << max(rbits - s, 0)) >> max(s - rbits, 0)) + r) >> rbits


def round_shift_rne_array(x, s: int) -> np.ndarray:
    """`round_shift_rne` of every element of an integer array ``x`` by one shift ``s``.

    The kernel is branch-free, so its plain-Python body (``py_func``) is already a numpy
    expression: one definition serves both, not a numpy copy of the rule."""
    return round_shift_rne.py_func(np.asarray(x, dtype=np.int64), int(s))
