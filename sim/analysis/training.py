"""Training emulation: a small MLP on scikit-learn's digits, LNS Madam beside float optimizers.

Data: ``sklearn.datasets.load_digits`` (1,797 8x8 images, shipped inside scikit-learn, no
download), pixels scaled to [0, 1], one fixed stratified split (``split_seed``, 25 % test).
Model: 64-64-10, ReLU, softmax cross-entropy; forward and backward in float64 numpy,
written here.  He-normal initial weights, biases 0.  Minibatches of ``batch`` in a
seeded order; the seed sets the initial weights and the order.

Optimizers, one object per tensor with ``step(w, g) -> new w``:

``adam``, ``sgd``
    `python_ref.Adam` (lr 1e-3) and `python_ref.SGD` (lr 0.1, momentum 0.9) on every tensor.
``madam``
    float `python_ref.Madam`, base 2, ``eta = 2**eta_log2`` (LNS-Madam's 2**-7), on both
    weight matrices, with the exact float gradient.
``lns``
    the bit-exact `lns.madam_update` on both weight matrices, held as LNS words of
    `lns.presets.config_for_bits` (``bits``-bit weight, the base preset's gradient and moment
    formats unless ``grad_bits``; the same eta as float Madam, so stochastic rounding of the
    step below 12 bits where eta is under one LSB).  Each tensor has its own second-moment
    words, its clip word ``cfg.clip_code(w0)`` and one LFSR lane.  The forward and backward
    passes use the weights decoded from the words; the gradient is encoded into the
    gradient format after a per-tensor power-of-two scale fixed at the first step (the
    largest ``|g|`` of the first batch lands in [1, 2)), so the format's window (2**-24 ..
    2**8 for the presets' i5 gradients) holds it with 7 octaves of headroom above and 24
    below.  A constant power of two changes neither ``g_hat`` (scale invariant when the
    scale is fixed: the second moment scales with it) nor any code but the gradient's
    exponent; only underflow could differ.  Initial weights below the format's floor are
    raised to the floor (a zero weight would never move), as in `sim.analysis.tracking`.

Biases: Madam cannot move a zero weight and never changes a weight's sign, so in the
``madam`` and ``lns`` runs the two bias vectors (74 numbers) stay float64 and are trained by
Adam (lr 1e-3); only the weight matrices (4,736 numbers) use Madam.  Adam and SGD runs
train biases with their own rule.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

import numpy as np

import lns
from lns.presets import config_for_bits
from python_ref import SGD, Adam, Madam

from .tracking import initial_codes

__all__ = ["load_data", "init_params", "loss_and_grads", "error_rate", "LNSTensor",
           "train_once", "run_training", "claim_8bit", "plot_training", "QUICK", "FULL"]

QUICK = {"seeds": (0, 1), "bits": (6, 8, 12, 16), "epochs": 20}
FULL = {"seeds": (0, 1, 2), "bits": (6, 8, 10, 12, 16), "epochs": 40}
METHODS = ("adam", "sgd", "madam", "lns")
LABELS = {"adam": "Adam", "sgd": "SGD", "madam": "Madam, base 2", "lns": "LNS Madam"}


# ---- data and model -------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_data(split_seed: int = 0, test_share: float = 0.25):
    """``(X_train, y_train, X_test, y_test)`` of the digits, pixels in [0, 1]."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:                                     # pragma: no cover
        raise ValueError("training needs scikit-learn (pip install scikit-learn)") from None
    d = load_digits()
    X = d.data.astype(np.float64) / 16.0
    xtr, xte, ytr, yte = train_test_split(X, d.target, test_size=test_share,
                                          random_state=split_seed, stratify=d.target)
    for a in (xtr, xte, ytr, yte):
        a.setflags(write=False)
    return xtr, ytr, xte, yte


def init_params(rng: np.random.Generator, hidden: int = 64) -> list[np.ndarray]:
    """``[W1, b1, W2, b2]``: He-normal weights (64 x hidden, hidden x 10), zero biases."""
    return [rng.normal(0.0, math.sqrt(2 / 64), (64, hidden)), np.zeros(hidden),
            rng.normal(0.0, math.sqrt(1 / hidden), (hidden, 10)), np.zeros(10)]


def _logits(params, X):
    W1, b1, W2, b2 = params
    a = X @ W1 + b1
    h = np.maximum(a, 0.0)
    return a, h, h @ W2 + b2


def loss_and_grads(params, X, y):
    """Mean cross-entropy of the batch and its gradients, in the order of ``params``."""
    W1, b1, W2, b2 = params
    a, h, z = _logits(params, X)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    rows = np.arange(n)
    loss = float(-np.mean(np.log(p[rows, y])))
    dz = p
    dz[rows, y] -= 1.0
    dz /= n
    dh = (dz @ W2.T) * (a > 0)
    return loss, [X.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


def error_rate(params, X, y) -> float:
    """Share of misclassified samples."""
    return float(np.mean(np.argmax(_logits(params, X)[2], axis=1) != y))


# ---- the LNS tensor -------------------------------------------------------------------------
class LNSTensor:
    """One weight tensor held as LNS words and updated by the bit-exact `lns.madam_update`.

    ``step(w, g)`` ignores ``w`` (the words are the state), quantises ``g`` to the gradient
    format after the fixed power-of-two ``scale`` (set at the first step), updates the words
    and returns the decoded weights.
    """

    def __init__(self, cfg: lns.MadamConfig, w0: np.ndarray, seed: int = 0):
        self.cfg = cfg
        self.shape = w0.shape
        self.clip = cfg.clip_code(w0)
        self.codes = initial_codes(cfg, w0.ravel(), self.clip)
        self.v = np.zeros(self.codes.shape, dtype=np.int64)
        self.state = lns.lane_seeds(seed, 1) if cfg.is_stochastic else None
        self.t = 0
        self.scale = None

    def weights(self) -> np.ndarray:
        return lns.decode(self.cfg.weight, self.codes).reshape(self.shape)

    def step(self, w, g) -> np.ndarray:
        g = np.asarray(g, dtype=np.float64).ravel()
        if self.scale is None:
            top = float(np.max(np.abs(g)))
            self.scale = 2.0 ** -math.floor(math.log2(top)) if top > 0 else 1.0
        g_codes = lns.encode(self.cfg.grad, g * self.scale)
        self.t += 1
        self.codes, self.v = lns.madam_update(self.cfg, self.codes, g_codes, self.v, self.t,
                                              clip=self.clip, lfsr_state=self.state)
        return self.weights()


# ---- one run --------------------------------------------------------------------------------
def _optimizers(method, params, *, cfg, eta_log2, adam_lr, sgd_lr, seed):
    opts = []
    for i, w in enumerate(params):
        is_weight = i % 2 == 0
        if method == "adam" or (method in ("madam", "lns") and not is_weight):
            opts.append(Adam(w, lr=adam_lr))
        elif method == "sgd":
            opts.append(SGD(w, lr=sgd_lr, momentum=0.9))
        elif method == "madam":
            opts.append(Madam(w, eta=2.0 ** eta_log2, base=2))
        elif method == "lns":
            opts.append(LNSTensor(cfg, w, seed=seed * 16 + i))
        else:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    return opts


def train_once(method: str, seed: int, *, epochs: int, cfg: lns.MadamConfig | None = None,
               eta_log2: int = -7, adam_lr: float = 1e-3, sgd_lr: float = 0.1,
               batch: int = 16, hidden: int = 64, split_seed: int = 0) -> dict:
    """Train once; returns ``{"seed", "train_err", "test_err", "test_err_curve"}`` (errors
    as shares, the curve one value per epoch)."""
    if method == "lns" and cfg is None:
        raise ValueError("method 'lns' needs cfg")
    xtr, ytr, xte, yte = load_data(split_seed)
    rng = np.random.default_rng(seed)
    params = init_params(rng, hidden)
    opts = _optimizers(method, params, cfg=cfg, eta_log2=eta_log2, adam_lr=adam_lr,
                       sgd_lr=sgd_lr, seed=seed)
    params = [o.weights() if isinstance(o, LNSTensor) else p for o, p in zip(opts, params)]
    curve = []
    for _ in range(epochs):
        order = rng.permutation(len(ytr))
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            _, grads = loss_and_grads(params, xtr[idx], ytr[idx])
            params = [o.step(p, g) for o, p, g in zip(opts, params, grads)]
        curve.append(error_rate(params, xte, yte))
    return {"seed": int(seed), "train_err": error_rate(params, xtr, ytr),
            "test_err": curve[-1] if curve else error_rate(params, xte, yte),
            "test_err_curve": curve}


# ---- the comparison -------------------------------------------------------------------------
def _stats(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64) * 100.0
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def _row(method, runs, **extra) -> dict:
    tr_m, tr_s = _stats([r["train_err"] for r in runs])
    te_m, te_s = _stats([r["test_err"] for r in runs])
    curve = np.mean([r["test_err_curve"] for r in runs], axis=0) * 100.0
    return {"optimizer": method, **extra,
            "train_err_mean": tr_m, "train_err_std": tr_s,
            "test_err_mean": te_m, "test_err_std": te_s,
            "test_acc_mean": 100.0 - te_m, "test_acc_std": te_s,
            "test_err_curve": [float(c) for c in curve], "runs": runs}


def run_training(quick: bool = True, seeds=None, bits=None, *, epochs: int | None = None,
                 grad_bits: int | None = None, extra_lns: tuple = ((8, 8),),
                 base: str = "lns12", eta_log2: int = -7, adam_lr: float = 1e-3,
                 sgd_lr: float = 0.1, batch: int = 16, hidden: int = 64,
                 methods=METHODS, tolerance: float = 1.0, progress=None) -> dict:
    """Train every optimizer over ``seeds`` and LNS Madam at each of ``bits``.

    ``quick`` picks the defaults of ``QUICK`` (2 seeds, 4 widths, 20 epochs) or ``FULL``
    (3 seeds, 5 widths, 40 epochs) for whatever is ``None``.  ``extra_lns`` adds LNS rows
    ``(weight_bits, grad_bits)`` (default: 8-bit weights *and* 8-bit gradients).
    ``progress(i, n, label)`` is called before each run.

    Returns a JSON-serialisable dict:

    ``dataset`` (name, train, test, features, classes, split_seed), ``model``, ``epochs``,
    ``batch``, ``seeds``, ``bits``, ``settings`` (eta_log2, adam_lr, sgd_lr, base, biases,
    grad_scale), ``rows`` (one per optimizer and width: optimizer, label, weight_bits
    (``None`` for float64), grad_bits, weight_format, grad_format, moment_format, rounding,
    train_err_mean/std, test_err_mean/std, test_acc_mean/std (percent; std over seeds,
    ddof 1), test_err_curve (mean test error per epoch, percent), runs), ``claim_8bit``
    (holds, lns_8bit_test_acc, float_madam_test_acc, gap_points, tolerance_points, text),
    ``seconds``.
    """
    preset = QUICK if quick else FULL
    seeds = tuple(int(s) for s in (preset["seeds"] if seeds is None else seeds))
    bits = tuple(int(b) for b in (preset["bits"] if bits is None else bits))
    epochs = preset["epochs"] if epochs is None else int(epochs)
    if not seeds or epochs < 1:
        raise ValueError(f"seeds must be non-empty and epochs positive, not {seeds} and {epochs}")
    lns_specs = [(b, grad_bits) for b in bits] if "lns" in methods else []
    lns_specs += [tuple(e) for e in extra_lns if "lns" in methods and tuple(e) not in lns_specs]
    jobs = [(m, None) for m in methods if m != "lns"] + [("lns", s) for s in lns_specs]
    kw = dict(epochs=epochs, eta_log2=eta_log2, adam_lr=adam_lr, sgd_lr=sgd_lr, batch=batch,
              hidden=hidden)
    rows = []
    t0 = time.perf_counter()
    n_runs, i = len(jobs) * len(seeds), 0
    for method, spec in jobs:
        cfg = None
        extra = {"label": LABELS[method], "weight_bits": None, "grad_bits": None}
        if method == "lns":
            wb, gb = spec
            cfg = config_for_bits(wb, base, eta_log2=eta_log2, grad_bits=gb)
            extra = {"label": f"LNS Madam {wb}-bit" + (f", {gb}-bit grad" if gb else ""),
                     "weight_bits": wb, "grad_bits": cfg.grad.total_bits,
                     "weight_format": cfg.weight.name, "grad_format": cfg.grad.name,
                     "moment_format": cfg.moment.name, "rounding": cfg.rounding,
                     "config": cfg.to_dict()}
        runs = []
        for s in seeds:
            if progress:
                progress(i, n_runs, extra["label"])
            i += 1
            runs.append(train_once(method, s, cfg=cfg, **kw))
        rows.append(_row(method, runs, **extra))
    xtr, _, xte, _ = load_data()
    result = {
        "dataset": {"name": "sklearn digits (8x8)", "train": len(xtr), "test": len(xte),
                    "features": 64, "classes": 10, "split_seed": 0},
        "model": f"MLP 64-{hidden}-10, ReLU, softmax cross-entropy, float64",
        "epochs": epochs, "batch": batch, "seeds": list(seeds), "bits": list(bits),
        "settings": {"eta_log2": eta_log2, "adam_lr": adam_lr, "sgd_lr": sgd_lr,
                     "sgd_momentum": 0.9, "base": base,
                     "biases": "float64, Adam lr 1e-3, in the Madam and LNS Madam runs",
                     "grad_scale": "per tensor, power of two fixed at step 1: max |g| in [1, 2)"},
        "rows": rows, "seconds": time.perf_counter() - t0}
    result["claim_8bit"] = claim_8bit(result, tolerance)
    return result


def claim_8bit(result: dict, tolerance: float = 1.0) -> dict:
    """Does LNS Madam with 8-bit weights reach float Madam's test accuracy within
    ``tolerance`` points (mean over seeds)?  ``holds`` is None when a row is missing."""
    fm = next((r for r in result["rows"] if r["optimizer"] == "madam"), None)
    l8 = [r for r in result["rows"] if r["optimizer"] == "lns" and r["weight_bits"] == 8]
    if fm is None or not l8:
        return {"holds": None, "text": "needs float Madam and LNS Madam at 8 bits"}
    worst = min(l8, key=lambda r: r["test_acc_mean"])
    gap = fm["test_acc_mean"] - worst["test_acc_mean"]
    holds = bool(gap <= tolerance)
    text = (f"'8 bits comparable to full precision' {'holds' if holds else 'does not hold'} here: "
            f"{worst['label']} reaches {worst['test_acc_mean']:.2f} +- {worst['test_acc_std']:.2f} % "
            f"test accuracy against float Madam's {fm['test_acc_mean']:.2f} +- "
            f"{fm['test_acc_std']:.2f} % ({gap:+.2f} points; comparable means within "
            f"{tolerance:g} point)")
    return {"holds": holds, "lns_8bit_test_acc": worst["test_acc_mean"],
            "lns_8bit_label": worst["label"], "float_madam_test_acc": fm["test_acc_mean"],
            "gap_points": gap, "tolerance_points": tolerance, "text": text}


# ---- plot -----------------------------------------------------------------------------------
def plot_training(result: dict, path) -> str:
    """Test accuracy (mean +- std over seeds) against weight bits for LNS Madam, with the
    float optimizers as horizontal bands.  Writes a PNG; returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    lns_rows = sorted((r for r in result["rows"] if r["optimizer"] == "lns"),
                      key=lambda r: r["weight_bits"])
    groups: dict = {}
    for r in lns_rows:
        groups.setdefault(r["grad_format"], []).append(r)
    for fmt, rs in groups.items():
        ax.errorbar([r["weight_bits"] for r in rs], [r["test_acc_mean"] for r in rs],
                    yerr=[r["test_acc_std"] for r in rs], marker="o", capsize=3,
                    label=f"LNS Madam (grad {fmt})")
    colors = {"adam": "C2", "sgd": "C3", "madam": "C4"}
    for r in result["rows"]:
        if r["optimizer"] in colors:
            m, s = r["test_acc_mean"], r["test_acc_std"]
            ax.axhline(m, color=colors[r["optimizer"]], ls="--", label=f"{r['label']} (float64)")
            ax.axhspan(m - s, m + s, color=colors[r["optimizer"]], alpha=0.12)
    ax.set_xlabel("weight bits (LNS word)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title(f"digits, MLP, {result['epochs']} epochs, {len(result['seeds'])} seeds")
    lo = min(r["test_acc_mean"] for r in result["rows"])
    ax.set_ylim(max(0.0, min(lo - 2, 90.0)), 100.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
