"""Named configurations: one place for every preset's formats and hyperparameters.

Window choices (``bias``): a weight's magnitude lives below its clip sigma* (about 3 x the
Xavier scale, well under 1), so weight formats reach a little above 1 and far below;
gradients reach above 1; second moments (about g**2) span twice the gradient's log range.
The rms presets with wide second moments hold ``sb`` by interpolation: the direct ROM at
``Fv = 10..12`` is 0.2-0.7 Mbit.
"""

from __future__ import annotations

from .config import MadamConfig
from .format import LNSFormat

__all__ = ["PRESETS", "get", "names", "DEFAULT"]

DEFAULT = "lns12"


def _cfg(name, weight, grad, moment, **kw):
    return MadamConfig(weight=weight, grad=grad, moment=moment, name=name, **kw)


PRESETS: dict[str, MadamConfig] = {
    # Small enough to enumerate every (w, g, v): 64 x 32 x 64 = 131,072 inputs a step.
    "tiny": _cfg("tiny",
                 LNSFormat(3, 2, bias=6), LNSFormat(3, 1, bias=4),
                 LNSFormat(4, 2, bias=12, signed=False),
                 eta_log2=-2, step_frac_bits=3, exp_bits=5),
    # 8-bit weights with the bounded sign update and stochastic rounding: no second moment.
    "lns8_sign": _cfg("lns8_sign",
                      LNSFormat(4, 3, bias=14), LNSFormat(4, 3, bias=12),
                      LNSFormat(5, 2, bias=24, signed=False),
                      eta_log2=-5, normaliser="sign", rounding="stochastic",
                      step_frac_bits=3, exp_bits=8),
    # 8-bit weights, published rms normaliser, stochastic rounding of the step.
    "lns8": _cfg("lns8",
                 LNSFormat(4, 3, bias=14), LNSFormat(5, 3, bias=24),
                 LNSFormat(7, 10, bias=100, signed=False),
                 eta_log2=-5, rounding="stochastic", table="interp",
                 step_frac_bits=4, exp_bits=8),
    # 12-bit weights: eta = 2**-7 with 7 fractional bits is LNS-Madam's one LSB per |g_hat|.
    "lns12": _cfg("lns12",
                  LNSFormat(4, 7, bias=14), LNSFormat(5, 5, bias=24),
                  LNSFormat(7, 10, bias=100, signed=False),
                  eta_log2=-7, table="interp", step_frac_bits=6, exp_bits=10),
    # 16-bit weights: eta = 2**-7 is 8 LSBs per |g_hat|.
    "lns16": _cfg("lns16",
                  LNSFormat(5, 10, bias=30), LNSFormat(6, 8, bias=40),
                  LNSFormat(8, 12, bias=200, signed=False),
                  eta_log2=-7, table="interp", step_frac_bits=8, exp_bits=12),
}


def names() -> list[str]:
    return list(PRESETS)


def get(name: str) -> MadamConfig:
    """The preset called ``name``; ValueError naming the choices otherwise."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, not {name!r}") from None
