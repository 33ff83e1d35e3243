"""Moved to `lns.rules.madam`; this name stays for imports written before the move."""
import sys

from .rules import madam as _moved

sys.modules[__name__] = _moved
