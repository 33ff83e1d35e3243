"""The gradient's power-of-two scale, and the configuration that makes it change nothing.

A float gradient is encoded into the gradient format after a per-tensor power of two
``2**k`` fixed at the tensor's first step: the largest ``|g|`` of that step lands in
``[1, 2)``, so a narrow format's window (2**-24 .. 2**8 for the presets' i5 gradients)
holds the gradients with 7 octaves of headroom above and 24 below.  A constant power of two
changes no weight word, wherever no word saturates or flushes, when each rule's
hyperparameter follows it:

* Madam: ``g_hat = g / sqrt(v_hat)`` is scale invariant (the second moment scales too);
* Adam: ``m_hat / max(sqrt(v_hat), eps)`` is, when eps scales with the gradient
  (``eps * 2**k``, exact: its code moves by whole octaves);
* SGD: the step ``eta m`` scales with the gradient, so eta shifts the other way
  (``eta_log2 - k``, a shift of the log code).

The training emulation (`sim.analysis.training.LNSTensor`) and the optax path
(`sim.jaxlns`) both apply this rule, from here.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


__all__ = ["grad_scale_log2", "scaled_config"]


def grad_scale_log2(g) -> int:
    """``k`` such that the largest ``|g|`` times ``2**k`` lies in ``[1, 2)`` (0 for an
    all-zero or empty gradient)."""
    top = float(np.max(np.abs(g))) if np.size(g) else 0.0
    return -math.floor(math.log2(top)) if top > 0 else 0


@lru_cache(maxsize=256)
def scaled_config(cfg, k: int, *, eta_log2: int | None = None):
    """The configuration whose update of ``2**k g`` is ``cfg``'s update of ``g``.

    ``eta_log2`` replaces ``cfg.eta_log2`` first (a schedule's eta, in the gradient's own
    units).  Raises `InvalidValue` when SGD's shifted eta leaves the config's range.  Cached:
    a tensor asks for the same configuration at every step, and the kernels' tables are
    cached per configuration object."""
    eta = cfg.eta_log2 if eta_log2 is None else int(eta_log2)
    changes = cfg.gradient_scale_changes(k, eta)
    return cfg.replace(**changes) if changes else cfg
