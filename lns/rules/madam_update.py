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

from ..codec import as_codes, fields_ref as _fields, store_ref
from .madam import MadamConfig
from ..errors import InvalidType, InvalidValue
from ..rule import check_config
from ..kernels import flat_lookup, table_tuple
from ..lfsr import check_lane_states, lfsr_advance, lfsr_advance_ref
from ..rounding import round_shift_rne, round_shift_stochastic
from ..word import pack, unpack

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
    if cfg.is_stochastic:
        lfsr_state = lfsr_advance_ref(lfsr_state)

    # 1. second moment
    if cfg.has_second_moment:
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
        if not cfg.has_second_moment:
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
        if cfg.is_stochastic:
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
        w_new = store_ref(W, sw, xw_new)              # in range: packing only sets the sign
    return w_new, v_new, lfsr_state


# ---- kernel -------------------------------------------------------------------------------
# The kernel computes exactly what `madam_update_ref` computes, but is written for the CPU:
# on real data the moment adder's larger operand, the table's range, the rounding decisions
# and the signs are coin flips, and a mispredicted branch costs more than the whole update's
# arithmetic.  So every data-dependent choice is a select (max/min, 0/1 arithmetic, a
# conditional expression: a cmov, or a masked move once vectorised), the sb table is read
# from its flat expansion (`flat_lookup`), and the configuration's switches (normaliser,
# rounding, one LFSR lane) are compile-time constants of one specialised loop nest each
# (`_update_loop` is inlined into `_update_kernel` with literal flags, so the dead paths
# vanish).  The arithmetic runs in SIMD passes over chunks of the tensor (see `_update_loop`).
_CHUNK = 1024           # elements per chunk: 3 scratch buffers of 8 KiB stay in L1
_NEG = -(1 << 40)       # the log of a zero moment term: below every real term by far more
                        # than the table's end, so max() picks the other term and sb adds 0


@njit(cache=True, inline="always")
def _update_loop(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v,
                 rms, stochastic, one_lane):
    # Every constant is read into a local before the loops (LLVM broadcasts each once into
    # a vector register), and the sb array is taken out of its tuple once, not per element.
    # Words are taken apart and stored by `lns.word` (branch-free, so the passes vectorise).
    pw, pg, pv = p.w, p.g, p.v
    w_xmin = pw.x_min
    # Any bit above a word's format (or a negative word) marks bad input; the caller raises.
    w_top = pw.log_bits + pw.signed
    g_top = pg.log_bits + pg.signed
    v_top = pv.log_bits + pv.signed
    c_beta, c_omb, g2_shift = p.c_beta, p.c_one_minus_beta, p.g2_shift
    norm_g_shift, norm_v_shift, norm_round = p.norm_g_shift, p.norm_v_shift, p.norm_round
    l_bound, exp_bits, shift_cap = p.l_bound, p.exp_bits, p.shift_cap
    fs = p.step_frac_bits
    fs_mask = (1 << fs) - 1
    eta = p.eta_shift << fs
    rbits = p.random_bits
    rnd_mask = (1 << rbits) - 1
    x_hi = min(x_clip, pw.x_max)
    flat = sb[5]
    e_sign = eta                                    # E and P[r] of the sign normaliser (L = 0)
    p_sign = exp_table[np.uint64(e_sign & fs_mask)]

    # The update runs in chunks, each as a few passes over scratch buffers that stay in L1.
    # LLVM vectorises a loop only if it can rule out that a store overwrites what a later
    # iteration loads.  For a table read at a data-dependent index (sb, 2**frac) it cannot
    # bound the addresses read, so one loop doing everything stays scalar.  Hence the two
    # table reads and the LFSR (a serial chain) get scalar passes of their own, and all the
    # arithmetic sits in three passes with only consecutive loads and stores, which LLVM
    # vectorises (8 x int64 per AVX-512 instruction on the host CPU, 4 with AVX2).  The
    # table passes gain nothing from vector gathers: measured on this Zen 4, vpgatherqq
    # reads the sb table no faster than the scalar loop (about 2 cycles an element).
    n = w.shape[0]
    big = np.empty(_CHUNK, dtype=np.int64)      # max(a, b) of the moment adder, then E
    tab = np.empty(_CHUNK, dtype=np.int64)      # a table's index, then its value
    rnd = np.empty(_CHUNK, dtype=np.int64)      # the lanes' random bits (stochastic only)
    lanes = lfsr.shape[0]
    state = lfsr[0]                 # the one lane's register lives in a local
    lane = 0
    bad = 0
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        # Views of the chunk, indexed by j from 0: with ``start + j`` Numba's negative-index
        # wraparound would stay in the loop and turn every load into a gather.
        wc, gc, vc = w[start:start + m], g[start:start + m], v[start:start + m]
        ow, ov = out_w[start:start + m], out_v[start:start + m]
        if stochastic:              # scalar: each draw depends on the previous one
            for j in range(m):
                if one_lane:
                    state = lfsr_advance(state)
                    rnd[j] = state & rnd_mask
                else:
                    st = lfsr_advance(lfsr[lane])
                    lfsr[lane] = st
                    rnd[j] = st & rnd_mask
                    lane += 1
                    lane = 0 if lane == lanes else lane

        if rms:
            # 1. second moment: max + sb(|a - b|), a zero term replaced by _NEG (see above)
            for j in range(m):      # vector: the adder's operands
                _, xv, zv = unpack(np.int64(vc[j]), pv)
                _, xg, zg = unpack(np.int64(gc[j]), pg)
                a = _NEG if zv else xv + c_beta
                b = _NEG if zg else (xg << g2_shift) + c_omb
                big[j] = max(a, b)
                tab[j] = abs(a - b)
            for j in range(m):      # scalar: the sb table
                tab[j] = flat_lookup(tab[j], flat)
            for j in range(m):      # vector: store v', then 2. log2|g_hat| (L), E
                _, xv, zv = unpack(np.int64(vc[j]), pv)
                _, xg, zg = unpack(np.int64(gc[j]), pg)
                # store: saturate above; below the range flush to 0 or saturate
                vn = pack(0, big[j] + tab[j], pv)
                vn = 0 if (zv & zg) else vn
                ov[j] = vn
                # L at step_frac_bits from the stored v'
                _, xv2, zv2 = unpack(vn, pv)
                num = (xg << norm_g_shift) - ((xv2 - x_bc) << norm_v_shift)
                L = round_shift_rne(num, norm_round)
                L = min(L, l_bound)
                # v' = 0 with g != 0 (only after a flush) gives the bound
                L = l_bound if zv2 else L
                E = L + eta
                big[j] = E
                tab[j] = E & fs_mask
            for j in range(m):      # scalar: the 2**frac table
                tab[j] = exp_table[np.uint64(tab[j])]

        for j in range(m):          # vector: 3. the step and 4. the weight
            wi = np.int64(wc[j])
            gi = np.int64(gc[j])
            vi = np.int64(vc[j])
            bad |= (wi >> w_top) | (gi >> g_top) | (vi >> v_top)
            sw, xw, zw = unpack(wi, pw)
            sg, _, zg = unpack(gi, pg)
            if rms:
                E = big[j]
                P = tab[j]
            else:                   # the sign normaliser passes v through
                E = e_sign
                P = p_sign
                ov[j] = vi
            # 3. Delta = round(P[r] / 2**s); s <= 0 is an exact left shift
            s = min(exp_bits - (E >> fs), shift_cap)
            if stochastic:
                delta = round_shift_stochastic(P, s, rnd[j], rbits)
            else:
                delta = round_shift_rne(P, s)
            delta = 0 if (zg | zw) else delta
            # 4. weight: X_w - s_w s_g Delta, clamped; the sign never changes; zero stays 0
            xn = xw + delta * ((sw ^ sg) * 2 - 1)
            xn = max(min(xn, x_hi), w_xmin)
            ow[j] = 0 if zw else pack(sw, xn, pw)   # in range: packing only sets the sign
    if stochastic and one_lane:
        lfsr[0] = state
    return bad


@njit(cache=True, error_model="numpy")
def _update_kernel(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v):
    """Write the updated words to ``out_w``/``out_v`` and advance ``lfsr`` in place.

    Returns non-zero if any input word lies outside its format (the outputs are then
    meaningless and the caller raises).  Works on any integer dtype of ``w``, ``g``, ``v``.
    """
    if p.rms == 1:
        if p.stochastic == 1:
            if lfsr.shape[0] == 1:
                return _update_loop(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w,
                                    out_v, True, True, True)
            return _update_loop(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v,
                                True, True, False)
        return _update_loop(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v,
                            True, False, False)
    if p.stochastic == 1:
        if lfsr.shape[0] == 1:
            return _update_loop(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v,
                                False, True, True)
        return _update_loop(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v,
                            False, True, False)
    return _update_loop(w, g, v, x_bc, x_clip, p, sb, exp_table, lfsr, out_w, out_v,
                        False, False, False)


# ---- public API ---------------------------------------------------------------------------
def madam_update(cfg: MadamConfig, w, g, v, t: int, *, clip: int | None = None,
                 lfsr_state: np.ndarray | None = None, evaluator: str = "numba",
                 out=None):
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
    out : (out_w, out_v), optional
        Two C-contiguous integer arrays of the input's shape (any integer dtype wide enough
        for the words, e.g. uint16/uint32) that receive the results (array input only);
        they are returned.  Without it the results are new int64 arrays.

    Returns
    -------
    (w_new, v_new) : int64 arrays of the input shape (ints for scalar input), or ``out``.
    """
    check_config(cfg, MadamConfig, "a MadamConfig")
    if evaluator not in EVALUATORS:
        raise InvalidValue(f"evaluator must be one of {', '.join(EVALUATORS)}, not {evaluator!r}")
    x_bc = cfg.bias_correction_code(t)
    W = cfg.weight
    if clip is None:
        clip = W.e_max
    if not isinstance(clip, (int, np.integer)) or isinstance(clip, bool) \
            or not W.e_min <= clip <= W.e_max:
        raise InvalidValue(f"clip must be a positive word of {W.name} "
                         f"({W.e_min}..{W.e_max}), not {clip!r}")
    formats = ((W, w, "w"), (cfg.grad, g, "g"), (cfg.moment, v, "v"))

    if evaluator == "numba" and _fast_inputs(w, g, v):
        # Integer arrays of one shape go to the kernel as they are (any integer dtype, no
        # int64 copy, no min/max passes): the kernel flags words outside their format, and
        # only then are they checked here, for the error message.  It advances a copy of
        # the LFSR state, so a rejected call leaves the caller's state untouched.
        try:
            state = check_lane_states(cfg.is_stochastic, lfsr_state)
        except (TypeError, ValueError):
            _check_words(formats)           # a bad word is reported first, as below
            raise
        fw, fg, fv = (np.ascontiguousarray(x).ravel() for x in (w, g, v))
        if out is not None:
            out_w, out_v = _check_out(cfg, out, w.shape)
        else:
            out_w = np.empty(fw.shape[0], dtype=np.int64)
            out_v = np.empty(fw.shape[0], dtype=np.int64)
        params, sb, exp_table = _kernel_constants(cfg)
        lanes = state.copy()
        if _update_kernel(fw, fg, fv, x_bc, int(clip) - W.offset, params, sb, exp_table,
                          lanes, out_w, out_v):
            _check_words(formats)
            raise AssertionError("the kernel flagged a word that as_codes accepts")
        state[:] = lanes
        if out is not None:
            return out
        return out_w.reshape(w.shape), out_v.reshape(w.shape)

    arrays = _check_words(formats)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise InvalidValue("w, g and v must have the same shape, not "
                         + ", ".join(str(a.shape) for a in arrays))
    shape = arrays[0].shape
    scalar = all(np.ndim(x) == 0 for x in (w, g, v))
    fw, fg, fv = (np.ascontiguousarray(a).ravel() for a in arrays)
    state = check_lane_states(cfg.is_stochastic, lfsr_state)

    if evaluator == "python":
        out_w = np.empty(fw.shape[0], dtype=np.int64)
        out_v = np.empty(fw.shape[0], dtype=np.int64)
        lanes = state.shape[0]
        for i in range(fw.shape[0]):
            lane = i % lanes
            st = int(state[lane]) if cfg.is_stochastic else None
            out_w[i], out_v[i], st = madam_update_ref(cfg, int(fw[i]), int(fg[i]), int(fv[i]),
                                                      t, int(clip), st)
            if st is not None:
                state[lane] = st
    else:
        out_w = np.empty(fw.shape[0], dtype=np.int64)
        out_v = np.empty(fw.shape[0], dtype=np.int64)
        params, sb, exp_table = _kernel_constants(cfg)
        _update_kernel(fw, fg, fv, x_bc, int(clip) - W.offset, params, sb, exp_table,
                       state, out_w, out_v)
    if scalar:
        if out is not None:
            raise InvalidType("out must be None for scalar input")
        return int(out_w[0]), int(out_v[0])
    if out is not None:
        ow, ov = _check_out(cfg, out, shape)
        ow[:], ov[:] = out_w, out_v
        return out
    return out_w.reshape(shape), out_v.reshape(shape)


def _check_out(cfg, out, shape):
    """The flat views of ``out = (out_w, out_v)``, checked (shape, integer dtype wide enough
    for the words, C-contiguous)."""
    if not isinstance(out, tuple) or len(out) != 2:
        raise InvalidType("out must be a tuple (out_w, out_v) of numpy arrays")
    flat = []
    for arr, fmt, name in ((out[0], cfg.weight, "out_w"), (out[1], cfg.moment, "out_v")):
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iu":
            raise InvalidType(f"{name} must be an integer numpy array, not "
                            f"{type(arr).__name__}")
        if arr.shape != tuple(shape):
            raise InvalidValue(f"{name} must have shape {tuple(shape)}, not {arr.shape}")
        bits = arr.dtype.itemsize * 8 - (arr.dtype.kind == "i")
        if bits < fmt.total_bits:
            raise InvalidValue(f"{name} must hold {fmt.total_bits}-bit words, not {arr.dtype}")
        if not arr.flags.c_contiguous or not arr.flags.writeable \
                or not arr.dtype.isnative:
            raise InvalidValue(f"{name} must be a writeable C-contiguous array in the "
                               f"machine's byte order")
        flat.append(arr.reshape(-1))
    return flat


def _fast_inputs(w, g, v) -> bool:
    """True for three non-scalar integer (not bool) numpy arrays of one shape in the
    machine's byte order (the kernel reads no other; the checked path converts them)."""
    for x in (w, g, v):
        if not isinstance(x, np.ndarray) or x.dtype.kind not in "iu" or x.ndim == 0 \
                or not x.dtype.isnative:
            return False
    return w.shape == g.shape == v.shape


def _check_words(formats):
    return [as_codes(fmt, x, name) for fmt, x, name in formats]


def _kernel_constants(cfg: MadamConfig):
    # Each is computed once and cached where it is defined (``params`` on the config, the
    # tables by `lns.tables`, their tuples by `lns.kernels.table_tuple`).
    return cfg.params, table_tuple(cfg.sb_table), cfg.exp_table
