"""The datapath's modes, each an enum defined once.

Strings are accepted only at the edges (the API's keyword arguments, JSON, TOML, the command
line): `parse` converts them, and the config objects call it in their ``__post_init__``.
The enums are `enum.StrEnum`, so a member equals, hashes, prints and JSON-serialises as its
string value: a sidecar or report written from a config holds exactly the strings it held
before these enums existed.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import InvalidValue

__all__ = ["Optimizer", "Normaliser", "Rounding", "TableMethod", "Zero", "Underflow", "parse", "plain"]


class Optimizer(StrEnum):
    """The rule a configuration describes: one optimizer in one number system (the keys of
    `lns.registry.RULES`)."""

    MADAM = "madam"     # LNS: multiplicative, an integer add to the weight's log
    ADAM = "adam"       # LNS: additive, w - eta m_hat / (sqrt(v_hat) + eps) through sb/db
    SGD = "sgd"         # LNS: additive, w - eta m, m = mu m + g
    LION = "lion"       # LNS: additive, w - eta sign(b1 m + (1 - b1) g), m = b2 m + (1 - b2) g
    FLOAT_ADAM = "float_adam"   # IEEE Adam, 14 correctly rounded operations (lns.rules.ieee_adam)
    FLOAT_ADAM_FAST = "float_adam_fast"  # IEEE Adam, efficient form (lns.rules.ieee_adam_fast)
    MP_ADAM = "mp_adam"         # mixed-precision IEEE Adam (lns.rules.ieee_mp_adam)
    FLOAT_MADAM = "float_madam"  # IEEE Madam, base 2 (lns.rules.ieee_madam)


class Normaliser(StrEnum):
    """How the gradient is normalised: by the bias-corrected RMS as published, or ``|g| = 1``."""

    RMS = "rms"
    SIGN = "sign"


class Rounding(StrEnum):
    """Rounding of the step to whole weight LSBs."""

    NEAREST_EVEN = "nearest_even"
    STOCHASTIC = "stochastic"


class TableMethod(StrEnum):
    """How a Gaussian-logarithm table is held (`lns.tables.gauss_table`)."""

    DIRECT = "direct"
    INTERP = "interp"


class Zero(StrEnum):
    """How an LNS word encodes zero: the all-zero log field, or not at all."""

    RESERVED = "reserved"
    NONE = "none"


class Underflow(StrEnum):
    """What a magnitude below a format's smallest becomes: zero, or the smallest."""

    FLUSH = "flush"
    SATURATE = "saturate"


def parse(mode: type[StrEnum], name: str, value) -> StrEnum:
    """``value`` (a member or its string) as a member of ``mode``; otherwise ValueError
    ``"<name> must be one of a, b, not 'x'"``."""
    try:
        return mode(value)
    except (ValueError, TypeError):
        raise InvalidValue(f"{name} must be one of {', '.join(mode)}, not {value!r}") from None


def plain(value):
    """A mode as its plain ``str`` (anything else unchanged): what a dict for JSON or TOML
    holds, so a writer that checks ``type(v) is str`` sees what it always saw."""
    return value.value if isinstance(value, StrEnum) else value
