"""Moved to `lns.rules.sgd`; this name stays for imports written before the move."""
import sys

from .rules import sgd as _moved

sys.modules[__name__] = _moved
