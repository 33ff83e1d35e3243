"""Floating-point addition and subtraction, ``a + (-1)**negate_b * b``, correctly rounded.

The classic single-path adder, its alignment exact enough for `round_pack`:

1. unpack; order the operands by magnitude (the words without their sign compare as
   unsigned integers); the exponent difference ``d``; the special cases;
2. align the smaller significand ``d`` places right into three extra bits (guard, round,
   sticky: set when a one is shifted past the last bit, i.e. when the smaller
   significand's trailing zeros, counted in step 1, are fewer than the shift beyond the
   extra bits);
3. add or subtract (a stage of its own: the shift and the add in one stage were the fp32
   adder's critical path, 69 -> 76 MHz on the ECP5, 49 -> 58 MHz on the iCE40);
4. count the leading zeros and normalise (left shift);
5. `round_pack`.

Why three extra bits are enough: for an effective subtraction with ``d >= 2`` the difference
exceeds half the larger significand, so normalisation shifts left at most one place and the
sticky bit still lies two places below the last kept bit (the condition of `round_pack`);
with ``d <= 1`` nothing is shifted out and the difference is exact, however far it is
normalised.  An exact zero difference is +0 (round to nearest), ``-0 + -0`` is -0.

With ``ftz`` (`lns.ieee.ftz`) a subnormal operand is a zero of its sign (`unpack`'s
``daz``: its significand 0, so it adds nothing, and two such follow the zero sum's sign
rule) and `round_pack` flushes a sum below ``2**emin`` (a cancellation of normals).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

from .fields import leading_zeros, signed_value, trailing_zeros, unpack
from .round_pack import round_pack

__all__ = ["float_add", "ADD_EXTRA_BITS"]

ADD_EXTRA_BITS = 3          # guard, round, sticky below the significand


def float_add(m, pipe, fmt, a, b, negate_b, name: str = "add", ftz: bool = False) -> Value:
    """The word of ``a + (-1)**negate_b * b`` on ``pipe`` (boundaries: after ordering, after
    the alignment, after the add, after normalisation, and `round_pack`'s one).  ``a``,
    ``b``, ``negate_b`` are values of the current stage; ``ftz``: flush to zero
    (`lns.ieee.ftz`)."""
    p, w = fmt.frac_bits, fmt.exp_bits
    x = ADD_EXTRA_BITS
    fa, fb = unpack(fmt, a, daz=ftz), unpack(fmt, b, daz=ftz)
    sb = fb.sign ^ negate_b
    body = p + w
    a_big = Value.cast(a)[:body] >= Value.cast(b)[:body]
    exp_big, exp_small = Mux(a_big, fa.exp, fb.exp), Mux(a_big, fb.exp, fa.exp)
    eff_sub = fa.sign ^ sb
    pipe.put(**{
        f"{name}_sig_big": Mux(a_big, fa.sig, fb.sig),
        f"{name}_sig_small": Mux(a_big, fb.sig, fa.sig),
        # the smaller one's trailing zeros, counted on both beside the ordering: the
        # alignment's sticky bit is then a compare with the shift, not an OR of the
        # shifted-out bits after the shift (the fp32 adder's slowest path, 93 MHz)
        f"{name}_tz_small": Mux(a_big, trailing_zeros(fb.sig), trailing_zeros(fa.sig)),
        f"{name}_exp_big": exp_big,
        f"{name}_d": (exp_big - exp_small)[:w],         # >= 0: the bigger has the bigger exp
        f"{name}_sub": eff_sub,
        f"{name}_sign": Mux(a_big, fa.sign, sb),
        # an exact zero sum: -0 only when both terms are negative (-0 + -0)
        f"{name}_zero_sign": fa.sign & sb,
        f"{name}_nan": fa.nan | fb.nan | (fa.inf & fb.inf & eff_sub),
        f"{name}_inf": fa.inf | fb.inf,
        f"{name}_inf_sign": Mux(fa.inf, fa.sign, sb),
    })
    pipe.cut()
    # align the smaller significand (its shifted-out bits jammed into the sticky bit) by
    # the whole difference: a shift of p + 1 + x or more leaves 0, so no clamp is needed
    # (a compare before the shift was the slowest path of fp32 Madam's unit, 103 MHz)
    small = Cat(Const(0, x), pipe.get(f"{name}_sig_small"))
    d = pipe.get(f"{name}_d")
    kept = (small >> d)[:p + 1 + x]
    # a one is shifted out when the lowest one of sig_small (x places up in small) lies
    # below the shift; a zero significand has p + 1 trailing zeros and never does
    lost = (pipe.get(f"{name}_tz_small") + x) < d
    pipe.put(**{f"{name}_aligned": kept | lost})
    pipe.cut()                                         # the shift and the add apart
    aligned = pipe.get(f"{name}_aligned")
    big = Cat(Const(0, x), pipe.get(f"{name}_sig_big"))
    total = Mux(pipe.get(f"{name}_sub"), big - aligned, big + aligned)[:p + 2 + x]
    pipe.put(**{f"{name}_sum": total})
    pipe.cut()
    total = pipe.get(f"{name}_sum")
    # the leading zeros counted in one stage, the shift and the exponent in the next (in
    # one stage they were the fp32 adder's slowest path once alignment was cut, 105 MHz)
    pipe.put(**{f"{name}_lz": leading_zeros(total), f"{name}_is_zero": ~total.any()})
    pipe.cut()
    total, lz = pipe.get(f"{name}_sum"), pipe.get(f"{name}_lz")
    pipe.put(**{f"{name}_norm": (total << lz)[:len(total)],
                # the sum's top bit is one place above the bigger operand's hidden bit
                f"{name}_exp": signed_value(pipe.get(f"{name}_exp_big")) + 1 - lz})
    pipe.cut()
    is_zero = pipe.get(f"{name}_is_zero")
    nan, inf = pipe.get(f"{name}_nan"), pipe.get(f"{name}_inf")
    sign = Mux(inf, pipe.get(f"{name}_inf_sign"),
               Mux(is_zero, pipe.get(f"{name}_zero_sign"), pipe.get(f"{name}_sign")))
    return round_pack(m, pipe, fmt, sign, pipe.get(f"{name}_exp"), pipe.get(f"{name}_norm"),
                      zero=is_zero, inf=inf, nan=nan, name=f"{name}_rp", ftz=ftz)
