"""`round_pack`: the one place where a float result is rounded and packed (as HardFloat's
``roundRawFNToRecFN``).  Every operator hands it an exact-enough raw result and its special
cases; none rounds, detects overflow or builds a subnormal on its own.

The raw result is ``(-1)**sign * sig / 2**(len(sig) - 1) * 2**(exp - bias)`` with ``sig``
normalised (its top bit set) and its lowest bit a *sticky* bit (the OR of every bit of the
exact value below it: "jamming").  Rounding to nearest, ties to even, at the format's
precision gives the same word for the jammed value as for the exact one as long as the sticky
bit lies at least two places below the last kept bit, so ``sig`` must have at least
``frac_bits + 3`` bits (``frac_bits + 1`` kept, a round bit, the sticky bit).

Steps (one register boundary between them):

1. fold the bits below the round bit into the sticky bit; when ``exp < 1`` (a subnormal or
   a result that rounds to zero) shift right by ``1 - exp``, at most ``frac_bits + 2``
   places (further shifts leave every bit in the sticky bit as well), the shifted-out bits
   joining the sticky bit;
2. round up when ``round & (sticky | lsb)``; pack ``((max(exp, 1) - 1) << frac_bits) +
   significand``: the hidden bit adds itself to the exponent field, so a carry out of the
   significand (1.11..1 rounding to 2.0, or the largest subnormal rounding to the smallest
   normal) lands in the exponent by the same addition; a packed value at or above the
   infinity word overflows to infinity (round to nearest: any overflow gives infinity).

Precedence of the special cases: NaN (the canonical NaN), infinity (the given sign), exact
zero (the given sign), then the rounded value.

With ``ftz`` (flush to zero, `lns.ieee.ftz`) a raw result with ``exp < 1`` is the zero of
its sign: ``sig`` is normalised, so ``exp < 1`` says the exact value is below the smallest
normal ``2**emin`` (tininess before rounding), and a value that would round up to ``2**emin``
is flushed too.  Step 1's subnormal right shift is then not built.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

from .fields import signed_value

__all__ = ["round_pack", "MIN_EXTRA_BITS"]

MIN_EXTRA_BITS = 2          # round + sticky below the frac_bits + 1 kept bits


def round_pack(m, pipe, fmt, sign, exp, sig, *, zero, inf, nan, name: str = "rp",
               ftz: bool = False) -> Value:
    """The rounded, packed word of a raw result, built on ``pipe`` (one boundary: after the
    subnormal shift).  All arguments are values of the current stage; the word is a value
    of the stage the call ends in.

    Parameters
    ----------
    fmt : lns.ieee.FloatFormat
    sign : 1 bit
    exp : signed (or unsigned) biased exponent of ``sig``'s top bit
    sig : normalised significand, at least ``frac_bits + 3`` bits, lowest bit sticky
    zero, inf, nan : 1 bit each, the special results (see the module docstring)
    ftz : flush a result below ``2**emin`` to the zero of its sign (the module docstring)
    """
    p, w = fmt.frac_bits, fmt.exp_bits
    sig = Value.cast(sig)
    width = len(sig)
    if width < p + 1 + MIN_EXTRA_BITS:
        raise ValueError(f"round_pack needs at least {p + 3} significand bits, got {width}")
    # p + 3 bits: the kept bits, the round bit and everything below folded into sticky
    low = width - (p + 2)
    s3 = Cat(sig[:low].any(), sig[low:])
    exp = signed_value(exp)
    if ftz:
        # no subnormal: a raw result below 2**emin is a zero of its sign, no shift
        tiny = exp < 1
        pipe.put(**{f"{name}_sig": s3[2:], f"{name}_round": s3[1], f"{name}_sticky": s3[0],
                    f"{name}_base": Mux(tiny, 0, exp - 1), f"{name}_sign": sign,
                    f"{name}_zero": zero | tiny, f"{name}_inf": inf, f"{name}_nan": nan})
    else:
        k = p + 2                               # the largest shift that matters
        tiny = exp < 1
        sh = Mux(tiny, Mux(exp <= 1 - k, k, (1 - exp)[:k.bit_length()]), 0)
        wide = Cat(Const(0, k), s3) >> sh
        kept = wide[k:k + p + 3]
        pipe.put(**{f"{name}_sig": kept[2:], f"{name}_round": kept[1],
                    f"{name}_sticky": kept[0] | wide[:k].any(),
                    f"{name}_base": Mux(tiny, 0, exp - 1), f"{name}_sign": sign,
                    f"{name}_zero": zero, f"{name}_inf": inf, f"{name}_nan": nan})
    pipe.cut()
    sig, rnd = pipe.get(f"{name}_sig"), pipe.get(f"{name}_round")
    up = rnd & (pipe.get(f"{name}_sticky") | sig[0])
    packed = (pipe.get(f"{name}_base") << p) + sig + up
    sign = pipe.get(f"{name}_sign")
    body = p + w
    return Mux(pipe.get(f"{name}_nan"), Const(fmt.canonical_nan, body + 1),
               Mux(pipe.get(f"{name}_inf") | (packed >= fmt.pos_inf),
                   Cat(Const(fmt.pos_inf, body), sign),
                   Mux(pipe.get(f"{name}_zero"), Cat(Const(0, body), sign),
                       Cat(packed[:body], sign))))
