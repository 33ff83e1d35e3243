"""IntegerMadam: the B-bit Madam of Bernstein et al. (NeurIPS 2020), one tensor."""

import numbers

import numpy as np

from ._common import (finite_array, float_dtype, madam_normalise, positive, sigma_star,
                      unit_interval)


class IntegerMadam:
    """Madam on weights stored as a fixed sign and a B-bit integer log code.

    A weight is ``w = s * sigma* * exp(-eta_b * n)`` with ``s = sign(w0)`` fixed and ``n``
    an integer in ``[0, levels - 1]``, ``levels = 2**bits``; ``n = 0`` is the largest
    magnitude ``sigma*`` and larger ``n`` means a smaller magnitude. Each :meth:`step` computes
    ``v``, the bias correction, ``g_hat`` and its clamp exactly as
    :class:`~python_ref.madam.Madam`, then::

        n <- clamp(n + round_half_even(k * g_hat) * s, 0, levels - 1)

    This is Madam's ``|w| <- |w| * exp(-eta * g_hat * s)`` with ``eta = k * eta_b`` and the
    log step rounded to whole codes: for ``w > 0`` and ``g > 0`` the magnitude shrinks, so
    ``n`` grows. Zero is not representable; an element with ``w0 = 0`` has ``s = 0`` and
    stays zero (as ``torch.sign`` gives in the original).

    Parameters
    ----------
    w0 : array_like
        Initial weights. Only ``sign(w0)``, the shape and
        ``sigma* = p_scale * sqrt(mean(w0**2))`` are kept. Finite, not all zero.
    eta_b : float
        Log step of one code, > 0. Default 0.001.
    lr_factor : float
        ``k``, the step in codes per unit ``g_hat``, > 0. Default 10 (the original's
        default; its CIFAR runs used 16, divided by 4 every 100 epochs). May be changed
        between steps for a schedule.
    bits : int
        Code width B, 1 to 32; ``levels = 2**bits``. Default 12 (4096 levels).
    beta, g_bound, p_scale, dtype
        As for :class:`~python_ref.madam.Madam`.
    codes : array_like of int, optional
        Initial codes, shape of ``w0``, in ``[0, levels - 1]``. When omitted, codes are drawn
        uniformly from ``[0, levels - 2]`` as published, so the weights before the first step
        are *not* ``w0``.
    seed : int
        Seed of the ``numpy.random.Generator`` drawing the initial codes. Default 0;
        unused when ``codes`` is given.

    Attributes
    ----------
    t, v, sigma_star, g_hat
        As for :class:`~python_ref.madam.Madam`.
    codes : numpy.ndarray of int64
        The current codes ``n``.
    signs : numpy.ndarray of int8
        ``s = sign(w0)``.
    levels : int
        ``2**bits``.
    """

    def __init__(self, w0, eta_b=0.001, lr_factor=10.0, bits=12, beta=0.999, g_bound=10.0,
                 p_scale=3.0, codes=None, seed=0, dtype=np.float64):
        self.dtype = float_dtype(dtype)
        self.eta_b = positive("eta_b", eta_b)
        self.lr_factor = positive("lr_factor", lr_factor)
        if (isinstance(bits, bool) or not isinstance(bits, numbers.Integral)
                or not 1 <= bits <= 32):
            raise ValueError(f"bits must be an integer from 1 to 32, not {bits!r}")
        self.bits = int(bits)
        self.levels = 2 ** self.bits
        self.beta = unit_interval("beta", beta)
        self.g_bound = positive("g_bound", g_bound)
        self.p_scale = positive("p_scale", p_scale)
        w0 = finite_array("w0", w0, self.dtype)
        self.shape = w0.shape
        self.sigma_star = sigma_star(w0, self.p_scale)
        self.signs = np.sign(w0).astype(np.int8)
        if codes is None:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
            rng = np.random.default_rng(seed)
            # high is exclusive: codes 0 .. levels-2, as published
            self.codes = rng.integers(0, self.levels - 1, size=self.shape, dtype=np.int64)
        else:
            self.codes = self._check_codes(codes)
        self.t = 0
        self.v = np.zeros(self.shape, self.dtype)
        self.g_hat = None

    def _check_codes(self, codes):
        arr = np.asarray(codes)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"codes must be integers, not dtype {arr.dtype.name}")
        if arr.shape != self.shape:
            raise ValueError(f"codes must have shape {self.shape} like w0, not {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() > self.levels - 1):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ValueError(f"codes must be in [0, {self.levels - 1}], not {int(bad)}")
        return arr.astype(np.int64)

    def weights(self):
        """Decode the codes: ``s * sigma* * exp(-eta_b * n)`` as a new array of ``dtype``."""
        n = self.codes.astype(self.dtype)
        return self.signs * (self.sigma_star * np.exp(-self.dtype.type(self.eta_b) * n))

    def step(self, g):
        """Take one step and return the new (decoded) weights.

        Unlike :meth:`Madam.step <python_ref.madam.Madam.step>` there is no ``w`` argument:
        the optimizer owns the weights as codes; read them with :meth:`weights`.

        Parameters
        ----------
        g : array_like
            Gradient, shape of ``w0``, finite.

        Returns
        -------
        numpy.ndarray
            ``weights()`` after the step.

        Raises
        ------
        ValueError
            Shape mismatch, NaN or inf in ``g``, or ``g**2`` overflowing ``dtype``; the state
            is unchanged when this is raised.
        """
        g = finite_array("g", g, self.dtype, self.shape)
        t = self.t + 1
        v, g_hat = madam_normalise(g, self.v, t, self.beta, self.g_bound)
        # numpy.rint rounds half to even, like torch.round in the original
        moves = np.rint(self.dtype.type(self.lr_factor) * g_hat).astype(np.int64) * self.signs
        self.codes = np.clip(self.codes + moves, 0, self.levels - 1)
        self.t, self.v, self.g_hat = t, v, g_hat
        return self.weights()
