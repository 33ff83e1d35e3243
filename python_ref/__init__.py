"""Float reference optimizers (numpy only): the ground truth for precision reports.

Every optimizer works on one tensor and keeps its own state. ``Madam``, ``LNSMadam``,
``Adam``, ``SGD`` and ``Lion`` have ``step(w, g) -> new w``; ``IntegerMadam`` owns its weights as
integer codes and has ``step(g) -> new w`` and ``weights()``.  A step whose state would
overflow its dtype raises `StateOverflow` (a ValueError) and leaves the state as it was. See README.md in this folder for
the sources of the equations and the deliberate differences from them.
"""

from ._common import StateOverflow
from .adam import Adam
from .adam8bit import Adam8bit, AdamBF16Grad
from .integer_madam import IntegerMadam
from .lion import Lion
from .lns_madam import LNSMadam
from .madam import Madam
from .sgd import SGD

__all__ = ["Madam", "IntegerMadam", "LNSMadam", "Adam", "SGD", "Lion", "Adam8bit",
           "AdamBF16Grad", "StateOverflow"]
