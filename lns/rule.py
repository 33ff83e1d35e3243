"""The one rule contract: what every optimizer-in-a-number-system configuration provides.

A *rule* is one optimizer in one number system (LNS Madam, LNS Adam, LNS SGD with momentum,
LNS Lion, IEEE Adam, ...).  Its configuration class inherits `Rule` and sets the class
attributes below; everything outside the rule's own files (the update array, the testbench,
the streaming and campaigns, the cycle simulation, the cost, the report, the training) works
through this contract and the registry (`lns.registry`), and never asks which rule it holds.

Class attributes a rule sets
----------------------------
OPTIMIZER : lns.modes.Optimizer
    The rule's enum member (``cfg.optimizer``).
WORD_ROLES : dict
    ``{word key: attribute}``: the words of one element a beat carries, in port order
    (``"w"``, ``"g"``, then the state), each with the attribute holding its format
    (`lns.LNSFormat` or `lns.ieee.FloatFormat`).
HELD : tuple
    The per-step inputs held with every beat (ports of the unit, constant over a step):
    Madam ``("x_bc", "clip")``, LNS Adam ``("x_bc1", "x_bc2")``, IEEE Adam ``("k1", "k2")``,
    SGD and Lion none.
MODEL : str
    The model function a report names (``"lns.madam_update"``).
EVALUATORS : tuple
    The model's evaluators: the exact scalar reference first (``"python"``), then the fast
    one, which is the testbench's expectation (`reference_evaluator`).

Methods a rule implements
-------------------------
``update(words, t, held, lfsr_state, evaluator)``, ``held(t, clip=None)``,
``held_range(port)``, ``to_dict``/``from_dict``; the rest below has a default that the
rule may refine (`update_words` when a word passes through unwritten).

Degenerate constants (`lns.degenerate`)
---------------------------------------
Every rule's configuration has the field ``allow_degenerate`` (default False) and calls
`lns.degenerate.check` last in its ``__post_init__``: a hyperparameter whose rounded
constant breaks the rule (a decay held as 1.0, an IEEE eps held as 0, a step that always
rounds to 0) is an `InvalidValue` naming the value it became and the smallest format that
holds it, unless the configuration opts in.  `caveats` lists what such a unit really holds,
one line each, for the tables and listings; a rule lists its cases in `_degenerate`.
"""

from __future__ import annotations

import json

import numpy as np

from .errors import InvalidType, InvalidValue

__all__ = ["Rule", "BYTE", "format_row", "table_row", "check_config", "fields_from_dict",
           "check_derived"]

BYTE = 8
# What a listing row (`Rule.describe`) adds that is text, not a number a user would edit:
# accepted back in a config and ignored (recomputed from the fields).
_DESCRIPTIVE = ("caveats", "constants")


def format_row(fmt) -> dict:
    """A word format for a preset listing: its name, bits, fields and range."""
    row = {"format": fmt.name, "bits": fmt.total_bits}
    for key in ("int_bits", "exp_bits", "frac_bits", "bias"):
        if hasattr(fmt, key):
            row[key] = getattr(fmt, key)
    row.update(min=float(fmt.min_value), max=float(fmt.max_value))
    return row


def check_config(cfg, cls, what: str):
    """``cfg`` if it is a ``cls``; otherwise InvalidType ``"cfg must be <what>, not <type>"``
    (``what`` with its article: ``"an AdamConfig"``).  The one check a rule's own functions
    make of the configuration they are given."""
    if not isinstance(cfg, cls):
        raise InvalidType(f"cfg must be {what}, not {type(cfg).__name__}")
    return cfg


def fields_from_dict(cls, data, parse_format) -> tuple[dict, dict]:
    """A rule's ``from_dict``: ``(keyword arguments of cls, derived keys given)`` from
    ``data`` (`to_dict`'s table, or a listing row of `describe`, so the output of
    ``lnsmadam presets --json`` loads as a config).  Checks the rule (``"optimizer"``), names
    every valid field when one is unknown, and parses each of ``cls.FORMAT_ROLES`` with
    ``parse_format`` (its error prefixed with the role).  The derived keys (``cls.DERIVED``:
    eta, table bits, ...) are returned for `check_derived` once the configuration exists."""
    from dataclasses import fields
    if not isinstance(data, dict):
        raise InvalidType(f"a {cls.__name__} must be a mapping, not {type(data).__name__}")
    kwargs = dict(data)
    rule = kwargs.pop("optimizer", str(cls.OPTIMIZER))
    if rule != str(cls.OPTIMIZER):
        raise InvalidValue(f"optimizer must be {str(cls.OPTIMIZER)!r} for {cls.__name__}, "
                           f"not {rule!r}")
    known = [f.name for f in fields(cls) if f.init]
    derived = {k: kwargs.pop(k) for k in (*cls.DERIVED, *_DESCRIPTIVE) if k in kwargs}
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise InvalidValue(f"unknown config field {unknown[0]!r} (the fields of "
                           f"{cls.__name__} are {', '.join(known)})")
    for role in cls.FORMAT_ROLES:
        if role not in kwargs:
            raise InvalidValue(f"config needs a {role} format")
        try:
            kwargs[role] = parse_format(kwargs[role])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{role} {exc}") from None
    return kwargs, derived


def check_derived(cfg, derived: dict):
    """``cfg``, after checking that each derived key a config gave (a listing row's ``eta``,
    table bits, ...) is what ``cfg`` derives: a changed one would otherwise be ignored."""
    row = cfg.describe()
    for key, given in derived.items():
        if key in _DESCRIPTIVE:
            continue
        want = row[key]
        if given != want or isinstance(given, bool):
            raise InvalidValue(f"{key} must be {want!r} (it follows from the other fields; "
                               f"set those instead), not {given!r}")
    return cfg


def table_row(t) -> dict:
    """A Gaussian-logarithm table (`lns.tables.GaussTable`) for a sidecar: how it is held,
    its entries and bits."""
    return {"method": str(t.method), "entries_near": len(t.near),
            "entries_nodes": len(t.nodes), "bits": int(t.bits)}


class Rule:
    """The contract every rule's configuration implements (see the module's doc)."""

    OPTIMIZER = None
    WORD_ROLES: dict = {}
    HELD: tuple = ()
    EVALUATORS: tuple = ("python", "numba")
    MODEL: str = ""
    #: Keys of `describe` derived from the fields (accepted by `from_dict`, and checked)
    DERIVED: tuple = ()

    # ---- what a beat carries ------------------------------------------------------------
    @property
    def optimizer(self):
        """The rule's enum member (`lns.modes.Optimizer`)."""
        return self.OPTIMIZER

    @property
    def word_formats(self) -> dict:
        """``{word key: format}`` in port order."""
        return {k: getattr(self, role) for k, role in self.WORD_ROLES.items()}

    @property
    def update_words(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(read, written)``: the words one lane-update moves (every word read; all but
        the gradient written)."""
        read = tuple(self.WORD_ROLES)
        return read, tuple(k for k in read if k != "g")

    @property
    def output_roles(self) -> tuple[str, ...]:
        """The words `update` returns and the unit's ``out_`` ports carry, in port order:
        every word but the gradient (a word the rule does not write, such as Madam's ``v``
        with the sign normaliser, passes through unchanged)."""
        return tuple(k for k in self.WORD_ROLES if k != "g")

    @property
    def word_bits(self) -> dict[str, int]:
        """Bits of each word kind."""
        return {k: f.total_bits for k, f in self.word_formats.items()}

    @property
    def update_bits(self) -> tuple[int, int]:
        """``(bits read, bits written)`` by one lane-update (`update_words`)."""
        size = self.word_bits
        read, write = self.update_words
        return sum(size[k] for k in read), sum(size[k] for k in write)

    @property
    def update_bytes(self) -> float:
        """Bytes one update moves to and from memory (read + written)."""
        return sum(self.update_bits) / BYTE

    @property
    def is_stochastic(self) -> bool:
        """Whether a lane holds an LFSR (stochastic rounding)."""
        return False

    @property
    def reference_evaluator(self) -> str:
        """The fast evaluator, whose outputs every other evaluator is compared with."""
        return self.EVALUATORS[-1]

    def lane_state(self, lanes: int, seed: int = 0):
        """The lanes' LFSR registers at the start of a tensor (`lns.lane_seeds`), or None
        when the rule rounds deterministically."""
        if not self.is_stochastic:
            return None
        from .lfsr import lane_seeds
        return np.array(lane_seeds(seed, lanes), dtype=np.int64)

    def caveats(self) -> tuple[str, ...]:
        """What the hardware really holds where a rounded constant is degenerate, one line
        each (``"beta2 0.999 rounds to 1.0 in bf16: the second moment never decays"``);
        empty for every configuration that does not opt in with ``allow_degenerate``."""
        return tuple(d.caveat for d in self._degenerate())

    def _degenerate(self) -> list:
        """The rule's degenerate constants (`lns.degenerate.Degenerate`), in field order;
        none by default."""
        return []

    def rom_tables(self) -> dict:
        """The ROMs the hardware holds, by role, for the sidecar and the cost: ``{role:
        {"method", "entries_near", "entries_nodes", "bits"}}`` (none by default)."""
        return {}

    def weight_range(self) -> tuple[float, float]:
        """``(smallest, largest)`` positive magnitude a weight word holds: the weight
        format's (a rule that never keeps some words, as flush to zero keeps no subnormal,
        says so)."""
        w = self.word_formats["w"]
        return float(w.min_value), float(w.max_value)

    # ---- the per-step held inputs -------------------------------------------------------
    def held(self, t: int, *, clip=None) -> dict:
        """``{port: int}`` held with every beat of step ``t`` (``clip``: Madam's per-tensor
        clip word; ignored by the other rules)."""
        return {}

    def tensor_held(self, w0) -> dict:
        """The held values a weight tensor fixes (``w0``: its initial float weights), to
        pass to `held` as keywords: Madam's ``{"clip": clip_code(w0)}``; none by default."""
        return {}

    @property
    def moment_share(self) -> float:
        """The first moment's steady state is about ``g / moment_share``: 1 for a moving
        average; SGD's sum ``1 - mu`` (for typical test tensors)."""
        return 1.0

    def gradient_scale_changes(self, k: int, eta_log2: int) -> dict:
        """The fields that make this rule's update of ``2**k g`` its update of ``g`` at step
        size ``2**eta_log2`` (`lns.grad_scale.scaled_config`): none but the step size for a
        rule whose step does not depend on the gradient's scale (Madam's normalised
        gradient, Lion's sign)."""
        return {} if eta_log2 == self.eta_log2 else {"eta_log2": eta_log2}

    def held_range(self, port: str) -> tuple[int, int]:
        """``(lowest, highest)`` value of a held port over every step (its hardware shape)."""
        raise InvalidValue(f"{port} is not a held input of {type(self).__name__}")

    # ---- the update -----------------------------------------------------------------------
    def update(self, words: dict, t: int = 1, held: dict | None = None, *, lfsr_state=None,
               evaluator: str | None = None) -> dict:
        """One update of ``words`` (``{key: int array}`` of `WORD_ROLES`): the written words
        ``{key: flat int64 array}`` (`output_roles`).  ``held`` defaults to ``held(t)``;
        ``lfsr_state`` (stochastic rules) is advanced in place; ``evaluator`` defaults to
        `reference_evaluator`."""
        raise NotImplementedError

    def initial_words(self, w0) -> dict:
        """The input words of a weight tensor ``w0`` (floats) at step 1: the weights
        encoded, every state word zero (the gradient too, for the caller to fill)."""
        w = self.encode_words("w", w0)
        return {k: (w if k == "w" else np.zeros(w.shape, dtype=np.int64))
                for k in self.WORD_ROLES}

    def encode_words(self, key: str, x) -> np.ndarray:
        """Float64 values ``x`` as int64 words of ``key``'s format, rounded to nearest
        (LNS: `lns.encode`, correctly rounded in the log)."""
        from .codec import encode
        return np.asarray(encode(self.word_formats[key], np.asarray(x, np.float64)),
                          dtype=np.int64)

    def check_evaluator(self, evaluator):
        if evaluator is None:
            return self.reference_evaluator
        if evaluator not in self.EVALUATORS:
            raise InvalidValue(f"evaluator must be one of {', '.join(self.EVALUATORS)}, "
                               f"not {evaluator!r}")
        return evaluator

    def check_held(self, t: int, held) -> dict:
        """``held`` (or ``held(t)`` when None) with exactly the ports of `HELD`."""
        if held is None:
            return self.held(t)
        if not isinstance(held, dict):
            raise InvalidType(f"held must be a dict of {', '.join(self.HELD) or 'no ports'}, "
                              f"not {type(held).__name__}")
        missing = [k for k in self.HELD if k not in held]
        if missing:
            raise InvalidValue(f"held must give {', '.join(self.HELD)}, not {sorted(held)}")
        return held

    # ---- JSON -----------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))
