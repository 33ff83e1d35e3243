"""Moved to `lns.rules.ieee_adam`; this name stays for imports written before the move."""
import sys

from ..rules import ieee_adam as _moved

sys.modules[__name__] = _moved
