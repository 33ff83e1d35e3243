"""Moved to `lns.rules.madam_update`; this name stays for imports written before the move."""
import sys

from .rules import madam_update as _moved

sys.modules[__name__] = _moved
