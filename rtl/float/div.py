"""Floating-point division, correctly rounded, by restoring division unrolled over pipeline
stages (``steps_per_stage`` quotient bits between two register boundaries).

1. unpack; normalise both significands; when ``sig_a < sig_b`` double ``sig_a`` (and take
   one from the exponent) so that the quotient lies in [1, 2); the exponent
   ``ea - eb + bias``; the special cases (NaN, ``0/0`` and ``inf/inf`` are NaN, ``x/0`` and
   ``inf/x`` infinity, ``0/x`` and ``x/inf`` zero; the sign is always ``sa ^ sb``);
2. ``frac_bits + 2`` restoring steps, one quotient bit each: ``q = r >= d; r = (q ? r - d :
   r) << 1``; the quotient ``floor(sig_a * 2**(frac_bits + 1) / sig_b)`` holds the kept bits
   and the round bit, a non-zero final remainder is the sticky bit;
3. `round_pack`.

With ``ftz`` (`lns.ieee.ftz`) a subnormal operand is a zero (`unpack`'s ``daz``): no
normalisation, and `round_pack` flushes a quotient below ``2**emin``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

from .fields import STEPS_PER_STAGE, normal_significands, sub_ge, unpack, wire
from .round_pack import round_pack

__all__ = ["float_div", "div_steps"]


def div_steps(fmt) -> int:
    """Restoring steps (quotient bits) of a division in ``fmt``."""
    return fmt.frac_bits + 2


def float_div(m, pipe, fmt, a, b, *, steps_per_stage: int = STEPS_PER_STAGE, name: str = "div",
              ftz: bool = False) -> Value:
    """The word of ``a / b`` on ``pipe`` (boundaries: after unpacking, after every
    ``steps_per_stage`` quotient bits, and `round_pack`'s one); ``ftz``: flush to zero
    (the module's doc)."""
    p = fmt.frac_bits
    fa, fb = unpack(fmt, a, daz=ftz), unpack(fmt, b, daz=ftz)
    pipe.put(**{
        f"{name}_sign": fa.sign ^ fb.sign,
        f"{name}_nan": fa.nan | fb.nan | (fa.zero & fb.zero) | (fa.inf & fb.inf),
        f"{name}_inf": fa.inf | fb.zero,
        f"{name}_zero": fa.zero | fb.inf,
    })
    (sig_a, exp_a), (sig_b, exp_b) = normal_significands(
        pipe, [(fa.sig, fa.exp), (fb.sig, fb.exp)], name, ftz)
    if not ftz:
        # the shifts of the normalisation end here: the compare below after them in one
        # stage was the divider's slowest path (fp32 101 MHz on the ECP5)
        pipe.put(**{f"{name}_na": sig_a, f"{name}_nb": sig_b,
                    f"{name}_exp00": exp_a - exp_b + fmt.bias})
        pipe.cut()
        sig_a, sig_b = pipe.get(f"{name}_na"), pipe.get(f"{name}_nb")
        exp0 = pipe.get(f"{name}_exp00")
    else:
        exp0 = exp_a - exp_b + fmt.bias
    low = sig_a < sig_b
    pipe.put(**{
        f"{name}_r0": Mux(low, Cat(Const(0, 1), sig_a), sig_a),     # in [sig_b, 2 sig_b)
        f"{name}_d": sig_b,
        # the exponent takes ``low`` one stage later, beside the first quotient bits: in
        # this stage it would follow the compare's carry chain with its own
        f"{name}_exp0": exp0, f"{name}_low": low,
    })
    pipe.cut()
    pipe.put(**{f"{name}_exp": pipe.get(f"{name}_exp0") - pipe.get(f"{name}_low")})
    r, q, d = pipe.get(f"{name}_r0"), Cat(), pipe.get(f"{name}_d")
    width = p + 2                                # r < 2 d always
    for i in range(div_steps(fmt)):
        if i and i % steps_per_stage == 0:
            pipe.put(**{f"{name}_r{i}": r, f"{name}_q{i}": q})
            pipe.cut()
            r, q, d = pipe.get(f"{name}_r{i}"), pipe.get(f"{name}_q{i}"), pipe.get(f"{name}_d")
        ge, diff = sub_ge(r, d)
        bit = wire(m, ge, f"{name}_s{i}_bit")
        r = wire(m, (Mux(bit, diff, r) << 1)[:width], f"{name}_s{i}_rem")
        q = Cat(bit, q)                          # the new bit below the earlier ones
    sig = Cat(r.any(), q)                        # the remainder is the sticky bit
    return round_pack(m, pipe, fmt, pipe.get(f"{name}_sign"), pipe.get(f"{name}_exp"), sig,
                      zero=pipe.get(f"{name}_zero"), inf=pipe.get(f"{name}_inf"),
                      nan=pipe.get(f"{name}_nan"), name=f"{name}_rp", ftz=ftz)
