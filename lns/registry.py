"""The one registry of rules: the enum member -> what the rule brings.

Each entry names, as ``"module:attribute"`` strings resolved on first use, the rule's
configuration class (`lns`), its RTL lane unit (`rtl`; `rtl.array.UpdateArray` puts
``lanes`` of them behind the one stream), its test-vector recipe (`testbench`),
its float reference (`python_ref`) and its operation-count function.  Strings, not imports:
`lns` imports without Amaranth or a simulator, and the dependencies still run one way
(knowledge <- gateware <- applications); only the layer that needs a part loads it.

A new rule is its own files plus one line here (and its enum member in `lns.modes`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import InvalidValue
from .modes import Optimizer, parse

__all__ = ["RuleEntry", "RULES", "entry", "load", "config_class", "rules"]


@dataclass(frozen=True)
class RuleEntry:
    """What one rule brings (each part ``"module:attribute"``)."""

    label: str              # for tables and plots: "LNS Madam"
    number_system: str      # "lns" or "ieee"
    config: str             # the configuration class (implements `lns.rule.Rule`)
    unit: str               # the RTL lane: one update a beat, ``stages_of(cfg)``
    recipe: str             # the test vectors: a `testbench.recipes` module
    reference: str          # the float reference optimizer class (`python_ref`)
    operations: str         # operation counts of one update: ``f(cfg) -> dict``
    module_prefix: str      # the generated module's name: ``<prefix>_<preset>_x<lanes>``


def _rule(label, ns, config, unit, recipe, reference, operations, prefix) -> RuleEntry:
    return RuleEntry(label, ns, config, unit, "testbench.recipes." + recipe, reference,
                     "sim.analysis.ops:" + operations, prefix)


RULES: dict[Optimizer, RuleEntry] = {   # one line a rule
    Optimizer.MADAM: _rule("LNS Madam", "lns", "lns.rules.madam:MadamConfig", "rtl.unit:MadamUpdateUnit", "madam", "python_ref.madam:Madam", "madam_operation_counts", "lnsmadam"),  # noqa: E501
    Optimizer.ADAM: _rule("LNS Adam", "lns", "lns.rules.adam:AdamConfig", "rtl.additive_unit:AdamUpdateUnit", "additive", "python_ref.adam:Adam", "additive_operation_counts", "lnsadam"),  # noqa: E501
    Optimizer.SGD: _rule("LNS SGD", "lns", "lns.rules.sgd:SGDConfig", "rtl.additive_unit:SGDUpdateUnit", "additive", "python_ref.sgd:SGD", "additive_operation_counts", "lnssgd"),  # noqa: E501
    Optimizer.LION: _rule("LNS Lion", "lns", "lns.rules.lion:LionConfig", "rtl.lion_unit:LionUpdateUnit", "additive", "python_ref.lion:Lion", "lion_operation_counts", "lnslion"),  # noqa: E501
    Optimizer.FLOAT_ADAM: _rule("IEEE Adam", "ieee", "lns.rules.ieee_adam:FloatAdamConfig", "rtl.float_adam:FloatAdamUnit", "float_adam", "python_ref.adam:Adam", "float_unit_operation_counts", "floatadam"),  # noqa: E501
    Optimizer.FLOAT_ADAM_FAST: _rule("IEEE Adam (efficient)", "ieee", "lns.rules.ieee_adam_fast:FloatAdamFastConfig", "rtl.float_program:FloatProgramUnit", "float_adam", "python_ref.adam:Adam", "float_unit_operation_counts", "floatadamfast"),  # noqa: E501
    Optimizer.MP_ADAM: _rule("Mixed-precision Adam", "ieee", "lns.rules.ieee_mp_adam:MixedAdamConfig", "rtl.float_program:FloatProgramUnit", "float_adam", "python_ref.adam:Adam", "float_unit_operation_counts", "mpadam"),  # noqa: E501
    Optimizer.FLOAT_MADAM: _rule("IEEE Madam", "ieee", "lns.rules.ieee_madam:FloatMadamConfig", "rtl.float_program:FloatProgramUnit", "float_madam", "python_ref.madam:Madam", "float_unit_operation_counts", "floatmadam"),  # noqa: E501
}


def rules() -> list[Optimizer]:
    """Every registered rule, in registry order."""
    return list(RULES)


def entry(rule) -> RuleEntry:
    """The registry entry of ``rule`` (a member or its string, or a configuration)."""
    rule = getattr(rule, "OPTIMIZER", rule)
    rule = parse(Optimizer, "optimizer", rule)
    if rule not in RULES:
        raise InvalidValue(f"optimizer must be one of {', '.join(RULES)}, not {rule!r}")
    return RULES[rule]


_LOADED: dict = {}


def load(rule, part: str):
    """The object ``part`` (a `RuleEntry` field) of ``rule``, imported on first use."""
    path = getattr(entry(rule), part)
    if path not in _LOADED:
        module, _, attr = path.partition(":")
        obj = importlib.import_module(module)
        _LOADED[path] = getattr(obj, attr) if attr else obj
    return _LOADED[path]


def config_class(rule) -> type:
    """The configuration class of ``rule``."""
    return load(rule, "config")
