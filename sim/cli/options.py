"""Argument types shared by the sub-commands: each checks a value as it is parsed, so bad
input is one line and exit 2 before any work starts (argparse turns the ``ValueError`` or
``ArgumentTypeError`` into the parser's error, which `sim.cli` prints as one line)."""

from __future__ import annotations

import argparse

__all__ = ["SEED_MAX", "seed", "bounded_int"]

SEED_MAX = 2**32 - 1            # numpy's legacy seeding and the LFSR seeds take 32 bits


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def seed(text: str) -> int:
    """A seed: a whole number from 0 to `SEED_MAX`."""
    value = _int(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{value} is not a seed: a seed is a whole number "
                                         f"from 0 to {SEED_MAX}")
    return value


def bounded_int(low: int, high: int, why: str = ""):
    """An argparse type: a whole number from ``low`` to ``high``; ``why`` (for example
    "the model holds every weight in memory") is said when the value is above ``high``."""
    def parse(text: str) -> int:
        value = _int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below the least value, {low:,}")
        if value > high:
            reason = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"{value:,} is above the largest value, "
                                             f"{high:,}{reason}")
        return value
    parse.__name__ = "whole number"               # argparse names the type in its message
    return parse
