"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), one tensor: the
float baseline."""

import numpy as np

from ._common import (check_betas, check_finite_state, finite_array, float_dtype, non_negative,
                      positive)


class Lion:
    """Lion with decoupled weight decay, as Algorithm 2 of the paper (and ``lion-pytorch``).

    Each :meth:`step` computes::

        c = beta1 * m + (1 - beta1) * g           (m starts at 0)
        w <- w - lr * (sign(c) + weight_decay * w)
        m <- beta2 * m + (1 - beta2) * g

    ``sign(0) = 0``: where ``c`` is exactly zero only the weight decay moves ``w``.

    Parameters
    ----------
    w0 : array_like
        Initial weights; only the shape is kept.
    lr : float
        Step size, > 0. Default 1e-4 (Lion's rate is typically 3-10x below AdamW's 1e-3).
    betas : tuple of float
        ``(beta1, beta2)``, each in [0, 1). Default ``(0.9, 0.99)``.
    weight_decay : float
        Decoupled weight decay ``lambda``, >= 0. Default 0.
    dtype : {numpy.float64, numpy.float32}
        Dtype of all state and array arithmetic.

    Attributes
    ----------
    t : int
        Number of steps taken.
    m : numpy.ndarray
        The momentum after the last step (may be assigned, e.g. to start one step from a
        given state).
    """

    def __init__(self, w0, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, dtype=np.float64):
        self.dtype = float_dtype(dtype)
        self.lr = positive("lr", lr)
        self.beta1, self.beta2 = check_betas(betas)
        self.weight_decay = non_negative("weight_decay", weight_decay)
        self.shape = finite_array("w0", w0, self.dtype).shape
        self.t = 0
        self.m = np.zeros(self.shape, self.dtype)

    def step(self, w, g):
        """Take one step and return the new weights (a new array; ``w`` is not modified).

        Raises ValueError on a shape mismatch, NaN or inf in ``w`` or ``g``, or a momentum
        that overflows ``dtype``; the state is unchanged when this is raised.
        """
        w = finite_array("w", w, self.dtype, self.shape)
        g = finite_array("g", g, self.dtype, self.shape)
        m_old = finite_array("m", self.m, self.dtype, self.shape)
        dt = self.dtype.type
        with np.errstate(over="ignore"):
            c = dt(self.beta1) * m_old + dt(1.0 - self.beta1) * g
            m = dt(self.beta2) * m_old + dt(1.0 - self.beta2) * g
            w_new = w - dt(self.lr) * (np.sign(c) + dt(self.weight_decay) * w)
        check_finite_state("the momentum m", m, self.dtype)
        check_finite_state("w", w_new, self.dtype)
        self.t, self.m = self.t + 1, m
        return w_new
