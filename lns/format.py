"""`LNSFormat`: the one description of an LNS word.

A word holds an optional sign bit (the MSB) above an unsigned *log field* ``e`` of
``int_bits + frac_bits`` bits.  The value it stands for is::

    X  = e - bias * 2**frac_bits          # signed fixed-point log2|x|, in LSBs
    x  = (-1)**sign * 2**(X / 2**frac_bits)

``bias`` plays the part of an IEEE exponent bias: it slides the window of representable
magnitudes so that a narrow word covers the range Madam uses (weights sit below their clip
value sigma*, second moments are tiny).  With ``zero="reserved"`` the log field ``e = 0``
encodes zero (any sign bit; outputs always use the word 0) and the smallest non-zero
magnitude has ``e = 1``; with ``zero="none"`` every word is a non-zero value.

Overflow always saturates to the largest magnitude (a log adder has nothing sensible to
wrap to).  Underflow follows ``underflow``: ``"flush"`` gives zero (needs a zero code),
``"saturate"`` gives the smallest non-zero magnitude.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import NamedTuple

from .errors import InvalidType, InvalidValue
from .modes import Underflow, Zero, parse, plain

__all__ = ["LNSFormat", "FormatParams", "FLOAT64_LOG2_MIN", "FLOAT64_LOG2_LIMIT",
           "NAME_PATTERN"]

#: How `LNSFormat.name` spells a format, for messages (`LNSFormat.from_name` reads it).
NAME_PATTERN = "[u]lns<bits>_i<int_bits>f<frac_bits>[_b<bias>|_bm<-bias>][_nz][_us]"
_NAME = re.compile(r"(u?)lns(\d+)_i(\d+)f(\d+)(?:_b(\d+)|_bm(\d+))?(_nz)?(_us)?")
# The fields a format's row in a listing adds (`lns.rule.format_row`): derived, so checked
# against the format when they come back in a config, never set from.
_ROW_FIELDS = ("format", "bits", "min", "max")
_FIELDS = ("int_bits", "frac_bits", "bias", "signed", "zero", "underflow")

# The magnitudes a float64 holds, as log2: 2**-1074 (the smallest subnormal) up to, not
# including, 2**1024 (the largest finite float64 is 2**1024 * (1 - 2**-53)).
FLOAT64_LOG2_MIN = -1074
FLOAT64_LOG2_LIMIT = 1024


class FormatParams(NamedTuple):
    """Plain integers derived from an `LNSFormat`, for Numba kernels.

    A frozen dataclass does not cross into nopython code; a NamedTuple of ints does.
    """

    log_bits: int      # width of the log field e
    frac_bits: int     # F
    offset: int        # bias * 2**F: X = e - offset
    signed: int        # 1 if the word has a sign bit
    has_zero: int      # 1 if e == 0 encodes zero
    flush: int         # 1 if underflow gives zero, 0 if it saturates to the minimum
    x_min: int         # smallest non-zero X
    x_max: int         # largest X


@dataclass(frozen=True)
class LNSFormat:
    """An immutable, validated LNS word format.

    Parameters
    ----------
    int_bits : int
        Integer bits of the (biased) log field, 1..12 (11 and 12 need a bias that keeps
        every magnitude within float64's range; see Raises).
    frac_bits : int
        Fractional bits of the log field, 0..16.  One LSB of the log is a factor of
        ``2**(2**-frac_bits)``.
    bias : int or None
        Log bias in whole log2 units (``X = e - bias * 2**frac_bits``).  ``None`` centres the
        window like an IEEE bias: ``2**(int_bits - 1)``.
    signed : bool
        Whether the word carries a sign bit (weights and gradients do, a second moment
        does not).
    zero : {"reserved", "none"}
        How zero is encoded: the all-zero log field, or not at all.
    underflow : {"flush", "saturate"}
        What a magnitude below the smallest non-zero one becomes.

    Raises
    ------
    lns.errors.InvalidType, lns.errors.InvalidValue
        (a `TypeError` / `ValueError`) for a field outside its range, and for a format one
        of whose non-zero words is not a float64: every magnitude must lie in
        ``[2**-1074, 2**1024)`` (subnormals included), i.e. ``x_min >= -1074 * 2**frac_bits``
        and ``x_max < 1024 * 2**frac_bits``.
    """

    int_bits: int
    frac_bits: int
    bias: int | None = None
    signed: bool = True
    zero: Zero = Zero.RESERVED
    underflow: Underflow = Underflow.FLUSH

    def __post_init__(self):
        for field, lo, hi in (("int_bits", 1, 12), ("frac_bits", 0, 16)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidType(f"{field} must be an int, not {value!r}")
            if not lo <= value <= hi:
                raise InvalidValue(f"{field} must be between {lo} and {hi}, not {value}")
        if self.int_bits + self.frac_bits > 24:
            raise InvalidValue(
                f"int_bits + frac_bits must be at most 24, not {self.int_bits + self.frac_bits}")
        if self.bias is None:
            object.__setattr__(self, "bias", 1 << (self.int_bits - 1))
        elif not isinstance(self.bias, int) or isinstance(self.bias, bool):
            raise InvalidType(f"bias must be an int or None, not {self.bias!r}")
        elif not -4096 <= self.bias <= 4096:
            raise InvalidValue(f"bias must be between -4096 and 4096, not {self.bias}")
        if not isinstance(self.signed, bool):
            raise InvalidType(f"signed must be a bool, not {self.signed!r}")
        object.__setattr__(self, "zero", parse(Zero, "zero", self.zero))
        object.__setattr__(self, "underflow", parse(Underflow, "underflow", self.underflow))
        if self.underflow is Underflow.FLUSH and self.zero is Zero.NONE:
            raise InvalidValue("underflow 'flush' needs a zero code, not zero='none'")
        # Every non-zero word must stand for a float64 (normal or subnormal): decode, encode
        # and the reports work in float64, and a word beyond its range would decode to inf
        # or 0 and could never be the result of an encode.
        one = 1 << self.frac_bits
        if self.x_min < FLOAT64_LOG2_MIN * one or self.x_max >= FLOAT64_LOG2_LIMIT * one:
            raise InvalidValue(
                f"bias must keep every non-zero magnitude within float64's range, "
                f"2**{FLOAT64_LOG2_MIN} up to below 2**{FLOAT64_LOG2_LIMIT}, not {self.bias} "
                f"(magnitudes 2**{self.x_min / one:g} .. 2**{self.x_max / one:g})")

    # ---- derived properties -------------------------------------------------------------
    @property
    def log_bits(self) -> int:
        """Width of the log field ``e``."""
        return self.int_bits + self.frac_bits

    @property
    def total_bits(self) -> int:
        """Width of the whole word (sign bit included)."""
        return self.log_bits + int(self.signed)

    @property
    def offset(self) -> int:
        """``bias * 2**frac_bits``: the log field value of ``X = 0`` (magnitude 1)."""
        return self.bias << self.frac_bits

    @property
    def has_zero(self) -> bool:
        return self.zero is Zero.RESERVED

    @property
    def e_min(self) -> int:
        """Smallest log field of a non-zero value."""
        return 1 if self.has_zero else 0

    @property
    def e_max(self) -> int:
        return (1 << self.log_bits) - 1

    @property
    def x_min(self) -> int:
        """Smallest non-zero ``X`` (log2 of the smallest magnitude, in LSBs)."""
        return self.e_min - self.offset

    @property
    def x_max(self) -> int:
        return self.e_max - self.offset

    @property
    def min_value(self) -> float:
        """Smallest non-zero magnitude."""
        return 2.0 ** (self.x_min / (1 << self.frac_bits))

    @property
    def max_value(self) -> float:
        """Largest magnitude."""
        return 2.0 ** (self.x_max / (1 << self.frac_bits))

    @property
    def name(self) -> str:
        """Short name such as ``lns8_i4f3`` (``ulns`` when unsigned; bias when not centred)."""
        stem = "lns" if self.signed else "ulns"
        name = f"{stem}{self.total_bits}_i{self.int_bits}f{self.frac_bits}"
        if self.bias != 1 << (self.int_bits - 1):
            name += f"_b{self.bias}" if self.bias >= 0 else f"_bm{-self.bias}"
        if self.zero is Zero.NONE:
            name += "_nz"
        if self.underflow is Underflow.SATURATE and self.zero is not Zero.NONE:
            name += "_us"
        return name

    @cached_property
    def params(self) -> FormatParams:
        return FormatParams(self.log_bits, self.frac_bits, self.offset, int(self.signed),
                            int(self.has_zero), int(self.underflow is Underflow.FLUSH),
                            self.x_min, self.x_max)

    # ---- words <-> fields ---------------------------------------------------------------
    def word(self, sign: int, e: int) -> int:
        """Pack a sign and a log field into a word."""
        return (sign << self.log_bits) | e if self.signed else e

    # ---- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {k: plain(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data) -> "LNSFormat":
        """From `to_dict`'s table, from a name (``"lns12_i4f7_b14"``, `from_name`), or from a
        listing's row (`lns.rule.format_row`: its ``format`` name, with any other field it
        gives checked against that name)."""
        if isinstance(data, str):
            return cls.from_name(data)
        if not isinstance(data, dict):
            raise InvalidType(f"an LNS format must be a table of {', '.join(_FIELDS)} or a "
                              f"name like lns12_i4f7_b14, not {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS) - set(_ROW_FIELDS))
        if unknown:
            raise InvalidValue(f"unknown LNS format field {unknown[0]!r} (the fields are "
                               f"{', '.join(_FIELDS)}; or a name, format = \"lns12_i4f7_b14\")")
        if "format" in data:                     # a name, and fields that must agree with it
            return cls.from_name(data["format"])._agreeing(data, data)
        for name in ("int_bits", "frac_bits"):
            if name not in data:
                raise InvalidValue(f"an LNS format needs {name}")
        fmt = cls(**{k: v for k, v in data.items() if k in _FIELDS})
        return fmt._agreeing(data, _ROW_FIELDS)

    @classmethod
    def from_name(cls, name) -> "LNSFormat":
        """The format `name` spells (`NAME_PATTERN`: ``lns12_i4f7_b14``, ``ulns17_i7f10_b100``,
        ``lns8_i4f3`` with the centred bias, ``_nz`` no zero code, ``_us`` underflow
        saturating); InvalidValue naming the pattern for anything else."""
        m = _NAME.fullmatch(name) if isinstance(name, str) else None
        if m is None:
            raise InvalidValue(f"format must be a name like lns12_i4f7_b14 ({NAME_PATTERN}), "
                               f"not {name!r}")
        unsigned, bits, ib, fb, bias, neg_bias, nz, us = m.groups()
        kw = {"int_bits": int(ib), "frac_bits": int(fb), "signed": not unsigned}
        if bias is not None or neg_bias is not None:
            kw["bias"] = int(bias) if bias is not None else -int(neg_bias)
        if nz:
            kw.update(zero=Zero.NONE, underflow=Underflow.SATURATE)
        elif us:
            kw["underflow"] = Underflow.SATURATE
        fmt = cls(**kw)
        if fmt.total_bits != int(bits):
            raise InvalidValue(f"format {name} must be {fmt.total_bits} bits wide "
                               f"({'' if unsigned else '1 sign + '}{ib} integer + {fb} "
                               f"fractional), not {bits}")
        return fmt

    def _agreeing(self, data: dict, keys) -> "LNSFormat":
        """``self``, after checking that each of ``keys`` that ``data`` gives (a field, or a
        listing row's derived ``bits``, ``min``, ``max``) is this format's."""
        from .rule import format_row
        have = {**self.to_dict(), **format_row(self)}
        for key in keys:
            if key not in data or (key == "bias" and data[key] is None):
                continue
            given, want = data[key], have[key]
            if key in ("zero", "underflow"):
                given = plain(given)
            if given != want or isinstance(given, bool) != isinstance(want, bool):
                raise InvalidValue(f"{key} must be {want!r} for the format {self.name}, "
                                   f"not {given!r}")
        return self

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "LNSFormat":
        return cls.from_dict(json.loads(text))

    def __str__(self) -> str:
        return self.name
