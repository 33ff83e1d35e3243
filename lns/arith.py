"""Bit-exact LNS arithmetic on words: mul, div, square, sqrt (integer adds and shifts) and
add, sub (Gaussian logarithms).

Each operation exists as a scalar Python reference (``evaluator="python"``) and a Numba
kernel over arrays (``evaluator="numba"``, the default); the tests run both.  Results
saturate at the largest magnitude, follow the format's underflow policy below the smallest,
and give the word 0 for a zero result.  ``sqrt`` halves the log: its one rounding is
`lns.rounding.round_shift_rne`.  ``x - x`` is exactly zero (where the format has no zero
code it underflows to the smallest magnitude).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .errors import InvalidValue
from .codec import _check_format, as_codes, fields_ref as _fields, split, store_ref as _result
from .format import LNSFormat
from .kernels import log_add, table_tuple
from .modes import TableMethod, parse
from .rounding import round_shift_rne, round_shift_rne_ref
from .tables import gauss_table
from .word import pack, unpack, zero_word as _zero_word

__all__ = ["mul", "div", "square", "sqrt", "add", "sub", "EVALUATORS"]

EVALUATORS = ("python", "numba")
_MUL, _DIV, _ADD, _SUB = 0, 1, 2, 3
_SQUARE, _SQRT = 0, 1


# ---- scalar reference ---------------------------------------------------------------------
def _binary_ref(op: int, fmt: LNSFormat, a: int, b: int, method: str) -> int:
    sa, xa, za = _fields(fmt, a)
    sb_, xb, zb = _fields(fmt, b)
    if op == _SUB:
        sb_ ^= 1
    if op == _MUL:
        return _result(fmt, sa ^ sb_, None if za or zb else xa + xb)
    if op == _DIV:
        return _result(fmt, sa ^ sb_, None if za else xa - xb)
    # add / sub
    if za:
        return _result(fmt, sb_, None if zb else xb)
    if zb:
        return _result(fmt, sa, xa)
    big_x, big_s = (xa, sa) if xa >= xb else (xb, sb_)
    z = abs(xa - xb)
    if sa == sb_:
        return _result(fmt, big_s, big_x + gauss_table("sb", fmt.frac_bits, method).lookup_ref(z))
    if z == 0:
        return _result(fmt, 0, None)
    return _result(fmt, big_s, big_x + gauss_table("db", fmt.frac_bits, method).lookup_ref(z))


def _unary_ref(op: int, fmt: LNSFormat, a: int) -> int:
    sa, xa, za = _fields(fmt, a)
    if za:
        return _result(fmt, 0, None)
    if op == _SQUARE:
        return _result(fmt, 0, 2 * xa)
    return _result(fmt, 0, round_shift_rne_ref(xa, 1))


# ---- kernels ------------------------------------------------------------------------------
@njit(cache=True)
def _binary_kernel(op, a, b, p, sb, db, out):
    for i in range(a.shape[0]):
        sa, xa, za = unpack(a[i], p)
        sb_, xb, zb = unpack(b[i], p)
        if op == 3:
            sb_ ^= 1
        if op == 0:
            out[i] = _zero_word(p) if (za or zb) else pack(sa ^ sb_, xa + xb, p)
        elif op == 1:
            out[i] = _zero_word(p) if za else pack(sa ^ sb_, xa - xb, p)
        elif za:
            out[i] = _zero_word(p) if zb else pack(sb_, xb, p)
        elif zb:
            out[i] = pack(sa, xa, p)
        else:
            x, a_big, cancel = log_add(xa, xb, sa == sb_, sb, db)
            if cancel:
                out[i] = _zero_word(p)
            else:
                out[i] = pack(sa if a_big else sb_, x, p)


@njit(cache=True)
def _unary_kernel(op, a, p, out):
    for i in range(a.shape[0]):
        sa, xa, za = unpack(a[i], p)
        if za:
            out[i] = _zero_word(p)
        elif op == 0:
            out[i] = pack(0, 2 * xa, p)
        else:
            out[i] = pack(0, round_shift_rne(xa, 1), p)


# ---- public API ---------------------------------------------------------------------------
def _check_choice(name, value, choices):
    if value not in choices:
        raise InvalidValue(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _operands(fmt, **named):
    arrays = {k: as_codes(fmt, v, k) for k, v in named.items()}
    try:
        bcast = np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = " and ".join(str(a.shape) for a in arrays.values())
        raise InvalidValue(f"{' and '.join(arrays)} must have the same shape, not {shapes}") from None
    scalar = all(np.ndim(v) == 0 for v in named.values())
    return [np.ascontiguousarray(x).ravel() for x in bcast], bcast[0].shape, scalar


def _finish(out, shape, scalar):
    out = out.reshape(shape)
    return int(out) if scalar else out


def _binary(op, fmt, a, b, method, evaluator):
    fmt = _check_format(fmt)
    method = parse(TableMethod, "method", method)
    _check_choice("evaluator", evaluator, EVALUATORS)
    (fa, fb), shape, scalar = _operands(fmt, a=a, b=b)
    if op == _SUB and not fmt.signed:
        raise InvalidValue(f"sub needs a signed format, not {fmt.name}")
    if op == _DIV and np.any(split(fmt, fb)[2]):
        raise InvalidValue("division by zero: b holds a zero code")
    if evaluator == "python":
        out = np.array([_binary_ref(op, fmt, int(x), int(y), method) for x, y in zip(fa, fb)],
                       dtype=np.int64)
    else:
        out = np.empty(fa.shape[0], dtype=np.int64)
        _binary_kernel(op, fa, fb, fmt.params,
                       table_tuple(gauss_table("sb", fmt.frac_bits, method)),
                       table_tuple(gauss_table("db", fmt.frac_bits, method)), out)
    return _finish(out, shape, scalar)


def _unary(op, fmt, a, evaluator):
    fmt = _check_format(fmt)
    _check_choice("evaluator", evaluator, EVALUATORS)
    (fa,), shape, scalar = _operands(fmt, a=a)
    if op == _SQRT:
        sign, _, zero = split(fmt, fa)
        if np.any((sign == 1) & ~zero):
            raise InvalidValue("sqrt of a negative value: a holds a negative code")
    if evaluator == "python":
        out = np.array([_unary_ref(op, fmt, int(x)) for x in fa], dtype=np.int64)
    else:
        out = np.empty(fa.shape[0], dtype=np.int64)
        _unary_kernel(op, fa, fmt.params, out)
    return _finish(out, shape, scalar)


def mul(fmt: LNSFormat, a, b, evaluator: str = "numba"):
    """``a * b``: add the logs, xor the signs."""
    return _binary(_MUL, fmt, a, b, TableMethod.DIRECT, evaluator)


def div(fmt: LNSFormat, a, b, evaluator: str = "numba"):
    """``a / b``: subtract the logs.  A zero divisor is a ValueError."""
    return _binary(_DIV, fmt, a, b, TableMethod.DIRECT, evaluator)


def square(fmt: LNSFormat, a, evaluator: str = "numba"):
    """``a * a``: double the log; the sign becomes positive."""
    return _unary(_SQUARE, fmt, a, evaluator)


def sqrt(fmt: LNSFormat, a, evaluator: str = "numba"):
    """``sqrt(a)``: halve the log, rounding to nearest even.  Negative input is a ValueError."""
    return _unary(_SQRT, fmt, a, evaluator)


def add(fmt: LNSFormat, a, b, method: str = "direct", evaluator: str = "numba"):
    """``a + b`` through ``sb``/``db`` tables held by ``method`` ("direct" or "interp")."""
    return _binary(_ADD, fmt, a, b, method, evaluator)


def sub(fmt: LNSFormat, a, b, method: str = "direct", evaluator: str = "numba"):
    """``a - b`` = ``a + (-b)``; needs a signed format."""
    return _binary(_SUB, fmt, a, b, method, evaluator)
