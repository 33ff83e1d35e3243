"""The optimizer rules on the LNS datapath, and what every rule's configuration shares.

One enum names the rule (`Optimizer`); each rule has its own frozen configuration class
(`lns.config.MadamConfig`, `lns.adam.AdamConfig`, `lns.sgd.SGDConfig`) with the same
contract: validated at construction, a ``params`` NamedTuple for the Numba kernel, JSON
through ``to_dict``/``from_dict``/``to_json``.  `config_from_dict` rebuilds any rule's
configuration from its JSON (the ``"optimizer"`` key says which; a dict without it is a
Madam configuration, as every sidecar written before the other rules existed).

A fourth rule costs: an enum member, a configuration class (the validation and JSON helpers
of `lns.additive` do most of it), its moment update and its step's log code; the additive
weight step (`lns.additive`) and the tables are shared.
"""

from __future__ import annotations

import json
from enum import StrEnum

from .errors import InvalidType, InvalidValue

__all__ = ["Optimizer", "optimizer_of", "config_class", "config_from_dict", "config_from_json",
           "describe", "output_roles", "update_words"]


class Optimizer(StrEnum):
    """The update rule a configuration describes."""

    MADAM = "madam"     # multiplicative: an integer add to the weight's log
    ADAM = "adam"       # additive: w - eta m_hat / (sqrt(v_hat) + eps) through sb/db
    SGD = "sgd"         # additive: w - eta m, m = mu m + g


def config_class(rule) -> type:
    """The configuration class of ``rule`` (a member or its string)."""
    from .adam import AdamConfig
    from .config import MadamConfig
    from .modes import parse
    from .sgd import SGDConfig
    rule = parse(Optimizer, "optimizer", rule)
    return {Optimizer.MADAM: MadamConfig, Optimizer.ADAM: AdamConfig,
            Optimizer.SGD: SGDConfig}[rule]


def optimizer_of(cfg) -> Optimizer:
    """The rule of a configuration object (MadamConfig predates the ``optimizer`` field)."""
    from .config import MadamConfig
    if isinstance(cfg, MadamConfig):
        return Optimizer.MADAM
    rule = getattr(cfg, "optimizer", None)
    if not isinstance(rule, Optimizer):
        raise InvalidType(f"cfg must be an optimizer configuration, not {type(cfg).__name__}")
    return rule


def config_from_dict(data: dict):
    """Any rule's configuration from its dict; ``"optimizer"`` picks the class (default
    ``madam``)."""
    if not isinstance(data, dict):
        raise InvalidType(f"a config must be a mapping, not {type(data).__name__}")
    rule = data.get("optimizer", Optimizer.MADAM)
    cls = config_class(rule)
    if cls.__name__ == "MadamConfig":
        return cls.from_dict({k: v for k, v in data.items() if k != "optimizer"})
    return cls.from_dict(data)


def config_from_json(text: str):
    return config_from_dict(json.loads(text))


def describe(cfg) -> dict:
    """A preset row for listings (JSON): the rule, the formats with their ranges, the
    hyperparameters of the step."""
    rule = optimizer_of(cfg)
    if rule is Optimizer.MADAM:
        raise InvalidValue("describe lists the additive rules; Madam rows come from "
                           "sim.analysis.demo.describe")
    row = {"name": cfg.name, "optimizer": str(rule)}
    for role in cfg.FORMAT_ROLES:
        f = getattr(cfg, role)
        row[role] = {"format": f.name, "bits": f.total_bits, "frac_bits": f.frac_bits,
                     "min": f.min_value, "max": f.max_value}
    row.update(rounding=str(cfg.rounding), table=str(cfg.table), eta=cfg.eta,
               eta_log2=cfg.eta_log2, guard_bits=cfg.guard_bits,
               step_frac_bits=cfg.acc_frac_bits)
    row.update({k: getattr(cfg, k) for k in cfg.HYPER})
    return row


def output_roles(cfg) -> tuple:
    """The words an additive rule's update writes, in order: ``w, m[, v]``."""
    return tuple(k for k in cfg.WORD_ROLES if k != "g")


def update_words(cfg, words: dict, t: int = 1, *, lfsr_state=None,
                 evaluator: str = "numba") -> dict:
    """One Adam or SGD update of the words ``{"w", "g", "m"[, "v"]}``: ``{"w", "m"[, "v"]}``
    as flat int64 arrays (`lns.adam_update` / `lns.sgd_update`; ``t`` only for Adam)."""
    from .adam import adam_update
    from .sgd import sgd_update
    rule = optimizer_of(cfg)
    if rule is Optimizer.ADAM:
        out = adam_update(cfg, words["w"], words["g"], words["m"], words["v"], t,
                          lfsr_state=lfsr_state, evaluator=evaluator)
    elif rule is Optimizer.SGD:
        out = sgd_update(cfg, words["w"], words["g"], words["m"], lfsr_state=lfsr_state,
                         evaluator=evaluator)
    else:
        raise InvalidValue(f"update_words takes the additive rules, not {rule}")
    import numpy as np
    return {k: np.asarray(a, dtype=np.int64).ravel() for k, a in zip(output_roles(cfg), out)}
