"""Mixed-precision IEEE Adam (issue 18 item 2): the baseline large-model training uses.

The gradient arrives in a narrow format (`low`, BF16); the master weight and both moments
are read and written in a wide one (`fmt`, FP32); the update also writes the narrow copy of
the new weight that the next forward and backward pass read (Micikevicius et al., "Mixed
precision training", ICLR 2018: an FP32 master copy of the weights, updated from
half-precision gradients, rounded to half precision for the passes).  The arithmetic is the
efficient form of `lns.rules.ieee_adam_fast` in `fmt`::

    g32 = convert(g)                     # BF16 -> FP32: exact (every bf16 is an fp32)
    m'  = m + c1 (g32 - m)
    v'  = v + c2 (g32*g32 - v)
    w'  = w - (alpha_t m') / (sqrt(v') + eps_t)
    w16 = convert(w')                    # FP32 -> BF16: round to nearest even

14 single operations (the 12 of the efficient form and two conversions, `lns.ieee.convert`
in the model and `rtl.float.convert` in the hardware), each correctly rounded; ``c1, c2``
and the held ``alpha_t, eps_t`` are words of `fmt` (so beta2 = 0.999 is 0.999000013, not
bf16's 1.0: the state never loses its decay).

One update moves 2 B of gradient, 3 x 4 B read (w, m, v), 3 x 4 B written and the 2 B copy:
28 B (`update_words`: read ``w, g, m, v``; written ``w, m, v, wlow``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InvalidType, InvalidValue
from ..ieee.format import FLOAT_FORMATS, FloatFormat
from ..modes import Optimizer
from .ieee_adam_fast import FloatAdamFastConfig, fast_adam_operations

__all__ = ["MixedAdamConfig", "OPERATIONS"]

OPERATIONS = (("g32", "convert", ("g",)), *fast_adam_operations("g32"),
              ("wlow", "convert", ("w'",)))


@dataclass(frozen=True)
class MixedAdamConfig(FloatAdamFastConfig):
    """One mixed-precision Adam unit: the master format `fmt` (w, m, v, the constants and
    held words), the narrow format `low` (the gradient read, the weight copy ``wlow``
    written), and float64 hyperparameters (those of `FloatAdamFastConfig`).  The fields
    are those of `FloatAdamFastConfig` with `low` last (dataclass order): pass it by
    keyword."""

    OPTIMIZER = Optimizer.MP_ADAM
    WORD_ROLES = {"w": "fmt", "g": "low", "m": "fmt", "v": "fmt"}
    EXTRA_OUTPUTS = {"wlow": "low"}
    OPERATIONS = OPERATIONS
    RESULT_ROLES = {"g32": "fmt", "wlow": "low"}
    OUTPUTS = {"w": "w'", "m": "m'", "v": "v'", "wlow": "wlow"}
    FORMAT_ROLES = ("fmt", "low")
    FAMILY_BASE = "mp_adam"

    fmt: FloatFormat
    low: FloatFormat = FLOAT_FORMATS["bf16"]
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name: str = ""
    allow_degenerate: bool = field(default=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.low, FloatFormat):
            raise InvalidType(f"low must be a FloatFormat, not {type(self.low).__name__}")
        if not isinstance(self.fmt, FloatFormat):
            raise InvalidType(f"fmt must be a FloatFormat, not {type(self.fmt).__name__}")
        if self.low.total_bits >= self.fmt.total_bits:
            raise InvalidValue(f"low must be narrower than fmt ({self.fmt.name}), "
                               f"not {self.low.name}")
        if not self.name:
            object.__setattr__(self, "name", f"{self.fmt.name}_{self.low.name}_mp_adam")
        super().__post_init__()             # the hyperparameters, the degenerate check

    def at_width(self, bits: int, **overrides) -> "MixedAdamConfig":
        """Mixed precision is one pair of widths: 32 (master) only."""
        if bits != 32:
            raise InvalidValue(f"bits must be 32 for mixed-precision Adam, not {bits!r}")
        return self
