"""The public LNS-Madam optimizer (Zhao et al., IEEE Trans. Computers 2022), one tensor."""

import numpy as np

from .madam import Madam


class LNSMadam(Madam):
    """Madam in base 2 with the normalised gradient rounded to an integer.

    Each :meth:`step` computes ``v``, the bias correction, ``g_hat`` and its clamp exactly as
    :class:`~python_ref.madam.Madam`, then::

        k  = round_half_even(g_hat)                 (an integer in [-g_bound, g_bound])
        w <- w * 2**(-eta * k * sign(w))
        w <- clamp(w, -sigma*, sigma*)

    so, away from the clip, ``log2|w|`` moves by a whole multiple of ``eta`` (``2**-7``
    by default): the update an LNS weight with 7 fractional log bits can take exactly.

    Parameters
    ----------
    w0, beta, g_bound, p_scale, dtype
        As for :class:`~python_ref.madam.Madam`.
    eta : float
        Size of one log2 step, > 0. Default ``2**-7`` (the public optimizer's ``lr = 1/128``).

    Attributes
    ----------
    t, v, sigma_star
        As for :class:`~python_ref.madam.Madam`.
    g_hat : numpy.ndarray or None
        Clamped normalised gradient of the last step *before* rounding;
        ``numpy.rint(g_hat)`` is the applied integer step.
    """

    def __init__(self, w0, eta=2.0 ** -7, beta=0.999, g_bound=10.0, p_scale=3.0,
                 dtype=np.float64):
        super().__init__(w0, eta=eta, beta=beta, g_bound=g_bound, p_scale=p_scale, base=2,
                         dtype=dtype)

    def _log_step(self, g_hat):
        # numpy.rint rounds half to even, like torch.round in the public optimizer
        return np.rint(g_hat)
