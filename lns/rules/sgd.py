"""The bit-exact LNS SGD with momentum (heavy ball, dampening 0, as ``torch.optim.SGD``):
``m' = mu m + g``, ``w' = w - eta m'``, on the same adders as LNS Adam (`lns.rules.additive`).

For one weight word ``w``, gradient ``g`` and momentum ``m`` (``Fa = Fw + guard_bits``,
``Fc = max(Fm, Fa)``)::

    1. m' = mu m + g: terms (s_m, X_m + c_mu) and (s_g, X_g 2**(Fm - Fg)) at Fm, summed by
       the signed LNS sum (sb / db, exact cancellation -> 0), stored in m's format.
    2. log2 step = eta_log2 + X_m' / 2**Fm: the code L = RNE(X_m' 2**(Fc - Fm), Fc - Fa)
       + eta_log2 2**Fa (exact when Fa >= Fm); the step's sign is m''s; m' = 0 gives none.
    3. w' = w - step at Fa through sb/db, one final rounding to Fw (nearest even or
       stochastic); a weight can cross zero or become exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numba import njit

from .additive import (AdditiveConfigMixin, apply_update, check_formats, check_int,
                       check_open_unit, lns_sum_ref, rne_fraction, signed_sum, store_term_ref,
                       term_ref, weight_step, weight_step_ref)
from ..degenerate import check as check_degenerate
from ..errors import InvalidValue
from ..rule import check_config
from ..format import LNSFormat
from ..kernels import table_tuple
from ..lfsr import RANDOM_BITS, lfsr_advance, lfsr_advance_ref
from ..modes import Rounding, TableMethod, parse
from ..modes import Optimizer
from ..rounding import round_shift_rne
from ..tables import gauss_table, log2_constant_code
from ..word import pack, unpack, zero_word

__all__ = ["SGDConfig", "SGDParams", "sgd_update", "sgd_update_ref"]


class SGDParams(NamedTuple):
    """The SGD datapath's integer constants, for the Numba kernel (and the RTL)."""

    w: tuple                # FormatParams of weight, gradient, momentum
    g: tuple
    m: tuple
    stochastic: int
    guard: int              # Fa - Fw
    c_mu: int               # RNE(log2(mu) 2**Fm)
    g_shift: int            # X_g << g_shift is g at Fm
    m_shift: int            # X_m' << m_shift is log2|m'| at Fc = max(Fm, Fa)
    step_round: int         # Fc - Fa
    eta_acc: int            # eta_log2 << Fa
    random_bits: int


@dataclass(frozen=True)
class SGDConfig(AdditiveConfigMixin):
    """The formats, hyperparameters and datapath choices of one LNS SGD-with-momentum unit.

    Parameters
    ----------
    weight, grad, momentum : LNSFormat
        Signed word formats with a zero code; ``momentum`` keeps at least the gradient's
        fractional bits (``g`` lands on its grid exactly).
    eta_log2 : int
        ``eta = 2**eta_log2`` (SGD's 0.1 is about ``2**-3``).
    mu : float
        Momentum, strictly between 0 and 1.
    rounding, table, guard_bits, name, allow_degenerate
        As `lns.rules.adam.AdamConfig` (the degenerate case: ``mu`` held as 1.0).
    """

    OPTIMIZER = Optimizer.SGD
    FORMAT_ROLES = ("weight", "grad", "momentum")
    WORD_ROLES = {"w": "weight", "g": "grad", "m": "momentum"}
    HYPER = ("mu",)
    FAMILY_BASE = "lns12_sgd"
    MODEL = "lns.sgd_update"
    MOMENT_ROLE = "momentum"
    DECAYS = {"mu": ("momentum", "the momentum never decays (m' = m + g)")}

    weight: LNSFormat
    grad: LNSFormat
    momentum: LNSFormat
    eta_log2: int = -3
    mu: float = 0.9
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
        check_int("eta_log2", self.eta_log2, -24, 4)
        check_open_unit("mu", self.mu)
        object.__setattr__(self, "rounding", parse(Rounding, "rounding", self.rounding))
        object.__setattr__(self, "table", parse(TableMethod, "table", self.table))
        check_degenerate(self)

    @property
    def work_frac_bits(self) -> int:
        return max(self.momentum.frac_bits, self.acc_frac_bits)

    @cached_property
    def params(self) -> SGDParams:
        fg, fm = self.grad.frac_bits, self.momentum.frac_bits
        fa, fc = self.acc_frac_bits, self.work_frac_bits
        return SGDParams(
            w=self.weight.params, g=self.grad.params, m=self.momentum.params,
            stochastic=int(self.is_stochastic), guard=self.guard_bits,
            c_mu=log2_constant_code(self.mu, fm), g_shift=fm - fg, m_shift=fc - fm,
            step_round=fc - fa, eta_acc=self.eta_log2 << fa, random_bits=RANDOM_BITS)

    @property
    def m_tables(self):
        """``(sb, db)`` of the momentum adder, at Fm."""
        fm = self.momentum.frac_bits
        return gauss_table("sb", fm, self.table), gauss_table("db", fm, self.table)

    @property
    def moment_share(self) -> float:
        """The momentum's steady state is ``g / (1 - mu)``."""
        return 1.0 - self.mu

    def gradient_scale_changes(self, k: int, eta_log2: int) -> dict:
        """SGD's step is ``eta m``: ``2**k g`` needs ``eta 2**-k``."""
        if not -24 <= eta_log2 - k <= 4:
            raise InvalidValue(f"the gradient's scale 2**{k} puts LNS SGD's eta_log2 at "
                               f"{eta_log2 - k}, outside -24..4 (largest |g| of the first "
                               f"step {2.0 ** -k:g})")
        return super().gradient_scale_changes(k, eta_log2 - k)

    def update_function(self, words, t, held, *, lfsr_state, evaluator):
        return sgd_update(self, words["w"], words["g"], words["m"], lfsr_state=lfsr_state,
                          evaluator=evaluator)

    def step_log(self, m_new, v_new=None, t: int = 1):
        """The step of stored words ``m'`` as arrays ``(sign, L, zero)`` by the kernel's rule
        (step 2 of `sgd_update_ref`); ``v_new`` and ``t`` are unused (SGD has neither) and
        there so every additive rule is called alike."""
        from ..rounding import round_shift_rne_array
        from ..word import unpack_all
        p = self.params
        s, xm, zm = unpack_all(p.m, m_new)
        return s, round_shift_rne_array(xm << p.m_shift, p.step_round) + p.eta_acc, zm


# ---- scalar reference ---------------------------------------------------------------------
def sgd_update_ref(cfg: SGDConfig, w: int, g: int, m: int, lfsr_state: int | None = None):
    """One update, written for reading.  Returns ``(w', m', lfsr_state')``."""
    p = cfg.params
    W, G, M = cfg.weight, cfg.grad, cfg.momentum
    Fg, Fm, Fa = G.frac_bits, M.frac_bits, cfg.acc_frac_bits
    rnd = 0
    if cfg.is_stochastic:
        lfsr_state = lfsr_advance_ref(lfsr_state)
        rnd = lfsr_state & ((1 << RANDOM_BITS) - 1)

    # 1. m' = mu m + g, at Fm (g moved there exactly)
    g_term, m_term = term_ref(G, g), term_ref(M, m)
    a = None if m_term is None else (m_term[0], m_term[1] + p.c_mu)
    b = None if g_term is None else (g_term[0], int(Fraction(g_term[1]) * 2 ** (Fm - Fg)))
    m_new = store_term_ref(M, lns_sum_ref(a, b, *cfg.m_tables))

    # 2. the step's log: eta m', rounded once to Fa (exact when Fa >= Fm)
    m2 = term_ref(M, m_new)
    if m2 is None:
        step = None
    else:
        log_step = cfg.eta_log2 + Fraction(m2[1], 2 ** Fm)
        step = (m2[0], rne_fraction(log_step * 2 ** Fa))

    # 3. w' = w - step at Fa, one rounding to Fw
    w_new = weight_step_ref(W, cfg.guard_bits, *cfg.weight_tables, w, step,
                            cfg.is_stochastic, rnd)
    return w_new, m_new, lfsr_state


# ---- kernel -------------------------------------------------------------------------------
@njit(cache=True)
def _sgd_kernel(w, g, m, p, sbm, dbm, sba, dba, lfsr, out_w, out_m):
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
        s1, x1, z1 = signed_sum(sm, xm + p.c_mu, zm, sg, xg << p.g_shift, zg, sbm, dbm)
        mn = zero_word(pm) if z1 else pack(s1, x1, pm)
        out_m[i] = mn
        s2, xm2, zm2 = unpack(mn, pm)
        L = round_shift_rne(xm2 << p.m_shift, p.step_round) + p.eta_acc
        out_w[i] = weight_step(w[i], s2, L, zm2, pw, p.guard, sba, dba, p.stochastic == 1,
                               rnd, p.random_bits)


# ---- public API ---------------------------------------------------------------------------
def sgd_update(cfg: SGDConfig, w, g, m, *, lfsr_state: np.ndarray | None = None,
               evaluator: str = "numba"):
    """Apply one bit-exact LNS SGD-with-momentum step to a tensor.

    Parameters
    ----------
    cfg : SGDConfig
    w, g, m : integer arrays (or ints) of the same shape
        Weight, gradient and momentum words.
    lfsr_state, evaluator
        As `lns.rules.adam.adam_update`.

    Returns
    -------
    (w_new, m_new) : int64 arrays of the input shape (ints for scalar input).
    """
    check_config(cfg, SGDConfig, "an SGDConfig")

    def kernel(fw, fg, fm, state, out_w, out_m):
        (sbm, dbm), (sba, dba) = cfg.m_tables, cfg.weight_tables
        _sgd_kernel(fw, fg, fm, cfg.params, table_tuple(sbm)[5], table_tuple(dbm)[5],
                     table_tuple(sba)[5], table_tuple(dba)[5], state, out_w, out_m)
    return apply_update(cfg, [(cfg.weight, w, "w"), (cfg.grad, g, "g"), (cfg.momentum, m, "m")],
                        lambda wi, gi, mi, st: sgd_update_ref(cfg, wi, gi, mi, st), kernel,
                        lfsr_state=lfsr_state, evaluator=evaluator)
