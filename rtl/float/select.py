"""The exact word operations of `lns.ieee.select` in Amaranth: ``clamp``, ``nan0_clamp``,
``copysign``, ``negsign``, as builders of the IEEE programs (`lns.rules.ieee_program`'s
signature).  Each is an integer compare and a select or a sign-bit change: combinational,
no register boundary of its own (`rtl.float_program` joins such a result to the pipeline in
the stage it starts in and registers it before its readers, ``OP_GAP``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

__all__ = ["build_clamp", "build_nan0_clamp", "build_copysign", "build_negsign"]


def _clamp(fmt, x, b, nan_word: int) -> Value:
    x, b = Value.cast(x), Value.cast(b)
    body = fmt.total_bits - 1
    mag, bound = x[:body], b[:body]
    y = Mux(mag > bound, Cat(bound, x[body]), x)
    return Mux(mag > fmt.pos_inf, Const(nan_word, fmt.total_bits), y)


def build_clamp(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None):
    return _clamp(out_fmt, *operands, out_fmt.canonical_nan)


def build_nan0_clamp(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None):
    return _clamp(out_fmt, *operands, 0)


def build_copysign(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None):
    x, s = (Value.cast(v) for v in operands)
    body = out_fmt.total_bits - 1
    return Cat(x[:body], s[body])


def build_negsign(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None):
    x, w = (Value.cast(v) for v in operands)
    body = out_fmt.total_bits - 1
    return Cat(x[:body], x[body] ^ ~w[body])
