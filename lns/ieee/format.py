"""`FloatFormat`: the one description of an IEEE-754 binary interchange-style format.

A word of ``1 + exp_bits + frac_bits`` bits holds, from the MSB, a sign bit, a biased
exponent field ``E`` and a fraction field ``T`` (IEEE 754-2019, 3.4)::

    E == 0,          T == 0  ->  (-1)**s * 0                          (signed zero)
    E == 0,          T != 0  ->  (-1)**s * 2**(1 - bias) * (T / 2**p)  (subnormal)
    0 < E < E_max            ->  (-1)**s * 2**(E - bias) * (1 + T / 2**p)
    E == E_max = 2**w - 1, T == 0 -> (-1)**s * inf;  T != 0 -> NaN

with ``w = exp_bits``, ``p = frac_bits`` and ``bias = 2**(w - 1) - 1``.  The results of the
project's float units use one NaN, the *canonical* quiet NaN ``sign 0, E = E_max, T = 2**(p-1)``
(what RISC-V and Berkeley SoftFloat's default produce), so a NaN compares bit for bit.

This module only describes the format; the correctly rounded operations are in
`lns.ieee.ops`, and the hardware (`rtl.float`) takes every width and constant from here.
"""

from __future__ import annotations

import math
import re

from dataclasses import dataclass
from functools import cached_property

from ..errors import InvalidType, InvalidValue

__all__ = ["FloatFormat", "FLOAT_FORMATS", "get_format", "parse_format"]


@dataclass(frozen=True)
class FloatFormat:
    """An immutable, validated IEEE-754 binary format.

    Parameters
    ----------
    exp_bits : int
        Width ``w`` of the exponent field, 2..11.
    frac_bits : int
        Width ``p`` of the trailing significand (fraction) field, 1..52.
    name : str
        A label (``"fp32"``); not part of the format's identity for arithmetic.
    """

    exp_bits: int
    frac_bits: int
    name: str = ""

    def __post_init__(self):
        for field, lo, hi in (("exp_bits", 2, 11), ("frac_bits", 1, 52)):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidType(f"{field} must be an int, not {type(v).__name__}")
            if not lo <= v <= hi:
                raise InvalidValue(f"{field} must be between {lo} and {hi}, not {v}")
        if not isinstance(self.name, str):
            raise InvalidType(f"name must be a str, not {type(self.name).__name__}")
        if not self.name:
            object.__setattr__(self, "name", f"e{self.exp_bits}m{self.frac_bits}")

    # ---- widths and fields ----------------------------------------------------------------
    @property
    def total_bits(self) -> int:
        return 1 + self.exp_bits + self.frac_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self) -> int:
        """The all-ones exponent field (infinities and NaNs)."""
        return (1 << self.exp_bits) - 1

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number (``1 - bias``)."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite number (``bias``)."""
        return self.bias

    @property
    def sign_mask(self) -> int:
        return 1 << (self.total_bits - 1)

    @property
    def frac_mask(self) -> int:
        return (1 << self.frac_bits) - 1

    @property
    def word_mask(self) -> int:
        return (1 << self.total_bits) - 1

    # ---- special words --------------------------------------------------------------------
    @property
    def pos_inf(self) -> int:
        return self.exp_max << self.frac_bits

    @property
    def neg_inf(self) -> int:
        return self.sign_mask | self.pos_inf

    @property
    def canonical_nan(self) -> int:
        """The one NaN the float units output: positive, quiet, payload zero."""
        return self.pos_inf | (1 << (self.frac_bits - 1))

    @property
    def max_finite(self) -> int:
        return ((self.exp_max - 1) << self.frac_bits) | self.frac_mask

    @property
    def min_normal(self) -> int:
        return 1 << self.frac_bits

    @property
    def min_subnormal(self) -> int:
        return 1

    # ---- range (as `lns.LNSFormat` gives it) ------------------------------------------------
    @property
    def has_zero(self) -> bool:
        """Every IEEE format has a zero word (+0.0 is the all-zero word)."""
        return True

    @property
    def min_value(self) -> float:
        """The smallest positive magnitude (the smallest subnormal)."""
        return math.ldexp(1.0, self.emin - self.frac_bits)

    @property
    def max_value(self) -> float:
        """The largest finite magnitude."""
        return math.ldexp(float((1 << (self.frac_bits + 1)) - 1), self.emax - self.frac_bits)

    # ---- fields of a word -----------------------------------------------------------------
    def fields(self, word: int) -> tuple[int, int, int]:
        """``(sign, exponent field, fraction field)`` of one word."""
        word = int(word)
        if not 0 <= word <= self.word_mask:
            raise InvalidValue(f"word must be between 0 and {self.word_mask:#x}, not {word:#x}")
        return (word >> (self.total_bits - 1), (word >> self.frac_bits) & self.exp_max,
                word & self.frac_mask)

    def is_nan(self, word: int) -> bool:
        _, e, t = self.fields(word)
        return e == self.exp_max and t != 0

    @cached_property
    def numpy_dtype(self):
        """The numpy / ml_dtypes scalar type that rounds each operation in this format, or
        ``None`` when there is none (the exact `Fraction` reference still applies)."""
        import numpy as np
        key = (self.exp_bits, self.frac_bits)
        if key == (8, 23):
            return np.float32
        if key == (5, 10):
            return np.float16
        if key == (11, 52):
            return np.float64
        if key == (8, 7):
            import ml_dtypes
            return ml_dtypes.bfloat16
        return None

    def to_dict(self) -> dict:
        return {"name": self.name, "exp_bits": self.exp_bits, "frac_bits": self.frac_bits,
                "total_bits": self.total_bits, "bias": self.bias}

    def __str__(self) -> str:
        return f"{self.name} (1 sign + {self.exp_bits} exponent + {self.frac_bits} fraction bits)"


FLOAT_FORMATS = {
    "fp32": FloatFormat(8, 23, "fp32"),
    "bf16": FloatFormat(8, 7, "bf16"),
    "fp16": FloatFormat(5, 10, "fp16"),
}


def get_format(name: str) -> FloatFormat:
    """A named preset format."""
    try:
        return FLOAT_FORMATS[name]
    except (KeyError, TypeError):
        raise InvalidValue(f"float format must be one of {', '.join(FLOAT_FORMATS)}, "
                           f"not {name!r}") from None


_NAME = re.compile(r"e(\d+)m(\d+)")
_FIELDS = ("name", "exp_bits", "frac_bits", "total_bits", "bias")


def parse_format(value) -> FloatFormat:
    """A format as a config gives it: a name (``"fp16"``, or ``"e5m6"``, the name
    `FloatFormat` gives an unnamed format), or `FloatFormat.to_dict`'s table (its derived
    ``total_bits`` and ``bias`` checked, a preset's name checked against its widths)."""
    if isinstance(value, str) and value in FLOAT_FORMATS:
        return FLOAT_FORMATS[value]
    m = _NAME.fullmatch(value) if isinstance(value, str) else None
    if m is not None:
        return FloatFormat(int(m.group(1)), int(m.group(2)))
    if isinstance(value, dict) and set(value) <= set(_FIELDS) and (
            "exp_bits" in value and "frac_bits" in value or _named(value.get("name"))):
        return _from_table(value)
    if isinstance(value, dict) and set(value) - set(_FIELDS):
        raise InvalidValue(f"unknown float format field {sorted(set(value) - set(_FIELDS))[0]!r}"
                           f" (the fields are {', '.join(_FIELDS)})")
    raise InvalidValue(f"format must be one of {', '.join(FLOAT_FORMATS)}, a name like e5m10 "
                       f"(e<exp_bits>m<frac_bits>) or a table with exp_bits and frac_bits, "
                       f"not {value!r}")


def _named(name) -> bool:
    return isinstance(name, str) and name in FLOAT_FORMATS


def _from_table(table: dict) -> FloatFormat:
    name = table.get("name", "")
    if "exp_bits" not in table:                      # {"name": "fp16"}
        fmt = FLOAT_FORMATS[name]
    else:
        fmt = FloatFormat(table["exp_bits"], table["frac_bits"], name)
        if fmt.name in FLOAT_FORMATS and FLOAT_FORMATS[fmt.name] != fmt:
            raise InvalidValue(f"format {fmt.name} must be {FLOAT_FORMATS[fmt.name]}")
    for key in ("total_bits", "bias"):
        if key in table and (table[key] != getattr(fmt, key) or isinstance(table[key], bool)):
            raise InvalidValue(f"format {key} must be {getattr(fmt, key)} for {fmt.name} (it "
                               f"follows from exp_bits and frac_bits), not {table[key]!r}")
    return fmt
