"""Training methods: one optimizer rule in one number system, as a value.

A *method* is ``Method(rule, number_system)``: ``rule`` an LNS rule of the registry
(`lns.registry.RULES`, number system ``"lns"``: Madam, Adam, SGD, Lion, ...) and
``number_system`` either ``"lns"`` (the bit-exact rule on LNS words, through the rule
contract `lns.rule.Rule`: `tensors.LNSTensor`) or ``"float"`` (the registry's float
reference of the rule, a `python_ref` class, in float64).  What a trainer needs is asked of
the method, and through it of the registry and the contract; nothing here or in the
trainers branches on which rule a method holds:

`key`
    The rows' ``"optimizer"`` string: the rule's name for a float method (``"adam"``,
    ``"lion"``), ``"lns_<rule>"`` for an LNS one (``"lns_adam"``, ``"lns_lion"``), except
    ``"lns"`` for LNS Madam, the key its rows have always had (``"lns_madam"`` is accepted
    as its alias).
`label`
    LNS: the registry's label (``"LNS Madam"``); float: the reference class's name
    (``"Adam"``, ``"Lion"``), with ``", base 2"`` when the reference takes a base (Madam is
    run in base 2, the LNS base).
`config(bits, **overrides)`
    The LNS configuration at a weight width: `lns.presets.for_bits`.
`float_optimizer(w0, lr, momentum=..., p_scale=...)`
    The float reference built with the hyperparameters it names (``lr``, or ``eta`` for a
    reference that calls its step size so; ``momentum``, ``base``, ``p_scale`` when it
    takes them).
`moves_zero`
    Whether the rule can move a zero weight, asked of the contract by one update of zero
    weights (`moves_zero`): Madam's step is multiplicative and cannot, so its runs leave the
    biases (which start at zero) to float Adam and raise its initial weights to the
    format's floor (`tensors.tensor_start`).

*Variants* (`LNS_VARIANTS`): an LNS rule built from another preset of the same rule, such
as LNS Madam with the sign normaliser (``"lns_sign"``: `lns.presets.for_bits` from
``lns8_sign``); a variant is parsed by its key and is not one of `METHODS` (the digits
table's rows), but `lnsmadam explore` trains it as a rule of its own.

`SUBJECT` is the rule the study is about (Madam): LNS Madam's rows follow their preset's
rounding and carry the extra gradient widths, and the verdicts compare every other rule with
it (`table`).  That is a choice of the comparison, not of the trainers.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lns import presets, registry
from lns.errors import InvalidValue
from lns.modes import Optimizer, parse

__all__ = ["Method", "LNS_VARIANTS", "SUBJECT", "NUMBER_SYSTEMS", "lns_rules", "moves_zero",
           "config_moves_zero", "default_lr", "FLOAT_METHODS", "LNS_METHODS", "METHODS",
           "LABELS", "KEYS"]

NUMBER_SYSTEMS = ("lns", "float")
SUBJECT = Optimizer.MADAM
BASE = 2                     # the LNS base: a float reference with a base runs in it

# The untuned float learning rates: Adam's customary 1e-3 (Kingma & Ba), the seed's SGD 0.1,
# Madam's and Lion's the eta of their 12-bit LNS preset (lns12: 2**-7; lns12_lion: 2**-11,
# half LNS Adam's, Lion's rate sitting below Adam's).  A rule not listed takes its float
# reference's own default.  Tuning (`tune`) replaces all of them.
_FLOAT_LR = {Optimizer.ADAM: 1e-3, Optimizer.SGD: 0.1, Optimizer.MADAM: 2.0 ** -7,
             Optimizer.LION: 2.0 ** -11}
# the row keys LNS rules have had since before the method objects
_LEGACY_KEYS = {"lns_madam": "lns"}
#: LNS variants: ``{key: (rule, the preset its configurations are built from, label)}``.
LNS_VARIANTS = {"lns_sign": (Optimizer.MADAM, "lns8_sign", "LNS Madam, sign normaliser")}


def lns_rules() -> list[Optimizer]:
    """The registered rules of the LNS number system, in registry order."""
    return [r for r in registry.rules() if registry.entry(r).number_system == "lns"]


@lru_cache(maxsize=None)
def _signature(cls) -> dict:
    return dict(inspect.signature(cls).parameters)


@dataclass(frozen=True)
class Method:
    """One optimizer rule in one number system (see the module docstring)."""

    rule: Optimizer
    number_system: str
    variant: str = ""           # a key of `LNS_VARIANTS`, or "" for the rule's own family

    def __post_init__(self):
        rule = parse(Optimizer, "rule", self.rule)
        if rule not in lns_rules():
            raise InvalidValue(f"a training method's rule must be one of "
                               f"{', '.join(lns_rules())}, not {str(rule)!r}")
        if self.number_system not in NUMBER_SYSTEMS:
            raise InvalidValue(f"number_system must be one of {', '.join(NUMBER_SYSTEMS)}, "
                               f"not {self.number_system!r}")
        object.__setattr__(self, "rule", rule)
        if self.variant and (self.variant not in LNS_VARIANTS or self.number_system != "lns"
                             or LNS_VARIANTS[self.variant][0] is not rule):
            raise InvalidValue(f"variant must be one of {', '.join(LNS_VARIANTS)} with its "
                               f"LNS rule, not {self.variant!r} of {self.number_system} "
                               f"{rule}")

    # ---- names --------------------------------------------------------------------------
    @classmethod
    def parse(cls, value) -> "Method":
        """A method from itself or its key (``"lns_madam"`` is LNS Madam's alias); the keys
        of `software.SOFTWARE` (``"adam8bit"``, ``"adam_bf16grad"``) give those methods."""
        from .software import SOFTWARE       # the float methods that are not a rule's twin
        from .units import UNIT_PRESETS, UnitMethod     # an IEEE unit's own arithmetic
        if isinstance(value, (Method, UnitMethod)) or value in SOFTWARE.values():
            return value
        if isinstance(value, str):
            found = KEYS.get(_LEGACY_KEYS.get(value, value)) or SOFTWARE.get(value)
            if found is not None:
                return found
            if value.startswith("unit_") and value[5:] in UNIT_PRESETS:
                return UnitMethod(value[5:])
            if value in LNS_VARIANTS:
                return Method(LNS_VARIANTS[value][0], "lns", value)
        names = (list(KEYS) + list(_LEGACY_KEYS) + list(LNS_VARIANTS)
                 + [f"unit_{p}" for p in UNIT_PRESETS] + list(SOFTWARE))
        raise InvalidValue(f"method must be one of {', '.join(names)}, not {value!r}")

    @property
    def is_lns(self) -> bool:
        return self.number_system == "lns"

    @property
    def key(self) -> str:
        """The rows' ``"optimizer"`` string."""
        if self.variant:
            return self.variant
        if not self.is_lns:
            return str(self.rule)
        key = f"lns_{self.rule}"
        return _LEGACY_KEYS.get(key, key)

    @property
    def alias(self) -> str:
        """``"<number system>_<rule>"`` for LNS (``"lns_madam"``), the key for float: the
        name a CNN run and an optax transformation go by."""
        return f"lns_{self.rule}" if self.is_lns else self.key

    @property
    def label(self) -> str:
        """For tables and plots: ``"LNS Madam"``, ``"Adam"``, ``"Madam, base 2"``."""
        if self.variant:
            return LNS_VARIANTS[self.variant][2]
        if self.is_lns:
            return registry.entry(self.rule).label
        text = self.reference.__name__
        return text + (f", base {BASE}" if "base" in _signature(self.reference) else "")

    def __str__(self) -> str:
        return self.key

    @property
    def twin(self) -> "Method":
        """The same rule in the other number system."""
        return Method(self.rule, "float" if self.is_lns else "lns")

    # ---- what the rule brings -----------------------------------------------------------
    @property
    def reference(self) -> type:
        """The registry's float reference class of the rule (`python_ref`)."""
        return registry.load(self.rule, "reference")

    @property
    def moves_zero(self) -> bool:
        """Whether the rule can move a zero weight (`moves_zero`)."""
        return moves_zero(self.rule)

    @property
    def takes_momentum(self) -> bool:
        """Whether the float reference has a momentum to choose (tuned as a hyperparameter)."""
        return not self.is_lns and "momentum" in _signature(self.reference)

    def config(self, bits: int = 12, **overrides):
        """The rule's LNS configuration at a ``bits``-bit weight (`lns.presets.for_bits`;
        a variant's from its preset)."""
        if self.variant:
            overrides = {"base": LNS_VARIANTS[self.variant][1], **overrides}
        return presets.for_bits(self.rule, bits, **overrides)

    @property
    def default_lr(self) -> float:
        """The untuned learning rate: the 12-bit preset's eta (LNS), the float table's, or
        the float reference's own default."""
        if self.is_lns:
            return self.config().eta
        if self.rule in _FLOAT_LR:
            return _FLOAT_LR[self.rule]
        params = _signature(self.reference)
        return float(params["lr" if "lr" in params else "eta"].default)

    def float_optimizer(self, w0, lr: float, *, momentum: float = 0.9, p_scale=...):
        """The float reference of the rule on ``w0`` with step size ``lr`` (see the module
        docstring); ``p_scale``: a clip's ``sigma* / RMS(w0)`` (None: no clip; omitted: the
        reference's default), passed only to a reference that takes one."""
        if self.is_lns:
            raise InvalidValue(f"{self.label} is not a float method")
        params = _signature(self.reference)
        kw = {"lr" if "lr" in params else "eta": lr}
        if "momentum" in params:
            kw["momentum"] = momentum
        if "base" in params:
            kw["base"] = BASE
        if "p_scale" in params and p_scale is not ...:
            kw["p_scale"] = p_scale
        return self.reference(w0, **kw)


@lru_cache(maxsize=None)
def moves_zero(rule) -> bool:
    """Whether ``rule`` can move a zero weight, asked of the contract: one update of zero
    weight words (``initial_words`` of zeros) by a unit gradient, at the rule's 12-bit
    preset.  Additive rules step by eta and move it; Madam multiplies and cannot."""
    return config_moves_zero(presets.for_bits(rule, 12))


def config_moves_zero(cfg) -> bool:
    """Whether the rule of configuration ``cfg`` moves a zero weight (`moves_zero`'s probe
    on ``cfg`` itself)."""
    w0 = np.zeros(16)
    words = cfg.initial_words(w0)
    words["g"] = cfg.encode_words("g", np.ones(16))
    out = cfg.update(words, 1, cfg.held(1), lfsr_state=cfg.lane_state(1))
    return bool(np.any(out["w"] != np.asarray(words["w"]).ravel()))


def default_lr(method) -> float:
    return Method.parse(method).default_lr


def _order() -> list[Method]:
    # float rows: the other rules in registry order, then the subject's float twin (next to
    # its LNS rows); LNS rows in registry order (the subject first)
    rules = lns_rules()
    floats = [Method(r, "float") for r in rules if r is not SUBJECT] + [Method(SUBJECT, "float")]
    return floats + [Method(r, "lns") for r in rules]


METHODS = tuple(_order())
FLOAT_METHODS = tuple(m for m in METHODS if not m.is_lns)
LNS_METHODS = tuple(m for m in METHODS if m.is_lns)
KEYS = {m.key: m for m in METHODS}
LABELS = {m.key: m.label for m in METHODS}
