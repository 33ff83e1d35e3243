"""`product`: a wide unsigned product as DSP-sized partial products, two register stages for
them and one for their sum.

The ECP5's MULT18X18D multiplies 18 x 18 signed bits, so an unsigned operand wider than 17
bits spans several blocks and Yosys adds their partial products in the fabric in the same
stage as the blocks themselves: the fp32 multiplier's 24 x 24 significand product was its
slowest path (85 MHz with rounding already cut).  Here each operand is split into
`LIMB`-bit limbs, every limb product (one block each) is registered twice, and the next
stage sums them.  Two limbs each (up to 34 bits: fp32's 24) need one add: the products on the
diagonal do not overlap (``p00 < 2**34``), so they are concatenated, and the two cross
products are added to that.  An operand of at most `LIMB` bits (fp12, bf16) is one block
and builds no extra stage.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Value

__all__ = ["product", "LIMB"]

LIMB = 17               # an unsigned limb in the MULT18X18D's 18-bit signed operand


def _limbs(x: Value) -> list:
    return [x[i:i + LIMB] for i in range(0, len(x), LIMB)]


def product(pipe, a, b, name: str) -> Value:
    """``a * b`` (unsigned, ``len(a) + len(b)`` bits) as a value of the stage the call ends
    in: the stage it starts in makes the limb products (when either operand is wider than
    `LIMB` bits, two boundaries after them), the stage after those their sum."""
    a, b = Value.cast(a), Value.cast(b)
    width = len(a) + len(b)
    la, lb = _limbs(a), _limbs(b)
    if len(la) == 1 and len(lb) == 1:
        return (a * b)[:width]
    parts = {(i, j): f"{name}_pp{i}{j}" for i in range(len(la)) for j in range(len(lb))}
    pipe.put(**{key: la[i] * lb[j] for (i, j), key in parts.items()})
    pipe.cut()
    # registered twice: the first register can sit at the block's output and the second
    # near the adder (one register for both was placed far from the block: block to
    # register 3.6 ns of routing, the slowest path of fp32 Madam's unit, 95 MHz, seed 1)
    pipe.put(**{f"{key}_q": pipe.get(key) for key in parts.values()})
    pipe.cut()
    pp = {ij: pipe.get(f"{key}_q") for ij, key in parts.items()}
    if len(la) == 2 and len(lb) == 2:
        diagonal = Cat(pp[0, 0], Const(0, 2 * LIMB - len(pp[0, 0])), pp[1, 1])
        return (diagonal + ((pp[0, 1] + pp[1, 0]) << LIMB))[:width]
    total = sum((pp[i, j] << (LIMB * (i + j)) for (i, j) in pp), Const(0, 1))
    return total[:width]
