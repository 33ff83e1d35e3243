"""Floating-point multiplication, correctly rounded.

1. unpack; normalise subnormal significands (leading-zero count and shift, the exponent
   going below 1); the exponent ``ea + eb - bias``; the special cases (NaN, ``inf * 0`` is
   NaN, infinity, zero; the sign is always ``sa ^ sb``);
2. the exact ``(frac_bits + 1)``-bit product of the significands, ``2 * frac_bits + 2``
   bits, its leading one in the top bit or the one below it (`product`: a wide one as
   DSP-sized partial products a stage and their sum the next);
3. one place of normalisation, then `round_pack` (the exact product needs no sticky
   bit of its own: its lowest bit lies ``frac_bits`` places below the round bit).

With ``ftz`` (`lns.ieee.ftz`) a subnormal operand is a zero (`unpack`'s ``daz``): no
normalisation, and `round_pack` flushes a product below ``2**emin``.
"""

from __future__ import annotations

from amaranth.hdl import Mux, Value

from .fields import normal_significands, unpack
from .product import product
from .round_pack import round_pack

__all__ = ["float_mul"]


def float_mul(m, pipe, fmt, a, b, name: str = "mul", ftz: bool = False) -> Value:
    """The word of ``a * b`` on ``pipe`` (boundaries: after unpacking, after the product,
    and `round_pack`'s one); ``ftz``: flush to zero (the module's doc)."""
    p = fmt.frac_bits
    fa, fb = unpack(fmt, a, daz=ftz), unpack(fmt, b, daz=ftz)
    pipe.put(**{
        f"{name}_sign": fa.sign ^ fb.sign,
        f"{name}_nan": fa.nan | fb.nan | (fa.inf & fb.zero) | (fa.zero & fb.inf),
        f"{name}_inf": fa.inf | fb.inf,
        f"{name}_zero": fa.zero | fb.zero,
    })
    (sig_a, exp_a), (sig_b, exp_b) = normal_significands(
        pipe, [(fa.sig, fa.exp), (fb.sig, fb.exp)], name, ftz)
    pipe.put(**{f"{name}_sig_a": sig_a, f"{name}_sig_b": sig_b,
                f"{name}_exp": exp_a + exp_b - fmt.bias})
    pipe.cut()
    prod = product(pipe, pipe.get(f"{name}_sig_a"), pipe.get(f"{name}_sig_b"), name)
    pipe.put(**{f"{name}_prod": prod})
    pipe.cut()
    prod = pipe.get(f"{name}_prod")
    top = prod[2 * p + 1]                    # the product of two [1, 2) values is in [1, 4)
    sig = Mux(top, prod, prod << 1)[:2 * p + 2]
    return round_pack(m, pipe, fmt, pipe.get(f"{name}_sign"), pipe.get(f"{name}_exp"), sig,
                      exp_up=top, zero=pipe.get(f"{name}_zero"),
                      inf=pipe.get(f"{name}_inf"), nan=pipe.get(f"{name}_nan"),
                      name=f"{name}_rp", ftz=ftz)
