"""Conversion from one IEEE format to another, correctly rounded (`lns.ieee.convert`).

1. unpack the source word (`fields.unpack`); normalise a subnormal significand (leading-zero
   count and shift); the exponent re-biased to the destination, ``exp - src.bias +
   dst.bias``; the special cases (NaN -> the destination's canonical NaN, infinity, zero;
   the sign kept);
2. `round_pack` in the destination: the source significand padded to the destination's
   ``frac_bits + 3`` bits, or its bits below those folded into the sticky bit.

A widening conversion whose destination holds every source value with the same exponent
range (bf16 -> fp32) never rounds, and synthesis folds the rounding away (its increment is
constant zero); the datapath is the same for every pair of formats.

With ``ftz`` (`lns.ieee.ftz`) a subnormal source word is a zero (`unpack`'s ``daz``: no
normalisation) and a value below the destination's ``2**emin`` is flushed (`round_pack`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Value

from .fields import normal_significands, unpack
from .round_pack import round_pack

__all__ = ["float_convert", "build_convert"]


def float_convert(m, pipe, src, dst, a, name: str = "cvt", ftz: bool = False) -> Value:
    """The word of ``dst`` nearest to the ``src`` word ``a``, on ``pipe`` (boundaries: after
    unpacking, and `round_pack`'s one); ``ftz``: flush to zero (the module's doc)."""
    fa = unpack(src, a, daz=ftz)
    pipe.put(**{f"{name}_sign": fa.sign, f"{name}_nan": fa.nan, f"{name}_inf": fa.inf,
                f"{name}_zero": fa.zero})
    # the leading one at the top (or zero)
    ((sig, exp),) = normal_significands(pipe, [(fa.sig, fa.exp)], name, ftz)
    need = dst.frac_bits + 3
    have = src.frac_bits + 1
    if have < need:
        wide = Cat(Const(0, need - have), sig)
    else:
        low = have - (need - 1)
        wide = Cat(sig[:low].any(), sig[low:])    # the rest jammed into the sticky bit
    pipe.put(**{f"{name}_sig": wide, f"{name}_exp": exp - src.bias + dst.bias})
    pipe.cut()
    return round_pack(m, pipe, dst, pipe.get(f"{name}_sign"), pipe.get(f"{name}_exp"),
                      pipe.get(f"{name}_sig"), zero=pipe.get(f"{name}_zero"),
                      inf=pipe.get(f"{name}_inf"), nan=pipe.get(f"{name}_nan"),
                      name=f"{name}_rp", ftz=ftz)


def build_convert(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None,
                  ftz: bool = False):
    """The op table's builder (`lns.rules.ieee_program.OPS["convert"]`)."""
    return float_convert(m, pipe, in_fmts[0], out_fmt, operands[0], name=name, ftz=ftz)
