"""Small convolutional networks, one a task, trained by JAX with any of the project's
optimizers: the second model of issue 13 (so the training findings do not rest on one MLP),
and of the exploration's tasks (issue 20).

Models (`ARCHS`, float32, channels last, SAME padding, ReLU after every convolution, a
dense layer to the 10 classes; softmax cross-entropy):

``digits``   8 x 8 images: conv 3x3 1 -> 8 (stride 1), conv 3x3 8 -> 16 (stride 2; 8x8 ->
             4x4), dense 256 -> 10: 3,784 weights and 34 biases (`PARAM_COUNT`);
``mnist5k``  28 x 28 images: conv 3x3 1 -> 8 (stride 2; -> 14x14), conv 3x3 8 -> 16 (stride
             2; -> 7x7), dense 784 -> 10: 9,064 weights;
``mnist1d``  40-sample signals, 1-D: conv 5 1 -> 16 (stride 2; -> 20), conv 3 16 -> 32
             (stride 2; -> 10), conv 3 32 -> 32 (stride 2; -> 5), dense 160 -> 10: 6,288
             weights (the shape of Greydanus's MNIST-1D CNN, three strided convolutions and
             a linear layer, at 16-32 channels for his 25).

He-normal weights (fan in), zero biases, drawn with numpy from the run's seed, which also
sets the batch order (as `sim.analysis.training` does for the MLP).  The forward and
backward passes are JAX's (``jax.grad`` of the loss), jitted together with the optimizer's
update; the loss and error curves are measured on the whole train and test sets after each
epoch.  A run's model is its task's (``task``), or the one whose input width the data has.

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
from dataclasses import dataclass
from functools import lru_cache, partial

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

__all__ = ["METHODS", "DEFAULT_LR", "FLOAT_TRANSFORMS", "PARAM_COUNT", "ARCHS", "Arch",
           "arch_of", "init_cnn", "forward", "batch_loss", "train_cnn", "make_optimizer"]

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


@dataclass(frozen=True)
class Arch:
    """A task's network: ``shape`` of one input (channels last: ``(8, 8, 1)``, ``(40,
    1)``), ``layers`` ``(name, kernel shape (spatial..., in, out) or dense (in, out),
    stride)``, the last one dense."""
    task: str
    shape: tuple
    layers: tuple

    @property
    def n_in(self) -> int:
        return math.prod(self.shape)

    @property
    def param_count(self) -> dict:
        return {"weights": sum(math.prod(s) for _, s, _ in self.layers),
                "biases": sum(s[-1] for _, s, _ in self.layers)}

    @property
    def dimension_numbers(self) -> tuple:
        return (("NHWC", "HWIO", "NHWC") if len(self.shape) == 3 else ("NWC", "WIO", "NWC"))


ARCHS = {a.task: a for a in (
    Arch("digits", (8, 8, 1), (("conv1", (3, 3, 1, 8), 1), ("conv2", (3, 3, 8, 16), 2),
                               ("dense", (256, 10), None))),
    Arch("mnist5k", (28, 28, 1), (("conv1", (3, 3, 1, 8), 2), ("conv2", (3, 3, 8, 16), 2),
                                  ("dense", (784, 10), None))),
    Arch("mnist1d", (40, 1), (("conv1", (5, 1, 16), 2), ("conv2", (3, 16, 32), 2),
                              ("conv3", (3, 32, 32), 2), ("dense", (160, 10), None))),
)}
PARAM_COUNT = ARCHS["digits"].param_count


def arch_of(task=None, n_in: int | None = None) -> Arch:
    """The `Arch` of ``task`` (a name of `ARCHS`), or with ``task`` None the one whose
    input width is ``n_in``; InvalidValue naming the choices otherwise."""
    if task is None:
        found = [a for a in ARCHS.values() if a.n_in == n_in]
        if not found:
            widths = ", ".join(f"{a.n_in} ({a.task})" for a in ARCHS.values())
            raise InvalidValue(f"the CNN takes inputs of {widths} values, not {n_in!r}")
        return found[0]
    if task not in ARCHS:
        raise InvalidValue(f"the CNN's task must be one of {', '.join(ARCHS)}, not {task!r}")
    return ARCHS[task]


def init_cnn(rng: np.random.Generator, task: str = "digits") -> dict:
    """``{layer: {"w", "b"}}`` of ``task``'s network: He-normal weights (std ``sqrt(2 /
    fan_in)``), zero biases, float32."""
    params = {}
    for name, shape, _ in arch_of(task).layers:
        fan_in = math.prod(shape[:-1])
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
        params[name] = {"w": jnp.asarray(w, jnp.float32),
                        "b": jnp.zeros(shape[-1], jnp.float32)}
    return params


def forward(params: dict, x: jax.Array, task: str = "digits") -> jax.Array:
    """Logits of inputs ``x`` (N, n_in) of ``task`` (images in [0, 1], or signals)."""
    arch = arch_of(task)
    h = x.reshape(-1, *arch.shape)
    spatial = len(arch.shape) - 1
    for name, _, stride in arch.layers[:-1]:
        h = jax.lax.conv_general_dilated(h, params[name]["w"], (stride,) * spatial, "SAME",
                                         dimension_numbers=arch.dimension_numbers)
        h = jax.nn.relu(h + params[name]["b"])
    h = h.reshape(h.shape[0], -1)
    last = arch.layers[-1][0]
    return h @ params[last]["w"] + params[last]["b"]


def batch_loss(params, x, y, mask, task: str = "digits"):
    """Mean cross-entropy over the samples where ``mask`` is 1: the last, short batch of an
    epoch is padded to the batch size, so one compiled step serves every batch."""
    ce = optax.softmax_cross_entropy_with_integer_labels(forward(params, x, task), y)
    return jnp.sum(ce * mask) / jnp.sum(mask)


@partial(jax.jit, static_argnames="task")
def _evaluate(params, x, y, task):
    logits = forward(params, x, task)
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
        parsed = Method.parse(method)
    except InvalidValue:
        parsed = None
    # the software methods (8-bit Adam, ...) and the units' own updates are the MLP's only:
    # the CNN's float optimizers are optax transforms of the rules
    if not isinstance(parsed, Method):
        raise InvalidValue(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    return parsed


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


def _make_step(method, cfg, lr, momentum, task):
    """The jitted training step: gradients of a batch, the optimizer's update, applied."""
    tx = make_optimizer(method, {name: None for name, _, _ in arch_of(task).layers}, cfg=cfg,
                        lr=lr, momentum=momentum)

    @jax.jit
    def step(params, state, x, y, mask):
        grads = jax.grad(batch_loss)(params, x, y, mask, task)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state
    return step


# A run's seed reaches the optimizer only through ``init`` (the LFSR lanes are state), so
# the seeds of one row share one compiled step: one XLA compile per row, not per run.
_cached_step = lru_cache(maxsize=16)(_make_step)


def _step(method, cfg, lr, momentum, task):
    try:
        return _cached_step(method, cfg, lr, momentum, task)
    except TypeError:                       # an unhashable argument: compile for this run
        return _make_step(method, cfg, lr, momentum, task)


def _check_data(data, task):
    """``(arch, arrays)`` of a run's ``data`` for ``task`` (None: by the data's width)."""
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise InvalidValue("data must be the tuple (x_train, y_train, x_test, y_test)")
    xtr, ytr, xte, yte = (np.asarray(a) for a in data)
    arch = arch_of(task, xtr.shape[1] if xtr.ndim == 2 else None)
    for x, y, what in ((xtr, ytr, "train"), (xte, yte, "test")):
        if x.ndim != 2 or x.shape[1] != arch.n_in or y.shape != (x.shape[0],) or not len(y):
            raise InvalidValue(f"{what} data of {arch.task} must be inputs (N, {arch.n_in}) "
                               f"and labels (N,), not {x.shape} and {y.shape}")
    # numpy for the training part (batches are cut on the host, cheaply), JAX for the
    # evaluation
    return arch, (xtr.astype(np.float32), ytr.astype(np.int32),
            jnp.asarray(xtr, jnp.float32), jnp.asarray(ytr, jnp.int32),
            jnp.asarray(xte, jnp.float32), jnp.asarray(yte, jnp.int32))


def train_cnn(method, seed: int, *, epochs: int, data, cfg=None, lr=None,
              momentum: float = 0.9, batch: int = 16, task: str | None = None) -> dict:
    """Train the CNN once with ``method`` (a `Method` or one of `METHODS`).

    ``data`` is ``(x_train, y_train, x_test, y_test)``, e.g.
    `sim.analysis.training.load_data()` or `sim.analysis.training.tasks.task_data`;
    ``task`` names the network (`ARCHS`; None: the one of the data's width); ``seed`` sets
    the initial weights, the batch order and the LFSR lanes of stochastic LNS configs.  Returns ``{"seed", "train_err",
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
    arch, (xtr, ytr, xtr_j, ytr_j, xte, yte) = _check_data(data, task)
    t0 = time.perf_counter()
    rng = np.random.default_rng(int(seed))
    params = init_cnn(rng, arch.task)
    state = make_optimizer(method, params, seed=int(seed), cfg=cfg, lr=lr,
                           momentum=momentum).init(params)
    step = _step(method, cfg, lr, momentum, arch.task)
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
            loss, err = _evaluate(params, x, y, arch.task)
            curves[f"{part}_loss"].append(float(loss))
            curves[f"{part}_err"].append(float(err))
    return {"seed": int(seed), "method": method.alias,
            **{key: values[-1] for key, values in curves.items()},
            "curves": curves, "seconds": time.perf_counter() - t0}
