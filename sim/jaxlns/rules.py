"""Every bit-exact LNS rule behind one numpy interface: a tensor's initial words, and one
step of its words from a float gradient, written over the rule contract (`lns.rule.Rule`).

This is the host side of `sim.jaxlns.transform` (it runs inside ``jax.pure_callback``), and
knows nothing of JAX, nor which rule it holds.  A tensor's state is a `Words` of numpy
arrays:

``words``  ``{role: words}`` for every role the rule's update writes (`Rule.output_roles`):
           the weight words ``"w"`` and the state words (Madam ``"v"``; Adam ``"m"``,
           ``"v"``; SGD and Lion ``"m"``), in the parameter's shape
``held``   the held values the tensor fixes (`Rule.tensor_held` of the initial weights):
           ``{"clip": word}`` (Madam's sigma* of the initial weights), ``{}`` otherwise
``k``      ``log2`` of the gradient's power-of-two scale, fixed at step 1 (`grad_scale_log2`)
``lfsr``   the tensor's one LFSR lane (stochastic rounding; ``None`` otherwise)

(``.w``, ``.m``, ``.v`` and ``.clip`` read those words, None where the rule has none.)

How a float gradient becomes a gradient word: ``encode(cfg.grad, g * 2**k)`` with ``k``
fixed at the first step so the largest ``|g|`` of that step lands in ``[1, 2)``, the rule of
`sim.analysis.training.LNSTensor` (the window of the presets' i5 gradients, 2**-24 .. 2**8,
then has 7 octaves of headroom above and 24 below).  The scale must not change the
optimizer, only which gradients under- or overflow (`lns.grad_scale.scaled_config`):

* Madam: ``g_hat`` is scale invariant (the second moment scales with the gradient);
* Lion: ``sign(c)`` is scale invariant (the momentum scales with the gradient) and the
  step is ``eta`` itself;
* Adam: ``m_hat / max(sqrt(v_hat), eps)`` is scale invariant when eps scales too, so the
  step uses ``eps 2**k``: its code is ``RNE((log2 eps + k) 2**Fc)``, exactly the unscaled
  one plus ``k 2**Fc``;
* SGD: the step ``eta m`` scales with the gradient, so the step uses ``eta_log2 - k``
  (a power of two: exact).

So on every rule the words are those of the unscaled gradient's update wherever no word
saturates or flushes (`tests/test_jaxlns.py` checks this against the kernels called on the
unscaled gradients).  `sim.analysis.training.LNSTensor` scales the same way, from the same
`lns.grad_scale`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lns.errors import InvalidType, InvalidValue
from lns.grad_scale import grad_scale_log2, scaled_config
from lns.modes import Optimizer
from lns.optimizers import optimizer_of

from ..analysis.training.tensors import tensor_ports, tensor_start

__all__ = ["Words", "grad_scale_log2", "initial_words", "step_words", "decode_weights",
           "rule_of", "state_roles", "held_ports"]


class Words(NamedTuple):
    """One tensor's optimizer state as numpy arrays (see the module docstring)."""

    words: dict                  # role -> words of the parameter's shape
    held: dict                   # port -> 0-d int (the clip word), per tensor
    k: np.ndarray                # 0-d int
    lfsr: np.ndarray | None      # (1,) lane register

    @property
    def w(self):
        return self.words["w"]

    @property
    def m(self):
        return self.words.get("m")

    @property
    def v(self):
        return self.words.get("v")

    @property
    def clip(self):
        return self.held.get("clip")


def rule_of(cfg) -> Optimizer:
    """The rule of ``cfg`` (`lns.optimizers.optimizer_of`), with the project's one-line
    error for anything that is not an LNS rule's configuration."""
    try:
        rule = optimizer_of(cfg)
    except InvalidType:
        rule = None
    from lns import registry
    if rule is None or registry.entry(rule).number_system != "lns":
        names = ", ".join(registry.load(r, "config").__name__ for r in registry.rules()
                          if registry.entry(r).number_system == "lns")
        raise InvalidType(f"cfg must be an LNS rule's configuration ({names}), not "
                          f"{type(cfg).__name__}") from None
    return rule


def state_roles(cfg) -> tuple[str, ...]:
    """The words a tensor keeps: every role the update writes (`Rule.output_roles`)."""
    return tuple(cfg.output_roles)


def held_ports(cfg) -> tuple[str, ...]:
    """The held inputs fixed per tensor (``("clip",)`` for Madam)."""
    return tensor_ports(cfg)


def initial_words(cfg, w0: np.ndarray, lane_seed: int) -> Words:
    """The state of a tensor with initial float weights ``w0``: the words and per-tensor
    held values of `sim.analysis.training.tensors.tensor_start` (Madam: the clip word is
    ``cfg.tensor_held(w0)``'s and the weights are encoded, raised to the format's floor and
    lowered to the clip, as `LNSTensor`; the other rules encode the weights as they are),
    state words at zero, the lane's register at ``cfg.lane_state(1, lane_seed)``."""
    rule_of(cfg)
    w0 = np.asarray(w0, dtype=np.float64)
    if w0.size == 0:
        raise InvalidValue("an LNS optimizer needs non-empty parameter arrays")
    words, held = tensor_start(cfg, w0)
    words = {k: a.reshape(w0.shape) for k, a in words.items()}
    held = {p: np.asarray(c, dtype=np.int64) for p, c in held.items()}
    return Words(words, held, np.asarray(0, dtype=np.int64), cfg.lane_state(1, int(lane_seed)))


def step_words(cfg, s: Words, g, t: int) -> Words:
    """One bit-exact update of the tensor ``s`` with float gradient ``g`` at step ``t >= 1``
    (``k`` is set from ``g`` when ``t == 1``), through the contract:
    ``scaled_config(cfg, k).update(words, t, held(t, **s.held))``.  Returns the new state;
    ``s`` is not modified (the lane register is copied before the kernel advances it)."""
    rule_of(cfg)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != s.w.shape:
        raise InvalidValue(f"gradient shape {g.shape} does not match the weights' {s.w.shape}")
    if not np.all(np.isfinite(g)):
        raise InvalidValue(f"gradients must be finite, not {g[~np.isfinite(g)].flat[0]} "
                           f"(step {int(t)})")
    t = int(t)
    k = grad_scale_log2(g) if t == 1 else int(s.k)
    lfsr = None if s.lfsr is None else np.array(s.lfsr, dtype=np.int64)     # a copy
    active = scaled_config(cfg, k)
    words = {r: np.asarray(a, dtype=np.int64) for r, a in s.words.items()}
    words["g"] = cfg.encode_words("g", g * 2.0 ** k)
    held = active.held(t, **{p: int(c) for p, c in s.held.items()})
    out = active.update(words, t, held, lfsr_state=lfsr)
    new = {r: out[r].reshape(g.shape) for r in s.words}
    return Words(new, s.held, np.asarray(k, dtype=np.int64), lfsr)


def decode_weights(cfg, s: Words) -> np.ndarray:
    """The float64 weights the words stand for."""
    from lns import decode
    return decode(cfg.word_formats["w"], np.asarray(s.w, dtype=np.int64))
