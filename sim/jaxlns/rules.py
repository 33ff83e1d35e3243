"""The three bit-exact LNS rules behind one numpy interface: a tensor's initial words, and
one step of its words from a float gradient.

This is the host side of `sim.jaxlns.transform` (it runs inside ``jax.pure_callback``), and
knows nothing of JAX.  A tensor's state is a `Words` of numpy arrays:

``w``      the weight words (`cfg.weight`)
``m``      the first-moment / momentum words (Adam, SGD; ``None`` for Madam)
``v``      the second-moment words (Madam, Adam; ``None`` for SGD)
``clip``   the clip word, sigma* of the initial weights (Madam; ``None`` otherwise)
``k``      ``log2`` of the gradient's power-of-two scale, fixed at step 1 (`grad_scale_log2`)
``lfsr``   the tensor's one LFSR lane (stochastic rounding; ``None`` otherwise)

How a float gradient becomes a gradient word: ``encode(cfg.grad, g * 2**k)`` with ``k``
fixed at the first step so the largest ``|g|`` of that step lands in ``[1, 2)``, the rule of
`sim.analysis.training.LNSTensor` (the window of the presets' i5 gradients, 2**-24 .. 2**8,
then has 7 octaves of headroom above and 24 below).  The scale must not change the
optimizer, only which gradients under- or overflow:

* Madam: ``g_hat`` is scale invariant (the second moment scales with the gradient);
* Adam: ``m_hat / max(sqrt(v_hat), eps)`` is scale invariant when eps scales too, so the
  step uses ``eps 2**k``: its code is ``RNE((log2 eps + k) 2**Fc)``, exactly the unscaled
  one plus ``k 2**Fc``;
* SGD: the step ``eta m`` scales with the gradient, so the step uses ``eta_log2 - k``
  (a power of two: exact).

So on every rule the words are those of the unscaled gradient's update wherever no word
saturates or flushes (`tests/test_jaxlns.py` checks this against the kernels called on the
unscaled gradients).  `sim.analysis.training.LNSTensor` scales the same way and compensates
SGD's eta the same way, but leaves Adam's eps as it is (its floor then sits at
``eps / 2**k`` in the gradient's units); the two agree wherever ``sqrt(v_hat)`` is well
above eps, which with eps = 1e-8 is nearly everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import lns
from lns.errors import InvalidType, InvalidValue
from lns.grad_scale import grad_scale_log2, scaled_config
from lns.optimizers import Optimizer, optimizer_of

from ..analysis.tracking import initial_codes

__all__ = ["Words", "grad_scale_log2", "initial_words", "step_words", "decode_weights",
           "rule_of"]


class Words(NamedTuple):
    """One tensor's optimizer state as numpy arrays (see the module docstring)."""

    w: np.ndarray
    m: np.ndarray | None
    v: np.ndarray | None
    clip: np.ndarray | None      # 0-d int
    k: np.ndarray                # 0-d int
    lfsr: np.ndarray | None      # (1,) lane register


def rule_of(cfg) -> Optimizer:
    """The rule of ``cfg`` (`lns.optimizers.optimizer_of`), with the project's one-line
    error for anything that is not an LNS optimizer configuration."""
    try:
        return optimizer_of(cfg)
    except InvalidType:
        raise InvalidType("cfg must be a lns.MadamConfig, lns.AdamConfig or lns.SGDConfig, "
                          f"not {type(cfg).__name__}") from None


def initial_words(cfg, w0: np.ndarray, lane_seed: int) -> Words:
    """The state of a tensor with initial float weights ``w0``.

    Madam: the clip word is ``cfg.clip_code(w0)`` and the weights are encoded, raised to the
    format's floor and lowered to the clip (`sim.analysis.tracking.initial_codes`, as
    `LNSTensor`).  Adam, SGD: the weights are encoded as they are (these rules move a zero
    weight).  Moments start at zero; the lane's register at ``lns.lane_seeds(lane_seed, 1)``.
    """
    rule = rule_of(cfg)
    w0 = np.asarray(w0, dtype=np.float64)
    if w0.size == 0:
        raise InvalidValue("an LNS optimizer needs non-empty parameter arrays")
    zeros = np.zeros(w0.shape, dtype=np.int64)
    clip = None
    if rule is Optimizer.MADAM:
        clip = np.asarray(cfg.clip_code(w0), dtype=np.int64)
        w = initial_codes(cfg, w0.ravel(), int(clip)).reshape(w0.shape)
    else:
        w = lns.encode(cfg.weight, w0)
    m = zeros.copy() if rule is not Optimizer.MADAM else None
    v = zeros.copy() if rule is not Optimizer.SGD else None
    lfsr = lns.lane_seeds(int(lane_seed), 1) if cfg.is_stochastic else None
    return Words(w, m, v, clip, np.asarray(0, dtype=np.int64), lfsr)


def step_words(cfg, s: Words, g, t: int) -> Words:
    """One bit-exact update of the tensor ``s`` with float gradient ``g`` at step ``t >= 1``
    (``k`` is set from ``g`` when ``t == 1``).  Returns the new state; ``s`` is not
    modified (the lane register is copied before the kernel advances it)."""
    rule = rule_of(cfg)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != s.w.shape:
        raise InvalidValue(f"gradient shape {g.shape} does not match the weights' {s.w.shape}")
    if not np.all(np.isfinite(g)):
        raise InvalidValue(f"gradients must be finite, not {g[~np.isfinite(g)].flat[0]} "
                           f"(step {int(t)})")
    t = int(t)
    k = grad_scale_log2(g) if t == 1 else int(s.k)
    g_codes = lns.encode(cfg.grad, g * 2.0 ** k)
    lfsr = None if s.lfsr is None else np.array(s.lfsr, dtype=np.int64)     # a copy
    w = np.asarray(s.w, dtype=np.int64)
    if rule is Optimizer.MADAM:
        w, v = lns.madam_update(cfg, w, g_codes, np.asarray(s.v, dtype=np.int64), t,
                                clip=int(s.clip), lfsr_state=lfsr)
        m = None
    elif rule is Optimizer.ADAM:
        w, m, v = lns.adam_update(scaled_config(cfg, k), w, g_codes,
                                  np.asarray(s.m, dtype=np.int64),
                                  np.asarray(s.v, dtype=np.int64), t, lfsr_state=lfsr)
    else:
        w, m = lns.sgd_update(scaled_config(cfg, k), w, g_codes,
                              np.asarray(s.m, dtype=np.int64), lfsr_state=lfsr)
        v = None
    return Words(np.asarray(w), m, v, s.clip, np.asarray(k, dtype=np.int64), lfsr)


def decode_weights(cfg, s: Words) -> np.ndarray:
    """The float64 weights the words stand for."""
    return lns.decode(cfg.weight, np.asarray(s.w, dtype=np.int64))
