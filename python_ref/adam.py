"""Adam (Kingma and Ba, 2015) with bias correction, one tensor: the float baseline."""

import numpy as np

from ._common import check_betas, check_finite_state, finite_array, float_dtype, positive


class Adam:
    """Adam with bias correction, as in ``torch.optim.Adam`` without weight decay.

    Each :meth:`step` takes the step ``t = 1, 2, ...`` and computes::

        m <- beta1 * m + (1 - beta1) * g          (m, v start at 0)
        v <- beta2 * v + (1 - beta2) * g**2
        w <- w - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    Parameters
    ----------
    w0 : array_like
        Initial weights; only the shape is kept.
    lr : float
        Step size, > 0. Default 1e-3.
    betas : tuple of float
        ``(beta1, beta2)``, each in [0, 1). Default ``(0.9, 0.999)``.
    eps : float
        Added to the denominator, > 0. Default 1e-8.
    dtype : {numpy.float64, numpy.float32}
        Dtype of all state and array arithmetic.

    Attributes
    ----------
    t : int
        Number of steps taken.
    m, v : numpy.ndarray
        First and second moments after the last step.
    """

    def __init__(self, w0, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, dtype=np.float64):
        self.dtype = float_dtype(dtype)
        self.lr = positive("lr", lr)
        self.beta1, self.beta2 = check_betas(betas)
        self.eps = positive("eps", eps)
        self.shape = finite_array("w0", w0, self.dtype).shape
        self.t = 0
        self.m = np.zeros(self.shape, self.dtype)
        self.v = np.zeros(self.shape, self.dtype)

    def step(self, w, g):
        """Take one step and return the new weights (a new array; ``w`` is not modified).

        Raises ValueError on a shape mismatch, NaN or inf in ``w`` or ``g``, or a gradient
        whose square overflows ``dtype``; the state is unchanged when this is raised.
        """
        w = finite_array("w", w, self.dtype, self.shape)
        g = finite_array("g", g, self.dtype, self.shape)
        dt = self.dtype.type
        t = self.t + 1
        with np.errstate(over="ignore"):
            m = dt(self.beta1) * self.m + dt(1.0 - self.beta1) * g
            v = dt(self.beta2) * self.v + dt(1.0 - self.beta2) * (g * g)
        check_finite_state("the second moment v", v, self.dtype)
        self.t, self.m, self.v = t, m, v
        m_hat = m / dt(1.0 - self.beta1 ** t)
        v_hat = v / dt(1.0 - self.beta2 ** t)
        return w - dt(self.lr) * m_hat / (np.sqrt(v_hat) + dt(self.eps))
