"""lns.ieee: the IEEE-754 number system: binary formats and correctly rounded operations on
words (what the float baseline computes in; its rules live beside the LNS ones in
`lns.rules`, e.g. `lns.rules.ieee_adam`).  Imports without Amaranth or a simulator.

``format``  `FloatFormat` and the presets fp32, bf16, fp16.
``ops``     correctly rounded add, sub, mul, div, sqrt on words (exact and numpy paths).
``exact``   the exact path: decode to integers, compute exactly, one rounding function.
``ftz``     the flush-to-zero mode (denormals read as zero, tiny results flushed): its
            one definition, exact and fast.
``vectors`` edge tables and seeded random operands shared by every checker.
``softfloat`` the cross-check against Berkeley SoftFloat (needs softfloatpy, a test extra;
            imported on demand, not here).
"""

from . import exact, ftz, ops, vectors
from .format import FLOAT_FORMATS, FloatFormat, get_format
from .ops import add, div, mul, sqrt, sub

__all__ = ["FloatFormat", "FLOAT_FORMATS", "get_format", "exact", "ftz", "ops", "vectors",
           "add", "sub", "mul", "div", "sqrt"]
