"""Float Madam (Bernstein et al., NeurIPS 2020) as an optax ``GradientTransformation``,
written in JAX from the published equations (``../shared/REFERENCES.md``); the float
counterpart of `sim.jaxlns.lns_madam`, checked against `python_ref.Madam`.

Per tensor ``w``, step ``t = 1, 2, ...``::

    v      <- beta v + (1 - beta) g**2                      (v starts at 0)
    g_hat  =  sign(g) sqrt(g**2 (1 - beta**t) / v),  0/0 -> 0,  clamped to +-g_bound
    w      <- w base**(-eta g_hat sign(w)),  then clamped to +-sigma*

with ``sigma* = p_scale sqrt(mean(w0**2))`` from the weights ``init`` sees (``p_scale=None``:
no clip).  ``g_hat`` is evaluated as the square root of a ratio, as `python_ref.Madam` does,
so that at ``t = 1`` numerator and denominator are the same rounded product and ``g_hat =
sign(g)`` exactly.  ``base`` 2 (LNS-Madam's, the default) or ``"e"`` (the paper's).
Pure JAX: jit-, vmap- and grad-friendly.  ``update`` returns ``new - params``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lns.errors import InvalidType, InvalidValue

__all__ = ["MadamState", "madam"]


class MadamState(NamedTuple):
    """``count`` (int32), and per leaf the second moment ``v`` and the clip ``sigma``
    (``None`` without a clip)."""

    count: jax.Array
    v: Any
    sigma: Any


def _positive(name, x):
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InvalidType(f"{name} must be a real number, not {type(x).__name__}")
    if not (math.isfinite(x) and x > 0):
        raise InvalidValue(f"{name} must be positive and finite, not {x!r}")
    return float(x)


def madam(eta: float = 2.0 ** -7, *, beta: float = 0.999, g_bound: float = 10.0,
          p_scale: float | None = 3.0, base=2) -> optax.GradientTransformation:
    """Float Madam with step ``eta`` (see the module docstring)."""
    eta = _positive("eta", eta)
    g_bound = _positive("g_bound", g_bound)
    if p_scale is not None:
        p_scale = _positive("p_scale", p_scale)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
        raise InvalidValue(f"beta must be in [0, 1), not {beta!r}")
    if base == "e":
        power = jnp.exp
    elif not isinstance(base, bool) and base == 2:
        power = jnp.exp2
    else:
        raise InvalidValue(f"base must be 'e' or 2, not {base!r}")
    beta = float(beta)

    def init_fn(params):
        for w in jax.tree.leaves(params):
            # sigma* = 0 would pin the leaf at zero forever (python_ref.Madam refuses it too)
            if p_scale is not None and not isinstance(w, jax.core.Tracer) \
                    and not bool(jnp.any(w != 0)):
                raise InvalidValue("madam needs non-zero initial weights (sigma* = p_scale x "
                                   "RMS(w0) would be 0); give the biases another optimizer")
        v = jax.tree.map(jnp.zeros_like, params)
        sigma = None if p_scale is None else jax.tree.map(
            lambda w: (p_scale * jnp.sqrt(jnp.mean(w * w))).astype(w.dtype), params)
        return MadamState(count=jnp.zeros((), jnp.int32), v=v, sigma=sigma)

    def leaf(g, w, v, sigma, t):
        dt = w.dtype
        g = g.astype(dt)
        g2 = g * g
        v = jnp.asarray(beta, dt) * v + jnp.asarray(1.0 - beta, dt) * g2
        # 1 - beta**t = -expm1(t log beta): accurate to the dtype's precision even where
        # beta**t is close to 1 (python_ref computes it in double and rounds once)
        bias_correction = (-jnp.expm1(t.astype(dt) * jnp.asarray(math.log(beta), dt))
                           if beta > 0 else jnp.asarray(1.0, dt))
        ratio = g2 * bias_correction / v
        ratio = jnp.where(jnp.isnan(ratio), jnp.zeros_like(ratio), ratio)    # g = 0, v = 0
        g_hat = jnp.clip(jnp.sign(g) * jnp.sqrt(ratio), -g_bound, g_bound)
        new = w * power(-jnp.asarray(eta, dt) * g_hat * jnp.sign(w))
        if sigma is not None:
            new = jnp.clip(new, -sigma, sigma)
        return new - w, v

    def update_fn(updates, state, params=None):
        if params is None:
            raise InvalidValue("madam.update needs params (the step is multiplicative)")
        t = state.count + 1
        g_leaves, treedef = jax.tree.flatten(updates)
        w_leaves = treedef.flatten_up_to(params)
        v_leaves = treedef.flatten_up_to(state.v)
        s_leaves = ([None] * len(g_leaves) if state.sigma is None
                    else treedef.flatten_up_to(state.sigma))
        out = [leaf(g, w, v, s, t) for g, w, v, s in zip(g_leaves, w_leaves, v_leaves, s_leaves)]
        new_updates = jax.tree.unflatten(treedef, [u for u, _ in out])
        v = jax.tree.unflatten(treedef, [v for _, v in out])
        return new_updates, MadamState(count=t, v=v, sigma=state.sigma)

    return optax.GradientTransformation(init_fn, update_fn)
