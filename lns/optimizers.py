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

The float baseline (issue 11) is a rule of its own, `Optimizer.FLOAT_ADAM`: IEEE Adam on
words of one `lns.ieee.FloatFormat` (`lns.ieee.adam`).  Its configuration,
`lns.ieee.adam.FloatAdamConfig`, predates this contract, so `FloatAdamRule` adds it (the
rule, the word roles, the words a beat moves, JSON) without restating a constant; every
function here takes either class (`as_rule`).
"""

from __future__ import annotations

import json
from enum import StrEnum

from .errors import InvalidType, InvalidValue
from .ieee.adam import FloatAdamConfig as _FloatAdamConfig

__all__ = ["Optimizer", "optimizer_of", "config_class", "config_from_dict", "config_from_json",
           "describe", "output_roles", "update_words", "FloatAdamRule", "as_rule", "is_float",
           "FLOAT_EVALUATORS"]


class Optimizer(StrEnum):
    """The update rule a configuration describes."""

    MADAM = "madam"     # multiplicative: an integer add to the weight's log
    ADAM = "adam"       # additive: w - eta m_hat / (sqrt(v_hat) + eps) through sb/db
    SGD = "sgd"         # additive: w - eta m, m = mu m + g
    FLOAT_ADAM = "float_adam"   # IEEE Adam, 14 correctly rounded operations (lns.ieee.adam)


def is_float(cfg) -> bool:
    """Whether ``cfg`` is a float Adam configuration (`FloatAdamConfig` or `FloatAdamRule`)."""
    return isinstance(cfg, _FloatAdamConfig)


def as_rule(cfg):
    """``cfg`` with the rule contract: a `FloatAdamConfig` becomes its `FloatAdamRule`
    (the same fields), anything else is returned as it is."""
    if is_float(cfg) and not isinstance(cfg, FloatAdamRule):
        return FloatAdamRule.of(cfg)
    return cfg


def config_class(rule) -> type:
    """The configuration class of ``rule`` (a member or its string)."""
    from .adam import AdamConfig
    from .config import MadamConfig
    from .modes import parse
    from .sgd import SGDConfig
    rule = parse(Optimizer, "optimizer", rule)
    return {Optimizer.MADAM: MadamConfig, Optimizer.ADAM: AdamConfig,
            Optimizer.SGD: SGDConfig, Optimizer.FLOAT_ADAM: FloatAdamRule}[rule]


def optimizer_of(cfg) -> Optimizer:
    """The rule of a configuration object (MadamConfig predates the ``optimizer`` field)."""
    from .config import MadamConfig
    if isinstance(cfg, MadamConfig):
        return Optimizer.MADAM
    if is_float(cfg):
        return Optimizer.FLOAT_ADAM
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
    if rule is Optimizer.FLOAT_ADAM:
        cfg = as_rule(cfg)
        return {"name": cfg.name, "optimizer": str(rule), "format": cfg.fmt.to_dict(),
                "lr": cfg.lr, "beta1": cfg.beta1, "beta2": cfg.beta2, "eps": cfg.eps,
                "constants": cfg.to_dict()["constants"], "operations": len(cfg.operations)}
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
    """The words an additive rule's update writes, in order: ``w, m[, v]`` (float Adam:
    ``w, m, v``)."""
    return tuple(k for k in as_rule(cfg).WORD_ROLES if k != "g")


def update_words(cfg, words: dict, t: int = 1, *, lfsr_state=None,
                 evaluator: str = "numba") -> dict:
    """One Adam or SGD update of the words ``{"w", "g", "m"[, "v"]}``: ``{"w", "m"[, "v"]}``
    as flat int64 arrays (`lns.adam_update` / `lns.sgd_update`; ``t`` only for Adam).

    Float Adam: `lns.ieee.adam.float_adam_update` with step ``t``'s bias-correction words
    (``cfg.bias_correction_words(t)``); ``evaluator`` ``"python"`` is the exact path,
    ``"numpy"`` (or ``"numba"``, the additive rules' default) the numpy path."""
    from .adam import adam_update
    from .sgd import sgd_update
    rule = optimizer_of(cfg)
    if rule is Optimizer.FLOAT_ADAM:
        from .ieee.adam import float_adam_update
        impl = FLOAT_EVALUATORS.get(evaluator)
        if impl is None:
            raise InvalidValue(f"evaluator must be one of {', '.join(FLOAT_EVALUATORS)} for "
                               f"float Adam, not {evaluator!r}")
        k1, k2 = cfg.bias_correction_words(t)
        out = float_adam_update(cfg, *(_float_words(cfg, words, k) for k in "wgmv"), k1, k2,
                                impl=impl)
    elif rule is Optimizer.ADAM:
        out = adam_update(cfg, words["w"], words["g"], words["m"], words["v"], t,
                          lfsr_state=lfsr_state, evaluator=evaluator)
    elif rule is Optimizer.SGD:
        out = sgd_update(cfg, words["w"], words["g"], words["m"], lfsr_state=lfsr_state,
                         evaluator=evaluator)
    else:
        raise InvalidValue(f"update_words takes the additive rules, not {rule}")
    import numpy as np
    return {k: np.asarray(a, dtype=np.int64).ravel() for k, a in zip(output_roles(cfg), out)}


# The float Adam evaluators: the exact path (integers, one rounding function) and numpy's
# correctly rounded float32 / bfloat16 arithmetic (`lns.ieee.ops`).
FLOAT_EVALUATORS = {"python": "exact", "numpy": "numpy", "numba": "numpy"}


def _float_words(cfg, words: dict, key: str):
    import numpy as np
    from .ieee.fast import word_dtype
    a = np.asarray(words[key])
    if a.ndim == 0:
        return int(a)
    if a.size and (int(a.min()) < 0 or int(a.max()) > cfg.fmt.word_mask):
        raise InvalidValue(f"{key} must hold {cfg.fmt.name} words in 0..{cfg.fmt.word_mask:#x}")
    return a.astype(word_dtype(cfg.fmt)).ravel()


class FloatAdamRule(_FloatAdamConfig):
    """A `lns.ieee.adam.FloatAdamConfig` with the contract every rule's configuration
    shares: ``optimizer``, ``WORD_ROLES`` (every word is of ``fmt``), ``update_words`` /
    ``update_bits`` (what a beat reads and writes), ``is_stochastic`` (never: IEEE rounds
    to nearest even), ``operations`` (the fixed sequence, `lns.ieee.adam.OPERATIONS`),
    ``to_dict``/``from_dict``/``to_json``.  Its fields and constants are
    `FloatAdamConfig`'s (``constants``, ``bias_correction_words``)."""

    optimizer = Optimizer.FLOAT_ADAM
    WORD_ROLES = {"w": "fmt", "g": "fmt", "m": "fmt", "v": "fmt"}
    FORMAT_ROLES = ("fmt",)
    is_stochastic = False
    HYPER = ("lr", "beta1", "beta2", "eps")

    @classmethod
    def of(cls, cfg) -> "FloatAdamRule":
        """The rule of a `FloatAdamConfig` (the same fields)."""
        if isinstance(cfg, cls):
            return cfg
        if not isinstance(cfg, _FloatAdamConfig):
            raise InvalidType(f"cfg must be a FloatAdamConfig, not {type(cfg).__name__}")
        return cls(cfg.fmt, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.name)

    @property
    def operations(self) -> tuple:
        from .ieee.adam import OPERATIONS
        return OPERATIONS

    @property
    def update_words(self) -> tuple:
        """``(read, written)`` word roles of one update."""
        return ("w", "g", "m", "v"), ("w", "m", "v")

    @property
    def update_bits(self) -> tuple:
        """``(bits read, bits written)`` by one update: four and three words of ``fmt``."""
        read, written = self.update_words
        n = self.fmt.total_bits
        return len(read) * n, len(written) * n

    def to_dict(self) -> dict:
        return {**super().to_dict(), "optimizer": str(self.optimizer)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "FloatAdamRule":
        """From `to_dict`'s dict (``constants`` are derived, so ignored; ``format`` a
        preset name or ``{"exp_bits", "frac_bits"[, "name"]}``)."""
        from .ieee.format import FLOAT_FORMATS, FloatFormat
        if not isinstance(data, dict):
            raise InvalidType(f"a config must be a mapping, not {type(data).__name__}")
        known = {"name", "format", "lr", "beta1", "beta2", "eps", "constants", "optimizer"}
        extra = sorted(set(data) - known)
        if extra:
            raise InvalidValue(f"unknown float Adam config field(s): {', '.join(extra)}")
        f = data.get("format")
        if isinstance(f, str) and f in FLOAT_FORMATS:
            fmt = FLOAT_FORMATS[f]
        elif isinstance(f, dict) and "exp_bits" in f and "frac_bits" in f:
            fmt = FloatFormat(f["exp_bits"], f["frac_bits"], f.get("name", ""))
            if fmt.name in FLOAT_FORMATS and FLOAT_FORMATS[fmt.name] != fmt:
                raise InvalidValue(f"format {fmt.name} must be {FLOAT_FORMATS[fmt.name]}")
        else:
            raise InvalidValue(f"format must be one of {', '.join(FLOAT_FORMATS)} or a table "
                               f"with exp_bits and frac_bits, not {f!r}")
        kw = {k: data[k] for k in ("lr", "beta1", "beta2", "eps", "name") if k in data}
        return cls(fmt, **kw)
