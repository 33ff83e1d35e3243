"""The bit-exact LNS Adam update: weight, gradient, first moment ``m`` (signed) and second
moment ``v`` as LNS words, every step an integer operation on log codes.

For one weight word ``w``, gradient ``g``, moments ``m``, ``v`` at step ``t`` (codes ``X`` in
LSBs of their formats; ``Fw, Fg, Fm, Fv`` fractional bits; ``Fa = Fw + guard_bits``;
``Fc = max(Fm, Fv + 1, Fa)``)::

    1. m' = beta1 m + (1 - beta1) g: terms (s_m, X_m + c_b1) and
       (s_g, X_g 2**(Fm - Fg) + c_1mb1) at Fm, summed by the signed LNS sum
       (`lns.rules.additive`: sb for equal signs, db for opposite, exact cancellation -> 0),
       stored in m's format (saturate; underflow by the format).
    2. v' = beta2 v + (1 - beta2) g**2 as in Madam: (X_v + c_b2) and
       (2 X_g 2**(Fv - Fg) + c_1mb2) at Fv through sb; stored.
    3. log2 step = eta_log2 + log2|m_hat| - log2 den, with
       log2|m_hat| = (X_m' - X_bc1) / 2**Fm,   log2 sqrt(v_hat) = (X_v' - X_bc2) / 2**(Fv+1),
       log2 den = max(log2 sqrt(v_hat), X_eps / 2**Fc)   (X_eps / 2**Fc alone when v' = 0),
       formed exactly at Fc and rounded once, nearest even, to Fa: the code L; the step's
       sign is m''s.  m' = 0 gives no step.  Mul, div and sqrt are an add, a subtract and
       a shift of codes; the bias corrections 1 - beta^t are per-step codes
       (`lns.tables.bias_correction_code`, at Fm and at Fv).
    4. w' = w - step (`lns.rules.additive`): at Fa through sb/db, one final rounding to Fw
       (nearest even, or stochastic with the lane's LFSR); a weight can cross zero or
       become exactly zero.

How eps enters: as a floor on the denominator, ``max(sqrt(v_hat), eps)``, not as an LNS
addition.  In the log domain a floor is a compare and a select at the step's working
precision, where ``sqrt(v_hat) + eps`` would cost another ``sb`` lookup in the step's
critical path.  The two agree to a factor ``(s + eps) / max(s, eps) = 1 + min/max`` in
``[1, 2]``: where ``sqrt(v_hat)`` is 2**10 times eps or more the difference is below 0.1 %
(under one LSB of a 12-bit weight step); only when ``sqrt(v_hat)`` is within a few octaves
of eps does the step differ, by at most a factor 2, and it is then bounded by the same
``eta |m_hat| / eps`` as Adam's.  With ``v' = 0`` (``g = 0`` and ``v = 0``, or a flush)
the denominator is exactly eps, as Adam's ``0 + eps``.

The scalar reference (`adam_update_ref`) writes each stage with exact fractions; the
kernel (`adam_update` with ``evaluator="numba"``) is the same integer datapath, as the RTL
will compute it; the tests run both over the same inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numba import njit

from .additive import (AdditiveConfigMixin, apply_update, check_evaluator, check_formats,
                       check_int, check_open_unit, check_positive, check_t, lns_sum_ref,
                       rne_fraction, signed_sum, store_term_ref, term_ref, weight_step,
                       weight_step_ref)
from ..degenerate import check as check_degenerate
from ..errors import InvalidValue
from ..rule import check_config
from ..format import LNSFormat
from ..kernels import table_tuple
from ..lfsr import RANDOM_BITS, lfsr_advance, lfsr_advance_ref
from ..modes import Rounding, TableMethod, parse
from ..modes import Optimizer
from ..rounding import round_shift_rne
from ..tables import bias_correction_code, gauss_table, log2_constant_code
from ..word import pack, unpack, zero_word

__all__ = ["AdamConfig", "AdamParams", "adam_update", "adam_update_ref"]


class AdamParams(NamedTuple):
    """The Adam datapath's integer constants, for the Numba kernel (and the RTL)."""

    w: tuple                # FormatParams of weight, gradient, first and second moment
    g: tuple
    m: tuple
    v: tuple
    stochastic: int
    guard: int              # Fa - Fw
    c_beta1: int            # RNE(log2(beta1) 2**Fm)
    c_one_minus_beta1: int  # RNE(log2(1 - beta1) 2**Fm)
    c_beta2: int            # RNE(log2(beta2) 2**Fv)
    c_one_minus_beta2: int  # RNE(log2(1 - beta2) 2**Fv)
    g_shift: int            # X_g << g_shift is g at Fm
    g2_shift: int           # X_g << g2_shift is g**2 at Fv
    m_shift: int            # (X_m' - X_bc1) << m_shift is log2|m_hat| at Fc
    v_shift: int            # (X_v' - X_bc2) << v_shift is log2 sqrt(v_hat) at Fc
    x_eps: int              # RNE(log2(eps) 2**Fc): the floor of log2 den
    step_round: int         # Fc - Fa: the one rounding of the step's log
    eta_acc: int            # eta_log2 << Fa
    random_bits: int


@dataclass(frozen=True)
class AdamConfig(AdditiveConfigMixin):
    """The formats, hyperparameters and datapath choices of one LNS Adam update unit.

    Parameters
    ----------
    weight, grad, first_moment : LNSFormat
        Signed word formats with a zero code (a weight can become zero, a moment cancel).
        ``first_moment`` keeps at least the gradient's fractional bits (``g`` lands on its
        grid exactly).
    second_moment : LNSFormat
        Unsigned with a zero code, at least ``grad.frac_bits - 1`` fractional bits (``g**2``
        lands on its grid exactly), as Madam's moment.
    eta_log2 : int
        ``eta = 2**eta_log2`` (Adam's 1e-3 is about ``2**-10``).
    beta1, beta2 : float
        Moment decays, strictly between 0 and 1.
    eps : float
        The floor of the denominator ``sqrt(v_hat)`` (see the module docstring).
    rounding : {"nearest_even", "stochastic"}
        The final rounding of ``w - step`` to the weight's precision.
    table : {"direct", "interp"}
        How every ``sb``/``db`` table of the unit is held.
    guard_bits : int
        Bits of the step's log and the weight adder below the weight's LSB.
    name : str
        A label; not part of the arithmetic.
    allow_degenerate : bool
        Build the unit even where ``beta1`` or ``beta2`` is held as 1.0 (its log rounds to
        the code 0 at its moment's precision, `lns.degenerate`); `caveats` then says so.
    """

    OPTIMIZER = Optimizer.ADAM
    FORMAT_ROLES = ("weight", "grad", "first_moment", "second_moment")
    WORD_ROLES = {"w": "weight", "g": "grad", "m": "first_moment", "v": "second_moment"}
    HYPER = ("beta1", "beta2", "eps")
    HELD = ("x_bc1", "x_bc2")
    FAMILY_BASE = "lns12_adam"
    MODEL = "lns.adam_update"
    MOMENT_ROLE = "first_moment"
    DECAYS = {"beta1": ("first_moment", "the first moment never decays"),
              "beta2": ("second_moment", "the second moment never decays")}

    weight: LNSFormat
    grad: LNSFormat
    first_moment: LNSFormat
    second_moment: LNSFormat
    eta_log2: int = -10
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    rounding: Rounding = Rounding.NEAREST_EVEN
    table: TableMethod = TableMethod.DIRECT
    guard_bits: int = 3
    name: str = field(default="custom", compare=False)
    allow_degenerate: bool = field(default=False, compare=False)

    def __post_init__(self):
        check_formats(self, {"weight": True, "grad": True, "first_moment": True,
                             "second_moment": False})
        fg = self.grad.frac_bits
        if self.first_moment.frac_bits < fg:
            raise InvalidValue(f"first_moment frac_bits must be at least grad frac_bits = {fg},"
                               f" not {self.first_moment.frac_bits}")
        if self.second_moment.frac_bits < fg - 1:
            raise InvalidValue(f"second_moment frac_bits must be at least grad frac_bits - 1 = "
                               f"{fg - 1}, not {self.second_moment.frac_bits}")
        check_int("eta_log2", self.eta_log2, -24, 0)
        check_open_unit("beta1", self.beta1)
        check_open_unit("beta2", self.beta2)
        check_positive("eps", self.eps)
        object.__setattr__(self, "rounding", parse(Rounding, "rounding", self.rounding))
        object.__setattr__(self, "table", parse(TableMethod, "table", self.table))
        # The bias corrections X_bc = RNE(log2(1 - beta**t) 2**F) must be negative at t = 1,
        # or their held port has no bits (as MadamConfig checks its beta)
        for name, beta, fmt in (("beta1", self.beta1, self.first_moment),
                                ("beta2", self.beta2, self.second_moment)):
            f = fmt.frac_bits
            if bias_correction_code(float(beta), f, 1) >= 0:
                limit = -math.expm1(-math.log(2) * 2.0 ** -(f + 1))
                raise InvalidValue(
                    f"{name} must be above {limit:.4g} for a moment of {f} fractional bits "
                    f"(below, log2(1 - {name}) rounds to 0 and its bias correction has no "
                    f"bits), not {beta!r}")
        check_degenerate(self)

    # ---- derived hardware constants -----------------------------------------------------
    @property
    def work_frac_bits(self) -> int:
        """``Fc = max(Fm, Fv + 1, Fa)``: where the step's log is formed exactly."""
        return max(self.first_moment.frac_bits, self.second_moment.frac_bits + 1,
                   self.acc_frac_bits)

    @cached_property
    def params(self) -> AdamParams:
        fg, fm, fv = self.grad.frac_bits, self.first_moment.frac_bits, self.second_moment.frac_bits
        fa, fc = self.acc_frac_bits, self.work_frac_bits
        return AdamParams(
            w=self.weight.params, g=self.grad.params, m=self.first_moment.params,
            v=self.second_moment.params, stochastic=int(self.is_stochastic),
            guard=self.guard_bits,
            c_beta1=log2_constant_code(self.beta1, fm),
            c_one_minus_beta1=log2_constant_code(1.0 - self.beta1, fm),
            c_beta2=log2_constant_code(self.beta2, fv),
            c_one_minus_beta2=log2_constant_code(1.0 - self.beta2, fv),
            g_shift=fm - fg, g2_shift=fv - fg + 1, m_shift=fc - fm, v_shift=fc - fv - 1,
            x_eps=log2_constant_code(float(self.eps), fc), step_round=fc - fa,
            eta_acc=self.eta_log2 << fa, random_bits=RANDOM_BITS)

    @property
    def m_tables(self):
        """``(sb, db)`` of the first-moment adder, at Fm."""
        fm = self.first_moment.frac_bits
        return gauss_table("sb", fm, self.table), gauss_table("db", fm, self.table)

    @property
    def v_table(self):
        """``sb`` of the second-moment adder, at Fv."""
        return gauss_table("sb", self.second_moment.frac_bits, self.table)

    def step_log(self, m_new, v_new, t: int):
        """The step of stored words ``m'``, ``v'`` at step ``t`` as arrays ``(sign, L,
        zero)``: ``L`` the step's log at Fa, by the kernel's rule (step 3 of
        `adam_update_ref`; `lns.rounding.round_shift_rne_array` is the kernel's rounding)."""
        from ..rounding import round_shift_rne_array
        from ..word import unpack_all
        p = self.params
        x_bc1, x_bc2 = self.bias_correction_codes(t)
        s, xm, zm = unpack_all(p.m, m_new)
        _, xv, zv = unpack_all(p.v, v_new)
        den = np.where(zv, p.x_eps, np.maximum((xv - x_bc2) << p.v_shift, p.x_eps))
        L = round_shift_rne_array(((xm - x_bc1) << p.m_shift) - den, p.step_round) + p.eta_acc
        return s, L, zm

    def bias_correction_codes(self, t: int) -> tuple[int, int]:
        """``(X_bc1, X_bc2)``: ``RNE(log2(1 - beta1**t) 2**Fm)`` and
        ``RNE(log2(1 - beta2**t) 2**Fv)``, correctly rounded, for step ``t >= 1``."""
        t = check_t(t)
        return (bias_correction_code(float(self.beta1), self.first_moment.frac_bits, t),
                bias_correction_code(float(self.beta2), self.second_moment.frac_bits, t))

    # ---- the rule contract ------------------------------------------------------------
    def held(self, t: int, *, clip=None) -> dict:
        return dict(zip(self.HELD, self.bias_correction_codes(t)))

    def held_range(self, port: str) -> tuple[int, int]:
        """Every code of ``t >= 1``: the most negative is ``t = 1``, large ``t`` tends to 0."""
        if port not in self.HELD:
            return super().held_range(port)
        return self.held(1)[port], 0

    def second_moment_at(self, grad) -> dict:
        """``second_moment`` with at least ``grad.frac_bits - 1`` fractional bits (``g**2``
        on its grid)."""
        v = self.second_moment
        if v.frac_bits < grad.frac_bits - 1:
            v = LNSFormat(v.int_bits, grad.frac_bits - 1, bias=v.bias, signed=False)
        return {"second_moment": v}

    def gradient_scale_changes(self, k: int, eta_log2: int) -> dict:
        """``m_hat / sqrt(v_hat)`` is scale-free but for ``eps``: it scales with ``g``."""
        changes = super().gradient_scale_changes(k, eta_log2)
        if k:
            changes["eps"] = math.ldexp(self.eps, k)
        return changes

    def update_function(self, words, t, held, *, lfsr_state, evaluator):
        return adam_update(self, words["w"], words["g"], words["m"], words["v"], t,
                           lfsr_state=lfsr_state, evaluator=evaluator)


# ---- scalar reference ---------------------------------------------------------------------
def adam_update_ref(cfg: AdamConfig, w: int, g: int, m: int, v: int, t: int,
                    lfsr_state: int | None = None):
    """One update, written for reading.  Returns ``(w', m', v', lfsr_state')``."""
    p = cfg.params
    W, G, M, V = cfg.weight, cfg.grad, cfg.first_moment, cfg.second_moment
    Fg, Fm, Fv, Fa = G.frac_bits, M.frac_bits, V.frac_bits, cfg.acc_frac_bits
    x_bc1, x_bc2 = cfg.bias_correction_codes(t)
    rnd = 0
    if cfg.is_stochastic:
        lfsr_state = lfsr_advance_ref(lfsr_state)
        rnd = lfsr_state & ((1 << RANDOM_BITS) - 1)

    g_term = term_ref(G, g)                                  # (sign, X) or None for zero
    m_term = term_ref(M, m)
    v_term = term_ref(V, v)

    # 1. m' = beta1 m + (1 - beta1) g, at Fm (g moved there exactly)
    a = None if m_term is None else (m_term[0], m_term[1] + p.c_beta1)
    b = None if g_term is None else (g_term[0], int(Fraction(g_term[1]) * 2 ** (Fm - Fg))
                                     + p.c_one_minus_beta1)
    m_new = store_term_ref(M, lns_sum_ref(a, b, *cfg.m_tables))

    # 2. v' = beta2 v + (1 - beta2) g**2, at Fv
    a = None if v_term is None else (0, v_term[1] + p.c_beta2)
    b = None if g_term is None else (0, int(Fraction(2 * g_term[1]) * 2 ** (Fv - Fg))
                                     + p.c_one_minus_beta2)
    v_new = store_term_ref(V, lns_sum_ref(a, b, cfg.v_table, None))

    # 3. the step's log: eta * m_hat / max(sqrt(v_hat), eps), rounded once to Fa
    m2, v2 = term_ref(M, m_new), term_ref(V, v_new)          # the stored words are read
    if m2 is None:
        step = None
    else:
        log_m_hat = Fraction(m2[1] - x_bc1, 2 ** Fm)
        log_eps = Fraction(p.x_eps, 2 ** cfg.work_frac_bits)
        if v2 is None:
            log_den = log_eps
        else:
            log_den = max(Fraction(v2[1] - x_bc2, 2 ** (Fv + 1)), log_eps)
        log_step = cfg.eta_log2 + log_m_hat - log_den
        step = (m2[0], rne_fraction(log_step * 2 ** Fa))

    # 4. w' = w - step at Fa, one rounding to Fw
    w_new = weight_step_ref(W, cfg.guard_bits, *cfg.weight_tables, w, step,
                            cfg.is_stochastic, rnd)
    return w_new, m_new, v_new, lfsr_state


# ---- kernel -------------------------------------------------------------------------------
@njit(cache=True)
def _adam_kernel(w, g, m, v, x_bc1, x_bc2, p, sbm, dbm, sbv, sba, dba, lfsr,
                 out_w, out_m, out_v):
    """The datapath of `adam_update_ref` over arrays; advances ``lfsr`` in place."""
    pw, pg, pm, pv = p.w, p.g, p.m, p.v
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
        _, xv, zv = unpack(v[i], pv)
        # 1. m'
        s1, x1, z1 = signed_sum(sm, xm + p.c_beta1, zm,
                                sg, (xg << p.g_shift) + p.c_one_minus_beta1, zg, sbm, dbm)
        mn = zero_word(pm) if z1 else pack(s1, x1, pm)
        # 2. v' (equal signs: the db argument is never read)
        _, x2, z2 = signed_sum(0, xv + p.c_beta2, zv,
                               0, (xg << p.g2_shift) + p.c_one_minus_beta2, zg, sbv, sbv)
        vn = zero_word(pv) if z2 else pack(0, x2, pv)
        out_m[i] = mn
        out_v[i] = vn
        # 3. the step's log from the stored m', v'
        s3, xm3, zm3 = unpack(mn, pm)
        _, xv3, zv3 = unpack(vn, pv)
        den = p.x_eps if zv3 else max((xv3 - x_bc2) << p.v_shift, p.x_eps)
        L = round_shift_rne(((xm3 - x_bc1) << p.m_shift) - den, p.step_round) + p.eta_acc
        # 4. the weight
        out_w[i] = weight_step(w[i], s3, L, zm3, pw, p.guard, sba, dba, p.stochastic == 1,
                               rnd, p.random_bits)


# ---- public API ---------------------------------------------------------------------------
def adam_update(cfg: AdamConfig, w, g, m, v, t: int, *, lfsr_state: np.ndarray | None = None,
                evaluator: str = "numba"):
    """Apply one bit-exact LNS Adam step to a tensor.

    Parameters
    ----------
    cfg : AdamConfig
    w, g, m, v : integer arrays (or ints) of the same shape
        Weight, gradient, first- and second-moment words.
    t : int
        The step, from 1 (sets the bias corrections).
    lfsr_state : int64 array, one entry a lane
        The lanes' LFSR registers, for ``rounding="stochastic"``; advanced in place.
        Element ``i`` (flattened) is taken by lane ``i % len(lfsr_state)``.
    evaluator : {"numba", "python"}

    Returns
    -------
    (w_new, m_new, v_new) : int64 arrays of the input shape (ints for scalar input).
    """
    check_config(cfg, AdamConfig, "an AdamConfig")
    check_evaluator(evaluator)
    x_bc1, x_bc2 = cfg.bias_correction_codes(t)

    def kernel(fw, fg, fm, fv, state, out_w, out_m, out_v):
        (sbm, dbm), (sba, dba) = cfg.m_tables, cfg.weight_tables
        _adam_kernel(fw, fg, fm, fv, x_bc1, x_bc2, cfg.params, table_tuple(sbm)[5],
                     table_tuple(dbm)[5], table_tuple(cfg.v_table)[5], table_tuple(sba)[5],
                     table_tuple(dba)[5], state, out_w, out_m, out_v)
    return apply_update(
        cfg, [(cfg.weight, w, "w"), (cfg.grad, g, "g"), (cfg.first_moment, m, "m"),
              (cfg.second_moment, v, "v")],
        lambda wi, gi, mi, vi, st: adam_update_ref(cfg, wi, gi, mi, vi, t, st), kernel,
        lfsr_state=lfsr_state, evaluator=evaluator)
