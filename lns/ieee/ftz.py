"""Flush to zero (FTZ) with denormals read as zero (DAZ): the one definition of the mode.

FPGA vendors' float cores (and ARM's ``FPSCR.FZ``, x86's ``FTZ``/``DAZ`` bits) offer a mode
without subnormals, because a datapath that never reads nor makes one needs no leading-zero
count and shift on its inputs and no right shift before its rounding.  This module says
exactly what that mode computes, so the model (`lns.rules.ieee_program.run_program` with
a configuration's ``ftz``) and the hardware (`rtl.float` with ``daz`` / ``ftz``) can agree
bit for bit.

The definition
--------------
With FTZ on, an arithmetic operation (``add``, ``sub``, ``mul`` and the product by a
constant ``mulc``, ``div``, ``sqrt``, ``convert``):

1. **DAZ**: reads each operand with a subnormal word (exponent field 0, fraction not 0)
   taken as the zero of its sign (`daz`);
2. **FTZ**: returns the zero of the result's sign when the *exact* result of the operation
   on those operands is not zero and its magnitude is below the smallest normal of the
   result's format, ``2**emin`` (tininess *before* rounding, as ARM's flush-to-zero mode);
   otherwise the correctly rounded IEEE result, which is then normal, an exact zero, an
   infinity or NaN, as usual (`lns.ieee.exact`, `lns.ieee.ops`).

So no subnormal is ever read or produced.  "Before rounding" matters at one place: an exact
result just below ``2**emin`` that rounds up to ``2**emin`` is flushed (a core that tested
the rounded result would keep it).  The sign of a flushed zero is the exact result's, which
is the sign the rounded result has too (rounding never changes a sign).  A pure word select
(an op that only picks or re-signs one of its operand words) is no arithmetic and is left
alone.

Two evaluations, which the tests hold to each other bit for bit:

``"exact"``  `apply_exact`: the operands DAZ'd, the exact value's tininess decided with
             integers and fractions (`is_tiny`: for a square root the operand against
             ``2**(2 emin)``), the IEEE result from `lns.ieee.exact`.
``"auto"``   `apply`: the operation computed by the fast path (`lns.ieee.ops`,
             `lns.ieee.convert`) on the DAZ'd operands, then flushed where the rounded
             result is subnormal (its exact value is then tiny: rounding is monotone and
             ``2**emin`` is a word) and, where the rounded magnitude is exactly ``2**emin``,
             decided by `is_tiny` (the exact value may be just below and have rounded up).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import InvalidValue
from . import convert as ieee_convert
from . import exact, ops
from .format import FloatFormat

__all__ = ["FTZ_OPS", "daz", "is_tiny", "flush", "apply_exact", "apply"]

#: The operations the definition covers (``mulc`` is ``mul`` in the model).
FTZ_OPS = ("add", "sub", "mul", "div", "sqrt", "convert")
_ARITY = {"add": 2, "sub": 2, "mul": 2, "div": 2, "sqrt": 1, "convert": 1}
_EXACT = {"add": exact.add, "sub": exact.sub, "mul": exact.mul, "div": exact.div,
          "sqrt": exact.sqrt}


def _check_op(op: str) -> None:
    if op not in _ARITY:
        raise InvalidValue(f"op must be one of {', '.join(FTZ_OPS)}, not {op!r}")


def daz(fmt: FloatFormat, words):
    """``words`` (an int or an integer array) with every subnormal the zero of its sign:
    part 1 of the definition (a zero stays itself)."""
    if isinstance(words, (int, np.integer)):
        w = int(words)
        return w & fmt.sign_mask if (w >> fmt.frac_bits) & fmt.exp_max == 0 else w
    w = np.asarray(words)
    sub = (w >> fmt.frac_bits) & fmt.exp_max == 0
    return np.where(sub, w & fmt.sign_mask, w).astype(w.dtype, copy=False)


def _value(fmt: FloatFormat, word: int):
    """``(class, exact value)`` of a word (the value signed; None unless finite)."""
    cls, s, n, e = exact.decode(fmt, word)
    if cls != exact.FINITE:
        return cls, None
    v = Fraction(n) * Fraction(2) ** e
    return cls, (-v if s else v)


def is_tiny(op: str, in_fmts: tuple, out_fmt: FloatFormat, *words: int) -> bool:
    """Whether the exact result of ``op`` on the (already DAZ'd) words is not zero and of
    magnitude below ``2**out_fmt.emin``: exact rationals, no rounding.  Infinite and NaN
    operands and exact zeros are never tiny (their IEEE results stand)."""
    _check_op(op)
    vals = [_value(f, int(w)) for f, w in zip(in_fmts, words)]
    if any(cls in (exact.INF, exact.NAN) for cls, _ in vals):
        return False
    x = [v if v is not None else Fraction(0) for _, v in vals]
    limit = Fraction(2) ** out_fmt.emin
    if op == "add":
        r = x[0] + x[1]
    elif op == "sub":
        r = x[0] - x[1]
    elif op == "mul":
        r = x[0] * x[1]
    elif op == "div":
        if x[1] == 0:
            return False                         # x/0: an infinity or NaN
        r = x[0] / x[1]
    elif op == "sqrt":
        # sqrt(a) < 2**emin  <=>  a < 2**(2 emin), for a > 0 (a negative one is NaN)
        return 0 < x[0] < limit * limit
    else:                                        # convert
        r = x[0]
    return r != 0 and abs(r) < limit


def flush(fmt: FloatFormat, word: int) -> int:
    """The zero of ``word``'s sign (part 2's result)."""
    return int(word) & fmt.sign_mask


def _ieee_exact(op: str, in_fmts: tuple, out_fmt: FloatFormat, *words: int) -> int:
    if op == "convert":
        return ieee_convert.convert_exact(in_fmts[0], out_fmt, words[0])
    return _EXACT[op](out_fmt, *words)


def apply_exact(op: str, in_fmts: tuple, out_fmt: FloatFormat, *words: int) -> int:
    """One scalar operation under the definition, exactly: DAZ, the IEEE result of
    `lns.ieee.exact` on the DAZ'd operands, flushed where `is_tiny`."""
    _check_op(op)
    words = [daz(f, int(w)) for f, w in zip(in_fmts, words)]
    r = _ieee_exact(op, in_fmts, out_fmt, *words)
    return flush(out_fmt, r) if is_tiny(op, in_fmts, out_fmt, *words) else r


def apply(op: str, in_fmts: tuple, out_fmt: FloatFormat, *words, impl: str = "auto"):
    """``op`` on ``words`` (ints or integer arrays of their formats ``in_fmts``, broadcast
    like numpy) under the definition, as words of ``out_fmt`` (an int when every operand is
    an int).  ``impl`` ``"exact"``: `apply_exact` element by element; ``"auto"``: the fast
    path with the boundary decided exactly (see the module's doc)."""
    _check_op(op)
    if len(words) != _ARITY[op] or len(in_fmts) != _ARITY[op]:
        raise InvalidValue(f"{op} takes {_ARITY[op]} operand(s), not {len(words)}")
    if impl not in ("auto", "exact"):
        raise InvalidValue(f"impl must be 'auto' or 'exact', not {impl!r}")
    checked = [ops.check_words(f, w, name) for f, w, name in zip(in_fmts, words, "ab")]
    scalar = all(s for _, s in checked)
    if scalar:
        return apply_exact(op, in_fmts, out_fmt, *(v for v, _ in checked))
    arrays = np.broadcast_arrays(*[np.asarray(v) for v, _ in checked])
    dazed = [daz(f, a) for f, a in zip(in_fmts, arrays)]
    dt = ops.word_dtype(out_fmt)
    if impl == "exact":
        out = np.empty(arrays[0].shape, dtype=dt)
        flat = [a.ravel().tolist() for a in dazed]
        out.ravel()[:] = [apply_exact(op, in_fmts, out_fmt, *args) for args in zip(*flat)]
        return out
    if op == "convert":
        r = ieee_convert.convert(in_fmts[0], out_fmt, dazed[0])
    else:
        r = ops.apply(out_fmt, op, *dazed)
    r = np.asarray(r).astype(dt)
    sign = r & dt(out_fmt.sign_mask)
    mag = r ^ sign
    min_normal = 1 << out_fmt.frac_bits               # the word of 2**emin
    out = np.where(mag < min_normal, sign, r).astype(dt)
    edge = np.flatnonzero(mag.ravel() == min_normal)
    if edge.size:                                     # rounded to 2**emin: from below?
        flat = [a.ravel() for a in dazed]
        o = out.ravel()
        for i in edge.tolist():
            if is_tiny(op, in_fmts, out_fmt, *(int(a[i]) for a in flat)):
                o[i] = sign.ravel()[i]
        out = o.reshape(r.shape)
    return out
