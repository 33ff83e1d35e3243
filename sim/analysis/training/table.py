"""The comparison table: every method (`methods.Method`: each LNS rule of the registry in
LNS and in float) over the seeds, LNS rules at each weight width, learning rates tuned on
validation, per-epoch curves, and verdicts from paired statistics.

The table is about one rule, `methods.SUBJECT` (Madam): its LNS rows follow their preset's
rounding at their eta and carry the extra gradient widths (``extra_lns``); every other LNS
rule (Adam, SGD, Lion, ...) names its rounding (its preset's at each width, and both where
asked); the verdicts compare the subject's float twin with every other float method, the
subject's LNS rows with its float twin, and every other LNS rule with the subject at each
width.  Nothing else here depends on which rule a method holds."""

from __future__ import annotations

import time

import numpy as np

from lns.errors import InvalidValue
from lns.modes import Rounding

from .data import load_data
from .methods import KEYS, LNS_METHODS, METHODS, SUBJECT, Method
from .runs import cnn_available, timed_single_thread, train_run
from .stats import compare_runs
from .tune import FULL_GRIDS, QUICK_GRIDS, tune

__all__ = ["QUICK", "FULL", "run_training", "claim_8bit", "row_specs", "verdicts", "findings",
           "curve_bands", "make_row"]

# seeds, LNS widths, epochs; the tuning budget; where both roundings of the LNS rules other
# than the subject (Adam, SGD, Lion) are run
QUICK = {"seeds": (0, 1, 2), "bits": (6, 8, 12), "epochs": 10,
         "tune_seeds": (0,), "tune_epochs": 4, "tune_bits": 8, "rounding_bits": (6, 8),
         "grids": QUICK_GRIDS, "models": ("mlp",)}
FULL = {"seeds": (0, 1, 2, 3, 4), "bits": (6, 8, 10, 12, 16), "epochs": 30,
        "tune_seeds": (0,), "tune_epochs": 30, "tune_bits": None,
        "rounding_bits": (6, 8, 10, 12, 16), "grids": FULL_GRIDS, "models": ("mlp", "cnn")}
# The CNN (JAX, ~3 s an epoch here against the MLP's 0.05-0.3 s) gets a smaller plan in any
# mode: the LNS rules at 8 bits (their own rounding), at most 15 epochs, eta tuned per rule
# on the quick grid for as many epochs as the rows train, 1 seed.
CNN_PLAN = {"bits": (8,), "epochs": 15, "rounding_bits": (), "tune_bits": 8,
            "tune_epochs": 15, "tune_seeds": (0,), "grids": QUICK_GRIDS}

_SHORT = {Rounding.NEAREST_EVEN: "RNE", Rounding.STOCHASTIC: "SR"}
_LNS_SUBJECT = Method(SUBJECT, "lns")
_FLOAT_SUBJECT = Method(SUBJECT, "float")


def _methods(methods) -> list[Method]:
    """``methods`` (Method objects or keys) in the table's order (`methods.METHODS`)."""
    chosen = {Method.parse(m) for m in methods}
    return [m for m in METHODS if m in chosen]


def row_specs(methods, bits, *, grad_bits=None, extra_lns=((8, 8),), rounding_bits=()) -> list:
    """The rows to train: ``{"method" (a `Method`), "bits", "grad_bits", "rounding"}`` each
    (``bits`` None for float), in the order of `methods.METHODS`.  The subject's (LNS
    Madam's) rows follow `lns.presets.for_bits`'s rounding at their eta (``rounding`` None)
    and add the ``extra_lns`` widths ``(weight_bits, grad_bits)``; every other LNS rule's
    rows name their rounding: the preset rule's at each width, and both where ``bits`` is
    in ``rounding_bits`` (does stochastic rounding rescue them?)."""
    methods = _methods(methods)
    specs = [{"method": m, "bits": None, "grad_bits": None, "rounding": None}
             for m in methods if not m.is_lns]
    for m in (m for m in methods if m.is_lns):
        widths = [(b, grad_bits) for b in bits]
        if m == _LNS_SUBJECT:
            widths += [tuple(e) for e in extra_lns if tuple(e) not in widths]
        for b, gb in widths:
            if m == _LNS_SUBJECT:
                specs.append({"method": m, "bits": b, "grad_bits": gb, "rounding": None})
                continue
            own = m.config(b, grad_bits=gb).rounding
            both = [own] + [r for r in Rounding if r is not own] if b in rounding_bits else [own]
            for r in sorted(both, key=lambda r: r is Rounding.STOCHASTIC):
                specs.append({"method": m, "bits": b, "grad_bits": gb, "rounding": str(r)})
    return specs


def _label(spec, model="mlp") -> str:
    m, b, gb = spec["method"], spec["bits"], spec["grad_bits"]
    text = m.label
    if b is not None:
        text += f" {b}-bit" + (f", {gb}-bit grad" if gb else "")
    if spec["rounding"] is not None:
        text += f", {_SHORT[Rounding(spec['rounding'])]}"
    return text if model == "mlp" else f"CNN: {text}"


def _cfg_maker(spec):
    if not spec["method"].is_lns:
        return None
    return lambda e: spec["method"].config(spec["bits"], eta_log2=e,
                                           grad_bits=spec["grad_bits"],
                                           rounding=spec["rounding"])


def _mean_std(values, scale=1.0):
    a = np.asarray(values, dtype=np.float64) * scale
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def curve_bands(runs) -> dict:
    """Per-epoch ``{"mean", "std", "lo", "hi"}`` of each curve over the runs (errors in
    percent, losses in nats; lo / hi the band mean -+ std)."""
    out = {}
    for key in ("train_loss", "test_loss", "train_err", "test_err"):
        scale = 100.0 if key.endswith("err") else 1.0
        a = np.asarray([r["curves"][key] for r in runs], dtype=np.float64) * scale
        mean = a.mean(axis=0)
        std = a.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros_like(mean)
        out[key] = {"mean": mean.tolist(), "std": std.tolist(), "lo": (mean - std).tolist(),
                    "hi": (mean + std).tolist()}
    return out


def make_row(method, runs, **extra) -> dict:
    """A table row from runs of any model (the run dict of `runs`); ``method`` a `Method`
    or its key (the row's ``"optimizer"``)."""
    method = Method.parse(method).key
    tr_m, tr_s = _mean_std([r["train_err"] for r in runs], 100.0)
    te_m, te_s = _mean_std([r["test_err"] for r in runs], 100.0)
    trl_m, trl_s = _mean_std([r["train_loss"] for r in runs])
    tel_m, tel_s = _mean_std([r["test_loss"] for r in runs])
    curves = curve_bands(runs)
    return {"optimizer": method, **extra,
            "train_err_mean": tr_m, "train_err_std": tr_s,
            "test_err_mean": te_m, "test_err_std": te_s,
            "test_acc_mean": 100.0 - te_m, "test_acc_std": te_s,
            "train_loss_mean": trl_m, "train_loss_std": trl_s,
            "test_loss_mean": tel_m, "test_loss_std": tel_s,
            "test_err_curve": curves["test_err"]["mean"], "curves": curves, "runs": runs}


class _Steps:
    """Counts the runs ahead for ``progress(i, n, label)``."""

    def __init__(self, total, progress):
        self.i, self.n, self.progress = 0, total, progress

    def __call__(self, label):
        if self.progress:
            self.progress(self.i, self.n, label)
        self.i += 1


@timed_single_thread
def run_training(quick: bool = True, seeds=None, bits=None, *, epochs: int | None = None,
                 grad_bits: int | None = None, extra_lns: tuple = ((8, 8),),
                 base: str = "lns12", eta_log2: int = -7, adam_lr: float = 1e-3,
                 sgd_lr: float = 0.1, batch: int = 16, hidden: int = 64,
                 methods=METHODS, tolerance: float = 1.0, tune_lr: bool = True,
                 models=None, rounding_bits=None, lrs=None, progress=None) -> dict:
    """Train every method (`methods.METHODS`: each LNS rule in LNS and in float, or those
    of ``methods``, Method objects or keys) over ``seeds``, the LNS rules at each of
    ``bits``.

    ``quick`` picks the defaults of ``QUICK`` (3 seeds, widths 6, 8, 12, 10 epochs; each
    learning rate tuned on a 3-point grid for 4 epochs, 1 seed, the LNS rules once at 8
    bits) or ``FULL`` (5 seeds, widths 6-16, 30 epochs; 6-point grids per row, each point
    trained as long as the rows (a shorter tuning budget favours too large an eta: tuned on
    15 epochs, float Madam chose 2**-5 and was unstable over 30),
    both roundings of LNS Adam / SGD / Lion at every width, the CNN rows when
    ``sim.jaxlns.cnn`` is installed) for whatever is ``None``.  ``tune_lr=False`` uses
    ``eta_log2`` (Madam, float and LNS), ``adam_lr``, ``sgd_lr``, ``lrs`` (learning rates by
    method key) and otherwise `Method.default_lr` (float Lion 2**-11) and the presets' eta
    instead.  ``extra_lns``: LNS Madam rows ``(weight_bits, grad_bits)``.
    ``progress(i, n, label)`` is called before each run.

    Returns a JSON-serialisable dict: ``dataset``, ``model``, ``epochs``, ``batch``,
    ``seeds``, ``bits``, ``settings``, ``tuning`` (budget and grids), ``rows`` (one per
    optimizer, width and rounding: optimizer, label, model, weight_bits (None for float64),
    grad_bits, rounding, weight/grad/moment_format, config, eta, eta_log2, momentum,
    tuning (the grid with validation errors), train/test err and loss mean/std, test_acc
    mean/std (percent; std over seeds, ddof 1), test_err_curve, curves (per epoch mean /
    std / lo / hi of train and test loss and error), runs (the run dicts of `runs`)),
    ``claim_8bit``, ``verdicts`` (`verdicts`), ``seconds``.
    """
    preset = QUICK if quick else FULL
    seeds = tuple(int(s) for s in (preset["seeds"] if seeds is None else seeds))
    bits = tuple(int(b) for b in (preset["bits"] if bits is None else bits))
    epochs = preset["epochs"] if epochs is None else int(epochs)
    if not seeds or epochs < 1:
        raise InvalidValue(f"seeds must be non-empty and epochs positive, not {seeds} and "
                           f"{epochs}")
    if base != "lns12":
        bases = ", ".join(_family_base(m) for m in LNS_METHODS if m != _LNS_SUBJECT)
        raise InvalidValue(f"the training rows are built on base 'lns12' (and {bases})")
    untuned = {_FLOAT_SUBJECT.key: 2.0 ** eta_log2, _LNS_SUBJECT.key: 2.0 ** eta_log2,
               "adam": adam_lr, "sgd": sgd_lr, **(lrs or {})}
    models = tuple(preset["models"] if models is None else models)
    models = tuple(m for m in models if m == "mlp" or cnn_available())
    rbits = preset["rounding_bits"] if rounding_bits is None else tuple(rounding_bits)
    plans = {}
    for model in models:
        plan = dict(preset, epochs=epochs, bits=bits, rounding_bits=rbits, extra=extra_lns)
        if model == "cnn":
            plan.update(CNN_PLAN, epochs=min(epochs, CNN_PLAN["epochs"]), extra=())
        plan["tune_epochs"] = min(plan["tune_epochs"], plan["epochs"])
        plan["per_rule"] = plan["tune_bits"] is not None
        plan["specs"] = row_specs(methods, plan["bits"], grad_bits=grad_bits,
                                  extra_lns=plan["extra"], rounding_bits=plan["rounding_bits"])
        plans[model] = plan
    # runs ahead: tuning (per row, or per rule at tune_bits) then the rows
    n = 0
    for plan in plans.values():
        n += len(plan["specs"]) * len(seeds)
        if tune_lr:
            units = {(s["method"] if plan["per_rule"] else _label(s)): s for s in plan["specs"]}
            n += sum(len(plan["grids"][s["method"].key]) * len(plan["tune_seeds"])
                     * (len(plan["grids"]["sgd_momentum"]) if s["method"].takes_momentum
                        else 1)
                     for s in units.values())
    steps = _Steps(n, progress)
    t0 = time.perf_counter()
    rows = []
    for model, plan in plans.items():
        chosen = {}
        grids = plan["grids"]
        for spec in plan["specs"]:
            m = spec["method"]
            key = m if plan["per_rule"] else _label(spec)
            if tune_lr and key not in chosen:
                tspec = dict(spec)
                if plan["per_rule"] and m.is_lns:
                    # the rule at tune_bits with its own rounding there, whichever row of it
                    # comes first
                    own = None if m == _LNS_SUBJECT else str(m.config(
                        plan["tune_bits"], grad_bits=grad_bits).rounding)
                    tspec.update(bits=plan["tune_bits"], rounding=own, grad_bits=grad_bits)
                chosen[key] = tune(m, grid=grids[m.key], momenta=grids["sgd_momentum"],
                                   make_cfg=_cfg_maker(tspec), seeds=plan["tune_seeds"],
                                   epochs=plan["tune_epochs"], model=model, batch=batch,
                                   progress=steps, label=_label(tspec, model))
            t = chosen.get(key)
            row = _train_row(model, spec, t, seeds, plan["epochs"], batch, hidden, steps,
                             untuned=untuned)
            row["epochs"] = plan["epochs"]
            rows.append(row)
    mlp = plans.get("mlp", next(iter(plans.values())))
    xtr, _, xte, _ = load_data()
    result = {
        "dataset": {"name": "sklearn digits (8x8)", "train": len(xtr), "test": len(xte),
                    "features": 64, "classes": 10, "split_seed": 0,
                    "validation": "20 % of the training split (stratified), for tuning only"},
        "model": f"MLP 64-{hidden}-10, ReLU, softmax cross-entropy, float64",
        "models": list(models),
        "epochs": epochs, "batch": batch, "seeds": list(seeds), "bits": list(bits),
        "quick": bool(quick),
        "settings": {"eta_log2": eta_log2, "adam_lr": adam_lr, "sgd_lr": sgd_lr,
                     "sgd_momentum": 0.9, "base": base,
                     **{f"{m.key}_base": _family_base(m) for m in _methods(methods)
                        if m.is_lns and m != _LNS_SUBJECT},
                     **{f"{m.key}_mu": m.config().mu for m in _methods(methods)
                        if m.is_lns and hasattr(m.config(), "mu")},
                     "untuned_lr": {m.key: untuned.get(m.key, m.default_lr)
                                    for m in _methods(methods)},
                     "biases": "float64, Adam lr 1e-3, in every Madam and LNS run",
                     "grad_scale": "per tensor, power of two fixed at step 1: max |g| in [1, 2)"},
        "tuning": {"enabled": bool(tune_lr), "seeds": list(mlp["tune_seeds"]),
                   "epochs": mlp["tune_epochs"],
                   "grids_eta_log2": {k: list(v) for k, v in mlp["grids"].items()},
                   "per": ("rule (LNS rules tuned once at "
                           f"{mlp['tune_bits']} bits, the eta reused at every width)"
                           if mlp["per_rule"] else "row"),
                   "data": "train-proper / validation; the test split is never used",
                   "cnn": ({k: CNN_PLAN[k] for k in ("bits", "epochs", "tune_bits",
                                                     "tune_epochs")}
                           if "cnn" in plans else None)},
        "rows": rows}
    result["claim_8bit"] = claim_8bit(result, tolerance)
    result["verdicts"] = verdicts(result, tolerance)
    result["findings"] = findings(result)
    result["seconds"] = time.perf_counter() - t0
    return result


def _family_base(method) -> str:
    """The preset a method's rows are built from (the rule's ``FAMILY_BASE``)."""
    return type(method.config()).FAMILY_BASE


def _train_row(model, spec, tuned, seeds, epochs, batch, hidden, steps, *, untuned) -> dict:
    m = spec["method"]
    label = _label(spec, model)
    momentum = 0.9
    cfg = None
    if tuned is not None:
        e = tuned["eta_log2"]
        if m.takes_momentum:
            momentum = tuned["momentum"]
        lr = 2.0 ** e
    else:
        lr = untuned.get(m.key)
        e = None if lr is None or not m.is_lns else _eta_log2(lr)
    if m.is_lns:
        cfg = m.config(spec["bits"], grad_bits=spec["grad_bits"], rounding=spec["rounding"],
                       **({} if e is None else {"eta_log2": e}))
        lr = cfg.eta
    elif lr is None:
        lr = m.default_lr
    runs = []
    for s in seeds:
        steps(label)
        mlp = {"hidden": hidden} if model == "mlp" else {}
        runs.append(train_run(model, m, s, epochs=epochs, cfg=cfg, lr=lr, momentum=momentum,
                              batch=batch, **mlp))
    extra = {"label": label, "model": model, "weight_bits": spec["bits"],
             "grad_bits": None, "rounding": None, "eta": lr,
             "eta_log2": int(round(np.log2(lr))) if np.log2(lr) == round(np.log2(lr)) else None,
             "momentum": momentum if m.takes_momentum else None, "tuning": tuned}
    if cfg is not None:
        fmt = cfg.word_formats
        extra.update({"grad_bits": fmt["g"].total_bits, "weight_format": fmt["w"].name,
                      "grad_format": fmt["g"].name, "rounding": str(cfg.rounding),
                      "moment_format": " + ".join(
                          f.name for k, f in fmt.items() if k not in ("w", "g")),
                      "config": cfg.to_dict()})
        # an LNS rule's own momentum (SGD's mu, a constant of the unit), if it has one
        extra["momentum"] = getattr(cfg, "mu", None)
    return make_row(m, runs, **extra)


def _eta_log2(lr) -> int:
    e = float(np.log2(lr))
    if e != round(e):
        raise InvalidValue(f"an LNS learning rate must be a power of two, not {lr!r}")
    return int(e)


# ---- verdicts ----------------------------------------------------------------------------
def _find(rows, optimizer, bits=None, model="mlp", rounding=None, grad_bits=None):
    for r in rows:
        if (r["optimizer"] == optimizer and r.get("weight_bits") == bits
                and r.get("model", "mlp") == model
                and (rounding is None or r.get("rounding") == rounding)
                and (grad_bits is None or r.get("grad_bits") == grad_bits)):
            return r
    return None


def claim_8bit(result: dict, tolerance: float = 1.0) -> dict:
    """Does LNS Madam with 8-bit weights reach float Madam's test accuracy within
    ``tolerance`` points?  ``holds``: the mean gap of the worst 8-bit row is within the
    margin; with runs of two or more shared seeds also the paired difference and its 95 %
    CI (``paired``), and ``holds_ci``: the interval's lower end is within the margin
    (non-inferiority).  ``holds`` is None when a row is missing."""
    rows = [r for r in result["rows"] if r.get("model", "mlp") == "mlp"]
    fm = next((r for r in rows if r["optimizer"] == _FLOAT_SUBJECT.key), None)
    l8 = [r for r in rows if r["optimizer"] == _LNS_SUBJECT.key and r["weight_bits"] == 8]
    if fm is None or not l8:
        return {"holds": None, "text": "needs float Madam and LNS Madam at 8 bits"}
    worst = min(l8, key=lambda r: r["test_acc_mean"])
    gap = fm["test_acc_mean"] - worst["test_acc_mean"]
    holds = bool(gap <= tolerance)
    text = (f"on the mean, '8 bits comparable to full precision' "
            f"{'holds' if holds else 'does not hold'} here: "
            f"{worst['label']} reaches {worst['test_acc_mean']:.2f} +- {worst['test_acc_std']:.2f} % "
            f"test accuracy against float Madam's {fm['test_acc_mean']:.2f} +- "
            f"{fm['test_acc_std']:.2f} % ({-gap:+.2f} points; comparable means within "
            f"{tolerance:g} point)")
    out = {"holds": holds, "lns_8bit_test_acc": worst["test_acc_mean"],
           "lns_8bit_label": worst["label"], "float_madam_test_acc": fm["test_acc_mean"],
           "gap_points": gap, "tolerance_points": tolerance, "text": text}
    if worst.get("runs") and fm.get("runs"):
        p = compare_runs(worst["label"], worst["runs"], fm["label"], fm["runs"],
                         tolerance=tolerance, claim="8-bit LNS Madam vs float Madam")
        out["paired"] = p
        if p["ci_lo"] is not None:
            out["holds_ci"] = bool(p["ci_lo"] >= -tolerance)
            out["text"] += (f"; paired over {p['n']} seeds: {p['diff_mean']:+.2f} points, 95 % "
                            f"CI [{p['ci_lo']:+.2f}, {p['ci_hi']:+.2f}], so with 95 % "
                            f"confidence it is "
                            f"{'established' if out['holds_ci'] else 'not established'} "
                            f"(the interval must stay above -{tolerance:g})")
    return out


def verdicts(result: dict, tolerance: float = 1.0) -> list[dict]:
    """Every comparison the table supports, each with its paired difference and 95 % CI
    (`stats.compare_runs`): float Madam against every other float method (Adam, SGD, Lion;
    final test accuracy, and speed: the test error averaged over the epochs), LNS Madam at
    each width against float Madam, every other LNS rule (LNS Adam, SGD, Lion) against LNS
    Madam at each width, and stochastic against nearest-even rounding of those rules where
    both were run.  Each carries ``kind`` ("float", "speed", "width", "additive",
    "rounding") and, where they apply, ``bits``, ``rule`` (the row key, e.g.
    ``"lns_lion"``), ``rounding``."""
    out = []
    present = {r["optimizer"] for r in result["rows"]}
    others = [m for m in METHODS if m.rule is not SUBJECT and m.key in present]
    for model in result.get("models", ["mlp"]):
        rows = [r for r in result["rows"] if r.get("model", "mlp") == model]
        pre = "" if model == "mlp" else "CNN: "
        madam = _find(rows, _FLOAT_SUBJECT.key, model=model)

        def add(a, b, claim, metric="test_acc", **tags):
            if a is not None and b is not None and a.get("runs") and b.get("runs"):
                v = compare_runs(a["label"], a["runs"], b["label"], b["runs"], metric=metric,
                                 tolerance=tolerance, claim=pre + claim)
                v.update(model=model, **tags)
                out.append(v)

        name = _FLOAT_SUBJECT.reference.__name__             # "Madam"
        lns_name = _LNS_SUBJECT.label                         # "LNS Madam"
        for other in (m for m in others if not m.is_lns):
            o = _find(rows, other.key, model=model)
            add(madam, o, f"{name} vs {other.label}: final accuracy", kind="float")
            add(madam, o, f"{name} vs {other.label}: speed (test error over the epochs)",
                "mean_test_err", kind="speed")
        widths = sorted({r["weight_bits"] for r in rows if r["weight_bits"] is not None})
        for b in widths:
            own = pre + f"{lns_name} {b}-bit"                 # the row of the default gradient
            lm = next((r for r in rows if r["label"] == own), None) or _find(
                rows, _LNS_SUBJECT.key, b, model)
            add(lm, madam, f"{lns_name} {b}-bit vs float {name}", kind="width", bits=b)
            for rule in (m for m in others if m.is_lns):
                cands = [r for r in rows if r["optimizer"] == rule.key and r["weight_bits"] == b]
                for r in cands:
                    add(r, lm, f"{rule.label} vs {lns_name} at {b} bits ({r['rounding']})",
                        kind="additive", rule=rule.key, bits=b, rounding=r["rounding"])
                sr = next((r for r in cands if r["rounding"] == "stochastic"), None)
                rne = next((r for r in cands if r["rounding"] == "nearest_even"), None)
                add(sr, rne, f"{rule.label} {b}-bit: stochastic vs nearest-even rounding",
                    kind="rounding", rule=rule.key, bits=b)
    return out


def findings(result: dict, fail_points: float = 10.0) -> dict:
    """Where the other LNS rules (LNS Adam, SGD, Lion) fail to train where LNS Madam trains,
    and whether stochastic rounding rescues them, from the verdicts of ``result`` (MLP
    rows).

    A row *fails* at a width when its mean test accuracy is more than ``fail_points`` below
    LNS Madam's at that width and the paired 95 % CI of the difference lies below 0 (with
    one seed: the mean alone).  Stochastic rounding *rescues* a rule at a width when its
    nearest-even row fails and its stochastic row does not.
    Returns ``{"fail_points", "rows": [{"rule", "bits", "rounding", "acc", "madam_acc",
    "diff", "ci_lo", "ci_hi", "fails"}], "rescued": [...], "text": [...]}``.
    """
    out = []
    for v in result.get("verdicts", []):
        if v.get("model", "mlp") != "mlp" or v.get("kind") != "additive":
            continue
        rule, bits, rounding = v["rule"], v["bits"], v["rounding"]
        hi = v["ci_hi"] if v["ci_hi"] is not None else v["diff_mean"]
        fails = bool(v["diff_mean"] < -fail_points and hi < 0)
        out.append({"rule": rule, "bits": bits, "rounding": rounding, "acc": v["a_mean"],
                    "madam_acc": v["b_mean"], "diff": v["diff_mean"], "ci_lo": v["ci_lo"],
                    "ci_hi": v["ci_hi"], "fails": fails})
    text, rescued = [], []
    for rule in [k for k in KEYS if any(r["rule"] == k for r in out)]:
        mine = [r for r in out if r["rule"] == rule]
        failed = sorted({(r["bits"], r["rounding"]) for r in mine if r["fails"]})
        name = Method.parse(rule).label
        if failed:
            parts = [f"{b} bits ({rnd})" for b, rnd in failed]
            text.append(f"{name} fails to train where LNS Madam trains at " + ", ".join(parts)
                        + f" (more than {fail_points:g} points below LNS Madam, paired 95 % "
                        "CI below 0): " + "; ".join(
                            f"{r['bits']}-bit {r['rounding']}: {r['acc']:.1f} % vs "
                            f"{r['madam_acc']:.1f} %" for r in mine if r["fails"]))
        else:
            text.append(f"{name} trains wherever LNS Madam does at these widths (no row more "
                        f"than {fail_points:g} points below LNS Madam with its CI below 0)")
        worse = [r for r in mine if not r["fails"] and r["ci_hi"] is not None
                 and r["ci_hi"] < 0]
        if worse:
            text.append(f"{name} is worse than LNS Madam without failing (paired 95 % CI below "
                        "0) at " + "; ".join(
                            f"{r['bits']}-bit {r['rounding']}: {r['diff']:+.1f} points "
                            f"[{r['ci_lo']:+.1f}, {r['ci_hi']:+.1f}]" for r in worse))
        for b in sorted({r["bits"] for r in mine}):
            rne = next((r for r in mine if r["bits"] == b and r["rounding"] == "nearest_even"),
                       None)
            sr = next((r for r in mine if r["bits"] == b and r["rounding"] == "stochastic"),
                      None)
            if rne and sr and rne["fails"]:
                ok = not sr["fails"]
                if ok:
                    rescued.append({"rule": rule, "bits": b})
                text.append(f"{name} {b}-bit: stochastic rounding "
                            f"{'rescues it' if ok else 'does not rescue it'} "
                            f"({sr['acc']:.1f} % against nearest-even {rne['acc']:.1f} %, "
                            f"LNS Madam {sr['madam_acc']:.1f} %)")
    return {"fail_points": fail_points, "rows": out, "rescued": rescued, "text": text}
