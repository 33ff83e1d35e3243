"""The bit-exact LNS optimizers as optax ``GradientTransformation``\\ s.

``lns_madam(cfg)``, ``lns_adam(cfg)``, ``lns_sgd(cfg)`` and ``lns_lion(cfg)`` (or
``lns_transform(cfg)`` of any LNS rule's configuration) train any JAX model with the words
of `lns.madam_update`, `lns.adam_update`, `lns.sgd_update` and `lns.lion_update` (each
rule's ``cfg.update``, the rule contract `lns.rule.Rule`): the optimizer state
holds each parameter as LNS words, and ``update`` returns ``decoded(new words) - params``,
so ``optax.apply_updates`` lands on the weights the words stand for.  With other
transformations for the rest of the model (Madam cannot move a zero weight, so biases
usually take float Adam)::

    import optax
    import lns
    from lns import presets
    from sim.jaxlns import lns_madam, lns_adam, lns_sgd

    labels = {"w": "w", "b": "b"}                         # params = {"w": ..., "b": ...}
    tx = optax.multi_transform({"w": lns_madam(lns.presets.get("lns12")),
                                "b": optax.adam(1e-3)}, labels)
    state = tx.init(params)
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)

(``lns_adam(presets.get("lns12_adam"))``, ``lns_sgd(presets.get("lns12_sgd"))`` and
``lns_lion(presets.get("lns12_lion"))`` in place of ``lns_madam``.)

State (`LNSState`): the step count ``t`` and, per parameter leaf, a `rules.Words` of JAX
arrays: the words by role (``words["w"]`` the weight words, then the state words the rule
writes: ``v`` for Madam, ``m`` and ``v`` for Adam, ``m`` for SGD and Lion; int32; read as
``.w``, ``.m``, ``.v``), the held inputs fixed per tensor (Madam's clip word, sigma* of the
initial weights; ``.clip``), ``k`` (the gradient's power-of-two scale, fixed at step 1, see
`sim.jaxlns.rules`) and the leaf's LFSR
lane (uint32; stochastic configurations only; leaf ``i`` of the transformation's own leaves,
in ``jax.tree`` order, starts at ``lns.lane_seeds(seed * 16 + i, 1)`` as
`sim.analysis.training.LNSTensor` numbers its tensors).  Initial weights are encoded as
`rules.initial_words` does (Madam: raised to the format's floor, lowered to the clip).

**jit.** ``init`` and ``update`` work eagerly and under ``jax.jit``: the Numba kernels run
on the host through ``jax.pure_callback``, one call per step for all leaves (eagerly,
``init`` calls the host code directly).  The callbacks are pure (the LFSR register is
copied, then advanced; the new one is returned in the state), so XLA may cache, repeat or
drop them without changing a word.  Not under ``jax.vmap`` (no batching rule), nor
differentiable; every word is computed on the CPU host.

**Exactness of the weights.** The words are the truth: ``update`` decodes them and returns
``float(decoded) - params`` in the parameters' dtype.  ``params + update`` equals the
decoded weight (rounded to that dtype) whenever old and new weight have the same sign and
are within a factor 2 of each other (Sterbenz: the subtraction is exact), which holds for
every Madam step after the first when ``eta g_bound < 1`` (every preset: at most
``2**-5 x 10``).  The first update moves each weight from its float initial value onto
the LNS grid, and an additive step (Adam, SGD, Lion) that flips a sign or jumps more than a
factor 2 can
leave ``params`` off the decoded word by the rounding of ``decoded - params`` (half an ulp
of the step's size); nothing accumulates, as every update is computed from the words.
Gradients must be finite: a NaN or inf raises `lns.errors.InvalidValue` (under jit from
inside the callback, which JAX re-raises as a ``JaxRuntimeError`` whose message ends
"InvalidValue: gradients must be finite, ...").
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lns import registry
from lns.errors import InvalidType, InvalidValue
from lns.modes import Optimizer

from . import rules
from .rules import Words

__all__ = ["LNSState", "lns_madam", "lns_adam", "lns_sgd", "lns_lion", "lns_transform"]


class LNSState(NamedTuple):
    """``count``: steps taken (int32); ``tensors``: a `rules.Words` per parameter leaf."""

    count: jax.Array
    tensors: Any


_WORD = jnp.int32        # every word fits: the widest format here is 25 bits
_LANE = jnp.uint32       # a 32-bit LFSR register


def _shapes(cfg, shape) -> Words:
    """The JAX shapes and dtypes of one leaf's `Words` (from the contract: the roles the
    update writes, the per-tensor held ports, the lane when stochastic)."""
    rules.rule_of(cfg)
    words = jax.ShapeDtypeStruct(shape, _WORD)
    scalar = jax.ShapeDtypeStruct((), _WORD)
    return Words(words={r: words for r in rules.state_roles(cfg)},
                 held={p: scalar for p in rules.held_ports(cfg)},
                 k=scalar,
                 lfsr=jax.ShapeDtypeStruct((1,), _LANE) if cfg.is_stochastic else None)


def _to_jax_dtypes(s: Words) -> Words:
    """numpy int64 words -> the int32 / uint32 arrays of `_shapes` (values unchanged)."""
    def cast(a, dt):
        return None if a is None else np.asarray(a).astype(dt)
    return Words({r: cast(a, np.int32) for r, a in s.words.items()},
                 {p: cast(c, np.int32) for p, c in s.held.items()},
                 cast(s.k, np.int32), cast(s.lfsr, np.uint32))


def _check_leaf(name, p):
    if not hasattr(p, "dtype") or not jnp.issubdtype(p.dtype, jnp.floating):
        raise InvalidType(f"{name} takes floating-point parameters, not "
                          f"{getattr(p, 'dtype', type(p).__name__)}")


def lns_transform(cfg, *, seed: int = 0, name: str = "lns") -> optax.GradientTransformation:
    """The optax transformation of any LNS rule's configuration (`lns_madam`, `lns_adam`,
    `lns_sgd` and `lns_lion` check which rule they are given, then call this)."""
    rules.rule_of(cfg)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise InvalidType(f"seed must be an int, not {seed!r}")
    seed = int(seed)

    def init_leaf(p, lane_seed):
        _check_leaf(name, p)

        def host(p_host):
            return _to_jax_dtypes(rules.initial_words(cfg, np.asarray(p_host), lane_seed))
        if not isinstance(p, jax.core.Tracer):      # eagerly: bad weights raise plainly
            return jax.tree.map(jnp.asarray, host(p))
        return jax.pure_callback(host, _shapes(cfg, p.shape), p)

    def update_leaves(g_leaves, p_leaves, s_leaves, t):
        """Every leaf's new words and decoded weights, in one host call per step."""
        for p in p_leaves:
            _check_leaf(name, p)
        for g in g_leaves:      # eagerly, a bad gradient is a plain error (under jit: below)
            if not isinstance(g, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(g))):
                raise InvalidValue(f"{name}: gradients must be finite, not "
                                   f"{np.asarray(g)[~np.isfinite(np.asarray(g))].flat[0]}")
        shapes = [(_shapes(cfg, p.shape), jax.ShapeDtypeStruct(p.shape, p.dtype))
                  for p in p_leaves]

        def host(g_host, s_host, t_host):
            out = []
            for g, s, (_, decoded) in zip(g_host, s_host, shapes):
                new = rules.step_words(cfg, s, np.asarray(g), int(t_host))
                out.append((_to_jax_dtypes(new),
                            rules.decode_weights(cfg, new).astype(decoded.dtype)))
            return out
        out = jax.pure_callback(host, shapes, list(g_leaves), list(s_leaves), t)
        return [(w - p, new) for (new, w), p in zip(out, p_leaves)]

    def init_fn(params):
        leaves, treedef = jax.tree.flatten(params)
        tensors = [init_leaf(p, seed * 16 + i) for i, p in enumerate(leaves)]
        return LNSState(count=jnp.zeros((), jnp.int32),
                        tensors=jax.tree.unflatten(treedef, tensors))

    def update_fn(updates, state, params=None):
        if params is None:
            raise InvalidValue(f"{name}.update needs params (its updates are the new LNS "
                               "weights minus params)")
        t = state.count + 1
        g_leaves, treedef = jax.tree.flatten(updates)
        p_leaves = treedef.flatten_up_to(params)
        s_leaves = treedef.flatten_up_to(state.tensors)
        out = update_leaves(g_leaves, p_leaves, s_leaves, t) if g_leaves else []
        new_updates = jax.tree.unflatten(treedef, [u for u, _ in out])
        tensors = jax.tree.unflatten(treedef, [s for _, s in out])
        return new_updates, LNSState(count=t, tensors=tensors)

    return optax.GradientTransformation(init_fn, update_fn)


def _checked(cfg, rule: Optimizer, fname: str):
    if rules.rule_of(cfg) is not rule:
        cls = registry.load(rule, "config").__name__
        raise InvalidType(f"{fname} needs a lns.{cls}, not a {type(cfg).__name__}")
    return cfg


def lns_madam(cfg, *, seed: int = 0) -> optax.GradientTransformation:
    """Bit-exact LNS Madam (`lns.madam_update`) of a `lns.MadamConfig` (e.g.
    ``lns.presets.get("lns12")``); ``seed`` sets the LFSR lanes of a stochastic config."""
    return lns_transform(_checked(cfg, Optimizer.MADAM, "lns_madam"), seed=seed,
                         name="lns_madam")


def lns_adam(cfg, *, seed: int = 0) -> optax.GradientTransformation:
    """Bit-exact LNS Adam (`lns.adam_update`) of a `lns.AdamConfig` (e.g.
    ``lns.presets.get("lns12_adam")``)."""
    return lns_transform(_checked(cfg, Optimizer.ADAM, "lns_adam"), seed=seed,
                         name="lns_adam")


def lns_sgd(cfg, *, seed: int = 0) -> optax.GradientTransformation:
    """Bit-exact LNS SGD with momentum (`lns.sgd_update`) of a `lns.SGDConfig` (e.g.
    ``lns.presets.get("lns12_sgd")``)."""
    return lns_transform(_checked(cfg, Optimizer.SGD, "lns_sgd"), seed=seed, name="lns_sgd")


def lns_lion(cfg, *, seed: int = 0) -> optax.GradientTransformation:
    """Bit-exact LNS Lion (`lns.lion_update`) of a `lns.LionConfig` (e.g.
    ``lns.presets.get("lns12_lion")``; stochastic ``lns8_lion`` takes its lanes from
    ``seed``).  Lion's decoupled weight decay is not in the unit (``lambda = 0``)."""
    return lns_transform(_checked(cfg, Optimizer.LION, "lns_lion"), seed=seed,
                         name="lns_lion")
