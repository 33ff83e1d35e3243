"""Rules by name: the enum (`lns.modes.Optimizer`), any rule's configuration from JSON, and
the one update of words, all through the rule contract (`lns.rule.Rule`) and the registry
(`lns.registry`).  Nothing here asks which rule a configuration is.
"""

from __future__ import annotations

import json

from .errors import InvalidType
from .modes import Optimizer
from .registry import config_class
from .rule import Rule

__all__ = ["Optimizer", "optimizer_of", "config_class", "config_from_dict", "config_from_json",
           "describe", "output_roles", "update_words"]


def optimizer_of(cfg) -> Optimizer:
    """The rule of a configuration object (TypeError for anything that is not one)."""
    if not isinstance(cfg, Rule):
        raise InvalidType(f"cfg must be an optimizer configuration, not {type(cfg).__name__}")
    return cfg.optimizer


def config_from_dict(data: dict):
    """Any rule's configuration from its dict; ``"optimizer"`` picks the class (default
    ``madam``: sidecars written before the other rules existed have no such key)."""
    if not isinstance(data, dict):
        raise InvalidType(f"a config must be a mapping, not {type(data).__name__}")
    return config_class(data.get("optimizer", Optimizer.MADAM)).from_dict(data)


def config_from_json(text: str):
    return config_from_dict(json.loads(text))


def describe(cfg) -> dict:
    """A preset row for listings (JSON): the rule, the formats by role with their ranges,
    the hyperparameters (`Rule.describe`)."""
    return optimizer_of(cfg) and cfg.describe()


def output_roles(cfg) -> tuple:
    """The words ``cfg``'s update writes, in order."""
    return optimizer_of(cfg) and cfg.output_roles


def update_words(cfg, words: dict, t: int = 1, *, lfsr_state=None, held=None,
                 evaluator: str | None = None) -> dict:
    """One update of ``words`` by any rule (`Rule.update`)."""
    optimizer_of(cfg)
    return cfg.update(words, t, held, lfsr_state=lfsr_state, evaluator=evaluator)
