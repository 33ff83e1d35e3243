"""Degenerate constants: a hyperparameter whose rounded constant, the value the hardware
really holds, breaks the rule it belongs to.

A configuration states its hyperparameters as float64 (beta 0.9999, eps 1e-8), but the unit
holds each rounded once: an LNS unit the code ``RNE(log2(beta) 2**F)`` at its moment's ``F``
fractional bits, an IEEE unit the word of its format.  Rounding is usually harmless; it is
*degenerate* when the held value leaves the domain the configuration itself accepts (a decay
of 1.0, which it refuses as input: the moment then never decays; an eps of 0, so the update
divides by zero) or turns the rule into a no-op (every step rounds to 0).  Then the sidecar
and the tables would describe a unit that is not the one built.

Each rule lists its degenerate constants (`Rule._degenerate`, one `Degenerate` each).  A
configuration that has any is refused at construction with the first one's `error` (an
`InvalidValue` naming the value it became and the smallest format that holds it) unless it
opts in with ``allow_degenerate = True``; then `Rule.caveats` lists them, one line each, for
every table that shows the configuration.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

from .errors import InvalidType, InvalidValue

__all__ = ["Degenerate", "OPT_IN", "check", "check_new", "lns_decay", "decay_frac_bits",
           "MAX_LNS_FRAC_BITS"]

#: The field that opts a configuration in, as a config file spells it.
OPT_IN = "allow_degenerate"
#: `lns.LNSFormat`'s largest ``frac_bits``: a constant needing more fits no LNS word.
MAX_LNS_FRAC_BITS = 16


class Degenerate(NamedTuple):
    """One degenerate constant: the `caveat` (what the unit holds and its effect), the head
    of the error in the project's form (``"beta must be below ..., not 0.9999 (...)"``) and
    ``holds``, the smallest format that holds the value (the remedy the error names)."""

    field: str      # the configuration's field: "beta2" (also for its 1 - beta2)
    caveat: str     # "beta2 0.999 rounds to 1.0 in bf16: the second moment never decays"
    must: str       # "beta2 must be held by bf16 as less than 1.0, not 0.999 (...)"
    holds: str      # "fp16 is the smallest format that holds it"

    @property
    def error(self) -> str:
        return f"{self.must}; {self.holds}, or set {OPT_IN} = true to build it anyway"


def check(cfg) -> None:
    """Refuse ``cfg`` (a rule's configuration, at the end of its ``__post_init__``) when it
    has a degenerate constant and does not opt in; check the opt-in field's type."""
    allow = getattr(cfg, OPT_IN)
    if not isinstance(allow, bool):
        raise InvalidType(f"{OPT_IN} must be true or false, not {allow!r}")
    if not allow:
        found = cfg._degenerate()
        if found:
            raise InvalidValue(found[0].error)


def check_new(cfg, base) -> None:
    """Refuse ``cfg`` for a degenerate constant of a field that is not degenerate in
    ``base``, the preset ``cfg`` was derived from and whose opt-in it inherited (a config
    file laid over bf16_adam keeps its beta2 held as 1.0, but an lr that rounds to 0 is
    new)."""
    known = {d.field for d in base._degenerate()}
    found = [d for d in cfg._degenerate() if d.field not in known]
    if found:
        raise InvalidValue(found[0].error)


def _log2_code(value: float, frac_bits: int) -> int:
    from .tables import log2_constant_code
    return log2_constant_code(float(value), frac_bits)


def decay_frac_bits(value: float, at_least: int = 0) -> int | None:
    """The fewest fractional bits, from ``at_least``, at which a decay ``value`` is not held
    as 1.0 (``RNE(log2(value) 2**F) != 0``); None when no LNS word has enough."""
    return next((f for f in range(at_least, MAX_LNS_FRAC_BITS + 1)
                 if _log2_code(value, f) != 0), None)


def lns_decay(name: str, value: float, role: str, frac_bits: int,
              effect: str) -> Degenerate | None:
    """A decay ``value`` (beta, mu: in (0, 1)) held as ``RNE(log2(value) 2**frac_bits)`` in
    the ``role`` format (``"moment"``): degenerate when that code is 0, i.e. the unit
    multiplies by exactly 1.0 and ``effect`` follows; None when it holds.  The code is
    non-zero below ``2**-2**-(F + 1)`` (``log2(value) 2**F < -1/2``; -1/2 rounds to even 0)."""
    if _log2_code(value, frac_bits) != 0:
        return None
    need = decay_frac_bits(value, frac_bits + 1)
    if need is None:
        holds = (f"no LNS {role} holds it (it needs more than {MAX_LNS_FRAC_BITS} "
                 f"fractional bits)")
    else:
        holds = f"a {role} of {need} fractional bits holds it"
    where = f"a {role} of {frac_bits} fractional bits"
    limit = 2.0 ** -2.0 ** -(frac_bits + 1)
    return Degenerate(
        name, f"{name} {value!r} rounds to 1.0 in {where}: {effect}",
        f"{name} must be below 2**-2**-{frac_bits + 1} ({_below(limit)}) for {where} "
        f"(above, log2({name}) rounds to 0: it is held as 1.0 and {effect}), not {value!r}",
        holds)


def _below(limit: float) -> str:
    """``limit`` (just below 1) with its distance from 1 in three digits, rounded up: never
    shown above it, and close enough to tell which values hold."""
    gap = 1.0 - limit
    decimals = 2 - math.floor(math.log10(gap))
    return f"{1.0 - math.ceil(gap * 10 ** decimals) / 10 ** decimals:.{decimals}f}"


def step_lsbs(value: Fraction) -> str:
    """A step in weight LSBs for a message (``0.3125``)."""
    return f"{float(value):.4g}"
