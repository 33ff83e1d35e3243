"""One training run of the MLP: any optimizer, any evaluation set, per-epoch curves.

The run dict (the contract every model's trainer returns, the MLP's `train_once` here and
the CNN's ``sim.jaxlns.cnn.train_cnn``; `sim.analysis.training.table` builds rows from
either)::

    {"seed": int, "method": str, "model": "mlp" | "cnn",
     "train_err", "test_err": float            # shares in [0, 1] after the last epoch
     "train_loss", "test_loss": float          # mean cross-entropy (nats) after the last epoch
     "curves": {"train_loss", "test_loss", "train_err", "test_err": [float] * epochs},
     "test_err_curve": [float] * epochs        # = curves["test_err"] (kept for old readers)
     "eta": float,                              # the learning rate of the last epoch
     "seconds": float}

"train" is the set trained on, "test" the evaluation set: ``data = (x_train, y_train,
x_eval, y_eval)``, by default the digits' train / test split; while tuning, the
train-proper / validation split (`data.train_validation`), so "test" is then validation.

Optimizers, one object per tensor with ``step(w, g) -> new w``:

``adam``, ``sgd``
    `python_ref.Adam` and `python_ref.SGD` (with ``momentum``) on every tensor.
``madam``
    float `python_ref.Madam`, base 2, ``eta = lr`` (default ``2**eta_log2``), on both
    weight matrices, with the exact float gradient.
``lns`` (alias ``lns_madam``), ``lns_adam``, ``lns_sgd``
    the bit-exact `lns.madam_update` / `lns.adam_update` / `lns.sgd_update` on both weight
    matrices, held as LNS words (`tensors.LNSTensor`) of ``cfg`` (default: the 12-bit
    configuration of `lns.presets.config_for_bits` / `adam_config_for_bits` /
    `sgd_config_for_bits`); eta is ``cfg``'s (``lr``, a power of two, replaces it).

Biases: Madam cannot move a zero weight and never changes a weight's sign, so in every
Madam and LNS run (LNS Adam and LNS SGD too, so the LNS rows differ only in the rule on the
weight matrices) the two bias vectors (74 numbers) stay float64 and are trained by Adam
(``bias_lr``, 1e-3); only the weight matrices (4,736 numbers) use the rule under test.
The float Adam and SGD runs train biases with their own rule and learning rate.

The seed sets the initial weights and the batch order: two runs with the same seed start
from the same weights and see the same batches (the pairing of `stats`).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from functools import wraps

import numpy as np

from lns.errors import InvalidValue
from lns.presets import adam_config_for_bits, config_for_bits, sgd_config_for_bits
from python_ref import SGD, Adam, Madam

from .data import load_data
from .model import WEIGHT_INDICES, evaluate, init_params, loss_and_grads, xavier_scales
from .tensors import LNSTensor

__all__ = ["METHODS", "LABELS", "FLOAT_METHODS", "LNS_METHODS", "train_once", "train_run",
           "canonical", "default_config", "single_thread", "timed_single_thread"]

METHODS = ("adam", "sgd", "madam", "lns", "lns_adam", "lns_sgd")
FLOAT_METHODS = ("adam", "sgd", "madam")
LNS_METHODS = ("lns", "lns_adam", "lns_sgd")
LABELS = {"adam": "Adam", "sgd": "SGD", "madam": "Madam, base 2", "lns": "LNS Madam",
          "lns_adam": "LNS Adam", "lns_sgd": "LNS SGD"}
_ALIASES = {"lns_madam": "lns"}
_DEFAULT_LR = {"adam": 1e-3, "sgd": 0.1}


def canonical(method: str) -> str:
    """The method's name in rows (``lns_madam`` is ``lns``); InvalidValue otherwise."""
    m = _ALIASES.get(method, method)
    if m not in METHODS:
        raise InvalidValue(f"method must be one of {', '.join(METHODS + tuple(_ALIASES))}, "
                           f"not {method!r}")
    return m


def default_config(method: str, bits: int = 12, **kw):
    """The configuration of an LNS method at ``bits`` (`lns.presets`)."""
    make = {"lns": config_for_bits, "lns_adam": adam_config_for_bits,
            "lns_sgd": sgd_config_for_bits}[canonical(method)]
    return make(bits, **kw)


@contextmanager
def single_thread():
    """BLAS on one thread while training: the matrices are small (16 x 64 x 64 a batch),
    where threads cost more than they give, and the machine's cores are shared."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                                     # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        yield


def timed_single_thread(fn):
    """Run ``fn`` under `single_thread` and add ``cpu_seconds`` (this process's CPU time:
    unlike ``seconds``, not stretched by other jobs on a shared machine) to its result."""
    @wraps(fn)
    def run(*args, **kw):
        with single_thread():
            c0 = time.process_time()
            out = fn(*args, **kw)
        out["cpu_seconds"] = time.process_time() - c0
        return out
    return run


def _eta_log2_of(lr) -> int:
    e = math.log2(lr) if lr and lr > 0 else math.nan
    if not math.isfinite(e) or e != round(e):
        raise InvalidValue(f"an LNS learning rate must be a power of two, not {lr!r}")
    return int(e)


def _optimizers(method, params, *, cfg, lr, momentum, bias_lr, seed, clip_xavier):
    xav = xavier_scales(params)
    opts = []
    for i, w in enumerate(params):
        is_weight = i in WEIGHT_INDICES
        if method == "adam":
            opts.append(Adam(w, lr=lr))
        elif method == "sgd":
            opts.append(SGD(w, lr=lr, momentum=momentum))
        elif not is_weight:
            opts.append(Adam(w, lr=bias_lr))
        elif method == "madam":
            if clip_xavier is None:
                p_scale = 3.0                                 # python_ref.Madam's default
            elif math.isinf(clip_xavier):
                p_scale = None                                # no clip
            else:
                p_scale = clip_xavier * xav[i] / float(np.sqrt(np.mean(w ** 2)))
            opts.append(Madam(w, eta=lr, base=2, p_scale=p_scale))
        else:
            sigma = None if clip_xavier is None else clip_xavier * xav[i]
            opts.append(LNSTensor(cfg, w, seed=seed * 16 + i, sigma=sigma))
    return opts


def train_once(method: str, seed: int, *, epochs: int, cfg=None, eta_log2: int = -7,
               adam_lr: float = 1e-3, sgd_lr: float = 0.1, batch: int = 16, hidden: int = 64,
               split_seed: int = 0, data=None, lr: float | None = None,
               momentum: float = 0.9, bias_lr: float = 1e-3,
               clip_xavier: float | None = None, eta_schedule=None) -> dict:
    """Train the MLP once; returns the run dict of the module docstring.

    ``lr``: the method's learning rate (default: ``adam_lr``, ``sgd_lr``, ``2**eta_log2``
    for Madam, ``cfg``'s eta for the LNS methods; a power of two there).
    ``clip_xavier``: Madam's sigma* in units of each layer's Xavier scale (``math.inf``: no
    clip; ``None``: ``p_scale = 3`` x RMS(w0) as `lns.MadamConfig` and `python_ref.Madam`
    default).  ``eta_schedule``: ``eta_log2`` per epoch (Madam and the LNS rules; a power
    of two each, on LNS a shift), overriding ``lr`` epoch by epoch.
    """
    method = canonical(method)
    if not isinstance(epochs, int) or epochs < 1:
        raise InvalidValue(f"epochs must be a positive int, not {epochs!r}")
    if eta_schedule is not None:
        eta_schedule = [int(e) for e in eta_schedule]
        if len(eta_schedule) < epochs or method in ("adam", "sgd"):
            raise InvalidValue("eta_schedule needs one eta_log2 per epoch, for Madam or an "
                               "LNS rule")
    if method in LNS_METHODS:
        cfg = default_config(method) if cfg is None else cfg
        if lr is not None:
            cfg = cfg.replace(eta_log2=_eta_log2_of(lr))
        lr = cfg.eta
    elif method == "madam":
        lr = 2.0 ** eta_log2 if lr is None else float(lr)
    else:
        lr = (adam_lr if method == "adam" else sgd_lr) if lr is None else float(lr)
    xtr, ytr, xte, yte = load_data(split_seed) if data is None else data
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    params = init_params(rng, hidden)
    opts = _optimizers(method, params, cfg=cfg, lr=lr, momentum=momentum, bias_lr=bias_lr,
                       seed=seed, clip_xavier=clip_xavier)
    params = [o.weights() if isinstance(o, LNSTensor) else p for o, p in zip(opts, params)]
    curves = {"train_loss": [], "test_loss": [], "train_err": [], "test_err": []}
    for epoch in range(epochs):
        if eta_schedule is not None:
            lr = 2.0 ** eta_schedule[epoch]
            for o in opts:
                if isinstance(o, LNSTensor):
                    o.set_eta_log2(eta_schedule[epoch])
                elif isinstance(o, Madam):
                    o.eta = lr
        order = rng.permutation(len(ytr))
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            _, grads = loss_and_grads(params, xtr[idx], ytr[idx])
            params = [o.step(p, g) for o, p, g in zip(opts, params, grads)]
        for part, (X, y) in (("train", (xtr, ytr)), ("test", (xte, yte))):
            loss, err = evaluate(params, X, y)
            curves[f"{part}_loss"].append(loss)
            curves[f"{part}_err"].append(err)
    return {"seed": int(seed), "method": method, "model": "mlp",
            "train_err": curves["train_err"][-1], "test_err": curves["test_err"][-1],
            "train_loss": curves["train_loss"][-1], "test_loss": curves["test_loss"][-1],
            "curves": curves, "test_err_curve": list(curves["test_err"]), "eta": float(lr),
            "seconds": time.perf_counter() - t0}


def _cnn_trainer():
    """``sim.jaxlns.cnn.train_cnn`` if that module is installed, else None."""
    try:
        from sim.jaxlns.cnn import train_cnn
    except ImportError:
        return None
    return train_cnn


def cnn_available() -> bool:
    return _cnn_trainer() is not None


def train_run(model: str, method: str, seed: int, *, epochs: int, data=None, cfg=None,
              lr=None, momentum: float = 0.9, batch: int = 16, **mlp_only) -> dict:
    """One run of ``model`` ("mlp" or "cnn"), the same run dict from either.

    The CNN (``sim.jaxlns.cnn.train_cnn``) takes the common arguments only; ``mlp_only``
    (clip, schedule, widths) go to the MLP.
    """
    method = canonical(method)
    if model == "mlp":
        return train_once(method, seed, epochs=epochs, data=data, cfg=cfg, lr=lr,
                          momentum=momentum, batch=batch, **mlp_only)
    if model != "cnn":
        raise InvalidValue(f"model must be 'mlp' or 'cnn', not {model!r}")
    train_cnn = _cnn_trainer()
    if train_cnn is None:
        raise InvalidValue("model 'cnn' needs sim.jaxlns.cnn (JAX), which is not installed")
    if method in LNS_METHODS and cfg is None:
        cfg = default_config(method)
    if lr is None:
        lr = cfg.eta if method in LNS_METHODS else (
            2.0 ** -7 if method == "madam" else _DEFAULT_LR[method])
    cnn_method = "lns_madam" if method == "lns" else method
    run = train_cnn(cnn_method, seed, epochs=epochs, data=data or load_data(), cfg=cfg, lr=lr,
                    momentum=momentum, batch=batch)
    run = dict(run)
    run.setdefault("method", method)
    run["method"] = method
    run.setdefault("model", "cnn")
    run.setdefault("eta", float(lr))
    run.setdefault("test_err_curve", list(run["curves"]["test_err"]))
    return run
