"""The MLP: inputs-hidden-classes (the digits' 64-64-10 by default), ReLU, softmax
cross-entropy, forward and backward in float64 numpy.

He-normal initial weights, zero biases; parameters are ``[W1, b1, W2, b2]``.  The gradients
are checked against finite differences in the tests.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["init_params", "loss_and_grads", "error_rate", "evaluate", "xavier_scales",
           "WEIGHT_INDICES"]

WEIGHT_INDICES = (0, 2)      # the weight matrices of ``params``; 1 and 3 are the biases


def init_params(rng: np.random.Generator, hidden: int = 64, n_in: int = 64,
                classes: int = 10) -> list[np.ndarray]:
    """``[W1, b1, W2, b2]``: He-normal weights (n_in x hidden, hidden x classes), zero
    biases; the defaults are the digits' shapes (the same draws as before the task
    sizes were parameters)."""
    return [rng.normal(0.0, math.sqrt(2 / n_in), (n_in, hidden)), np.zeros(hidden),
            rng.normal(0.0, math.sqrt(1 / hidden), (hidden, classes)), np.zeros(classes)]


def xavier_scales(params) -> dict[int, float]:
    """The Xavier (Glorot) initial scale ``sqrt(2 / (fan_in + fan_out))`` of each weight
    matrix, by its index in ``params``: the unit of the sigma* sweep."""
    return {i: math.sqrt(2.0 / sum(params[i].shape)) for i in WEIGHT_INDICES}


def _logits(params, X):
    W1, b1, W2, b2 = params
    a = X @ W1 + b1
    h = np.maximum(a, 0.0)
    return a, h, h @ W2 + b2


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return p


def loss_and_grads(params, X, y):
    """Mean cross-entropy of the batch and its gradients, in the order of ``params``."""
    W1, b1, W2, b2 = params
    a, h, z = _logits(params, X)
    p = _softmax(z)
    n = len(y)
    rows = np.arange(n)
    loss = float(-np.mean(np.log(p[rows, y])))
    dz = p
    dz[rows, y] -= 1.0
    dz /= n
    dh = (dz @ W2.T) * (a > 0)
    return loss, [X.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


def evaluate(params, X, y) -> tuple[float, float]:
    """``(mean cross-entropy, share misclassified)`` in one forward pass."""
    z = _logits(params, X)[2]
    p = _softmax(z)
    loss = float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-300))))
    return loss, float(np.mean(np.argmax(z, axis=1) != y))


def error_rate(params, X, y) -> float:
    """Share of misclassified samples."""
    return float(np.mean(np.argmax(_logits(params, X)[2], axis=1) != y))
