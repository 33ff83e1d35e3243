"""Moved to `lns.rules.additive`; this name stays for imports written before the move."""
import sys

from .rules import additive as _moved

sys.modules[__name__] = _moved
