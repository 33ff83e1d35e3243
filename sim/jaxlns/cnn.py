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

Optimizers (``method``: a `sim.analysis.training.Method`, a rule in a number system, or
its name: ``"adam"``, ``"lns_madam"``, ...):

float (``adam``, ``sgd``, ``lion``, ``madam``)
    the rule's float optimizer in JAX (`FLOAT_TRANSFORMS`): ``optax.adam(lr)`` (lr 1e-3),
    ``optax.sgd(lr, momentum)`` (lr 0.1, momentum 0.9), ``optax.lion(lr)`` (lr 2**-11,
    betas 0.9 / 0.99 and no weight decay, as `python_ref.Lion` and LNS Lion), float Madam
    (`sim.jaxlns.madam.madam`, base 2, ``eta = lr``, default 2**-7).
LNS (``lns_madam``, ``lns_adam``, ``lns_sgd``, ``lns_lion``)
    the bit-exact rule (`sim.jaxlns.transform.lns_transform`, through the rule contract) on
    the weights, of ``cfg`` (default: the rule's family preset, ``lns12``, ``lns12_adam``,
    ``lns12_sgd``, ``lns12_lion``).  ``lr``, when given, must be a power of two and
    replaces the config's eta; ``momentum`` is the config's ``mu`` where it has one (LNS
    SGD).

Biases: float Adam (lr 1e-3) in every LNS run and in the float run of a rule that cannot
move a zero weight (Madam: `sim.analysis.training.methods.moves_zero`; the same for the LNS
rows keeps the comparison about the weights), as the MLP.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lns import presets
from lns.errors import InvalidType, InvalidValue
from lns.modes import Optimizer

from ..analysis.training.methods import METHODS as _METHODS, Method
from .madam import madam
from .transform import lns_transform

__all__ = ["METHODS", "DEFAULT_LR", "FLOAT_TRANSFORMS", "PARAM_COUNT", "init_cnn", "forward",
           "batch_loss", "train_cnn", "make_optimizer"]

METHODS = tuple(m.alias for m in _METHODS)
DEFAULT_LR = {m.alias: m.default_lr for m in _METHODS if not m.is_lns}
# each rule's float optimizer in JAX: ``f(lr, momentum)`` (the CNN's counterpart of the
# registry's float reference, `python_ref`)
FLOAT_TRANSFORMS = {
    Optimizer.ADAM: lambda lr, momentum: optax.adam(lr),
    Optimizer.SGD: lambda lr, momentum: optax.sgd(lr, momentum=momentum),
    Optimizer.LION: lambda lr, momentum: optax.lion(lr, b1=0.9, b2=0.99, weight_decay=0.0),
    Optimizer.MADAM: lambda lr, momentum: madam(lr),
}
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


def _method(method) -> Method:
    try:
        return Method.parse(method)
    except InvalidValue:
        raise InvalidValue(f"method must be one of {', '.join(METHODS)}, not {method!r}") \
            from None


def make_optimizer(method, params: dict, *, seed: int = 0, cfg=None, lr=None,
                   momentum: float = 0.9) -> optax.GradientTransformation:
    """The optimizer of ``method`` for the CNN's ``params`` (see the module docstring)."""
    method = _method(method)
    if not method.is_lns:
        if cfg is not None:
            raise InvalidValue(f"cfg is for the LNS methods, not {method.alias!r}")
        lr = method.default_lr if lr is None else _positive("lr", lr)
        tx = FLOAT_TRANSFORMS[method.rule](lr, momentum)
        if method.moves_zero:
            return tx
        weights = tx
    else:
        default = presets.get(type(method.config()).FAMILY_BASE)
        cfg = default if cfg is None else cfg
        if type(cfg) is not type(default):
            raise InvalidType(f"method {method.alias!r} needs a {type(default).__name__}, not "
                              f"{type(cfg).__name__}")
        if lr is not None:
            cfg = cfg.replace(eta_log2=_pow2(lr, method.alias))
        if getattr(cfg, "mu", momentum) != momentum:      # the rule's own momentum (SGD)
            cfg = cfg.replace(mu=momentum)
        weights = lns_transform(cfg, seed=seed, name=method.alias)
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


def train_cnn(method, seed: int, *, epochs: int, data, cfg=None, lr=None,
              momentum: float = 0.9, batch: int = 16) -> dict:
    """Train the CNN once with ``method`` (a `Method` or one of `METHODS`).

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
    method = _method(method)
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
    return {"seed": int(seed), "method": method.alias,
            **{key: values[-1] for key, values in curves.items()},
            "curves": curves, "seconds": time.perf_counter() - t0}
