"""Argument types shared by the sub-commands: each checks a value as it is parsed, so bad
input is one line and exit 2 before any work starts (argparse turns the ``ValueError`` or
``ArgumentTypeError`` into the parser's error, which `sim.cli` prints as one line)."""

from __future__ import annotations

import argparse

__all__ = ["SEED_MAX", "seed", "bounded_int", "TRACKED_BYTES_PER_WEIGHT",
           "TRACKED_WEIGHTS_MAX", "tracked_weights", "SEEDS_MAX", "EPOCHS_MAX",
           "TRAIN_LIMIT_WHY", "TRACKED_WORK_MAX", "check_tracked_work"]

SEED_MAX = 2**32 - 1            # numpy's legacy seeding and the LFSR seeds take 32 bits

#: Peak bytes a weight of a tracking run (`sim.analysis.tracking.track`, what ``demo`` and
#: ``sweep`` run on ``--weights`` weights): 232 for every Madam preset, measured with
#: tracemalloc at 10**6 weights, rounded up (tests/test_cli_hostile.py measures it again).
TRACKED_BYTES_PER_WEIGHT = 240
#: The most weights of a tracking run: 2.4 GB, which a machine running the tool has.
TRACKED_WEIGHTS_MAX = 10**7
#: The most weight-steps (``--weights`` x ``--steps``) of a tracking run: memory does not
#: grow with the steps, but time does: a run updates 3-7 M weights a second (lns12, measured
#: on this project's 2-core machine), so 10**12 is 2-4 days.
TRACKED_WORK_MAX = 10**12
TRACKED_WORK_WHY = "a tracking run updates 3-7 M weights a second: 2-4 days at the limit"


def check_tracked_work(weights: int, steps: int) -> None:
    """Refuse ``--weights`` x ``--steps`` above `TRACKED_WORK_MAX` (one line, exit 2)."""
    from .commands import UsageError
    if weights * steps > TRACKED_WORK_MAX:
        raise UsageError(f"--weights x --steps must be at most {TRACKED_WORK_MAX:,} "
                         f"({TRACKED_WORK_WHY}), not {weights * steps:,}")


#: ``train``: the most seeds and epochs.  Every run keeps its per-epoch curves (five lists
#: of floats, 32 bytes a value) in the result: the full table's 40 rows at both limits hold
#: about 0.7 GB of them (and its JSON as much again), and train for about a week.
SEEDS_MAX = 100
EPOCHS_MAX = 1000
TRAIN_LIMIT_WHY = "every run keeps its per-epoch curves: about 1.5 GB at both limits"


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


def tracked_weights(text: str) -> int:
    """``--weights`` of a tracking run (``demo``, ``sweep``): 1 to `TRACKED_WEIGHTS_MAX`."""
    gb = TRACKED_BYTES_PER_WEIGHT * TRACKED_WEIGHTS_MAX / 1e9
    return bounded_int(1, TRACKED_WEIGHTS_MAX,
                       f"a tracking run holds about {TRACKED_BYTES_PER_WEIGHT} bytes a weight: "
                       f"{gb:.1f} GB at the limit")(text)


tracked_weights.__name__ = "whole number"
