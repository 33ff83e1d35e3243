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
     "seconds": float,
     "diverged": int | None}                    # MLP: the epoch a float state overflowed

"train" is the set trained on, "test" the evaluation set: ``data = (x_train, y_train,
x_eval, y_eval)``, by default the digits' train / test split; while tuning, the
train-proper / validation split (`data.train_validation`), so "test" is then validation.

Methods (`methods.Method`: a rule in a number system; a key such as ``"lns_adam"`` is
accepted too), one object per tensor with ``step(w, g) -> new w``:

float (``adam``, ``sgd``, ``lion``, ``madam``)
    the registry's float reference of the rule (`python_ref.Adam`, `SGD` with ``momentum``,
    `Lion`, `Madam` in base 2 with ``eta = lr``), with the exact float gradient.
LNS (``lns`` (alias ``lns_madam``), ``lns_adam``, ``lns_sgd``, ``lns_lion``)
    the bit-exact rule (`lns.madam_update`, `adam_update`, `sgd_update`, `lion_update`,
    through the rule contract) on both weight matrices, held as LNS words
    (`tensors.LNSTensor`) of ``cfg`` (default: the rule's 12-bit configuration,
    `lns.presets.for_bits`); eta is ``cfg``'s (``lr``, a power of two, replaces it).

Biases: Madam cannot move a zero weight (`methods.moves_zero`) and never changes a weight's
sign, so in every run of a rule that cannot (float Madam) and in every LNS run (so the LNS
rows differ only in the rule on the weight matrices) the two bias vectors (74 numbers) stay
float64 and are trained by Adam (``bias_lr``, 1e-3); only the weight matrices (4,736
numbers) use the rule under test.  The float Adam, SGD and Lion runs train biases with
their own rule and learning rate.

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
from python_ref import Adam, StateOverflow

from .data import load_data
from .methods import FLOAT_METHODS, LABELS, LNS_METHODS, METHODS, Method
from .model import WEIGHT_INDICES, evaluate, init_params, loss_and_grads, xavier_scales
from .tensors import LNSTensor

__all__ = ["METHODS", "LABELS", "FLOAT_METHODS", "LNS_METHODS", "Method", "train_once",
           "train_run", "canonical", "default_config", "single_thread", "timed_single_thread"]


def canonical(method) -> str:
    """The method's key in rows (``lns_madam`` is ``lns``); InvalidValue otherwise."""
    return Method.parse(method).key


def default_config(method, bits: int = 12, **kw):
    """The configuration of an LNS method at ``bits`` (`lns.presets.for_bits`)."""
    return Method.parse(method).config(bits, **kw)


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
    """One optimizer per tensor of ``params``, and which of them run the rule under test
    (the others: the biases' Adam)."""
    method = Method.parse(method)
    xav = xavier_scales(params)
    opts, mine = [], []
    for i, w in enumerate(params):
        if i not in WEIGHT_INDICES and (method.is_lns or not method.moves_zero):
            opts.append(Adam(w, lr=bias_lr))
            mine.append(False)
            continue
        if method.is_lns:
            sigma = None if clip_xavier is None else clip_xavier * xav[i]
            opts.append(LNSTensor(cfg, w, seed=seed * 16 + i, sigma=sigma))
        elif clip_xavier is None or i not in WEIGHT_INDICES:
            opts.append(method.float_optimizer(w, lr, momentum=momentum))
        else:
            # sigma* = clip_xavier x Xavier as the reference's p_scale x RMS(w0) (inf: none)
            p_scale = (None if math.isinf(clip_xavier)
                       else clip_xavier * xav[i] / float(np.sqrt(np.mean(w ** 2))))
            opts.append(method.float_optimizer(w, lr, momentum=momentum, p_scale=p_scale))
        mine.append(True)
    return opts, mine


def _set_lr(opt, lr: float) -> None:
    """A float reference's step size, whichever name it has (``lr``, Madam's ``eta``)."""
    setattr(opt, "lr" if hasattr(opt, "lr") else "eta", lr)


def train_once(method, seed: int, *, epochs: int, cfg=None, lr: float | None = None,
               batch: int = 16, hidden: int = 64, split_seed: int = 0, data=None,
               momentum: float = 0.9, bias_lr: float = 1e-3,
               clip_xavier: float | None = None, eta_schedule=None,
               classes: int = 10) -> dict:
    """Train the MLP once; returns the run dict of the module docstring.

    ``method``: a `methods.Method` or its key.  ``lr``: the method's learning rate
    (default `Method.default_lr`: Adam 1e-3, SGD 0.1, Madam 2**-7, Lion 2**-11; ``cfg``'s
    eta for the LNS methods, where it must be a power of two).
    ``clip_xavier``: Madam's sigma* in units of each layer's Xavier scale (``math.inf``: no
    clip; ``None``: ``p_scale = 3`` x RMS(w0) as `lns.MadamConfig` and `python_ref.Madam`
    default); ignored by a rule without a clip.  ``eta_schedule``: ``eta_log2`` per epoch
    (a power of two each, on LNS a shift), overriding ``lr`` epoch by epoch.  ``classes``:
    the output width (labels 0..classes-1); the input width is the data's.
    """
    method = Method.parse(method)
    if not isinstance(epochs, int) or epochs < 1:
        raise InvalidValue(f"epochs must be a positive int, not {epochs!r}")
    if eta_schedule is not None:
        eta_schedule = [int(e) for e in eta_schedule]
        if len(eta_schedule) < epochs:
            raise InvalidValue("eta_schedule needs one eta_log2 per epoch")
    if method.is_lns:
        cfg = method.config() if cfg is None else cfg
        if lr is not None:
            cfg = cfg.replace(eta_log2=_eta_log2_of(lr))
        lr = cfg.eta
    else:
        lr = method.default_lr if lr is None else float(lr)
    xtr, ytr, xte, yte = load_data(split_seed) if data is None else data
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    # the input width is the data's (64 digits pixels, 784 MNIST pixels, 40 MNIST-1D values)
    params = init_params(rng, hidden, n_in=xtr.shape[1], classes=classes)
    opts, mine = _optimizers(method, params, cfg=cfg, lr=lr, momentum=momentum,
                             bias_lr=bias_lr, seed=seed, clip_xavier=clip_xavier)
    # the weights the rule holds (LNS words, an IEEE unit's words) before the first step
    params = [o.weights() if hasattr(o, "weights") else p for o, p in zip(opts, params)]
    curves = {"train_loss": [], "test_loss": [], "train_err": [], "test_err": []}
    diverged = None
    for epoch in range(epochs):
        if eta_schedule is not None:
            lr = 2.0 ** eta_schedule[epoch]
            for o, own in zip(opts, mine):
                if isinstance(o, LNSTensor):
                    o.set_eta_log2(eta_schedule[epoch])
                elif own:
                    _set_lr(o, lr)
        order = rng.permutation(len(ytr))
        try:
            for k in range(0, len(order), batch):
                idx = order[k:k + batch]
                _, grads = loss_and_grads(params, xtr[idx], ytr[idx])
                params = [o.step(p, g) for o, p, g in zip(opts, params, grads)]
        except StateOverflow:
            # a float optimizer's state overflowed: the run has diverged; this epoch and
            # every later one count every example wrong at an infinite loss
            diverged = epoch + 1
            for key in curves:
                curves[key] += [math.inf if key.endswith("loss") else 1.0] * (epochs - epoch)
            break
        for part, (X, y) in (("train", (xtr, ytr)), ("test", (xte, yte))):
            loss, err = evaluate(params, X, y)
            curves[f"{part}_loss"].append(loss)
            curves[f"{part}_err"].append(err)
    return {"seed": int(seed), "method": method.key, "model": "mlp", "diverged": diverged,
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


def train_run(model: str, method, seed: int, *, epochs: int, data=None, cfg=None,
              lr=None, momentum: float = 0.9, batch: int = 16, task: str | None = None,
              **mlp_only) -> dict:
    """One run of ``model`` ("mlp" or "cnn"), the same run dict from either.

    The CNN (``sim.jaxlns.cnn.train_cnn``) takes the common arguments and ``task`` (its
    network, `sim.jaxlns.cnn.ARCHS`; None: the one of the data's width) only;
    ``mlp_only`` (clip, schedule, widths, hidden, classes) go to the MLP, which is the same
    for every task but its input width.
    """
    method = Method.parse(method)
    if model == "mlp":
        return train_once(method, seed, epochs=epochs, data=data, cfg=cfg, lr=lr,
                          momentum=momentum, batch=batch, **mlp_only)
    if model != "cnn":
        raise InvalidValue(f"model must be 'mlp' or 'cnn', not {model!r}")
    train_cnn = _cnn_trainer()
    if train_cnn is None:
        raise InvalidValue("model 'cnn' needs sim.jaxlns.cnn (JAX), which is not installed")
    if method.is_lns and cfg is None:
        cfg = method.config()
    if lr is None:
        lr = cfg.eta if method.is_lns else method.default_lr
    run = train_cnn(method, seed, epochs=epochs, data=data or load_data(), cfg=cfg, lr=lr,
                    momentum=momentum, batch=batch, task=task)
    run = dict(run)
    run["method"] = method.key
    run.setdefault("model", "cnn")
    run.setdefault("eta", float(lr))
    run.setdefault("test_err_curve", list(run["curves"]["test_err"]))
    return run
