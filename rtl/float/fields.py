"""Building blocks shared by the float operators: the classes of an IEEE word (zero,
subnormal, infinity, NaN), its significand with the hidden bit, the normalisation of a
subnormal significand (leading-zero count and left shift), and the two helpers of the
unrolled digit recurrences (`wire`, `sub_ge`); `normal_significands` normalises operands
over a register boundary.

Every width and constant comes from the `lns.ieee.FloatFormat`; nothing here rounds (that is
`round_pack`'s alone).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Mux, Signal, Value

__all__ = ["Fields", "unpack", "normal_significands", "leading_zeros", "trailing_zeros",
           "normalize", "signed_value", "wire", "sub_ge", "STEPS_PER_STAGE"]

# Restoring steps (division, square root) between two register boundaries, by default: one
# step is one carry chain, as long as the adder's and the multiplier's longest stages (fp32
# on the ECP5, seed 1: division 115 MHz and square root 117 MHz with one, 99 and 106 MHz with
# two, 41-42 MHz with four), for about twice the registers of two.
STEPS_PER_STAGE = 1


@dataclass(frozen=True)
class Fields:
    """One operand, decoded.

    ``sig`` (``frac_bits + 1`` bits) is the significand with its hidden bit (0 for
    subnormals and zeros); ``exp`` the biased exponent it is scaled by, ``max(E, 1)``, so
    ``|x| = sig * 2**(exp - bias - frac_bits)`` for every finite word.
    """

    sign: Value
    exp: Value
    sig: Value
    zero: Value
    inf: Value
    nan: Value


def unpack(fmt, word, daz: bool = False) -> Fields:
    """The fields and classes of ``word`` (a `FloatFormat` word) as expressions.

    With ``daz`` (denormals are zero, `lns.ieee.ftz`) a word whose exponent field is 0 is
    a zero of its sign whatever its fraction: ``zero`` is that field test alone and
    ``sig`` is 0 for it, so every non-zero ``sig`` has its hidden bit set and needs no
    `normalize` (the leading-zero count and shift an operator without the mode builds)."""
    word = Value.cast(word)
    p, w = fmt.frac_bits, fmt.exp_bits
    e, t = word[p:p + w], word[:p]
    e_zero, e_max, t_zero = ~e.any(), e.all(), ~t.any()
    if daz:
        return Fields(sign=word[p + w], exp=Mux(e_zero, 1, e),
                      sig=Mux(e_zero, 0, Cat(t, Const(1, 1))),
                      zero=e_zero, inf=e_max & t_zero, nan=e_max & ~t_zero)
    return Fields(sign=word[p + w], exp=Mux(e_zero, 1, e), sig=Cat(t, ~e_zero),
                  zero=e_zero & t_zero, inf=e_max & t_zero, nan=e_max & ~t_zero)


def normal_significands(pipe, operands, name: str, ftz: bool = False) -> list:
    """``[(sig, exp)]`` of ``operands`` (``(sig, exp)`` pairs of `unpack`, values of the
    current stage) with each significand made normal (`normalize`), as values of the stage
    the call ends in: the leading zeros are counted in the current stage and the shift and
    the exponent's subtraction made after one boundary (count, shift and subtraction in
    one stage were the slowest path of the fp32 multiplier, divider and square root, 65-89
    MHz on the ECP5).  Put what the current stage makes from the fields before the call.
    Under flush to zero (``daz`` fields) every non-zero significand is normal already:
    nothing is built and no boundary crossed."""
    if ftz:
        return [(Value.cast(sig), signed_value(exp)) for sig, exp in operands]
    for i, (sig, exp) in enumerate(operands):
        pipe.put(**{f"{name}_raw{i}": sig, f"{name}_rexp{i}": signed_value(exp),
                    f"{name}_lz{i}": leading_zeros(sig)})
    pipe.cut()
    out = []
    for i, (sig, _) in enumerate(operands):
        lz = pipe.get(f"{name}_lz{i}")
        out.append(((pipe.get(f"{name}_raw{i}") << lz)[:len(Value.cast(sig))],
                    pipe.get(f"{name}_rexp{i}") - lz))
    return out


def leading_zeros(x) -> Value:
    """The number of leading zeros of ``x`` (``len(x)`` for 0): a tree of halves, ``log2``
    multiplexers deep (the upper half's count if it has a one, else its width plus the
    lower half's)."""
    x = Value.cast(x)
    n = len(x)
    if n == 1:
        return ~x[0]
    lo, hi = x[:n // 2], x[n // 2:]
    return Mux(hi.any(), leading_zeros(hi), len(hi) + leading_zeros(lo))


def trailing_zeros(x) -> Value:
    """The number of trailing zeros of ``x`` (``len(x)`` for 0): `leading_zeros` of its
    bits reversed."""
    x = Value.cast(x)
    return leading_zeros(Cat(*(x[i] for i in reversed(range(len(x))))))


def normalize(sig, exp):
    """``(sig << lz, exp - lz)`` with ``lz`` the leading zeros of ``sig``: the same value
    with the leading one at the top bit (a subnormal operand's significand made normal,
    its exponent going below 1).  ``sig == 0`` gives 0 (the operators treat zero apart)."""
    sig = Value.cast(sig)
    lz = leading_zeros(sig)
    return (sig << lz)[:len(sig)], signed_value(exp) - lz


def signed_value(x) -> Value:
    """``x`` as a signed value of the same numeric value (an unsigned one gains a 0 MSB)."""
    x = Value.cast(x)
    return x if x.shape().signed else Cat(x, Const(0, 1)).as_signed()


def wire(m, value, name: str) -> Value:
    """``value`` through a named combinational wire: later steps read the wire, so a chain
    of unrolled steps stays a chain (each step reading the last one's expression two or
    three times would otherwise grow the expression tree exponentially)."""
    value = Value.cast(value)
    w = Signal(value.shape(), name=name)
    m.d.comb += w.eq(value)
    return w


def sub_ge(a, b):
    """``(a >= b, a - b)`` for unsigned ``a, b < 2**n`` (``n`` the wider width) from one
    subtraction: the borrow out of an ``n + 1``-bit difference is ``a < b``, so a restoring
    step needs one carry chain, not a comparator beside a subtractor.  The difference is
    ``n`` bits and meaningful only when ``a >= b``."""
    a, b = Value.cast(a), Value.cast(b)
    n = max(len(a), len(b))
    d = (Cat(a, Const(0, n + 1 - len(a))) - b)[:n + 1]
    return ~d[n], d[:n]
