"""Madam as published (Bernstein et al., NeurIPS 2020), one tensor at a time."""

import numbers

import numpy as np

from ._common import finite_array, float_dtype, madam_normalise, positive, sigma_star, unit_interval


class Madam:
    """Multiplicative Adam-normalised update of one weight tensor.

    Each :meth:`step` takes the step ``t = 1, 2, ...`` and computes::

        v      <- beta * v + (1 - beta) * g**2                        (v starts at 0)
        g_hat  =  g / sqrt(v / (1 - beta**t)),  NaN (g = 0, v = 0) -> 0
        g_hat  <- clamp(g_hat, -g_bound, g_bound)
        w      <- w * base**(-eta * g_hat * sign(w))
        w      <- clamp(w, -sigma*, sigma*)

    Consequences relied on by the tests: at ``t = 1`` ``g_hat = sign(g)`` exactly; ``g = 0``
    leaves ``w`` unchanged (inside the clip); ``sign(w)`` never changes and zero weights never
    move; one step changes ``|w|`` by at most the factor ``base**(eta * g_bound)``.

    Parameters
    ----------
    w0 : array_like
        Initial weights. Only their shape and ``sigma* = p_scale * sqrt(mean(w0**2))``,
        computed once here, are kept. Must be finite and not all zero.
    eta : float
        Step size (log of the largest per-unit-``g_hat`` factor), > 0. Default 0.01.
    beta : float
        Decay of the second moment, in [0, 1). Default 0.999.
    g_bound : float
        Clamp of ``|g_hat|``, > 0. Default 10.
    p_scale : float or None
        ``sigma*`` in units of ``RMS(w0)``, > 0. Default 3.  ``None``: no clip (``sigma* =
        inf``), for the sigma* sweep's "none" (a finite huge value would still be a clip).
    base : {"e", 2}
        ``"e"`` is the paper's ``exp``; ``2`` is LNS-Madam's ``2**(-eta * g_hat * sign w)``.
    dtype : {numpy.float64, numpy.float32}
        Dtype of all state and array arithmetic. Scalar constants (``1 - beta``,
        ``1 - beta**t``) are computed in double and rounded once to this dtype.

    Attributes
    ----------
    t : int
        Number of steps taken (0 before the first).
    v : numpy.ndarray
        Second moment after the last step.
    sigma_star : numpy.floating
        The clip value, a scalar of ``dtype``.
    g_hat : numpy.ndarray or None
        Clamped normalised gradient of the last step (None before the first).

    Raises
    ------
    ValueError, TypeError
        On a bad hyperparameter, ``w0`` or dtype, with messages "X must be Y, not Z".
    """

    def __init__(self, w0, eta=0.01, beta=0.999, g_bound=10.0, p_scale=3.0, base="e",
                 dtype=np.float64):
        self.dtype = float_dtype(dtype)
        self.eta = positive("eta", eta)
        self.beta = unit_interval("beta", beta)
        self.g_bound = positive("g_bound", g_bound)
        self.p_scale = None if p_scale is None else positive("p_scale", p_scale)
        if isinstance(base, str) and base == "e":
            self.base = "e"
        elif isinstance(base, numbers.Real) and not isinstance(base, bool) and base == 2:
            self.base = 2  # 2.0 and np.int64(2) are accepted too
        else:
            raise ValueError(f"base must be 'e' or 2, not {base!r}")
        w0 = finite_array("w0", w0, self.dtype)
        self.shape = w0.shape
        self.sigma_star = (sigma_star(w0, self.p_scale) if self.p_scale is not None
                           else self.dtype.type(np.inf))
        self.t = 0
        self.v = np.zeros(self.shape, self.dtype)
        self.g_hat = None

    def _log_step(self, g_hat):
        """Multiple of ``eta`` by which ``log_base |w|`` moves (before the sign)."""
        return g_hat

    def step(self, w, g):
        """Take one step and return the new weights.

        Parameters
        ----------
        w : array_like
            Current weights, shape of ``w0``; converted to ``dtype``. Not modified.
        g : array_like
            Gradient, same shape, finite.

        Returns
        -------
        numpy.ndarray
            New weights (a new array of ``dtype``).

        Raises
        ------
        ValueError
            Shape mismatch, NaN or inf in ``w`` or ``g``, or ``g**2`` overflowing ``dtype``.
            The optimizer state is unchanged when this is raised.
        """
        w = finite_array("w", w, self.dtype, self.shape)
        g = finite_array("g", g, self.dtype, self.shape)
        t = self.t + 1
        v, g_hat = madam_normalise(g, self.v, t, self.beta, self.g_bound)
        self.t, self.v, self.g_hat = t, v, g_hat  # commit only after every check passed

        exponent = -self.dtype.type(self.eta) * self._log_step(g_hat) * np.sign(w)
        factor = np.exp(exponent) if self.base == "e" else np.exp2(exponent)
        return np.clip(w * factor, -self.sigma_star, self.sigma_star)
