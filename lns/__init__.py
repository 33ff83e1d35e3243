"""lns: LNS number formats, bit-exact LNS arithmetic and the bit-exact Madam update.

Imports without Amaranth, cocotb or a simulator.  The tables and constants the hardware
holds are computed here (`lns.tables`, `MadamConfig.params`) and nowhere else; the modes
are the enums of `lns.modes`; words are packed and unpacked only by `lns.word`; bad input
raises the errors of `lns.errors` (`ValueError` / `TypeError` subclasses).
"""

from . import presets
from .arith import add, div, mul, sqrt, square, sub
from .codec import decode, decode_ref, encode, encode_ref
from .rules.madam import MadamConfig
from .errors import InputError, InvalidType, InvalidValue
from .format import LNSFormat
from .lfsr import lane_seeds
from .modes import Normaliser, Optimizer, Rounding, TableMethod, Underflow, Zero
from .registry import RULES, config_class
from .rule import Rule
from .rules.madam_update import madam_update, madam_update_ref

__all__ = ["LNSFormat", "MadamConfig", "presets", "encode", "decode", "encode_ref",
           "decode_ref", "mul", "div", "square", "sqrt", "add", "sub", "madam_update",
           "madam_update_ref", "lane_seeds", "Normaliser", "Rounding", "TableMethod",
           "Underflow", "Zero", "InputError", "InvalidValue", "InvalidType", "Optimizer",
           "Rule", "RULES", "config_class"]

# The additive rules on the same datapath (lns.rules.additive): LNS Adam and SGD with momentum.
from .rules.adam import AdamConfig, adam_update, adam_update_ref          # noqa: E402
from .rules.lion import LionConfig, lion_update, lion_update_ref          # noqa: E402
from .rules.sgd import SGDConfig, sgd_update, sgd_update_ref              # noqa: E402

__all__ += ["AdamConfig", "adam_update", "adam_update_ref", "SGDConfig", "sgd_update",
            "sgd_update_ref", "LionConfig", "lion_update", "lion_update_ref"]
