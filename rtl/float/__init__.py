"""rtl.float: IEEE-754 float operators in Amaranth, parameterised by a
`lns.ieee.FloatFormat`: `FloatAdd` (with ``negate_b``), `FloatMul`, `FloatDiv`, `FloatSqrt`.

Each is pipelined with II = 1 and correctly rounded (round to nearest, ties to even) with
the IEEE special cases: signed zeros, subnormals in and out, infinities, every NaN result
the format's canonical NaN, overflow to infinity, underflow to a subnormal or zero.
Rounding and packing happen in one place, `round_pack`, used by all four.  The datapath
functions also build the flush-to-zero mode of `lns.ieee.ftz` (``ftz=True``: `unpack` with
``daz``, no subnormal normalisation nor shift), which the program lane
(`rtl.float_program`) uses for a configuration with ``ftz``.  The datapath
functions (`float_add`, ...) build on a `rtl._common.Pipe`, so a larger unit can chain
them in one pipeline; the components put them behind the valid/ready stream.

`verilog(op, fmt)` gives the Verilog of one operator (module ``float_<op>_<fmt>``).
"""

from __future__ import annotations

from .add import float_add
from .div import float_div
from .fields import leading_zeros, normalize, unpack
from .mul import float_mul
from .ops import OPERATORS, FloatAdd, FloatDiv, FloatMul, FloatOp, FloatSqrt, operator
from .round_pack import round_pack
from .sqrt import float_sqrt
from .exp2 import FloatExp2, float_exp2          # noqa: E402 (after .ops: it extends it)

OPERATORS["exp2"] = FloatExp2                    # operator("exp2", fmt), verilog("exp2", fmt)
from .convert import float_convert               # noqa: E402 (one format to another)

__all__ = ["FloatOp", "FloatAdd", "FloatMul", "FloatDiv", "FloatSqrt", "OPERATORS",
           "operator", "verilog", "to_verilog", "round_pack", "float_add", "float_mul", "float_div",
           "float_sqrt", "unpack", "normalize", "leading_zeros"]
__all__ += ["FloatExp2", "float_exp2"]
__all__ += ["float_convert"]


def to_verilog(top: FloatOp) -> str:
    """The Verilog text of an operator component (module ``top.name``)."""
    import os
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"      # a system Yosys never changes the text
    from amaranth.back import verilog as back
    return back.convert(top, name=top.name, emit_src=False)


def verilog(op, fmt, **options) -> str:
    """The Verilog text of operator ``op`` (``"add"``, ``"mul"``, ``"div"``, ``"sqrt"`` or
    a `FloatOp` subclass) for ``fmt`` (a `FloatFormat` or a preset name), module
    ``float_<op>_<format name>``, ports as `FloatOp` plus ``clk`` and ``rst``.  ``options``
    go to the component (``steps_per_stage`` for division and square root)."""
    return to_verilog(operator(op, fmt, **options))
