"""The exploration grid: tasks x rules x widths x rounding x seeds, and the float baselines.

`Plan` holds what one exploration trains; `QUICK` and `FULL` are the two plans of
``lnsmadam explore`` (``--quick`` and the default); `tuning_configs` and `final_configs`
turn a plan into point configurations (`sim.explore.points`).

Rules: every LNS rule of the registry (`sim.analysis.training.methods.lns_rules`: Madam,
Adam, SGD with momentum, Lion) at each weight width (`lns.presets.for_bits`) with each
rounding (nearest-even, stochastic); the float baselines: each rule's float twin (float
Adam, SGD, Madam in base 2, Lion; float64 arithmetic) and the software methods
(`sim.analysis.training.software`: blockwise 8-bit Adam, Adam with a bf16 gradient).

Learning rates: tuned per (task, method) on the task's validation split, as the digits
table does (`sim.analysis.training.tune`'s grids, the software methods on Adam's): each
LNS rule once at ``tune_bits`` with its preset's own rounding there, the chosen eta reused
at every width and rounding; the score is the mean validation error over the tuning seeds
(ties: lower validation loss, then the smaller eta).  A grid whose best point lies on its
edge grows a step beyond that edge, up to `EXTEND_MAX` steps (`edge_configs`): the digits'
grids do not bracket every task's optimum.  A configuration that cannot
be built (Madam at 6 bits with nearest-even rounding: every step rounds to 0 LSBs) is
reported as skipped with its configuration's own reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lns.errors import InvalidValue

__all__ = ["Plan", "QUICK", "FULL", "MODELS", "plan_name", "methods_of", "tuning_configs",
           "final_configs", "grid_of", "edge_configs", "choose_etas", "ROUNDINGS",
           "EXTEND_MAX"]

ROUNDINGS = ("nearest_even", "stochastic")


@dataclass(frozen=True)
class Plan:
    tasks: tuple = ("mnist5k", "mnist1d")
    models: tuple = ("mlp",)
    bits: tuple = (6, 8, 10, 12, 16)
    roundings: tuple = ROUNDINGS
    seeds: tuple = (0, 1, 2, 3, 4)
    epochs: int = 20
    batch: int = 16
    hidden: int = 64
    floats: bool = True
    tune_epochs: int = 10
    tune_seeds: tuple = (0,)
    tune_bits: int = 8
    grids: str = "full"                 # which of tune's grids: "quick" or "full"
    momentum: float = 0.9               # SGD's (float and the LNS preset's mu)
    extra: dict = field(default_factory=dict)

    def replace(self, **kw) -> "Plan":
        return replace(self, **kw)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if k != "extra"}

    @classmethod
    def from_dict(cls, d: dict) -> "Plan":
        """The plan of `to_dict`'s dict (as a store records it: lists for tuples); a key
        this code's `Plan` lacks is a ValueError (the plan was written by other code)."""
        names = {k for k in cls.__dataclass_fields__ if k != "extra"}
        if not isinstance(d, dict) or set(d) - names:
            what = sorted(set(d) - names) if isinstance(d, dict) else type(d).__name__
            raise InvalidValue(f"a plan must have the fields of Plan, not {what}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


#: ``--quick``: MNIST-1D, every rule at 5 widths x 2 roundings + 6 float baselines (46
#: configurations; Madam at 6 bits with nearest-even builds only at a tuned eta of 2^-6 or
#: more), 5 seeds, 4 epochs; eta on the quick 3-point grids for 2 epochs.
QUICK = Plan(tasks=("mnist1d",), epochs=4, tune_epochs=2, grids="quick")
#: the default: MNIST-5k and MNIST-1D, 20 epochs, eta on the 6-point grids for 10 epochs.
FULL = Plan()


def plan_name(plan: Plan) -> str:
    """``quick`` or ``full`` for those plans, else ``plan-`` and 8 hex digits of the plan's
    canonical JSON (a name for file names and headings that one plan always gets)."""
    import hashlib

    from .store import canonical
    for name, known in (("quick", QUICK), ("full", FULL)):
        if plan.to_dict() == known.to_dict():
            return name
    return "plan-" + hashlib.sha256(canonical(plan.to_dict()).encode()).hexdigest()[:8]


MODELS = ("mlp", "cnn")


def methods_of(plan: Plan, model: str | None = None) -> list:
    """The plan's methods for ``model`` (None: for any of the plan's models): the float
    baselines first (rule twins, then the software methods, which only the MLP trains: the
    CNN's float optimizers are optax transforms of the rules), then the LNS rules and their
    variants (LNS Madam with the sign normaliser), as `Method` / `SoftwareMethod` objects."""
    from sim.analysis.training.methods import LNS_VARIANTS, Method, lns_rules
    from sim.analysis.training.software import SOFTWARE
    rules = lns_rules()
    mlp = "mlp" in plan.models if model is None else model == "mlp"
    software = list(SOFTWARE.values()) if mlp else []
    floats = [Method(r, "float") for r in rules] + software if plan.floats else []
    return (floats + [Method(r, "lns") for r in rules]
            + [Method.parse(k) for k in LNS_VARIANTS])


def grid_of(plan: Plan, method) -> tuple:
    """The eta_log2 grid of ``method`` (tune's, by key; the software methods Adam's)."""
    from sim.analysis.training.tune import FULL_GRIDS, QUICK_GRIDS
    grids = QUICK_GRIDS if plan.grids == "quick" else FULL_GRIDS
    return tuple(grids.get(method.key, grids["adam"]))


def _base(plan: Plan, task: str, model: str, method, seed: int, split: str,
          epochs: int, eta_log2: int, bits=None, rounding=None) -> dict:
    return {"task": task, "model": model, "method": method.key, "bits": bits,
            "rounding": rounding, "seed": int(seed), "epochs": int(epochs),
            "batch": plan.batch, "hidden": plan.hidden, "eta_log2": int(eta_log2),
            "momentum": plan.momentum if method.takes_momentum else None, "split": split}


def _buildable(method, bits, rounding, eta_log2) -> str | None:
    """None when the LNS configuration builds, else its one-line reason."""
    from .points import lns_config
    try:
        lns_config(method.key, bits, rounding, eta_log2)
    except (ValueError, TypeError) as exc:
        return str(exc).splitlines()[0]
    return None


def tuning_configs(plan: Plan) -> tuple[list, list]:
    """``(configs, skipped)``: every tuning run (split "validation") of the plan, and the
    grid points that cannot be built (``{"task", "method", "eta_log2", "reason"}``)."""
    from .points import lns_config
    configs, skipped = [], []
    for task in plan.tasks:
        for model in plan.models:
            for m in methods_of(plan, model):
                bits = rounding = None
                if m.is_lns:
                    bits = plan.tune_bits
                    rounding = str(lns_config(m.key, bits, None).rounding)
                for e in grid_of(plan, m):
                    why = _buildable(m, bits, rounding, e) if m.is_lns else None
                    if why:
                        skipped.append({"task": task, "method": m.key, "eta_log2": e,
                                        "reason": why})
                        continue
                    for s in plan.tune_seeds:
                        configs.append(_base(plan, task, model, m, s, "validation",
                                             plan.tune_epochs, e, bits, rounding))
    return configs, skipped


def choose_etas(tuning: list[tuple[dict, dict]]) -> dict:
    """``{(task, model, method): {"eta_log2", "grid": [{"eta_log2", "val_err",
    "val_loss"}]}}`` from the tuning runs ``(config, result)``: the least mean validation
    error, then loss, then the earlier (smaller) eta."""
    import numpy as np
    by: dict = {}
    for c, r in tuning:
        k = (c["task"], c["model"], c["method"])
        by.setdefault(k, {}).setdefault(c["eta_log2"], []).append(r)
    out = {}
    for k, etas in by.items():
        grid = [{"eta_log2": e, "val_err": 100.0 * float(np.mean([r["test_err"] for r in rs])),
                 # float(): the store keeps a diverged run's infinite loss as "Infinity"
                 "val_loss": float(np.mean([float(r["test_loss"]) for r in rs]))}
                for e, rs in sorted(etas.items())]
        best = min(range(len(grid)), key=lambda i: (grid[i]["val_err"], grid[i]["val_loss"], i))
        out[k] = {"eta_log2": grid[best]["eta_log2"], "grid": grid}
    return out


#: The most points a tuning grid grows by on each side (`edge_configs`).
EXTEND_MAX = 3


def edge_configs(plan: Plan, etas: dict, tried: dict) -> list:
    """The next tuning runs of the grids whose best eta lies on an edge: one more eta a
    grid step beyond that edge (the step of tune's grid), at most `EXTEND_MAX` beyond the
    original grid, only where the configuration builds.  A grid made for the digits need
    not bracket another task's optimum, and an eta chosen on the edge of its grid says only
    that the optimum lies beyond it.  ``tried``: ``{(task, model, method): set of eta_log2
    already tried or refused}``, updated here."""
    from .points import lns_config
    by_key = {m.key: m for m in methods_of(plan)}
    out = []
    for (task, model, key), chosen in etas.items():
        m = by_key[key]
        base = grid_of(plan, m)
        step = (base[1] - base[0]) if len(base) > 1 else 1
        done = {g["eta_log2"] for g in chosen["grid"]}
        e = chosen["eta_log2"]
        seen = tried.setdefault((task, model, key), set())
        seen |= done
        up, down = e + step, e - step
        for nxt, ok in ((up, e == max(done) and up <= max(base) + EXTEND_MAX * step),
                        (down, e == min(done) and down >= min(base) - EXTEND_MAX * step)):
            if not ok or nxt in seen:
                continue
            seen.add(nxt)
            bits = rounding = None
            if m.is_lns:
                bits = plan.tune_bits
                rounding = str(lns_config(m.key, bits, None).rounding)
                if _buildable(m, bits, rounding, nxt):
                    continue
            out += [_base(plan, task, model, m, s, "validation", plan.tune_epochs, nxt, bits,
                          rounding) for s in plan.tune_seeds]
    return out


def final_configs(plan: Plan, etas: dict) -> tuple[list, list]:
    """``(configs, skipped)``: every final run (split "test") of the plan at the chosen
    etas (`choose_etas`), and the configurations that cannot be built (``{"task",
    "method", "bits", "rounding", "eta_log2", "reason"}``)."""
    configs, skipped = [], []
    for task in plan.tasks:
        for model in plan.models:
            for m in methods_of(plan, model):
                chosen = etas.get((task, model, m.key))
                if chosen is None:
                    raise InvalidValue(f"no tuned eta for {m.key} on {task}")
                e = chosen["eta_log2"]
                variants = ([(b, r) for b in plan.bits for r in plan.roundings]
                            if m.is_lns else [(None, None)])
                for bits, rounding in variants:
                    why = _buildable(m, bits, rounding, e) if m.is_lns else None
                    if why:
                        skipped.append({"task": task, "method": m.key, "bits": bits,
                                        "rounding": rounding, "eta_log2": e, "reason": why})
                        continue
                    for s in plan.seeds:
                        configs.append(_base(plan, task, model, m, s, "test", plan.epochs,
                                             e, bits, rounding))
    return configs, skipped
