"""Floating-point square root, correctly rounded, by the restoring (digit-by-digit) integer
square root unrolled over pipeline stages (``steps_per_stage`` result bits between two
register boundaries).

1. unpack; normalise the significand; make the unbiased exponent even (an odd one doubles
   the significand), so the radicand ``m`` lies in [1, 4) and the result exponent is half
   the even one; the special cases (NaN, any negative non-zero operand including -inf gives
   NaN, ``sqrt(-0) = -0``, ``sqrt(+inf) = +inf``);
2. ``frac_bits + 2`` steps of ``rem = rem << 2 | next two bits; t = q << 2 | 1; bit = rem
   >= t``: ``q = floor(sqrt(m * 2**(2 frac_bits + 2)))`` holds the kept bits and the round
   bit, a non-zero final remainder is the sticky bit (an exact tie cannot happen: a square
   root with its last bit at the round position squares to more bits than the radicand has);
3. `round_pack` (a square root never overflows nor underflows).

With ``ftz`` (`lns.ieee.ftz`) a subnormal operand is a zero of its sign (`unpack`'s
``daz``: ``sqrt(-sub) = -0``) and needs no normalisation; a root is never below ``2**emin``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

from .fields import STEPS_PER_STAGE, normal_significands, sub_ge, unpack, wire
from .round_pack import round_pack

__all__ = ["float_sqrt", "sqrt_steps"]


def sqrt_steps(fmt) -> int:
    """Digit-by-digit steps (result bits) of a square root in ``fmt``."""
    return fmt.frac_bits + 2


def float_sqrt(m, pipe, fmt, a, *, steps_per_stage: int = STEPS_PER_STAGE, name: str = "sqrt",
               ftz: bool = False) -> Value:
    """The word of ``sqrt(a)`` on ``pipe`` (boundaries: after unpacking, after every
    ``steps_per_stage`` result bits, and `round_pack`'s one); ``ftz``: flush to zero (the
    module's doc)."""
    p = fmt.frac_bits
    fa = unpack(fmt, a, daz=ftz)
    pipe.put(**{
        f"{name}_nan": fa.nan | (fa.sign & ~fa.zero),
        f"{name}_inf": fa.inf,
        f"{name}_zero": fa.zero,
        f"{name}_sign": fa.sign & fa.zero,        # -0 stays -0; every other result is +
    })
    ((sig, exp),) = normal_significands(pipe, [(fa.sig, fa.exp)], name, ftz)
    odd = exp[0] ^ (fmt.bias & 1)                 # the unbiased exponent is odd
    pipe.put(**{
        # the radicand m * 2**frac_bits, p + 2 bits: sig or 2 sig
        f"{name}_rad": Mux(odd, Cat(Const(0, 1), sig), sig),
        # ((exp - bias - odd) >> 1) + bias, exact as exp - bias - odd is even, in one
        # addition
        f"{name}_exp": (exp + Mux(odd, fmt.bias - 1, fmt.bias)) >> 1,
    })
    pipe.cut()
    # the integer radicand N = rad << (p + 2): its 2p + 4 bits read two at a time from
    # the top; the low p + 2 bits are zero
    rad = pipe.get(f"{name}_rad")
    n_bits = Cat(Const(0, p + 2), rad)
    steps = sqrt_steps(fmt)
    rem, q = Const(0, 1), Cat()
    for i in range(steps):
        if i and i % steps_per_stage == 0:
            pipe.put(**{f"{name}_rem{i}": rem, f"{name}_q{i}": q})
            pipe.cut()
            rem, q = pipe.get(f"{name}_rem{i}"), pipe.get(f"{name}_q{i}")
            n_bits = Cat(Const(0, p + 2), pipe.get(f"{name}_rad"))
        j = steps - 1 - i                          # the pair of bits 2j + 1, 2j
        rem = Cat(n_bits[2 * j:2 * j + 2], rem)
        t = Cat(Const(1, 2), q)                    # q << 2 | 1
        ge, diff = sub_ge(rem, t)
        bit = wire(m, ge, f"{name}_s{i}_bit")
        rem = wire(m, Mux(bit, diff, rem)[:p + 4], f"{name}_s{i}_rem")   # <= 2q < 2**(p+3)
        q = Cat(bit, q)
    sig_out = Cat(rem.any(), q)
    return round_pack(m, pipe, fmt, pipe.get(f"{name}_sign"), pipe.get(f"{name}_exp"),
                      sig_out, zero=pipe.get(f"{name}_zero"), inf=pipe.get(f"{name}_inf"),
                      nan=pipe.get(f"{name}_nan"), name=f"{name}_rp", ftz=ftz)
