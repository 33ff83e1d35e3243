"""Does each IEEE update unit's optimizer train?  The unit's own arithmetic on the digits.

A `UnitMethod` is a float method of the trainers (the interface `software.SoftwareMethod`
has: ``key``, ``label``, ``is_lns`` False, ``moves_zero``, ``takes_momentum`` False,
``default_lr``, ``float_optimizer``) whose optimizer is a `UnitTensor`: the weight tensor
held as words of an IEEE preset (``fp32_adam``, ``fp32_adam_fast``, ``mp_adam``,
``bf16_adam``, ``fp32_madam``, ``fp12_madam``, ``fp12_adam``: every preset whose rule the
registry lists in the ``"ieee"`` number system) and updated by the rule's bit-exact model
(``cfg.update``, the words the Verilog is checked against), so a row measures the hardware's
optimizer, not float64 Adam or Madam.  Everything goes through the rule contract
(`lns.rule.Rule`: ``initial_words``, ``encode_words``, ``decode_words``, ``held``,
``tensor_held``, ``with_lr``, ``gradient_scale_changes``); nothing here asks which rule it
holds.

The gradient: as for the LNS rows (`tensors.LNSTensor`, `lns.grad_scale`), a per-tensor
power of two fixed at the first step puts the largest ``|g|`` of the first batch in [1, 2)
(loss scaling, as mixed-precision training does), with each rule's `GRADIENT_SCALED` fields
(Adam's ``eps``) scaled by the same power, so the update is the unscaled one wherever no word
overflows or flushes; the narrow formats (bf16, ``FloatFormat(5, 6)``) need it, fp32 does not
care.  The learning rate is tuned on the same power-of-two grid as the rule's float64 twin
(`tune.FULL_GRIDS` under the reference's name: ``adam``, ``madam``) by validation error,
then the rows train over the seeds as the digits table's rows do (`run_units`).

"Trains" (`TRAIN_FLOOR`): a mean test accuracy of at least 90 % on the digits, where chance
is 10 % and every row of the digits table reaches 95-98 %; each row also carries the paired
difference from its float64 twin (same seeds: the same initial weights and batches).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lns import presets
from lns.errors import InvalidValue
from lns.grad_scale import grad_scale_log2
from lns.optimizers import optimizer_of
from lns.registry import entry

from .methods import Method, config_moves_zero
from .runs import timed_single_thread, train_run
from .stats import compare_runs
from .table import FULL, QUICK, _Steps, make_row
from .tune import tune

__all__ = ["UnitTensor", "UnitMethod", "UNIT_PRESETS", "unit_method", "run_units",
           "TRAIN_FLOOR"]

#: The mean test accuracy (percent) at which a unit's optimizer is said to train.
TRAIN_FLOOR = 90.0


def _unit_presets() -> tuple[str, ...]:
    return tuple(n for n in presets.names()
                 if entry(presets.get(n).optimizer).number_system == "ieee")


UNIT_PRESETS = _unit_presets()


class UnitTensor:
    """One weight tensor as words of ``cfg`` (an IEEE rule), updated by its bit-exact model.

    ``step(w, g)`` ignores ``w`` (the words are the state) and returns the new weights;
    ``weights()`` the current ones (the initial weights rounded to the format before any
    step)."""

    def __init__(self, cfg, w0):
        optimizer_of(cfg)
        w0 = np.asarray(w0, dtype=np.float64)
        self.cfg = self.active_cfg = cfg
        self.shape = w0.shape
        self.held = {p: int(c) for p, c in cfg.tensor_held(w0.ravel()).items()}
        start = cfg.initial_words(w0.ravel())
        self.words = {k: np.asarray(start[k], dtype=np.int64).ravel()
                      for k in cfg.WORD_ROLES if k != "g"}
        self.t = 0
        self.scale = None

    def weights(self) -> np.ndarray:
        return self.cfg.decode_words("w", self.words["w"]).reshape(self.shape)

    def step(self, w, g) -> np.ndarray:
        g = np.asarray(g, dtype=np.float64).ravel()
        if self.scale is None:
            k = grad_scale_log2(g)
            self.scale = 2.0 ** k
            changes = self.cfg.gradient_scale_changes(k)
            self.active_cfg = self.cfg.replace(**changes) if changes else self.cfg
        self.t += 1
        cfg = self.active_cfg
        words = dict(self.words, g=cfg.encode_words("g", g * self.scale))
        out = cfg.update(words, self.t, cfg.held(self.t, **self.held))
        self.words = {k: out[k] for k in self.words}
        return self.weights()


@dataclass(frozen=True)
class UnitMethod:
    """A float method of the trainers: the IEEE preset ``preset``'s bit-exact update."""

    preset: str
    is_lns = False
    takes_momentum = False
    number_system = "float"

    def __post_init__(self):
        if self.preset not in UNIT_PRESETS:
            raise InvalidValue(f"preset must be one of {', '.join(UNIT_PRESETS)}, not "
                               f"{self.preset!r}")

    @cached_property
    def cfg(self):
        return presets.get(self.preset)

    @property
    def key(self) -> str:
        return f"unit_{self.preset}"

    alias = key

    @property
    def label(self) -> str:
        return f"{self.preset} unit"

    @property
    def twin(self) -> Method:
        """The float64 method of the same optimizer (the reference's name: Adam, Madam)."""
        name = entry(self.cfg.optimizer).reference.rsplit(":", 1)[1].lower()
        return Method.parse(name)

    @property
    def moves_zero(self) -> bool:
        return config_moves_zero(self.cfg)

    @property
    def default_lr(self) -> float:
        return float(self.cfg.eta)

    def __str__(self) -> str:
        return self.key

    def config(self, bits: int = 12, **overrides):
        raise InvalidValue(f"{self.label} is a float method: it has no LNS configuration")

    def float_optimizer(self, w0, lr: float, *, momentum: float = 0.9, p_scale=...):
        """A `UnitTensor` of the preset at step size ``lr`` (no momentum)."""
        return UnitTensor(self.cfg.with_lr(lr), w0)


def unit_method(preset: str) -> UnitMethod:
    return UnitMethod(preset)


@timed_single_thread
def run_units(quick: bool = True, units=UNIT_PRESETS, seeds=None, *, epochs=None,
              tune_lr: bool = True, progress=None) -> dict:
    """Train every unit of ``units`` (IEEE presets) and its float64 twin on the digits:
    the digits table's protocol (``table.QUICK`` or ``FULL``: seeds, epochs, and the learning
    rate tuned on the twin's power-of-two grid by validation error, 1 seed, the rows' epochs
    in the full run).  ``progress(i, n, label)`` before each run.

    Returns ``{"rows": [{"preset", "optimizer", "label", "twin", "eta", "eta_log2",
    "tuning", test/train err and loss mean/std, "test_acc_mean", "trains",
    "vs_twin" (`stats.compare_runs`: the unit minus its twin, test accuracy)}], "twins":
    [twin rows], "seeds", "epochs", "train_floor", "seconds"}``."""
    plan = QUICK if quick else FULL
    seeds = tuple(int(s) for s in (plan["seeds"] if seeds is None else seeds))
    epochs = plan["epochs"] if epochs is None else int(epochs)
    methods = [unit_method(u) for u in units]
    twin_methods = sorted({m.twin for m in methods}, key=lambda m: m.key)
    t0 = time.perf_counter()
    per_tune = len(plan["tune_seeds"]) if tune_lr else 0
    say = _Steps(sum(len(plan["grids"][m.key if m in twin_methods else m.twin.key]) * per_tune
                     + len(seeds) for m in twin_methods + methods), progress)

    def lr_of(m):
        if not tune_lr:
            return m.default_lr, None
        grid = plan["grids"][m.twin.key]
        t = tune(m, grid=grid, seeds=plan["tune_seeds"],
                 epochs=min(plan["tune_epochs"], epochs), progress=say, label=m.key)
        return t["eta"], t

    def runs_of(m, lr):
        out = []
        for s in seeds:
            say(f"{m.label}: seed {s}")
            out.append(train_run("mlp", m, s, epochs=epochs, lr=lr))
        return out

    twins = {}
    for m in twin_methods:
        lr, t = lr_of(m)
        twins[m.key] = make_row(m, runs_of(m, lr), label=m.label, eta=lr,
                                eta_log2=None if t is None else t["eta_log2"], tuning=t)
    rows = []
    for m in methods:
        lr, t = lr_of(m)
        runs = runs_of(m, lr)
        row = make_row(m, runs, preset=m.preset, label=m.label, twin=m.twin.key, eta=lr,
                       eta_log2=None if t is None else t["eta_log2"], tuning=t)
        row["trains"] = bool(row["test_acc_mean"] >= TRAIN_FLOOR)
        twin = twins[m.twin.key]
        row["vs_twin"] = compare_runs(m.label, runs, f"float64 {twin['label']}",
                                      twin["runs"])
        rows.append(row)
    return {"rows": rows, "twins": list(twins.values()), "seeds": list(seeds),
            "epochs": epochs, "train_floor": TRAIN_FLOOR, "quick": bool(quick),
            "seconds": time.perf_counter() - t0}
