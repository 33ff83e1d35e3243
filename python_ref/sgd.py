"""SGD with heavy-ball momentum, one tensor: the float baseline."""

import numpy as np

from ._common import (check_finite_state, finite_array, float_dtype, non_negative, positive,
                      unit_interval)


class SGD:
    """SGD with momentum and optional L2 weight decay, as ``torch.optim.SGD`` (dampening 0).

    Each :meth:`step` computes::

        d   = g + weight_decay * w
        buf <- momentum * buf + d                 (buf starts at 0, so buf = d at t = 1)
        w   <- w - lr * buf

    Parameters
    ----------
    w0 : array_like
        Initial weights; only the shape is kept.
    lr : float
        Step size, > 0. Default 0.1 (the seed paper's CIFAR SGD rate).
    momentum : float
        In [0, 1). Default 0.9.
    weight_decay : float
        L2 coefficient, >= 0. Default 0.
    dtype : {numpy.float64, numpy.float32}
        Dtype of all state and array arithmetic.

    Attributes
    ----------
    t : int
        Number of steps taken.
    buf : numpy.ndarray
        The momentum buffer after the last step.
    """

    def __init__(self, w0, lr=0.1, momentum=0.9, weight_decay=0.0, dtype=np.float64):
        self.dtype = float_dtype(dtype)
        self.lr = positive("lr", lr)
        self.momentum = unit_interval("momentum", momentum)
        self.weight_decay = non_negative("weight_decay", weight_decay)
        self.shape = finite_array("w0", w0, self.dtype).shape
        self.t = 0
        self.buf = np.zeros(self.shape, self.dtype)

    def step(self, w, g):
        """Take one step and return the new weights (a new array; ``w`` is not modified).

        Raises ValueError on a shape mismatch, NaN or inf in ``w`` or ``g``, or an update
        that overflows ``dtype``; the state is unchanged when this is raised.
        """
        w = finite_array("w", w, self.dtype, self.shape)
        g = finite_array("g", g, self.dtype, self.shape)
        dt = self.dtype.type
        with np.errstate(over="ignore"):
            buf = dt(self.momentum) * self.buf + (g + dt(self.weight_decay) * w)
            w_new = w - dt(self.lr) * buf
        check_finite_state("the momentum buffer", buf, self.dtype)
        check_finite_state("w", w_new, self.dtype)
        self.t, self.buf = self.t + 1, buf
        return w_new
