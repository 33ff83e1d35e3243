"""Moved to `lns.rules.lion`; this name stays for imports written before the move."""
import sys

from .rules import lion as _moved

sys.modules[__name__] = _moved
