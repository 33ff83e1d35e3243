"""One weight tensor held as LNS words and updated by any bit-exact LNS rule.

`LNSTensor` is one class for every rule of the registry, written over the rule contract
(`lns.rule.Rule`): the words are the state (``cfg.initial_words``: the weight words and the
rule's state words, `Rule.output_roles`; the LFSR lane of ``cfg.lane_state`` when the
rounding is stochastic), one step is ``cfg.update(words, t, cfg.held(t, clip=...))``, and
``step(w, g)`` ignores ``w``.  Nothing here asks which rule it holds.

Gradient scaling: ``g`` is encoded into the gradient format after a per-tensor power of
two ``scale`` fixed at the first step (the largest ``|g|`` of the first batch lands in
[1, 2)), so the format's window (2**-24 .. 2**8 for the presets' i5 gradients) holds it
with 7 octaves of headroom above and 24 below.  The scale changes no weight word wherever
no word saturates or flushes: Madam's ``g_hat`` and Lion's ``sign(c)`` are scale
invariant; Adam's ``m_hat / max(sqrt(v_hat), eps)`` is when eps scales too, so an Adam
tensor runs at ``eps * scale`` (a power of two: its code is the unscaled one plus
``log2(scale) 2**Fc``); SGD's step ``eta m`` scales with the gradient, so an SGD tensor runs
at ``eta_log2 - log2(scale)`` (a shift of the log code).  The state words hold the scaled
moments.  The rule is `lns.grad_scale`, shared with the optax path (`sim.jaxlns.rules`).

The start of a tensor (`tensor_start`), from the contract: the held values the tensor fixes
(``cfg.tensor_held(w0)``: Madam's clip word of sigma* = ``p_scale x RMS(w0)``, which
``sigma`` below may replace; none for the other rules) go to ``cfg.held(t, **held)`` every
step; a rule that cannot move a zero weight (`methods.moves_zero`: Madam) has its initial
words raised to the format's floor and lowered to that clip
(`sim.analysis.tracking.initial_codes`), since a weight flushed to zero would never move;
the others take ``initial_words(w0)`` (``encode(w0)``) as it is.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

import lns
from lns.grad_scale import grad_scale_log2, scaled_config
from lns.optimizers import optimizer_of

from ..tracking import initial_codes
from .methods import moves_zero

__all__ = ["LNSTensor", "grad_scale_log2", "tensor_start", "tensor_ports"]


@lru_cache(maxsize=32)
def _decode_table(fmt) -> np.ndarray:
    """``lns.decode`` of every word of ``fmt`` (at most 2**25 entries; 64 K for 16 bits):
    decoding the weights after each step is then one gather, the same values by
    construction."""
    table = lns.decode(fmt, np.arange(1 << fmt.total_bits, dtype=np.int64))
    table.setflags(write=False)
    return table


def tensor_ports(cfg) -> tuple[str, ...]:
    """The names of the held values a tensor fixes (`Rule.tensor_held` of a probe tensor):
    ``("clip",)`` for Madam, none for the other rules."""
    return tuple(cfg.tensor_held(np.ones(1)))


def _sigma_word(W, sigma: float) -> int:
    """The clip word of sigma* given as a value (``math.inf``: no clip, the format's largest
    magnitude; otherwise its nearest word, the rounding of any encode)."""
    if math.isinf(sigma):
        return int(W.e_max)
    return int(np.clip(int(lns.encode(W, float(sigma))), W.e_min, W.e_max))


def tensor_start(cfg, w0, *, sigma: float | None = None) -> tuple[dict, dict]:
    """``(words, held)`` of a weight tensor with initial floats ``w0`` under ``cfg``: its
    words ``{role: flat int64}`` for every role the update writes (`Rule.output_roles`),
    and the held values it fixes (``cfg.tensor_held(w0)``: ``{"clip": word}`` or ``{}``)
    that go to ``cfg.held(t, **held)`` every step.  See the module docstring; ``sigma``
    (Madam's clip as a value, replacing ``tensor_held``'s; ``math.inf``: none) is ignored
    by a rule without a clip."""
    optimizer_of(cfg)
    w0 = np.asarray(w0, dtype=np.float64).ravel()
    W = cfg.word_formats["w"]
    held = {p: int(c) for p, c in cfg.tensor_held(w0).items()}
    if sigma is not None and "clip" in held:
        held["clip"] = _sigma_word(W, sigma)
    words = cfg.initial_words(w0)
    if not moves_zero(cfg.optimizer):
        top = held.get("clip", W.e_max)
        words["w"] = initial_codes(cfg, w0, top)
    words = {k: np.asarray(words[k], dtype=np.int64).ravel() for k in cfg.output_roles}
    return words, held


class LNSTensor:
    """One weight tensor as LNS words under the bit-exact rule of ``cfg``.

    Parameters
    ----------
    cfg : any LNS rule's configuration (`lns.rule.Rule`)
    w0 : float array
        The initial weights (encoded once; see the module docstring).
    seed : int
        Seeds the LFSR lane (stochastic rounding).
    sigma : float, optional
        Madam's clip sigma* as a value: ``None`` is ``cfg.tensor_held(w0)``'s (``p_scale x
        RMS(w0)``), ``math.inf`` no clip (the format's largest magnitude), a finite value
        its nearest word (the rounding of any encode).  Ignored by a rule without a clip.

    Attributes: ``words`` (role -> flat words the update writes), ``codes`` (the weight
    words), ``moments`` (the state words by role), ``state`` (the LFSR lane or None), ``t``
    (steps taken), ``scale`` (the gradient's power of two, set at step 1), ``clip`` (the
    clip word of a rule that holds one, else None), ``eta_log2`` (the rule's eta in the
    gradient's own units; `set_eta_log2` changes it between steps, as a schedule does).
    """

    def __init__(self, cfg, w0: np.ndarray, seed: int = 0, *, sigma: float | None = None):
        self.rule = optimizer_of(cfg)
        self.cfg = cfg
        w0 = np.asarray(w0, dtype=np.float64)
        self.shape = w0.shape
        self.words, self.held = tensor_start(cfg, w0, sigma=sigma)
        self.clip = self.held.get("clip")
        self.state = cfg.lane_state(1, seed)
        self.t = 0
        self.scale = None
        self.eta_log2 = cfg.eta_log2
        self.active_cfg = cfg

    @property
    def codes(self) -> np.ndarray:
        """The weight words (flat)."""
        return self.words["w"]

    @codes.setter
    def codes(self, value):
        self.words["w"] = np.asarray(value, dtype=np.int64).ravel()

    @property
    def moments(self) -> dict:
        """The state words by role (``"m"``, ``"v"``: those of `Rule.output_roles`)."""
        return {k: a for k, a in self.words.items() if k != "w"}

    @property
    def v(self):
        """The second-moment words (Madam, Adam), else None."""
        return self.words.get("v")

    def weights(self) -> np.ndarray:
        return _decode_table(self.cfg.word_formats["w"])[self.codes].reshape(self.shape)

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
        self.t += 1
        cfg = self.active_cfg
        words = dict(self.words, g=self.cfg.encode_words("g", g * self.scale))
        self.words = cfg.update(words, self.t, cfg.held(self.t, **self.held),
                                lfsr_state=self.state)
        return self.weights()
