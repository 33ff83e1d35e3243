"""Argument checks and the Madam gradient normaliser shared by the reference optimizers.

Private to ``python_ref``. Errors follow the project convention "X must be Y, not Z".
"""

import math
import numbers

import numpy as np

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def real(name, value):
    """Return ``value`` as a Python float; TypeError if it is not a real number."""
    # bool is a numbers.Real subclass, but eta=True is a mistake, not 1.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    return float(value)


def positive(name, value):
    """Return ``value`` as a float, checked finite and > 0."""
    x = real(name, value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, not {x!r}")
    if x <= 0:
        raise ValueError(f"{name} must be positive, not {x!r}")
    return x


def non_negative(name, value):
    """Return ``value`` as a float, checked finite and >= 0."""
    x = real(name, value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, not {x!r}")
    if x < 0:
        raise ValueError(f"{name} must be non-negative, not {x!r}")
    return x


def unit_interval(name, value):
    """Return ``value`` as a float, checked in [0, 1) (a decay rate)."""
    x = real(name, value)
    # written so that NaN fails too
    if not 0 <= x < 1:
        raise ValueError(f"{name} must be in [0, 1), not {x!r}")
    return x


def check_betas(value):
    """``(beta1, beta2)`` from a pair of numbers, each in [0, 1) (`unit_interval`, named
    ``betas[0]`` and ``betas[1]``); ValueError for anything but a pair."""
    try:
        beta1, beta2 = value
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair of numbers, not {value!r}") from None
    return unit_interval("betas[0]", beta1), unit_interval("betas[1]", beta2)


def float_dtype(dtype):
    """Return ``np.dtype(dtype)``, checked to be float32 or float64."""
    # np.dtype(None) is float64; a missing dtype is more likely a bug than a choice
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    # "is None" first: np.dtype("float64") == None is True (numpy coerces None to float64)
    if dt is None or dt not in _FLOAT_DTYPES:
        shown = dt.name if dt is not None else repr(dtype)
        raise ValueError(f"dtype must be float32 or float64, not {shown}")
    return dt


def _index(flat_index, shape):
    idx = np.unravel_index(flat_index, shape)
    idx = tuple(int(i) for i in idx)
    return idx[0] if len(idx) == 1 else idx


def finite_array(name, value, dtype, shape=None, like="w0"):
    """Return ``value`` as a new array of ``dtype``, checked for shape and finiteness.

    Parameters
    ----------
    name : str
        Argument name used in error messages.
    value : array_like
        Real numbers (integers are accepted and converted).
    dtype : numpy.dtype
        Target float dtype.
    shape : tuple, optional
        Required shape; ``None`` accepts any shape.
    like : str
        What the required shape comes from, for the error message.

    Raises
    ------
    ValueError
        Wrong shape, non-real dtype, NaN or inf, or a value that overflows ``dtype``.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be an array of real numbers, not dtype {arr.dtype.name}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} like {like}, not {arr.shape}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = bad[0]
            raise ValueError(f"{name} must be finite, not {arr.flat[i].item()!r} "
                             f"at index {_index(i, arr.shape)}")
    with np.errstate(over="ignore"):
        out = arr.astype(dtype)  # always a copy: callers may keep it as state
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = bad[0]
        raise ValueError(f"{name} must fit in {dtype.name}, not {arr.flat[i].item()!r} "
                         f"at index {_index(i, arr.shape)}")
    return out


def sigma_star(w0, p_scale):
    """Madam's clip value ``p_scale * sqrt(mean(w0**2))`` in the dtype of ``w0``.

    Raises ValueError for an empty or all-zero ``w0``: sigma* would be undefined or 0 and
    every weight would be clipped to zero.
    """
    if w0.size == 0:
        raise ValueError("w0 must have at least one element, not 0")
    rms = np.sqrt(np.mean(w0 * w0))
    if not rms > 0:
        raise ValueError("w0 must have a non-zero RMS, not 0 (all weights zero)")
    return w0.dtype.type(p_scale) * rms


class StateOverflow(ValueError):
    """An update whose state would overflow its dtype: the optimizer has diverged (the
    state is left as it was; a trainer catches this to end the run as diverged)."""


def check_finite_state(name, value, dtype):
    """Raise `StateOverflow` if an updated state array overflowed (state is committed only
    after this)."""
    if not np.all(np.isfinite(value)):
        raise StateOverflow(f"{name} must stay finite in {dtype.name}, not overflow; "
                         f"the gradient is too large for this dtype")


def madam_normalise(g, v, t, beta, g_bound):
    """One step of Madam's second moment and normalised gradient.

    Computes, in the dtype of ``g``::

        v_t   = beta * v + (1 - beta) * g**2
        g_hat = g / sqrt(v_t / (1 - beta**t)),  NaN (0/0) -> 0,  clamped to +-g_bound

    The constants ``1 - beta`` and ``1 - beta**t`` are computed in double precision and
    rounded once to the dtype. ``g_hat`` is evaluated as
    ``sign(g) * sqrt(g**2 * (1 - beta**t) / v_t)``, equal in exact arithmetic; at ``t = 1``
    with ``v = 0`` numerator and denominator are then the same rounded product, so
    ``g_hat = sign(g)`` exactly (the direct form is off by an ulp for ~5 % of elements).

    Parameters
    ----------
    g, v : numpy.ndarray
        Gradient and previous second moment, same shape and float dtype.
    t : int
        The step being taken, starting at 1.
    beta : float
        Decay of the second moment, in [0, 1).
    g_bound : float
        Clamp of ``|g_hat|``.

    Returns
    -------
    v_t, g_hat : numpy.ndarray
        New arrays; ``v`` is not modified.

    Raises
    ------
    ValueError
        If ``g**2`` overflows the dtype (the second moment would be inf forever after).
    """
    dt = g.dtype.type
    one_minus_beta = dt(1.0 - beta)
    bias_correction = dt(1.0 - beta ** t)
    with np.errstate(over="ignore"):
        g2 = g * g
        v_t = dt(beta) * v + one_minus_beta * g2
    check_finite_state("the second moment v", v_t, g.dtype)
    # 0/0 only where g = 0 and v_t = 0 (-> NaN -> 0); x/0 with x > 0 only when v_t
    # underflowed, giving inf, which the clamp turns into +-g_bound as in the original
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = g2 * bias_correction / v_t
    ratio = np.where(np.isnan(ratio), dt(0), ratio)
    g_hat = np.sign(g) * np.sqrt(ratio)
    return v_t, np.clip(g_hat, dt(-g_bound), dt(g_bound))
