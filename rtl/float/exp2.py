"""``2**x``, faithful, bit for bit the integers of `lns.ieee.exp2` (its docstring has the
design and the error bound; every width, the table and the coefficients come from there).

Stages (register boundaries; ``W`` work bits, ``k`` table bits, ``d`` the degree):

1. unpack; the specials (NaN, +-inf, ``|x| >= 2**M``: +inf or +0); the shift that puts
   the significand at ``W`` fraction bits, ``max(0, exp - bias + W + 1)`` (capped);
2. the barrel shift: ``|x| 2**W`` with ``p + 1`` bits below the point folded into a sticky
   bit (``floor`` of a negative ``x`` is one lower when any of them is set);
3. ``X = floor(x 2**W)`` (one adder: ``~|X| + ~sticky`` for a negative ``x``); ``n``,
   the table index ``i`` and ``rho`` are slices of it;
4. the table read (a `rom_read`: a block RAM from 256 words on, its address registered
   the stage before and its data going straight into registers, as `rtl._common`
   explains) beside the constant product ``C_d rho``;
5. Horner, two stages a step: ``a_j = C_j + floor(prod / 2**W)``, then the product
   ``a_j rho`` alone in its stage (a DSP block's);
6. ``P = 2**W + floor(a_1 rho / 2**W)`` is wiring (the floor is below ``2**W``), and the
   exact ``Y = T[i] P``, ``(W + 1) x (W + 1)`` bits, alone in its stage;
7. one place of normalisation and `round_pack` (its one boundary), as `float_mul`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

from lns.ieee.exp2 import exp2_coeffs, exp2_params, exp2_rom

from .._common import rom_read
from .fields import signed_value, unpack
from .ops import FloatOp
from .product import product
from .round_pack import round_pack

__all__ = ["float_exp2", "build_exp2", "FloatExp2"]


def float_exp2(m, pipe, fmt, x, name: str = "exp2") -> Value:
    """The word of ``2**x`` on ``pipe`` (`lns.ieee.exp2.exp2`'s word, bit for bit)."""
    prm = exp2_params(fmt)
    p, w, k, big_m = fmt.frac_bits, prm.work_bits, prm.table_bits, prm.range_bits
    coeffs = exp2_coeffs(fmt)
    fx = unpack(fmt, x)
    big = fx.exp >= fmt.bias + big_m                  # |x| >= 2**M (and every inf / NaN
    out_of_range = fx.inf | big                       # word of a wide exponent field)
    top_shift = big_m + w
    # the shift t = exp + (w + 1 - bias) clamped to [0, top_shift]; the clamps compare exp
    # itself with constants, beside the addition rather than after it
    e = signed_value(fx.exp)
    t = e + (w + 1 - fmt.bias)
    shift = Mux(e < fmt.bias - w - 1, 0,
                Mux(e > top_shift + fmt.bias - w - 1, top_shift, t))[:top_shift.bit_length()]
    pipe.put(**{
        f"{name}_sig": fx.sig, f"{name}_shift": shift, f"{name}_sign": fx.sign,
        f"{name}_nan": fx.nan,
        f"{name}_inf": out_of_range & ~fx.sign & ~fx.nan,
        f"{name}_zero": out_of_range & fx.sign & ~fx.nan,
    })
    pipe.cut()
    z = (pipe.get(f"{name}_sig") << pipe.get(f"{name}_shift"))[:p + 1 + top_shift]
    pipe.put(**{f"{name}_mag": z[p + 1:], f"{name}_lost": z[:p + 1].any()})
    pipe.cut()
    # X = floor(x 2**W): -(|X| + lost) = ~|X| + ~lost for a negative x, M + W + 1 bits
    mag = Cat(pipe.get(f"{name}_mag"), Const(0, 1))
    neg = (~mag + ~pipe.get(f"{name}_lost"))[:len(mag)]
    x_fix = Mux(pipe.get(f"{name}_sign"), neg, mag)
    pipe.put(**{f"{name}_n": x_fix[w:].as_signed(), f"{name}_i": x_fix[w - k:w],
                f"{name}_rho": x_fix[:w - k]})
    pipe.cut()
    # the table holds T[i] - 2**W (its top bit is always set)
    (t_low,) = rom_read(m, f"{name}_table", exp2_rom(fmt), pipe.get(f"{name}_i"))
    rho = pipe.get(f"{name}_rho")
    # the biased exponent here, where n only passes: at the end its addition would come
    # before round_pack's compares
    pipe.put(**{f"{name}_t": t_low, f"{name}_exp0": pipe.get(f"{name}_n") + fmt.bias})
    pipe.put(**{f"{name}_prod{prm.degree}": product(
        pipe, Const(coeffs[prm.degree]), rho, f"{name}_h{prm.degree}")})
    pipe.cut()
    prod = pipe.get(f"{name}_prod{prm.degree}")
    for j in range(prm.degree - 1, 0, -1):
        pipe.put(**{f"{name}_acc{j}": Const(coeffs[j]) + prod[w:]})
        pipe.cut()
        pipe.put(**{f"{name}_prod{j}": product(pipe, pipe.get(f"{name}_acc{j}"),
                                                pipe.get(f"{name}_rho"), f"{name}_h{j}")})
        pipe.cut()
        prod = pipe.get(f"{name}_prod{j}")
    poly = Cat(_widen(prod[w:], w), Const(1, 1))     # 2**W + floor(a_1 rho / 2**W)
    y = product(pipe, Cat(_widen(pipe.get(f"{name}_t"), w), Const(1, 1)), poly,
                f"{name}_y")[:2 * w + 2]
    pipe.put(**{f"{name}_y": y})
    pipe.cut()
    y = pipe.get(f"{name}_y")
    top = y[2 * w + 1]                                # Y in [2**2W, 2**(2W + 2))
    sig = Mux(top, y, y << 1)[:2 * w + 2]
    return round_pack(m, pipe, fmt, Const(0, 1), pipe.get(f"{name}_exp0"), sig,
                      exp_up=top, zero=pipe.get(f"{name}_zero"),
                      inf=pipe.get(f"{name}_inf"), nan=pipe.get(f"{name}_nan"),
                      name=f"{name}_rp")


def _widen(value, n: int) -> Value:
    """``value`` (unsigned, below ``2**n``: the model's bound) zero-extended to ``n`` bits,
    so a bit above it lands at ``2**n``."""
    value = Value.cast(value)
    assert len(value) <= n, (len(value), n)
    return Cat(value, Const(0, n - len(value)))


def build_exp2(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None) -> Value:
    """`float_exp2` as an op of the IEEE programs (`lns.rules.ieee_program`'s builder
    signature): one operand and the result in one format."""
    (fmt,) = in_fmts
    assert fmt == out_fmt, (fmt, out_fmt)
    (x,) = operands
    return float_exp2(m, pipe, fmt, x, name=name)


class FloatExp2(FloatOp):
    """``y = 2**a`` (`float_exp2`), faithful: the word `lns.ieee.exp2.exp2` gives."""

    op = "exp2"
    operands = ("a",)

    def datapath(self, m, pipe, ins):
        return float_exp2(m, pipe, self.fmt, ins["a"])
