"""What the additive rules (Adam, SGD with momentum) share: the signed LNS sum, the weight
step ``w' = w - step`` at the weight's precision, and their configurations' checks and JSON.

The signed LNS sum
------------------
Two signed terms ``(s, X)`` at one precision (``X`` in LSBs of ``2**-F``), either possibly
zero::

    a + b  =  (sign of the larger, max(Xa, Xb) + sb(z))     same signs
              (sign of the larger, max(Xa, Xb) + db(z))     opposite signs, z = |Xa - Xb| > 0
              exact zero                                    opposite signs, z = 0
              the other term                                one term zero

``sb``/``db`` come from `lns.tables.gauss_table` (direct: every entry correctly rounded;
interp: a near ROM of direct entries where ``db`` is steep, then interpolated nodes;
faithful).  Because ``max`` is an integer, the result is the table entry's rounding of the
exact ``log2|a + b|``: correctly rounded with direct tables, faithful with interp.  Operands
one LSB apart read ``db(1)``, the steepest entry, which the near ROM holds directly.

The weight step
---------------
``step`` arrives as a signed log code ``L`` at the *accumulator* precision
``Fa = Fw + guard`` (the rule forms it there, rounding once to nearest even).  The weight's
code is moved there exactly (``Xw << guard``), ``w + (-step)`` is the signed sum above with
the tables at ``Fa``, and one final rounding takes it to ``Fw``: nearest even, or stochastic
with the lane's LFSR bits (`lns.rounding`).  That final rounding is the one rounding point
of the weight update (the table entry's own rounding at ``Fa`` is ``2**-guard`` finer).
Then the word is packed: saturation at the largest magnitude, the weight format's underflow
policy below the smallest.

Zero crossing: unlike Madam, a weight can change sign (the step is larger than ``|w|``) and
can become exactly zero, either by exact cancellation (``L == Xw << guard`` with the step's
sign equal to the weight's) or by underflow (flush).  A zero weight moves: ``w' = -step``.
A zero step (``m' = 0``) leaves the weight word unchanged.

Swamping: a step whose effect on ``log2|w|`` is under half a weight LSB leaves the word
unchanged under nearest-even rounding; stochastic rounding moves it by one LSB with the
probability of the fraction (down to ``2**-guard`` of an LSB, the resolution of ``Fa``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import fields
from fractions import Fraction

import numpy as np
from numba import njit

from ..codec import as_codes, fields_ref, store_ref
from ..errors import InvalidType, InvalidValue
from ..format import LNSFormat
from ..kernels import flat_lookup
from ..lfsr import RANDOM_BITS, check_lane_states
from ..modes import plain
from ..rule import Rule
from ..rounding import (round_shift_rne, round_shift_rne_ref, round_shift_stochastic,
                       round_shift_stochastic_ref)
from ..word import pack, unpack, zero_word

__all__ = ["lns_sum_ref", "weight_step_ref", "rne_fraction", "signed_sum", "weight_step",
           "EVALUATORS", "MAX_ACC_FRAC_BITS"]

EVALUATORS = ("python", "numba")
MAX_ACC_FRAC_BITS = 14      # Fa = Fw + guard: the db table at 14 bits is 254k entries direct


# ---- scalar reference ---------------------------------------------------------------------
def lns_sum_ref(a, b, sb_table, db_table):
    """``a + b`` of two terms ``(sign, X)`` (``None`` is zero) at one precision.

    Returns ``(sign, X)``, or ``None`` for an exact zero (both zero, or exact cancellation).
    """
    if a is None:
        return b
    if b is None:
        return a
    (sa, xa), (sb, xb) = a, b
    big_sign, big_x = a if xa >= xb else b
    z = abs(xa - xb)
    if sa == sb:
        return big_sign, big_x + sb_table.lookup_ref(z)
    if z == 0:
        return None
    return big_sign, big_x + db_table.lookup_ref(z)


def store_term_ref(fmt: LNSFormat, term) -> int:
    """The word of a term ``(sign, X)`` (saturated / underflowed by ``fmt``), or of zero."""
    return store_ref(fmt, 0, None) if term is None else store_ref(fmt, term[0], term[1])


def term_ref(fmt: LNSFormat, word: int):
    """A word as a term ``(sign, X)``, or ``None`` for zero."""
    s, x, z = fields_ref(fmt, word)
    return None if z else (s, x)


def rne_fraction(q: Fraction) -> int:
    """``q`` (a dyadic fraction) rounded to an integer, nearest even, by
    `lns.rounding.round_shift_rne_ref`."""
    d = q.denominator
    assert d & (d - 1) == 0, "only dyadic fractions reach a rounding"
    return round_shift_rne_ref(q.numerator, d.bit_length() - 1)


def weight_step_ref(W: LNSFormat, guard: int, sb_table, db_table, w: int, step,
                    stochastic: bool, rnd: int) -> int:
    """``w - step``: ``step`` a term ``(sign, L)`` at ``Fa = Fw + guard`` or ``None``.

    ``rnd`` is the lane's random bits (used only when ``stochastic``)."""
    w_term = term_ref(W, w)
    if w_term is not None:
        w_term = (w_term[0], w_term[1] * 2 ** guard)            # exact: Fw -> Fa
    neg_step = None if step is None else (step[0] ^ 1, step[1])
    total = lns_sum_ref(w_term, neg_step, sb_table, db_table)
    if total is None:
        return store_ref(W, 0, None)                            # exactly zero
    sign, R = total
    if stochastic:
        X = round_shift_stochastic_ref(R, guard, rnd, RANDOM_BITS)
    else:
        X = round_shift_rne_ref(R, guard)
    return store_ref(W, sign, X)


# ---- kernels ------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def signed_sum(sa, xa, za, sb, xb, zb, sbf, dbf):
    """`lns_sum_ref` on fields: ``(sign, X, is_zero)``; ``sbf``/``dbf`` are the flat
    expansions of the tables (`lns.kernels.table_tuple(t)[5]`)."""
    if za:
        return sb, xb, zb
    if zb:
        return sa, xa, za
    a_big = xa >= xb
    big = xa if a_big else xb
    z = xa - xb if a_big else xb - xa
    s = sa if a_big else sb
    if sa == sb:
        return s, big + flat_lookup(z, sbf), False
    if z == 0:
        return s, big, True
    return s, big + flat_lookup(z, dbf), False


@njit(cache=True, inline="always")
def weight_step(wi, s_step, L, z_step, pw, guard, sbf, dbf, stochastic, rnd, rbits):
    """`weight_step_ref` on fields: the word of ``w - step``."""
    sw, xw, zw = unpack(wi, pw)
    s, R, zero = signed_sum(sw, xw << guard, zw, s_step ^ 1, L, z_step, sbf, dbf)
    if zero:
        return zero_word(pw)
    if stochastic:
        X = round_shift_stochastic(R, guard, rnd, rbits)
    else:
        X = round_shift_rne(R, guard)
    return pack(s, X, pw)


# ---- configurations: checks and JSON ------------------------------------------------------
def check_int(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidType(f"{name} must be an int, not {value!r}")
    if not lo <= value <= hi:
        raise InvalidValue(f"{name} must be between {lo} and {hi}, not {value}")


def check_open_unit(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not 0.0 < value < 1.0:
        raise InvalidValue(f"{name} must be strictly between 0.0 and 1.0, not {value!r}")


def check_positive(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not (math.isfinite(value) and value > 0):
        raise InvalidValue(f"{name} must be a positive finite number, not {value!r}")


def check_formats(cfg, signed: dict[str, bool]):
    """Every role is an `LNSFormat` with a zero code, signed as ``signed[role]`` says."""
    for role, want_signed in signed.items():
        f = getattr(cfg, role)
        if not isinstance(f, LNSFormat):
            raise InvalidType(f"{role} must be an LNSFormat, not {type(f).__name__}")
        if f.signed != want_signed:
            raise InvalidValue(f"{role} format must be {'signed' if want_signed else 'unsigned'}"
                               f", not {f.name}")
        if not f.has_zero:
            raise InvalidValue(f"{role} format must have a zero code, not {f.name}")
    w = cfg.weight
    check_int("guard_bits", cfg.guard_bits, 0, 8)
    if w.frac_bits + cfg.guard_bits > MAX_ACC_FRAC_BITS:
        raise InvalidValue(f"weight frac_bits + guard_bits must be at most {MAX_ACC_FRAC_BITS},"
                           f" not {w.frac_bits + cfg.guard_bits}")


def config_to_dict(cfg) -> dict:
    out = {"optimizer": str(cfg.optimizer)}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        out[f.name] = v.to_dict() if isinstance(v, LNSFormat) else plain(v)
    return out


def config_from_dict(cls, data):
    """An additive rule's configuration from `to_dict`'s table or a `describe` row
    (`lns.rule.fields_from_dict`); a format may be a table or a name."""
    from ..rule import check_derived, fields_from_dict
    kwargs, derived = fields_from_dict(cls, data, LNSFormat.from_dict)
    return check_derived(cls(**kwargs), derived)


class AdditiveConfigMixin(Rule):
    """JSON and the facts every additive rule's configuration shares (the rule contract,
    `lns.rule.Rule`, with every word a signed or unsigned LNS word with a zero code)."""

    FORMAT_ROLES: tuple[str, ...] = ()
    HYPER: tuple[str, ...] = ()
    DERIVED = ("eta", "step_frac_bits")
    #: ``{decay field: (format role, what holding it as 1.0 does)}``, checked by
    #: `_degenerate` (`lns.degenerate.lns_decay`)
    DECAYS: dict = {}
    # `lns.presets.additive_config_for_bits` rounds to nearest even where
    # ``eta_log2 + Fw >= NEAREST_FROM`` (a full-size step reaches an LSB), else stochastically
    NEAREST_FROM = 0

    @property
    def eta(self) -> float:
        return 2.0 ** self.eta_log2

    def _degenerate(self) -> list:
        """Each decay of `DECAYS` held as 1.0 in its format.  (No eta makes an additive
        step a no-op: it scales with the moment, or, Lion's, is large against small
        weights.)"""
        from ..degenerate import lns_decay
        found = (lns_decay(name, getattr(self, name), role.replace("_", " "),
                           getattr(self, role).frac_bits, effect)
                 for name, (role, effect) in self.DECAYS.items())
        return [d for d in found if d is not None]

    @property
    def acc_frac_bits(self) -> int:
        """``Fa = Fw + guard_bits``: the precision of the step's log and of the weight adder."""
        return self.weight.frac_bits + self.guard_bits

    @property
    def is_stochastic(self) -> bool:
        from ..modes import Rounding
        return self.rounding is Rounding.STOCHASTIC

    @property
    def weight_tables(self):
        """``(sb, db)`` of the weight adder, at ``Fa``."""
        from ..tables import gauss_table
        fa = self.acc_frac_bits
        return gauss_table("sb", fa, self.table), gauss_table("db", fa, self.table)

    @property
    def tables(self) -> dict:
        """Every Gaussian table the unit holds, by role: the moment adders' and the weight
        adder's (`lns.tables.GaussTable`; ``.bits`` is its ROM size)."""
        out = {"m_sb": self.m_tables[0], "m_db": self.m_tables[1]}
        if hasattr(self, "v_table"):
            out["v_sb"] = self.v_table
        out["w_sb"], out["w_db"] = self.weight_tables
        return out

    def update(self, words: dict, t: int = 1, held: dict | None = None, *, lfsr_state=None,
               evaluator: str | None = None) -> dict:
        """The rule's update function (`update_function`) on ``words``: the written words
        ``{"w", "m"[, "v"]}`` as flat int64 arrays."""
        held = self.check_held(t, held)
        outs = self.update_function(words, t, held, lfsr_state=lfsr_state,
                                    evaluator=self.check_evaluator(evaluator))
        return {k: np.asarray(a, dtype=np.int64).ravel()
                for k, a in zip(self.output_roles, outs)}

    def rom_tables(self) -> dict:
        """Every Gaussian table by role (`tables`)."""
        from ..rule import table_row
        return {role: table_row(t) for role, t in self.tables.items()}

    def at_width(self, bits: int, *, moment_frac_bits=None, **overrides):
        """This configuration at a ``bits``-bit weight
        (`lns.presets.additive_config_for_bits`)."""
        if moment_frac_bits is not None:
            raise InvalidValue("moment_frac_bits applies to a Madam base only")
        from ..presets import additive_config_for_bits
        return additive_config_for_bits(bits, self, **overrides)

    def second_moment_at(self, grad) -> dict:
        """The formats besides the weight, gradient and moment at a gradient format
        ``grad`` (`at_width`): none, unless the rule keeps a second moment."""
        return {}

    def describe(self) -> dict:
        """A preset row (JSON): the rule, the formats by role with their ranges, the
        hyperparameters of the step."""
        from ..rule import format_row
        row = {"name": self.name, "optimizer": str(self.optimizer)}
        row.update({role: format_row(getattr(self, role)) for role in self.FORMAT_ROLES})
        row.update(rounding=str(self.rounding), table=str(self.table), eta=self.eta,
                   eta_log2=self.eta_log2, guard_bits=self.guard_bits,
                   step_frac_bits=self.acc_frac_bits)
        row.update({k: getattr(self, k) for k in self.HYPER})
        row.update(allow_degenerate=self.allow_degenerate, caveats=list(self.caveats()))
        return row

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict):
        return config_from_dict(cls, data)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# ---- public API helpers -------------------------------------------------------------------
def check_evaluator(evaluator):
    if evaluator not in EVALUATORS:
        raise InvalidValue(f"evaluator must be one of {', '.join(EVALUATORS)}, not {evaluator!r}")


def check_t(t):
    if not isinstance(t, (int, np.integer)) or isinstance(t, bool) or t < 1:
        raise InvalidValue(f"t must be an int >= 1, not {t!r}")
    return int(t)


def check_words(formats):
    """``[(fmt, x, name), ...]`` -> flat int64 arrays, their common shape, and whether every
    input was a scalar."""
    arrays = [as_codes(fmt, x, name) for fmt, x, name in formats]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        names = ", ".join(name for _, _, name in formats)
        raise InvalidValue(f"{names} must have the same shape, not "
                           + ", ".join(str(a.shape) for a in arrays))
    scalar = all(np.ndim(x) == 0 for _, x, _ in formats)
    return [np.ascontiguousarray(a).ravel() for a in arrays], arrays[0].shape, scalar


def apply_update(cfg, words, reference, kernel, *, lfsr_state, evaluator):
    """The public update of an additive rule on tensors: ``words`` ``[(fmt, x, name)]``
    checked (`check_words`) and the lanes' LFSR states (advanced in place); then either the
    scalar reference element by element, ``reference(*ints, state) -> (*outs, state)``
    (``evaluator="python"``; lane ``i % lanes`` takes element ``i``), or the kernel on the
    flat arrays, ``kernel(*arrays, state, *outs)`` (``"numba"``).  Returns the outputs in
    the inputs' shape (ints for scalar input), as many as the reference returns."""
    check_evaluator(evaluator)
    flat, shape, scalar = check_words(words)
    state = check_lane_states(cfg.is_stochastic, lfsr_state)
    n = flat[0].shape[0]
    outs = [np.empty(n, dtype=np.int64) for _ in range(len(cfg.output_roles))]
    if evaluator == "python":
        lanes = state.shape[0]
        for i in range(n):
            lane = i % lanes
            st = int(state[lane]) if cfg.is_stochastic else None
            *values, st = reference(*(int(a[i]) for a in flat), st)
            for out, value in zip(outs, values):
                out[i] = value
            if st is not None:
                state[lane] = st
    else:
        kernel(*flat, state, *outs)
    return finish(outs, shape, scalar)


def finish(outs, shape, scalar):
    if scalar:
        return tuple(int(o[0]) for o in outs)
    return tuple(o.reshape(shape) for o in outs)
