"""A small convolutional network on scikit-learn's 8x8 digits, trained by JAX with any of
the project's optimizers: the second model of issue 13, so the training findings do not
rest on one MLP.

Model (NHWC, float32): ``conv 3x3, 1 -> 8 channels, stride 1, SAME`` + ReLU, ``conv 3x3,
8 -> 16, stride 2, SAME`` + ReLU (8x8 -> 4x4), flatten (256), ``dense 256 -> 10``; softmax
cross-entropy: 3,784 weights and 34 biases (`PARAM_COUNT`).  He-normal weights (fan in),
zero biases, drawn with numpy from the run's seed, which also sets the batch order (as
`sim.analysis.training` does for the MLP).  The forward and backward passes are JAX's
(``jax.grad`` of the loss), jitted together with the optimizer's update; the loss and error
curves are measured on the whole train and test sets after each epoch.

Optimizers (``method``):

``adam``, ``sgd``
    ``optax.adam(lr)`` (lr 1e-3) and ``optax.sgd(lr, momentum)`` (lr 0.1, momentum 0.9) on
    every tensor.
``madam``
    float Madam (`sim.jaxlns.madam.madam`, base 2, ``eta = lr``, default 2**-7) on the
    weights.
``lns_madam``, ``lns_adam``, ``lns_sgd``
    the bit-exact rules (`sim.jaxlns.transform`) on the weights, of ``cfg`` (default
    ``lns.presets.get("lns12")``, ``presets.get("lns12_adam")``,
    ``presets.get("lns12_sgd")``).  ``lr``, when given, must be a power of two and
    replaces the config's eta; ``momentum`` is LNS SGD's ``mu``.

Biases: float Adam (lr 1e-3) in the Madam and LNS runs (Madam cannot move a zero weight;
the same rule for the LNS Adam/SGD rows keeps the comparison about the weights), as the MLP.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lns
from lns.errors import InvalidType, InvalidValue
from lns import presets

from .madam import madam
from .transform import lns_adam, lns_madam, lns_sgd

__all__ = ["METHODS", "DEFAULT_LR", "PARAM_COUNT", "init_cnn", "forward", "batch_loss",
           "train_cnn", "make_optimizer"]

METHODS = ("adam", "sgd", "madam", "lns_madam", "lns_adam", "lns_sgd")
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.1, "madam": 2.0 ** -7}
BIAS_LR = 1e-3
# (name, kernel shape HWIO or dense (in, out), stride)
LAYERS = (("conv1", (3, 3, 1, 8), 1), ("conv2", (3, 3, 8, 16), 2), ("dense", (256, 10), None))
PARAM_COUNT = {"weights": sum(math.prod(s) for _, s, _ in LAYERS),
               "biases": sum(s[-1] for _, s, _ in LAYERS)}


def init_cnn(rng: np.random.Generator) -> dict:
    """``{layer: {"w", "b"}}``: He-normal weights (std ``sqrt(2 / fan_in)``), zero biases,
    float32."""
    params = {}
    for name, shape, _ in LAYERS:
        fan_in = math.prod(shape[:-1])
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
        params[name] = {"w": jnp.asarray(w, jnp.float32),
                        "b": jnp.zeros(shape[-1], jnp.float32)}
    return params


def forward(params: dict, x: jax.Array) -> jax.Array:
    """Logits of images ``x`` (N, 64) in [0, 1]."""
    h = x.reshape(-1, 8, 8, 1)
    for name, _, stride in LAYERS[:-1]:
        h = jax.lax.conv_general_dilated(h, params[name]["w"], (stride, stride), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.nn.relu(h + params[name]["b"])
    h = h.reshape(h.shape[0], -1)
    return h @ params["dense"]["w"] + params["dense"]["b"]


def batch_loss(params, x, y, mask):
    """Mean cross-entropy over the samples where ``mask`` is 1: the last, short batch of an
    epoch is padded to the batch size, so one compiled step serves every batch."""
    ce = optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y)
    return jnp.sum(ce * mask) / jnp.sum(mask)


@jax.jit
def _evaluate(params, x, y):
    logits = forward(params, x)
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
    return loss, jnp.mean(jnp.argmax(logits, axis=1) != y)


def _positive(name, x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) and x > 0):
        raise InvalidValue(f"{name} must be a positive number, not {x!r}")
    return float(x)


def _pow2(lr, name) -> int:
    e = math.log2(_positive("lr", lr))
    if e != round(e):
        raise InvalidValue(f"lr of {name} must be a power of two (eta = 2**eta_log2), not {lr!r}")
    return int(round(e))


def make_optimizer(method: str, params: dict, *, seed: int = 0, cfg=None, lr=None,
                   momentum: float = 0.9) -> optax.GradientTransformation:
    """The optimizer of ``method`` for the CNN's ``params`` (see the module docstring)."""
    if method not in METHODS:
        raise InvalidValue(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if method in ("adam", "sgd", "madam") and cfg is not None:
        raise InvalidValue(f"cfg is for the LNS methods, not {method!r}")
    if method in DEFAULT_LR:
        lr = DEFAULT_LR[method] if lr is None else _positive("lr", lr)
    if method == "adam":
        return optax.adam(lr)
    if method == "sgd":
        return optax.sgd(lr, momentum=momentum)
    if method == "madam":
        weights = madam(lr)
    else:
        default = {"lns_madam": lns.presets.get(lns.presets.DEFAULT),
                   "lns_adam": presets.get("lns12_adam"),
                   "lns_sgd": presets.get("lns12_sgd")}[method]
        cfg = default if cfg is None else cfg
        if type(cfg) is not type(default):
            raise InvalidType(f"method {method!r} needs a {type(default).__name__}, not "
                              f"{type(cfg).__name__}")
        if lr is not None:
            cfg = cfg.replace(eta_log2=_pow2(lr, method))
        if method == "lns_sgd" and momentum != cfg.mu:
            cfg = cfg.replace(mu=momentum)
        weights = {"lns_madam": lns_madam, "lns_adam": lns_adam, "lns_sgd": lns_sgd}[method](
            cfg, seed=seed)
    labels = {layer: {"w": "w", "b": "b"} for layer in params}
    return optax.multi_transform({"w": weights, "b": optax.adam(BIAS_LR)}, labels)


def _make_step(method, cfg, lr, momentum):
    """The jitted training step: gradients of a batch, the optimizer's update, applied."""
    tx = make_optimizer(method, {name: None for name, _, _ in LAYERS}, cfg=cfg, lr=lr,
                        momentum=momentum)

    @jax.jit
    def step(params, state, x, y, mask):
        grads = jax.grad(batch_loss)(params, x, y, mask)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state
    return step


# A run's seed reaches the optimizer only through ``init`` (the LFSR lanes are state), so
# the seeds of one row share one compiled step: one XLA compile per row, not per run.
_cached_step = lru_cache(maxsize=16)(_make_step)


def _step(method, cfg, lr, momentum):
    try:
        return _cached_step(method, cfg, lr, momentum)
    except TypeError:                       # an unhashable argument: compile for this run
        return _make_step(method, cfg, lr, momentum)


def _check_data(data):
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise InvalidValue("data must be the tuple (x_train, y_train, x_test, y_test)")
    xtr, ytr, xte, yte = (np.asarray(a) for a in data)
    for x, y, what in ((xtr, ytr, "train"), (xte, yte, "test")):
        if x.ndim != 2 or x.shape[1] != 64 or y.shape != (x.shape[0],) or not len(y):
            raise InvalidValue(f"{what} data must be images (N, 64) and labels (N,), not "
                               f"{x.shape} and {y.shape}")
    # numpy for the training part (batches are cut on the host, cheaply), JAX for the
    # evaluation
    return (xtr.astype(np.float32), ytr.astype(np.int32),
            jnp.asarray(xtr, jnp.float32), jnp.asarray(ytr, jnp.int32),
            jnp.asarray(xte, jnp.float32), jnp.asarray(yte, jnp.int32))


def train_cnn(method: str, seed: int, *, epochs: int, data, cfg=None, lr=None,
              momentum: float = 0.9, batch: int = 16) -> dict:
    """Train the CNN once with ``method`` (one of `METHODS`).

    ``data`` is ``(x_train, y_train, x_test, y_test)``, e.g.
    `sim.analysis.training.load_data()`; ``seed`` sets the initial weights, the batch order
    and the LFSR lanes of stochastic LNS configs.  Returns ``{"seed", "train_err",
    "test_err", "train_loss", "test_loss", "curves": {"train_loss", "test_loss",
    "train_err", "test_err"}, "seconds"}``: errors as shares, final values after the last
    epoch, curves one value per epoch.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidType(f"seed must be an int, not {seed!r}")
    for name, value, low in (("epochs", epochs, 1), ("batch", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InvalidValue(f"{name} must be a positive int, not {value!r}")
    xtr, ytr, xtr_j, ytr_j, xte, yte = _check_data(data)
    t0 = time.perf_counter()
    rng = np.random.default_rng(int(seed))
    params = init_cnn(rng)
    state = make_optimizer(method, params, seed=int(seed), cfg=cfg, lr=lr,
                           momentum=momentum).init(params)
    step = _step(method, cfg, lr, momentum)
    curves = {"train_loss": [], "test_loss": [], "train_err": [], "test_err": []}
    n = xtr.shape[0]
    batch = int(batch)
    full = np.ones(batch, np.float32)
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        for k in range(0, n, batch):
            idx = order[k:k + batch]
            mask = full
            if len(idx) < batch:                  # pad with sample 0, weighted 0
                mask = np.zeros(batch, np.float32)
                mask[:len(idx)] = 1.0
                idx = np.concatenate([idx, np.zeros(batch - len(idx), idx.dtype)])
            params, state = step(params, state, xtr[idx], ytr[idx], mask)
        for part, x, y in (("train", xtr_j, ytr_j), ("test", xte, yte)):
            loss, err = _evaluate(params, x, y)
            curves[f"{part}_loss"].append(float(loss))
            curves[f"{part}_err"].append(float(err))
    return {"seed": int(seed), "method": method,
            **{key: values[-1] for key, values in curves.items()},
            "curves": curves, "seconds": time.perf_counter() - t0}
