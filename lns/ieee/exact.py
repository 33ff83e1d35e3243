"""The exact IEEE reference: decode to integers, compute exactly, round once.

This is the obviously-correct path for *any* `FloatFormat` (HardFloat / SoftFloat style): a
finite word is the exact value ``n * 2**e`` (integer significand ``n``, integer exponent
``e``), the operation is computed on those integers without error (a sum by aligning to the
smaller exponent, a product by multiplying, a quotient and a square root with enough extra
bits and a *sticky* bit that says "the true value is a little above this"), and every result
goes through the one rounding function `round_scaled` (round to nearest, ties to even,
gradual underflow, overflow to infinity).  The special cases are those of IEEE 754-2019
(clauses 6 and 7), with every NaN result the format's canonical NaN.

It works one scalar at a time on Python ints; `lns.ieee.ops` maps it over arrays and sits it
beside the fast numpy path, which the tests check against it.
"""

from __future__ import annotations

from fractions import Fraction
from math import isqrt

from ..errors import InvalidType, InvalidValue
from .format import FloatFormat

__all__ = [
    "ZERO", "FINITE", "INF", "NAN", "decode", "to_fraction", "round_scaled",
    "round_to_format", "round_quotient", "round_sqrt_quotient", "add", "sub", "mul", "div", "sqrt",
]

# Classes of a decoded word.
ZERO, FINITE, INF, NAN = "zero", "finite", "inf", "nan"

# Extra significand bits beyond p kept by division and square root before rounding: with the
# quotient / root carrying at least p + 3 bits, the rounding point is >= 2 bits above its LSB,
# so "truncated value + sticky" decides every round-up exactly (a tie cannot hide in the
# discarded tail: the tail is strictly between 0 and one LSB, never on the half-way point).
_GUARD = 3


def decode(fmt: FloatFormat, word: int) -> tuple[str, int, int, int]:
    """``(class, sign, n, e)`` of a word: its value is ``(-1)**sign * n * 2**e`` when the
    class is `FINITE` (``n > 0``); ``n = e = 0`` otherwise."""
    s, big_e, t = fmt.fields(word)
    if big_e == fmt.exp_max:
        return (NAN if t else INF), s, 0, 0
    if big_e == 0:
        if t == 0:
            return ZERO, s, 0, 0
        return FINITE, s, t, fmt.emin - fmt.frac_bits                 # subnormal
    return FINITE, s, t | (1 << fmt.frac_bits), big_e - fmt.bias - fmt.frac_bits


def to_fraction(fmt: FloatFormat, word: int) -> Fraction:
    """The exact value of a finite word (zeros give 0; the sign of a zero is lost)."""
    cls, s, n, e = decode(fmt, word)
    if cls in (INF, NAN):
        raise InvalidValue(f"word must be finite, not {'NaN' if cls == NAN else 'infinite'} "
                           f"({int(word):#x})")
    v = Fraction(n) * Fraction(2) ** e
    return -v if s else v


def _signed_zero(fmt: FloatFormat, sign: int) -> int:
    return fmt.sign_mask if sign else 0


def round_scaled(fmt: FloatFormat, sign: int, n: int, e: int, sticky: bool = False) -> int:
    """The word nearest to ``(-1)**sign * (n + d) * 2**e`` with ``0 < d < 1`` when `sticky`,
    ``d = 0`` otherwise: the one rounding of the reference (nearest, ties to even).

    The result's quantum is ``2**(max(binade, emin) - p)``; a binade below ``emin`` gives a
    subnormal (gradual underflow, never a flush) or a signed zero, and a rounded magnitude
    beyond the largest finite gives infinity (round-to-nearest overflow, IEEE 7.4).  With
    `sticky` the caller must supply at least two bits below the rounding point.
    """
    if n < 0:
        raise InvalidValue(f"n must be >= 0, not {n}")
    p = fmt.frac_bits
    if n == 0:
        # (n, sticky) = (0, True) is a positive value below 2**e; callers never produce it
        # with e that coarse, so a zero here is an exact zero.
        return _signed_zero(fmt, sign)
    binade = e + n.bit_length() - 1
    te = max(binade, fmt.emin)
    shift = te - p - e                      # bits of n below the result's quantum
    if shift <= 0:
        if sticky:
            raise InvalidValue("round_scaled needs guard bits below the rounding point "
                               "when sticky is set")
        ip = n << -shift
    else:
        ip = n >> shift
        rem = n & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if sticky and shift < 2:
            raise InvalidValue("round_scaled needs guard bits below the rounding point "
                               "when sticky is set")
        if rem > half or (rem == half and (sticky or ip & 1)):
            ip += 1
    # ((te - emin) << p) + ip is the word for a normal (ip in [2**p, 2**(p+1)]: a carry out
    # of the significand steps the exponent field) and for a subnormal (te == emin, ip < 2**p,
    # exponent field 0; ip == 2**p is exactly the smallest normal).
    word = ((te - fmt.emin) << p) + ip
    if word >= fmt.pos_inf:
        word = fmt.pos_inf
    return word | (fmt.sign_mask if sign else 0)


def round_to_format(fmt: FloatFormat, sign: int, exact) -> int:
    """The word nearest to ``(-1)**sign * exact`` (`exact` a non-negative `Fraction` or int):
    the `round_scaled` of its binary expansion, with a sticky bit when it does not end.
    The sign is separate so that a zero, or a value that rounds to zero, keeps it."""
    if isinstance(exact, bool) or not isinstance(exact, (int, Fraction)):
        raise InvalidType(f"exact must be an int or a Fraction, not {type(exact).__name__}")
    exact = Fraction(exact)
    if exact < 0:
        raise InvalidValue(f"exact must be >= 0 (the sign is separate), not {exact}")
    return round_quotient(fmt, sign, exact.numerator, exact.denominator)


def round_quotient(fmt: FloatFormat, sign: int, num: int, den: int) -> int:
    """The word nearest to ``(-1)**sign * num / den`` (``num >= 0``, ``den > 0`` integers),
    without normalising the fraction (cheap for the huge integers of ``beta**t``)."""
    if num < 0 or den <= 0:
        raise InvalidValue(f"num / den must be >= 0 with den > 0, not {num} / {den}")
    if num == 0:
        return _signed_zero(fmt, sign)
    if den & (den - 1) == 0:                # a dyadic rational: its expansion ends
        return round_scaled(fmt, sign, num, 1 - den.bit_length())
    # Enough quotient bits that the quotient has >= p + 3 significant bits.
    k = max(0, fmt.frac_bits + _GUARD + den.bit_length() - num.bit_length())
    q, r = divmod(num << k, den)
    return round_scaled(fmt, sign, q, -k, r != 0)


def round_sqrt_quotient(fmt: FloatFormat, sign: int, num: int, den: int) -> int:
    """The word nearest to ``(-1)**sign * sqrt(num / den)`` (``num >= 0``, ``den > 0``
    integers): ``r = isqrt(floor(num 4**k / den))`` is ``floor(sqrt(num 4**k / den))`` (the
    floor of a square root of a floor is that of the exact one), with ``k`` giving it at
    least ``p + 3`` bits; the sticky bit says whether ``r**2 den != num 4**k``."""
    if num < 0 or den <= 0:
        raise InvalidValue(f"num / den must be >= 0 with den > 0, not {num} / {den}")
    if num == 0:
        return _signed_zero(fmt, sign)
    # sqrt(num/den) >= 2**((nb - db - 1) / 2): 2k + nb - db - 1 >= 2 (p + 3) is enough.
    k = max(0, (2 * (fmt.frac_bits + _GUARD + 1) - num.bit_length() + den.bit_length()) // 2 + 1)
    scaled = num << (2 * k)
    r = isqrt(scaled // den)
    return round_scaled(fmt, sign, r, -k, r * r * den != scaled)


# ---- operations ---------------------------------------------------------------------------
def add(fmt: FloatFormat, a: int, b: int) -> int:
    """``a + b`` correctly rounded (IEEE 6.3: x + (-x) = +0 in round to nearest)."""
    ca, sa, na, ea = decode(fmt, a)
    cb, sb, nb, eb = decode(fmt, b)
    if NAN in (ca, cb):
        return fmt.canonical_nan
    if ca == INF or cb == INF:
        if ca == INF and cb == INF and sa != sb:
            return fmt.canonical_nan                        # inf - inf: invalid
        return fmt.neg_inf if (sa if ca == INF else sb) else fmt.pos_inf
    if ca == ZERO and cb == ZERO:
        return _signed_zero(fmt, sa & sb)                   # -0 + -0 = -0, else +0
    if ca == ZERO:
        return int(b)
    if cb == ZERO:
        return int(a)
    e = min(ea, eb)
    total = (-1) ** sa * (na << (ea - e)) + (-1) ** sb * (nb << (eb - e))
    if total == 0:
        return 0                                            # exact cancellation: +0
    return round_scaled(fmt, int(total < 0), abs(total), e)


def sub(fmt: FloatFormat, a: int, b: int) -> int:
    """``a - b`` correctly rounded: ``a + (-b)`` (negating a NaN is harmless: the result is
    the canonical NaN whatever its operands' signs)."""
    return add(fmt, a, int(b) ^ fmt.sign_mask)


def mul(fmt: FloatFormat, a: int, b: int) -> int:
    """``a * b`` correctly rounded; the sign is the XOR of the signs, also for zeros and
    infinities; inf * 0 is invalid."""
    ca, sa, na, ea = decode(fmt, a)
    cb, sb, nb, eb = decode(fmt, b)
    s = sa ^ sb
    if NAN in (ca, cb) or {ca, cb} == {INF, ZERO}:
        return fmt.canonical_nan
    if INF in (ca, cb):
        return fmt.neg_inf if s else fmt.pos_inf
    if ZERO in (ca, cb):
        return _signed_zero(fmt, s)
    return round_scaled(fmt, s, na * nb, ea + eb)


def div(fmt: FloatFormat, a: int, b: int) -> int:
    """``a / b`` correctly rounded; 0/0 and inf/inf are invalid, x/0 is a signed infinity
    (division by zero), x/inf a signed zero."""
    ca, sa, na, ea = decode(fmt, a)
    cb, sb, nb, eb = decode(fmt, b)
    s = sa ^ sb
    if NAN in (ca, cb) or (ca == cb and ca in (INF, ZERO)):
        return fmt.canonical_nan
    if ca == INF or cb == ZERO:
        return fmt.neg_inf if s else fmt.pos_inf
    if ca == ZERO or cb == INF:
        return _signed_zero(fmt, s)
    # q = floor(na * 2**k / nb) has >= p + 3 bits; the remainder is the sticky bit.
    k = max(0, fmt.frac_bits + _GUARD + nb.bit_length() - na.bit_length())
    q, r = divmod(na << k, nb)
    return round_scaled(fmt, s, q, ea - eb - k, r != 0)


def sqrt(fmt: FloatFormat, a: int) -> int:
    """``sqrt(a)`` correctly rounded; sqrt(-0) = -0, sqrt(+inf) = +inf, the root of any other
    negative number is invalid."""
    ca, sa, na, ea = decode(fmt, a)
    if ca == NAN:
        return fmt.canonical_nan
    if ca == ZERO:
        return int(a)
    if sa:
        return fmt.canonical_nan
    if ca == INF:
        return fmt.pos_inf
    if ea & 1:                              # make the exponent even: sqrt(2**e) = 2**(e/2)
        na, ea = na << 1, ea - 1
    # r = isqrt(na * 4**k) has >= p + 3 bits; r*r != na * 4**k is the sticky bit.
    k = max(0, fmt.frac_bits + _GUARD + 1 - (na.bit_length() - 1) // 2)
    scaled = na << (2 * k)
    r = isqrt(scaled)
    return round_scaled(fmt, 0, r, ea // 2 - k, r * r != scaled)
