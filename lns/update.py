"""The bit-exact LNS Madam update (DESIGN.md section 4): the definition the RTL reproduces.

For one weight word ``w``, gradient word ``g`` and second-moment word ``v`` at step ``t``::

    1. v' = beta v + (1 - beta) g**2 in the log domain: the logs of the constants are added
       (``c_beta``, ``c_one_minus_beta``), ``g**2`` is ``2 X_g`` moved to moment LSBs, and the
       sum is ``max + sb(|a - b|)`` from the moment's table; v' is stored (saturated or
       flushed) and the stored value is what the next stage reads.  Zero cases are exact.
    2. log2|g_hat| = X_g - (X_v' - X_bc) / 2, formed exactly at ``max(Fg, Fv + 1)`` bits and
       rounded once (nearest even) to ``step_frac_bits``; clamped at ``l_bound``.
       ``g = 0`` gives no step; ``v' = 0`` with ``g != 0`` (only after a flush) gives
       ``l_bound``.  The ``sign`` normaliser uses log2|g_hat| = 0 and passes v through.
    3. Delta = round(2**(log2|g_hat| + eta_shift)): with E = L + eta_shift 2**Fs split into
       ``q = E >> Fs`` and ``r``, Delta = round(P[r] / 2**(exp_bits - q)), the only rounding
       of the step (nearest even, or stochastic with the lane's LFSR).
    4. X_w' = clamp(X_w - s_w s_g Delta, floor, X_clip): the sign never changes and a weight
       never becomes zero.  A zero weight stays zero.

The kernel caps the step's right shift at ``shift_cap``; past ``exp_bits + 1`` bits (plus the
random bits) the result is 0 either way, so the cap changes no output, only keeps shifts
inside 64 bits.  The scalar reference has no cap: it rounds exact fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba import njit

from .codec import as_codes, fields_ref as _fields, store_ref
from .config import MadamConfig
from .kernels import log_add, pack, table_tuple, unpack
from .lfsr import lfsr_advance, lfsr_advance_ref
from .rounding import round_shift_rne, round_shift_stochastic

__all__ = ["madam_update", "madam_update_ref", "EVALUATORS"]

EVALUATORS = ("python", "numba")


# ---- scalar reference ---------------------------------------------------------------------
def madam_update_ref(cfg: MadamConfig, w: int, g: int, v: int, t: int, clip: int,
                     lfsr_state: int | None = None):
    """One update, written for reading.  Returns ``(w', v', lfsr_state')``."""
    p = cfg.params
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    sw, xw, zw = _fields(W, w)
    sg, xg, zg = _fields(G, g)
    if p.stochastic:
        lfsr_state = lfsr_advance_ref(lfsr_state)

    # 1. second moment
    if p.rms:
        _, xv, zv = _fields(V, v)
        terms = []
        if not zv:
            terms.append(xv + p.c_beta)
        if not zg:
            terms.append(int(Fraction(2 * xg) * Fraction(2) ** (V.frac_bits - G.frac_bits))
                         + p.c_one_minus_beta)
        if not terms:
            v_new = 0
        elif len(terms) == 1:
            v_new = store_ref(V, 0, terms[0])
        else:
            a, b = terms
            v_new = store_ref(V, 0, max(a, b) + cfg.sb_table.lookup_ref(abs(a - b)))
    else:
        v_new = v

    # 2-3. normalised gradient and step
    if zg or zw:
        delta = 0
    else:
        if not p.rms:
            L = 0
        else:
            _, xv2, zv2 = _fields(V, v_new)
            if zv2:
                L = p.l_bound
            else:
                x_bc = cfg.bias_correction_code(t)
                exact = Fraction(xg, 2 ** G.frac_bits) - Fraction(xv2 - x_bc, 2 ** (V.frac_bits + 1))
                L = round(exact * 2 ** cfg.step_frac_bits)           # ties to even
                L = min(L, p.l_bound)
        E = L + p.eta_shift * 2 ** cfg.step_frac_bits
        q, r = divmod(E, 2 ** cfg.step_frac_bits)                    # floor division
        P = int(cfg.exp_table[r])
        value = Fraction(P * 2 ** max(q, 0), 2 ** (cfg.exp_bits + max(-q, 0)))
        if p.stochastic:
            rnd = lfsr_state & ((1 << p.random_bits) - 1)
            delta = math.floor(value + Fraction(rnd, 2 ** p.random_bits))
        else:
            delta = round(value)

    # 4. weight
    if zw:
        w_new = 0
    else:
        xw_new = xw - delta if sw == sg else xw + delta
        xw_new = max(W.x_min, min(xw_new, clip - W.offset))
        w_new = W.word(sw, xw_new + W.offset)
    return w_new, v_new, lfsr_state


# ---- kernel -------------------------------------------------------------------------------
@njit(cache=True)
def _update_kernel(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v):
    lanes = lfsr.shape[0]
    fs_mask = (1 << p.step_frac_bits) - 1
    no_db = sb  # the moment adder only adds positive terms; db is never read
    for i in range(w.shape[0]):
        sw, xw, zw = unpack(w[i], p.w)
        sg, xg, zg = unpack(g[i], p.g)
        rnd = 0
        if p.stochastic == 1:
            lane = i % lanes
            lfsr[lane] = lfsr_advance(lfsr[lane])
            rnd = lfsr[lane] & ((1 << p.random_bits) - 1)

        # 1. second moment
        if p.rms == 1:
            _, xv, zv = unpack(v[i], p.v)
            a = xv + p.c_beta
            b = (xg << p.g2_shift) + p.c_one_minus_beta
            if zv and zg:
                vn = 0
            elif zg:
                vn = pack(0, a, p.v)
            elif zv:
                vn = pack(0, b, p.v)
            else:
                x, _, _ = log_add(a, b, True, sb, no_db)
                vn = pack(0, x, p.v)
        else:
            vn = v[i]
        out_v[i] = vn

        # 2-3. normalised gradient and step
        delta = 0
        if not (zg or zw):
            if p.rms == 0:
                L = 0
            else:
                _, xv2, zv2 = unpack(vn, p.v)
                if zv2:
                    L = p.l_bound
                else:
                    num = (xg << p.norm_g_shift) - ((xv2 - x_bc) << p.norm_v_shift)
                    L = round_shift_rne(num, p.norm_round)
                    if L > p.l_bound:
                        L = p.l_bound
            E = L + (p.eta_shift << p.step_frac_bits)
            q = E >> p.step_frac_bits
            P = exp_table[E & fs_mask]
            s = p.exp_bits - q
            if s > p.shift_cap:
                s = p.shift_cap
            if p.stochastic == 1:
                delta = round_shift_stochastic(P, s, rnd, p.random_bits)
            else:
                delta = round_shift_rne(P, s)

        # 4. weight
        if zw:
            out_w[i] = 0
        else:
            xn = xw - delta if sw == sg else xw + delta
            if xn > x_clip:
                xn = x_clip
            if xn < p.w.x_min:
                xn = p.w.x_min
            out_w[i] = pack(sw, xn, p.w)


# ---- public API ---------------------------------------------------------------------------
def _check_state(cfg, lfsr_state):
    if cfg.rounding != "stochastic":
        if lfsr_state is not None:
            raise ValueError("lfsr_state is only used with rounding='stochastic'")
        return np.ones(1, dtype=np.int64)
    if lfsr_state is None:
        raise ValueError("rounding='stochastic' needs lfsr_state (see lns.lane_seeds)")
    if not isinstance(lfsr_state, np.ndarray) or lfsr_state.dtype != np.int64 \
            or lfsr_state.ndim != 1 or lfsr_state.size == 0:
        raise TypeError("lfsr_state must be a non-empty 1-D int64 numpy array, one state a lane")
    if np.any((lfsr_state <= 0) | (lfsr_state > 0xFFFFFFFF)):
        raise ValueError("lfsr_state must hold non-zero 32-bit states")
    return lfsr_state


def madam_update(cfg: MadamConfig, w, g, v, t: int, *, clip: int | None = None,
                 lfsr_state: np.ndarray | None = None, evaluator: str = "numba"):
    """Apply one bit-exact LNS Madam step to a tensor.

    Parameters
    ----------
    cfg : MadamConfig
    w, g, v : integer arrays (or ints) of the same shape
        Weight, gradient and second-moment words.
    t : int
        The step, from 1 (sets the bias correction ``X_bc``).
    clip : int, optional
        The weight word of sigma* (`MadamConfig.clip_code`); a positive word.  ``None``
        clips at the format's largest magnitude.
    lfsr_state : int64 array, one entry a lane
        The lanes' LFSR registers, for ``rounding="stochastic"``; advanced in place.  Element
        ``i`` is taken by lane ``i % len(lfsr_state)`` (in flattened order).
    evaluator : {"numba", "python"}

    Returns
    -------
    (w_new, v_new) : int64 arrays of the input shape (ints for scalar input).
    """
    if not isinstance(cfg, MadamConfig):
        raise TypeError(f"cfg must be a MadamConfig, not {type(cfg).__name__}")
    if evaluator not in EVALUATORS:
        raise ValueError(f"evaluator must be one of {', '.join(EVALUATORS)}, not {evaluator!r}")
    x_bc = cfg.bias_correction_code(t)
    W = cfg.weight
    if clip is None:
        clip = W.e_max
    if not isinstance(clip, (int, np.integer)) or isinstance(clip, bool) \
            or not W.e_min <= clip <= W.e_max:
        raise ValueError(f"clip must be a positive word of {W.name} "
                         f"({W.e_min}..{W.e_max}), not {clip!r}")
    arrays = [as_codes(fmt, x, name) for fmt, x, name in
              ((W, w, "w"), (cfg.grad, g, "g"), (cfg.moment, v, "v"))]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError("w, g and v must have the same shape, not "
                         + ", ".join(str(a.shape) for a in arrays))
    shape = arrays[0].shape
    scalar = all(np.ndim(x) == 0 for x in (w, g, v))
    fw, fg, fv = (np.ascontiguousarray(a).ravel() for a in arrays)
    state = _check_state(cfg, lfsr_state)

    if evaluator == "python":
        out_w = np.empty(fw.shape[0], dtype=np.int64)
        out_v = np.empty(fw.shape[0], dtype=np.int64)
        lanes = state.shape[0]
        for i in range(fw.shape[0]):
            lane = i % lanes
            st = int(state[lane]) if cfg.rounding == "stochastic" else None
            out_w[i], out_v[i], st = madam_update_ref(cfg, int(fw[i]), int(fg[i]), int(fv[i]),
                                                      t, int(clip), st)
            if st is not None:
                state[lane] = st
    else:
        out_w = np.empty(fw.shape[0], dtype=np.int64)
        out_v = np.empty(fw.shape[0], dtype=np.int64)
        _update_kernel(fw, fg, fv, x_bc, int(clip) - W.offset, cfg.params,
                       table_tuple(cfg.sb_table), np.asarray(cfg.exp_table, dtype=np.int64),
                       state, out_w, out_v)
    if scalar:
        return int(out_w[0]), int(out_v[0])
    return out_w.reshape(shape), out_v.reshape(shape)
