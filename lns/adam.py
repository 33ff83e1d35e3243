"""Moved to `lns.rules.adam`; this name stays for imports written before the move."""
import sys

from .rules import adam as _moved

sys.modules[__name__] = _moved
