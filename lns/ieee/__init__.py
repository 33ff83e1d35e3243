"""lns.ieee: IEEE-754 binary formats and the bit-exact float references (the float baseline
the LNS units are compared with).  Imports without Amaranth or a simulator."""

from .format import FLOAT_FORMATS, FloatFormat, get_format

__all__ = ["FloatFormat", "FLOAT_FORMATS", "get_format"]
