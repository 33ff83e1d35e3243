"""The bit-exact LNS Lion (Chen et al. 2023, "Symbolic Discovery of Optimization
Algorithms"): ``c = b1 m + (1 - b1) g``, ``w' = w - eta sign(c)``, ``m' = b2 m + (1 - b2) g``,
on the adders of LNS SGD with momentum (`lns.rules.additive`).

For one weight word ``w``, gradient ``g`` and momentum ``m`` (``Fa = Fw + guard_bits``; the
constant codes ``c_b = RNE(log2(b) 2**Fm)``, correctly rounded, `lns.tables.log2_constant_code`)::

    1. the terms at Fm (g moved there exactly, X_g << g_shift, g_shift = Fm - Fg):
       c-terms  (s_m, X_m + c_beta1)   and (s_g, X_g 2**(Fm - Fg) + c_one_minus_beta1)
       m-terms  (s_m, X_m + c_beta2)   and (s_g, X_g 2**(Fm - Fg) + c_one_minus_beta2)
    2. sign(c), from the c-terms alone, with no table and no rounding: the sign of the
       term with the larger code; equal codes with equal signs: that sign; equal codes
       with opposite signs: c = 0 (exact cancellation); one zero term: the other's sign;
       both zero: c = 0.  This is the exact sign of the sum of the two (quantised) terms,
       since a larger code is a strictly larger magnitude.
    3. w' = w - eta sign(c): the step's log is the constant L = eta_log2 2**Fa (exact),
       its sign sign(c); w - step at Fa through sb/db, one final rounding to Fw (nearest
       even or stochastic) by `lns.rules.additive.weight_step`, exactly as SGD; c = 0 gives no
       step (the weight word unchanged; a zero weight comes out as the word 0).
    4. m' = the signed LNS sum of the m-terms (sb / db of Fm, exact cancellation -> 0),
       stored in m's format (saturate above, the format's underflow below).

What differs from the float Lion: the constants are quantised to Fm in the log domain, so
sign(c) is the exact sign of ``2**(c_beta1 / 2**Fm) m + 2**(c_one_minus_beta1 / 2**Fm) g``,
which can differ from the float sign only where ``|c|`` is within about half an Fm LSB
(relative) of cancelling; the weight step is ``eta`` exactly (no normaliser, no log of a
moment), rounded once to the weight's precision.

Not implemented: Lion's decoupled weight decay (``w' = w - eta (sign(c) + lambda w)``);
this unit is ``lambda = 0``.

The scalar reference (`lion_update_ref`) writes each stage for reading, with the sign of c
taken from the terms as defined above; the kernel (`lion_update` with
``evaluator="numba"``) is the same integer datapath, as the RTL (`rtl.lion_unit`) computes
it; the tests run both over the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numba import njit

from .additive import (AdditiveConfigMixin, apply_update, check_formats, check_int,
                       check_open_unit, lns_sum_ref, signed_sum, store_term_ref, term_ref,
                       weight_step, weight_step_ref)
from ..degenerate import check as check_degenerate
from ..errors import InvalidValue
from ..rule import check_config
from ..format import LNSFormat
from ..kernels import table_tuple
from ..lfsr import RANDOM_BITS, lfsr_advance, lfsr_advance_ref
from ..modes import Optimizer, Rounding, TableMethod, parse
from ..tables import gauss_table, log2_constant_code
from ..word import pack, unpack, zero_word

__all__ = ["LionConfig", "LionParams", "lion_update", "lion_update_ref", "sum_sign_ref",
           "sum_sign"]


class LionParams(NamedTuple):
    """The Lion datapath's integer constants, for the Numba kernel (and the RTL)."""

    w: tuple                # FormatParams of weight, gradient, momentum
    g: tuple
    m: tuple
    stochastic: int
    guard: int              # Fa - Fw
    c_beta1: int            # RNE(log2(beta1) 2**Fm)
    c_one_minus_beta1: int  # RNE(log2(1 - beta1) 2**Fm)
    c_beta2: int            # RNE(log2(beta2) 2**Fm)
    c_one_minus_beta2: int  # RNE(log2(1 - beta2) 2**Fm)
    g_shift: int            # X_g << g_shift is g at Fm
    eta_acc: int            # eta_log2 << Fa: the step's log, a constant
    random_bits: int


@dataclass(frozen=True)
class LionConfig(AdditiveConfigMixin):
    """The formats, hyperparameters and datapath choices of one LNS Lion unit.

    Parameters
    ----------
    weight, grad, momentum : LNSFormat
        Signed word formats with a zero code; ``momentum`` keeps at least the gradient's
        fractional bits (``g`` lands on its grid exactly).
    eta_log2 : int
        ``eta = 2**eta_log2``, the size of every step (Lion's lr, typically 3-10x below
        AdamW's 1e-3), between -24 and 0.
    beta1, beta2 : float
        The interpolation of the update direction ``c`` and the momentum decay, strictly
        between 0 and 1 (Lion's defaults 0.9 and 0.99).
    rounding, table, guard_bits, name, allow_degenerate
        As `lns.rules.adam.AdamConfig` (the degenerate cases: ``beta1`` or ``beta2`` held
        as 1.0).

    Lion's decoupled weight decay is not implemented (``lambda = 0``).
    """

    OPTIMIZER = Optimizer.LION
    FORMAT_ROLES = ("weight", "grad", "momentum")
    WORD_ROLES = {"w": "weight", "g": "grad", "m": "momentum"}
    HYPER = ("beta1", "beta2")
    FAMILY_BASE = "lns12_lion"
    MODEL = "lns.lion_update"
    # the step is eta itself: at Fw + eta_log2 >= -4 it moves the typical weights
    # (|w| <= 0.18) by half an LSB or more, which nearest rounding keeps
    NEAREST_FROM = -4
    MOMENT_ROLE = "momentum"
    DECAYS = {"beta1": ("momentum", "the update direction takes the momentum at full weight "
                                    "(c = m + (1 - beta1) g)"),
              "beta2": ("momentum", "the momentum never decays (m' = m + (1 - beta2) g)")}

    weight: LNSFormat
    grad: LNSFormat
    momentum: LNSFormat
    eta_log2: int = -10
    beta1: float = 0.9
    beta2: float = 0.99
    rounding: Rounding = Rounding.NEAREST_EVEN
    table: TableMethod = TableMethod.DIRECT
    guard_bits: int = 3
    name: str = field(default="custom", compare=False)
    allow_degenerate: bool = field(default=False, compare=False)

    def __post_init__(self):
        check_formats(self, {"weight": True, "grad": True, "momentum": True})
        fg = self.grad.frac_bits
        if self.momentum.frac_bits < fg:
            raise InvalidValue(f"momentum frac_bits must be at least grad frac_bits = {fg}, "
                               f"not {self.momentum.frac_bits}")
        # The step is eta itself (no moment scales it), so a step above 1 is never meant.
        check_int("eta_log2", self.eta_log2, -24, 0)
        check_open_unit("beta1", self.beta1)
        check_open_unit("beta2", self.beta2)
        object.__setattr__(self, "rounding", parse(Rounding, "rounding", self.rounding))
        object.__setattr__(self, "table", parse(TableMethod, "table", self.table))
        check_degenerate(self)

    @cached_property
    def params(self) -> LionParams:
        fg, fm = self.grad.frac_bits, self.momentum.frac_bits
        return LionParams(
            w=self.weight.params, g=self.grad.params, m=self.momentum.params,
            stochastic=int(self.is_stochastic), guard=self.guard_bits,
            c_beta1=log2_constant_code(self.beta1, fm),
            c_one_minus_beta1=log2_constant_code(1.0 - self.beta1, fm),
            c_beta2=log2_constant_code(self.beta2, fm),
            c_one_minus_beta2=log2_constant_code(1.0 - self.beta2, fm),
            g_shift=fm - fg, eta_acc=self.eta_log2 << self.acc_frac_bits,
            random_bits=RANDOM_BITS)

    def update_function(self, words, t, held, *, lfsr_state, evaluator):
        return lion_update(self, words["w"], words["g"], words["m"], lfsr_state=lfsr_state,
                           evaluator=evaluator)

    @property
    def m_tables(self):
        """``(sb, db)`` of the momentum adder, at Fm (sign(c) needs no table)."""
        fm = self.momentum.frac_bits
        return gauss_table("sb", fm, self.table), gauss_table("db", fm, self.table)

    def step_sign(self, words):
        """The sign of ``c`` of input words ``{"w", "g", "m"}`` as arrays ``(sign, zero)``
        by the kernel's rule (step 2 of the module docstring); the step is then ``(sign,
        params.eta_acc)`` unless ``zero``.  (SGD's ``step_log`` reads the stored ``m'``;
        Lion's step depends on the inputs, so this takes them.)"""
        from ..word import unpack_all
        p = self.params
        sg, xg, zg = unpack_all(p.g, words["g"])
        sm, xm, zm = unpack_all(p.m, words["m"])
        xa, xb = xm + p.c_beta1, (xg << p.g_shift) + p.c_one_minus_beta1
        sign = np.where(zm, sg, np.where(zg, sm, np.where(xa >= xb, sm, sg)))
        zero = np.where(zm | zg, zm & zg, (xa == xb) & (sm != sg))
        return sign.astype(np.int64), zero.astype(bool)


# ---- scalar reference ---------------------------------------------------------------------
def sum_sign_ref(a, b):
    """The sign of ``a + b`` for terms ``(sign, X)`` at one precision (``None`` is zero):
    ``0``/``1``, or ``None`` when the sum is exactly zero."""
    if a is None and b is None:
        return None
    if a is None:
        return b[0]
    if b is None:
        return a[0]
    (sa, xa), (sb, xb) = a, b
    if xa > xb:                 # |a| > |b|: a's sign, whatever b's
        return sa
    if xb > xa:
        return sb
    return sa if sa == sb else None     # |a| == |b|: doubles, or cancels exactly


def lion_update_ref(cfg: LionConfig, w: int, g: int, m: int, lfsr_state: int | None = None):
    """One update, written for reading.  Returns ``(w', m', lfsr_state')``."""
    p = cfg.params
    W, G, M = cfg.weight, cfg.grad, cfg.momentum
    Fg, Fm, Fa = G.frac_bits, M.frac_bits, cfg.acc_frac_bits
    rnd = 0
    if cfg.is_stochastic:
        lfsr_state = lfsr_advance_ref(lfsr_state)
        rnd = lfsr_state & ((1 << RANDOM_BITS) - 1)

    # 1. the terms at Fm (g moved there exactly)
    g_term, m_term = term_ref(G, g), term_ref(M, m)
    xg = None if g_term is None else int(Fraction(g_term[1]) * 2 ** (Fm - Fg))

    def terms(c_m, c_g):
        return (None if m_term is None else (m_term[0], m_term[1] + c_m),
                None if g_term is None else (g_term[0], xg + c_g))

    # 2. sign(c), c = beta1 m + (1 - beta1) g: no table, no rounding
    c_sign = sum_sign_ref(*terms(p.c_beta1, p.c_one_minus_beta1))

    # 3. w' = w - eta sign(c) at Fa, one rounding to Fw (c = 0: no step)
    step = None if c_sign is None else (c_sign, cfg.eta_log2 * 2 ** Fa)
    w_new = weight_step_ref(W, cfg.guard_bits, *cfg.weight_tables, w, step,
                            cfg.is_stochastic, rnd)

    # 4. m' = beta2 m + (1 - beta2) g, at Fm
    m_new = store_term_ref(M, lns_sum_ref(*terms(p.c_beta2, p.c_one_minus_beta2),
                                          *cfg.m_tables))
    return w_new, m_new, lfsr_state


# ---- kernel -------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def sum_sign(sa, xa, za, sb, xb, zb):
    """`sum_sign_ref` on fields: ``(sign, is_zero)`` (the sign and zero flag of
    `lns.rules.additive.signed_sum`, without its table)."""
    if za:
        return sb, zb
    if zb:
        return sa, za
    s = sa if xa >= xb else sb
    return s, (xa == xb) & (sa != sb)


@njit(cache=True)
def _lion_kernel(w, g, m, p, sbm, dbm, sba, dba, lfsr, out_w, out_m):
    pw, pg, pm = p.w, p.g, p.m
    lanes = lfsr.shape[0]
    rmask = (1 << p.random_bits) - 1
    for i in range(w.shape[0]):
        rnd = 0
        if p.stochastic == 1:
            lane = i % lanes
            st = lfsr_advance(lfsr[lane])
            lfsr[lane] = st
            rnd = st & rmask
        sg, xg, zg = unpack(g[i], pg)
        sm, xm, zm = unpack(m[i], pm)
        xgm = xg << p.g_shift
        sc, zc = sum_sign(sm, xm + p.c_beta1, zm, sg, xgm + p.c_one_minus_beta1, zg)
        out_w[i] = weight_step(w[i], sc, p.eta_acc, zc, pw, p.guard, sba, dba,
                               p.stochastic == 1, rnd, p.random_bits)
        s1, x1, z1 = signed_sum(sm, xm + p.c_beta2, zm, sg, xgm + p.c_one_minus_beta2, zg,
                                sbm, dbm)
        out_m[i] = zero_word(pm) if z1 else pack(s1, x1, pm)


# ---- public API ---------------------------------------------------------------------------
def lion_update(cfg: LionConfig, w, g, m, *, lfsr_state: np.ndarray | None = None,
                evaluator: str = "numba"):
    """Apply one bit-exact LNS Lion step to a tensor.

    Parameters
    ----------
    cfg : LionConfig
    w, g, m : integer arrays (or ints) of the same shape
        Weight, gradient and momentum words.
    lfsr_state, evaluator
        As `lns.rules.adam.adam_update`.

    Returns
    -------
    (w_new, m_new) : int64 arrays of the input shape (ints for scalar input).
    """
    check_config(cfg, LionConfig, "a LionConfig")

    def kernel(fw, fg, fm, state, out_w, out_m):
        (sbm, dbm), (sba, dba) = cfg.m_tables, cfg.weight_tables
        _lion_kernel(fw, fg, fm, cfg.params, table_tuple(sbm)[5], table_tuple(dbm)[5],
                     table_tuple(sba)[5], table_tuple(dba)[5], state, out_w, out_m)
    return apply_update(cfg, [(cfg.weight, w, "w"), (cfg.grad, g, "g"), (cfg.momentum, m, "m")],
                        lambda wi, gi, mi, st: lion_update_ref(cfg, wi, gi, mi, st), kernel,
                        lfsr_state=lfsr_state, evaluator=evaluator)
