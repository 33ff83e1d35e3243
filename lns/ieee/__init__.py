"""lns.ieee: IEEE-754 binary formats and the bit-exact float references (the float baseline
the LNS units are compared with).  Imports without Amaranth or a simulator.

``format``  `FloatFormat` and the presets fp32, bf16, fp16.
``ops``     correctly rounded add, sub, mul, div, sqrt on words (exact and numpy paths).
``exact``   the exact path: decode to integers, compute exactly, one rounding function.
``vectors`` edge tables and seeded random operands shared by every checker.
``adam``    the float Adam update as a fixed sequence of those operations; its presets.
``softfloat`` the cross-check against Berkeley SoftFloat (needs softfloatpy, a test extra;
            imported on demand, not here).
"""

from . import adam, exact, ops, vectors
from .adam import (FloatAdamConfig, bias_correction_word,
                   float_adam_update)
from .format import FLOAT_FORMATS, FloatFormat, get_format
from .ops import add, div, mul, sqrt, sub

__all__ = ["FloatFormat", "FLOAT_FORMATS", "get_format", "exact", "ops", "vectors",
           "add", "sub", "mul", "div", "sqrt", "adam", "FloatAdamConfig",
           "bias_correction_word", "float_adam_update"]
