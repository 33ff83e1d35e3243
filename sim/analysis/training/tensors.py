"""One weight tensor held as LNS words and updated by a bit-exact LNS rule.

`LNSTensor` is one class for every rule of `lns.optimizers.Optimizer`: the words are the
state (weight words, the rule's moment words, one LFSR lane when the rounding is
stochastic), and ``step(w, g)`` ignores ``w``.  What differs by rule is only the table
`_RULES`: which moment words a tensor keeps and which bit-exact update it calls
(`lns.madam_update`, `lns.adam_update`, `lns.sgd_update`).

Gradient scaling: ``g`` is encoded into the gradient format after a per-tensor power of
two ``scale`` fixed at the first step (the largest ``|g|`` of the first batch lands in
[1, 2)), so the format's window (2**-24 .. 2**8 for the presets' i5 gradients) holds it
with 7 octaves of headroom above and 24 below.  The scale changes no weight word wherever
no word saturates or flushes: Madam's ``g_hat`` is scale invariant; Adam's
``m_hat / max(sqrt(v_hat), eps)`` is when eps scales too, so an Adam tensor runs at
``eps * scale`` (a power of two: its code is the unscaled one plus ``log2(scale) 2**Fc``);
SGD's step ``eta m`` scales with the gradient, so an SGD tensor runs at
``eta_log2 - log2(scale)`` (a shift of the log code).  The moment words hold the scaled
moments.  The rule is `lns.grad_scale`, shared with the optax path (`sim.jaxlns.rules`).

Initial weights: Madam cannot move a zero weight, so its words are raised to the format's
floor and lowered to the clip (`sim.analysis.tracking.initial_codes`); the additive rules
take ``encode(w0)`` as it is (a weight may be zero and move).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

import lns
from lns.grad_scale import grad_scale_log2, scaled_config
from lns.optimizers import Optimizer, optimizer_of
from lns.word import zero_word

from ..tracking import initial_codes

__all__ = ["LNSTensor", "grad_scale_log2"]


def _madam(t, g_codes):
    t.codes, t.moments["v"] = lns.madam_update(t.active_cfg, t.codes, g_codes, t.moments["v"],
                                               t.t, clip=t.clip, lfsr_state=t.state)


def _adam(t, g_codes):
    t.codes, t.moments["m"], t.moments["v"] = lns.adam_update(
        t.active_cfg, t.codes, g_codes, t.moments["m"], t.moments["v"], t.t,
        lfsr_state=t.state)


def _sgd(t, g_codes):
    t.codes, t.moments["m"] = lns.sgd_update(t.active_cfg, t.codes, g_codes, t.moments["m"],
                                             lfsr_state=t.state)


@lru_cache(maxsize=32)
def _decode_table(fmt) -> np.ndarray:
    """``lns.decode`` of every word of ``fmt`` (at most 2**25 entries; 64 K for 16 bits):
    decoding the weights after each step is then one gather, the same values by
    construction."""
    table = lns.decode(fmt, np.arange(1 << fmt.total_bits, dtype=np.int64))
    table.setflags(write=False)
    return table


# rule -> (moment words kept: name -> format role, the update); the hyperparameter that
# follows the gradient's scale is `lns.grad_scale.scaled_config`'s business
_RULES = {
    Optimizer.MADAM: ({"v": "moment"}, _madam),
    Optimizer.ADAM: ({"m": "first_moment", "v": "second_moment"}, _adam),
    Optimizer.SGD: ({"m": "momentum"}, _sgd),
}


class LNSTensor:
    """One weight tensor as LNS words under the bit-exact rule of ``cfg``.

    Parameters
    ----------
    cfg : MadamConfig, AdamConfig or SGDConfig
    w0 : float array
        The initial weights (encoded once; see the module docstring).
    seed : int
        Seeds the LFSR lane (stochastic rounding).
    sigma : float, optional
        Madam's clip sigma* as a value: ``None`` is ``cfg.clip_code(w0)`` (``p_scale x
        RMS(w0)``), ``math.inf`` no clip (the format's largest magnitude), a finite value
        its nearest word (the rounding of any encode).  Ignored by the additive rules,
        which have no clip.

    Attributes: ``codes`` (weight words, flat), ``moments`` (name -> words), ``state`` (the
    LFSR lane or None), ``t`` (steps taken), ``scale`` (the gradient's power of two, set at
    step 1), ``clip`` (Madam's clip word), ``eta_log2`` (the rule's eta in the gradient's
    own units; `set_eta_log2` changes it between steps, as a schedule does).
    """

    def __init__(self, cfg, w0: np.ndarray, seed: int = 0, *, sigma: float | None = None):
        self.rule = optimizer_of(cfg)
        roles, self._update = _RULES[self.rule]
        self.cfg = cfg
        w0 = np.asarray(w0, dtype=np.float64)
        self.shape = w0.shape
        W = cfg.weight
        if self.rule is Optimizer.MADAM:
            if sigma is None:
                self.clip = cfg.clip_code(w0)
            elif math.isinf(sigma):
                self.clip = W.e_max
            else:
                self.clip = int(np.clip(int(lns.encode(W, float(sigma))), W.e_min, W.e_max))
            self.codes = initial_codes(cfg, w0.ravel(), self.clip)
        else:
            self.clip = None
            self.codes = np.asarray(lns.encode(W, w0.ravel()), dtype=np.int64)
        self.moments = {k: np.full(self.codes.shape, zero_word(getattr(cfg, r).params),
                                   dtype=np.int64) for k, r in roles.items()}
        self.state = lns.lane_seeds(seed, 1) if cfg.is_stochastic else None
        self.t = 0
        self.scale = None
        self.eta_log2 = cfg.eta_log2
        self.active_cfg = cfg

    def weights(self) -> np.ndarray:
        return _decode_table(self.cfg.weight)[self.codes].reshape(self.shape)

    def set_eta_log2(self, eta_log2: int) -> None:
        """Change eta (a power of two: on the hardware a shift) for the following steps."""
        self.eta_log2 = int(eta_log2)
        self._refresh()

    def _refresh(self):
        k = 0 if self.scale is None else int(round(math.log2(self.scale)))
        self.active_cfg = scaled_config(self.cfg, k, eta_log2=self.eta_log2)

    def step(self, w, g) -> np.ndarray:
        g = np.asarray(g, dtype=np.float64).ravel()
        if self.scale is None:
            self.scale = 2.0 ** grad_scale_log2(g)
            self._refresh()
        g_codes = lns.encode(self.cfg.grad, g * self.scale)
        self.t += 1
        self._update(self, g_codes)
        return self.weights()

    @property
    def v(self):
        """Madam's (and Adam's) second-moment words."""
        return self.moments.get("v")
