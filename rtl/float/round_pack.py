"""`round_pack`: the one place where a float result is rounded and packed (as HardFloat's
``roundRawFNToRecFN``).  Every operator hands it an exact-enough raw result and its special
cases; none rounds, detects overflow or builds a subnormal on its own.

The raw result is ``(-1)**sign * sig / 2**(len(sig) - 1) * 2**(exp - bias)`` with ``sig``
normalised (its top bit set) and its lowest bit a *sticky* bit (the OR of every bit of the
exact value below it: "jamming").  Rounding to nearest, ties to even, at the format's
precision gives the same word for the jammed value as for the exact one as long as the sticky
bit lies at least two places below the last kept bit, so ``sig`` must have at least
``frac_bits + 3`` bits (``frac_bits + 1`` kept, a round bit, the sticky bit).

Stages (a register boundary after each; the word is ``((max(exp, 1) - 1) << frac_bits) +
significand + up``, made as its fraction and its exponent field apart):

1. from ``exp``: the subnormal shift ``1 - exp`` when ``exp < 1`` (a subnormal or a result
   that rounds to zero), at most ``frac_bits + 2`` places (further shifts leave every bit
   in the sticky bit as well); the exponent field ``base + j`` for each carry ``j`` in 0..2
   the rounding may add (``base = max(exp, 1) - 1``; the hidden bit and the fraction's
   carry each add one) and whether it reaches all ones (overflow); the bits below the
   round bit folded into the sticky bit;
2. the shift, the shifted-out bits joining the sticky bit;
3. round up when ``round & (sticky | lsb)``: the fraction's increment (the stage's one
   carry chain);
4. its carry and the hidden bit pick the field and the overflow of stage 1 (1.11..1
   rounding to 2.0, the largest subnormal rounding to the smallest normal); overflow gives
   infinity (round to nearest); the special cases; the word.

Each of stages 1-3 was the fp32 operators' slowest path in turn while they shared a stage
(the compares before the shift, the shift before its sticky OR, a word-wide add with a
word-wide compare after it): 64-76 MHz on the ECP5 before, 101-109 after.  Stage 4 is the
increment's carry fanning out to the picks and the word's multiplexers, apart: with them
in stage 3 it was the slowest path of whole fp32 and bf16 Adam units (94 and 110 MHz,
seed 1; 7 of its 10.7 ns routing).

Precedence of the special cases: NaN (the canonical NaN), infinity (the given sign), exact
zero (the given sign), then the rounded value.

With ``ftz`` (flush to zero, `lns.ieee.ftz`) a raw result with ``exp < 1`` is the zero of
its sign: ``sig`` is normalised, so ``exp < 1`` says the exact value is below the smallest
normal ``2**emin`` (tininess before rounding), and a value that would round up to ``2**emin``
is flushed too.  Stage 2 (the subnormal shift) is then not built.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

from .fields import signed_value

__all__ = ["round_pack", "MIN_EXTRA_BITS"]

MIN_EXTRA_BITS = 2          # round + sticky below the frac_bits + 1 kept bits


def _exponent_values(fmt, exp, d: int) -> dict:
    """Stage 1's values from the exponent ``exp + d`` (``d`` a constant: each is one
    compare or one addition of ``exp`` itself)."""
    p, w = fmt.frac_bits, fmt.exp_bits
    k = p + 2                                   # the largest shift that matters
    top = (1 << w) - 1                          # the infinity's exponent field
    tiny = exp < 1 - d
    out = {"tiny": tiny,
           "sh": Mux(tiny, Mux(exp <= 1 - k - d, k, (1 - d - exp)[:k.bit_length()]), 0)}
    for j in range(3):
        out[f"field{j}"] = Mux(tiny, j, exp + (d - 1 + j))
        out[f"over{j}"] = exp >= top + 1 - j - d    # base + j >= top (never tiny: top >= 3)
    return out


def round_pack(m, pipe, fmt, sign, exp, sig, *, zero, inf, nan, name: str = "rp",
               ftz: bool = False, exp_up=None) -> Value:
    """The rounded, packed word of a raw result, built on ``pipe`` (boundaries: after stage
    1, after the subnormal shift unless ``ftz``, after the increment).  All arguments are
    values of the current stage; the word is a value of the stage the call ends in.

    Parameters
    ----------
    fmt : lns.ieee.FloatFormat
    sign : 1 bit
    exp : signed (or unsigned) biased exponent of ``sig``'s top bit
    sig : normalised significand, at least ``frac_bits + 3`` bits, lowest bit sticky
    zero, inf, nan : 1 bit each, the special results (see the module docstring)
    ftz : flush a result below ``2**emin`` to the zero of its sign (the module docstring)
    exp_up : optional 1 bit; the exponent is then ``exp + exp_up`` (a product's
        normalisation), and stage 1 is made for both and picked by ``exp_up``, so that no
        addition precedes its compares
    """
    p = fmt.frac_bits
    sig = Value.cast(sig)
    width = len(sig)
    if width < p + 1 + MIN_EXTRA_BITS:
        raise ValueError(f"round_pack needs at least {p + 3} significand bits, got {width}")
    exp = signed_value(exp)
    ev = _exponent_values(fmt, exp, 0)
    if exp_up is not None:
        up1 = _exponent_values(fmt, exp, 1)
        ev = {key: Mux(exp_up, up1[key], v) for key, v in ev.items()}
    # p + 3 bits: the kept bits, the round bit and everything below folded into sticky
    low = width - (p + 2)
    s3 = Cat(sig[:low].any(), sig[low:])
    pipe.put(**{f"{name}_{key}": ev[key] for key in ev if key not in ("tiny", "sh")})
    pipe.put(**{f"{name}_sign": sign, f"{name}_inf": inf, f"{name}_nan": nan})
    if ftz:
        # no subnormal: a raw result below 2**emin is a zero of its sign, no shift
        pipe.put(**{f"{name}_sig": s3[2:], f"{name}_round": s3[1], f"{name}_sticky": s3[0],
                    f"{name}_zero": zero | ev["tiny"]})
    else:
        k = p + 2
        pipe.put(**{f"{name}_s3": s3, f"{name}_sh": ev["sh"], f"{name}_zero": zero})
        pipe.cut()
        wide = Cat(Const(0, k), pipe.get(f"{name}_s3")) >> pipe.get(f"{name}_sh")
        kept = wide[k:k + p + 3]
        pipe.put(**{f"{name}_sig": kept[2:], f"{name}_round": kept[1],
                    f"{name}_sticky": kept[0] | wide[:k].any()})
    pipe.cut()
    return _round(pipe, fmt, name)


def _round(pipe, fmt, name):
    """Stages 3 and 4: the rounding increment; the field and overflow its carry picks, the
    word."""
    p, w = fmt.frac_bits, fmt.exp_bits
    sig, rnd = pipe.get(f"{name}_sig"), pipe.get(f"{name}_round")
    up = rnd & (pipe.get(f"{name}_sticky") | sig[0])
    pipe.put(**{f"{name}_frac": sig[:p] + up, f"{name}_hidden": sig[p]})
    pipe.cut()
    frac = pipe.get(f"{name}_frac")
    hidden, carry = pipe.get(f"{name}_hidden"), frac[p]

    def pick(key):                              # the value for j = hidden + carry
        v = [pipe.get(f"{name}_{key}{j}") for j in range(3)]
        return Mux(carry, Mux(hidden, v[2], v[1]), Mux(hidden, v[1], v[0]))

    field, over = pick("field"), pick("over")
    sign = pipe.get(f"{name}_sign")
    body = p + w
    return Mux(pipe.get(f"{name}_nan"), Const(fmt.canonical_nan, body + 1),
               Mux(pipe.get(f"{name}_inf") | over,
                   Cat(Const(fmt.pos_inf, body), sign),
                   Mux(pipe.get(f"{name}_zero"), Cat(Const(0, body), sign),
                       Cat(frac[:p], field[:w], sign))))
