"""`MadamConfig`: everything that fixes the bit-exact Madam update, and the hardware
constants derived from it (computed here, once, for the model, the RTL and the reports).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple

import numpy as np

from ..degenerate import MAX_LNS_FRAC_BITS, Degenerate, lns_decay, step_lsbs
from ..degenerate import check as check_degenerate
from ..errors import InvalidType, InvalidValue
from ..format import LNSFormat
from ..lfsr import RANDOM_BITS
from ..modes import Normaliser, Optimizer, Rounding, TableMethod, parse, plain
from ..rule import Rule
from ..tables import bias_correction_code, exp2_table, gauss_table, log2_constant_code, rom_bits

__all__ = ["MadamConfig", "UpdateParams"]


class UpdateParams(NamedTuple):
    """The update's integer constants, for the Numba kernel (and mirrored by the RTL)."""

    w: tuple            # FormatParams of weight, gradient, moment
    g: tuple
    v: tuple
    rms: int            # 1 for the rms normaliser, 0 for sign
    stochastic: int     # 1 for stochastic rounding of the step
    c_beta: int         # RNE(log2(beta) * 2**Fv)
    c_one_minus_beta: int   # RNE(log2(1 - beta) * 2**Fv)
    g2_shift: int       # 2*X_g is moved to moment LSBs by this left shift (Fv - Fg + ... >= 0)
    norm_g_shift: int   # X_g << this, and
    norm_v_shift: int   # (X_v' - X_bc) << this, are in 2**-(Fc) units, Fc = max(Fg, Fv + 1)
    norm_round: int     # then rounded (RNE) by this many bits to step_frac_bits
    l_bound: int        # RNE(log2(g_bound) * 2**Fs): the clamp of log2|g_hat|
    step_frac_bits: int  # Fs
    exp_bits: int       # Gp: P[r] = RNE(2**(r / 2**Fs) * 2**Gp)
    eta_shift: int      # log2(eta) + Fw: log2 of eta in weight LSBs
    shift_cap: int      # the step's right shift saturates here (result unchanged, see update)
    random_bits: int


def _int_field(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidType(f"{name} must be an int, not {value!r}")
    if not lo <= value <= hi:
        raise InvalidValue(f"{name} must be between {lo} and {hi}, not {value}")


@dataclass(frozen=True)
class MadamConfig(Rule):
    """The formats, hyperparameters and datapath choices of one LNS Madam update unit.

    The rule contract (`lns.rule.Rule`): words ``w, g, v`` (``v`` read and written only
    with the rms normaliser); held with every beat, the step's bias correction ``x_bc``
    and the tensor's clip word ``clip``.

    Parameters
    ----------
    weight, grad, moment : LNSFormat
        Word formats.  The weight and gradient are signed; the gradient and second moment
        need a zero code (``g = 0``, ``v_0 = 0``); the second moment is unsigned.  The
        moment keeps at least ``grad.frac_bits - 1`` fractional bits, so ``g**2`` (the
        gradient's log doubled) lands on its grid exactly.
    eta_log2 : int
        ``eta = 2**eta_log2`` (LNS-Madam uses ``2**-7``).  A step moves the weight's log by
        ``eta * |g_hat|`` log2 units, i.e. ``2**(eta_log2 + weight.frac_bits) * |g_hat|`` LSBs.
    beta, g_bound, p_scale : float
        Second-moment decay, clamp of ``|g_hat|``, and the clip ``sigma* = p_scale * RMS(W0)``.
    normaliser : {"rms", "sign"}
        ``rms`` divides by the bias-corrected RMS as published; ``sign`` uses ``|g_hat| = 1``
        (the bounded update ``exp(eta sign g)``) and needs no second-moment path.
    rounding : {"nearest_even", "stochastic"}
        Rounding of the step to whole weight LSBs.
    table : {"direct", "interp"}
        How the ``sb`` table of the second-moment adder is held.
    step_frac_bits : int
        Fractional bits kept of ``log2|g_hat|`` (the index width of the ``2**frac`` table).
    exp_bits : int
        Fractional bits of the ``2**frac`` table's entries.
    name : str
        A label (the preset's name); not part of the arithmetic.
    allow_degenerate : bool
        Build the unit even where a rounded constant is degenerate (`_degenerate`: ``beta``
        held as 1.0, or every step rounding to 0); `caveats` then says so.

    Raises
    ------
    lns.errors.InvalidType, lns.errors.InvalidValue
        (a `TypeError` / `ValueError`) for a field outside its range, and for
        hyperparameters whose datapath cannot be built: see `_check_datapath` for the two
        limits (``beta`` against the bias correction's port, ``g_bound`` and ``eta``
        against the step's range); the message names the limit.  Also for a degenerate
        constant (`lns.degenerate`), unless ``allow_degenerate``.
    """

    weight: LNSFormat
    grad: LNSFormat
    moment: LNSFormat
    eta_log2: int = -7
    beta: float = 0.999
    g_bound: float = 10.0
    p_scale: float = 3.0
    normaliser: Normaliser = Normaliser.RMS
    rounding: Rounding = Rounding.NEAREST_EVEN
    table: TableMethod = TableMethod.DIRECT
    step_frac_bits: int = 6
    exp_bits: int = 10
    name: str = field(default="custom", compare=False)
    # Not part of the arithmetic either: two configurations that compute the same are equal.
    allow_degenerate: bool = field(default=False, compare=False)

    OPTIMIZER = Optimizer.MADAM
    WORD_ROLES = {"w": "weight", "g": "grad", "v": "moment"}
    FORMAT_ROLES = ("weight", "grad", "moment")
    HELD = ("x_bc", "clip")
    FAMILY_BASE = "lns12"
    MODEL = "lns.madam_update"
    DERIVED = ("eta", "sb_table_bits", "exp2_table_bits")

    def __post_init__(self):
        for role in ("weight", "grad", "moment"):
            value = getattr(self, role)
            if not isinstance(value, LNSFormat):
                raise InvalidType(f"{role} must be an LNSFormat, not {type(value).__name__}")
        if not self.weight.signed:
            raise InvalidValue(f"weight format must be signed, not {self.weight.name}")
        if not self.grad.signed:
            raise InvalidValue(f"grad format must be signed, not {self.grad.name}")
        if not self.grad.has_zero:
            raise InvalidValue(f"grad format must have a zero code, not {self.grad.name}")
        if self.moment.signed:
            raise InvalidValue(f"moment format must be unsigned, not {self.moment.name}")
        if not self.moment.has_zero:
            raise InvalidValue(f"moment format must have a zero code, not {self.moment.name}")
        if self.moment.frac_bits < self.grad.frac_bits - 1:
            raise InvalidValue(
                f"moment frac_bits must be at least grad frac_bits - 1 = "
                f"{self.grad.frac_bits - 1}, not {self.moment.frac_bits}")
        _int_field("eta_log2", self.eta_log2, -24, 0)
        _int_field("step_frac_bits", self.step_frac_bits, 0, 12)
        _int_field("exp_bits", self.exp_bits, 1, 24)
        v = self.beta
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 < v < 1.0:
            raise InvalidValue(f"beta must be strictly between 0.0 and 1.0, not {v!r}")
        for name in ("g_bound", "p_scale"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (
                    math.isfinite(v) and v > 0):
                raise InvalidValue(f"{name} must be a positive finite number, not {v!r}")
        for name, mode in (("normaliser", Normaliser), ("rounding", Rounding),
                           ("table", TableMethod)):
            object.__setattr__(self, name, parse(mode, name, getattr(self, name)))
        if not isinstance(self.name, str):
            raise InvalidType(f"name must be a string, not {self.name!r}")
        self._check_datapath()
        check_degenerate(self)

    def _degenerate(self) -> list:
        """``beta`` held as 1.0 (with the rms normaliser; the sign normaliser never reads
        it), and a step that always rounds to 0 (nearest-even rounding)."""
        found = []
        if self.has_second_moment:
            found.append(lns_decay("beta", self.beta, "moment", self.moment.frac_bits,
                                   "the second moment never decays "
                                   "(v' = v + (1 - beta) g**2)"))
        found.append(self._step_never_moves())
        return [d for d in found if d is not None]

    def _largest_step(self, eta_shift: int) -> Fraction:
        """The largest step in weight LSBs before its rounding (step 3 of
        `lns.madam_update_ref` at the largest ``log2|g_hat|``: the clamp ``l_bound``, or 0
        with the sign normaliser), for ``eta = 2**eta_shift`` weight LSBs."""
        fs = self.step_frac_bits
        top = self.params.l_bound if self.has_second_moment else 0
        q, r = divmod(top + eta_shift * 2 ** fs, 2 ** fs)
        return Fraction(int(self.exp_table[r])) * Fraction(2) ** (q - self.exp_bits)

    def _step_never_moves(self):
        """Nearest-even rounding of a largest step of at most half an LSB: every step is
        0, the update a no-op.  (Stochastic rounding keeps such steps on average.)"""
        fw, eta = self.weight.frac_bits, self.eta_log2
        if self.is_stochastic or round(self._largest_step(eta + fw)) > 0:
            return None
        largest = "eta * g_bound" if self.has_second_moment else "eta"
        size = step_lsbs(self._largest_step(eta + fw))
        need = next((f for f in range(fw + 1, MAX_LNS_FRAC_BITS + 1)
                     if round(self._largest_step(eta + f)) > 0), None)
        holds = ("rounding = \"stochastic\" keeps it on average" if need is None else
                 f"a weight of {need} fractional bits holds it (or rounding = "
                 f"\"stochastic\", which keeps it on average)")
        least = next((e for e in range(eta + 1, 1) if round(self._largest_step(e + fw)) > 0),
                     None)
        bound = (f"be at least {least}" if least is not None else
                 "make a step of more than half a weight LSB")
        return Degenerate(
            "eta_log2",
            f"eta_log2 {eta} rounds every step to 0 weight LSBs with nearest-even rounding "
            f"(the largest, {largest}, is {size} LSBs of a weight of {fw} fractional bits): "
            f"the update never moves a weight",
            f"eta_log2 must {bound} for nearest-even rounding and a weight of {fw} "
            f"fractional bits (below, every step rounds to 0 weight LSBs: the largest, "
            f"{largest}, is {size} LSBs, and the update never moves a weight), not {eta}",
            holds)

    def _check_datapath(self):
        """Reject the hyperparameters whose datapath cannot be built or computed.

        Two limits follow from the datapath itself (`lns.rules.madam_update._update_kernel`, mirrored by
        the RTL):

        * the bias correction ``X_bc = RNE(log2(1 - beta**t) * 2**Fv)`` is negative at
          ``t = 1``, or the ``x_bc`` port would have no bits: ``beta`` must exceed
          ``1 - 2**(-2**-(Fv + 1))``;
        * the largest step ``eta * |g_hat|`` (``|g_hat| <= g_bound`` with ``rms``, ``= 1``
          with ``sign``), ``2**q`` to ``2**(q + 1)`` weight LSBs with
          ``q = floor(L_max / 2**Fs) + eta_shift``, must be at least ``2**q_lo`` weight LSBs
          with ``q_lo = exp_bits + 1 - shift_cap - exp_table_width`` (below, the step's
          shifter, which saturates at ``shift_cap``, holds no bit of it), and below
          ``2**(q_hi + 1)`` with ``q_hi = 62 - exp_table_width - random_bits + exp_bits``
          (above, the model's 64-bit step, stochastic rounding's random bits included,
          would overflow).
        """
        fv, fw, fs = self.moment.frac_bits, self.weight.frac_bits, self.step_frac_bits
        if bias_correction_code(float(self.beta), fv, 1) >= 0:
            limit = -math.expm1(-math.log(2) * 2.0 ** -(fv + 1))
            raise InvalidValue(
                f"beta must be above {limit:.4g} for a moment of {fv} fractional bits "
                f"(below, log2(1 - beta) rounds to 0 and the bias correction x_bc has no "
                f"bits), not {self.beta!r}")
        p = self.params
        width = self.exp_table_width
        q_lo = p.exp_bits + 1 - p.shift_cap - width
        q_hi = 62 - width - p.random_bits + p.exp_bits
        if not self.has_second_moment:
            if p.eta_shift < q_lo:           # q = eta_shift, never above q_hi (eta <= 1)
                raise InvalidValue(
                    f"eta_log2 must be at least {q_lo - fw} for a weight of {fw} fractional "
                    f"bits with normaliser 'sign' (the step, eta, must be at least "
                    f"2**{q_lo} weight LSBs, the smallest the step's shifter holds), "
                    f"not {self.eta_log2}")
            return
        q = (p.l_bound >> fs) + p.eta_shift
        if q < q_lo:
            # l_bound = RNE(log2(g_bound) * 2**Fs) >= (q_lo - eta_shift) * 2**Fs
            limit = 2.0 ** (q_lo - p.eta_shift - 2.0 ** -(fs + 1))
            raise InvalidValue(
                f"g_bound must be above {limit:.4g} for eta 2**{self.eta_log2} and a weight "
                f"of {fw} fractional bits (the largest step, eta * g_bound, must be at least "
                f"2**{q_lo} weight LSBs, the smallest the step's shifter holds), "
                f"not {self.g_bound!r}")
        if q > q_hi:
            # l_bound < (q_hi + 1 - eta_shift) * 2**Fs
            limit = 2.0 ** (q_hi + 1 - p.eta_shift - 2.0 ** -(fs + 1))
            raise InvalidValue(
                f"g_bound must be below {limit:.4g} for eta 2**{self.eta_log2} and a weight "
                f"of {fw} fractional bits (the largest step, eta * g_bound, must be below "
                f"2**{q_hi + 1} weight LSBs, the model's 64-bit step), not {self.g_bound!r}")

    # ---- facts of the configuration -----------------------------------------------------
    @property
    def has_second_moment(self) -> bool:
        """Whether the datapath keeps ``v`` (the rms normaliser); with ``sign`` it passes
        through untouched, unread and unwritten by the hardware."""
        return self.normaliser is Normaliser.RMS

    @property
    def is_stochastic(self) -> bool:
        """Whether the step is rounded stochastically (each lane then holds an LFSR)."""
        return self.rounding is Rounding.STOCHASTIC

    @property
    def update_words(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(read, written)``: the words one lane-update moves (``v`` only with a second
        moment)."""
        v = ("v",) if self.has_second_moment else ()
        return ("w", "g") + v, ("w",) + v

    # ---- the rule contract ------------------------------------------------------------
    def held(self, t: int, *, clip=None) -> dict:
        """``x_bc`` of step ``t`` and the clip word (``None``: the weight format's largest,
        no clip)."""
        return {"x_bc": self.bias_correction_code(t),
                "clip": self.weight.e_max if clip is None else int(clip)}

    def tensor_held(self, w0) -> dict:
        """``{"clip": clip_code(w0)}``: the clip word of the tensor's sigma*."""
        return {"clip": self.clip_code(w0)}

    def held_range(self, port: str) -> tuple[int, int]:
        if port == "x_bc":
            return self.bias_correction_code(1), 0
        if port == "clip":
            return self.weight.e_min, self.weight.e_max
        return super().held_range(port)

    def update(self, words: dict, t: int = 1, held: dict | None = None, *, lfsr_state=None,
               evaluator: str | None = None) -> dict:
        """`lns.madam_update` of ``words`` (``{"w", "g", "v"}``; ``v`` may be absent with
        the sign normaliser) at step ``t`` with ``held["clip"]``; returns the written
        words (`output_roles`)."""
        from .madam_update import madam_update
        held = self.check_held(t, held)
        w = np.asarray(words["w"])
        v = words.get("v")
        if v is None:
            v = np.zeros(w.shape, dtype=np.int64)
        w_new, v_new = madam_update(self, w, words["g"], v, t, clip=held["clip"],
                                    lfsr_state=lfsr_state,
                                    evaluator=self.check_evaluator(evaluator))
        out = {"w": w_new, "v": v_new}
        return {k: np.asarray(out[k], dtype=np.int64).ravel() for k in self.output_roles}

    def rom_tables(self) -> dict:
        """The ``sb`` table (only with the rms normaliser) and the ``2**frac`` table."""
        from ..rule import table_row
        sb = table_row(self.sb_table) if self.sb_table is not None else \
            {"method": "none", "entries_near": 0, "entries_nodes": 0, "bits": 0}
        return {"sb": sb, "exp2": {"entries": len(self.exp_table),
                                   "width": self.exp_table_width, "bits": self.exp_table_bits}}

    def at_width(self, bits: int, **overrides) -> "MadamConfig":
        """This configuration at a ``bits``-bit weight (`lns.presets.config_for_bits`)."""
        from ..presets import madam_at_width
        return madam_at_width(self, bits, **overrides)

    def describe(self) -> dict:
        """A preset row (JSON)."""
        from ..rule import format_row
        row = {"name": self.name, "optimizer": str(self.optimizer)}
        row.update({role: format_row(getattr(self, role)) for role in self.FORMAT_ROLES})
        row.update(normaliser=str(self.normaliser), rounding=str(self.rounding),
                   table=str(self.table), eta=self.eta, eta_log2=self.eta_log2, beta=self.beta,
                   g_bound=self.g_bound, p_scale=self.p_scale,
                   step_frac_bits=self.step_frac_bits, exp_bits=self.exp_bits,
                   sb_table_bits=self.sb_table.bits if self.sb_table is not None else 0,
                   exp2_table_bits=self.exp_table_bits,
                   allow_degenerate=self.allow_degenerate, caveats=list(self.caveats()))
        return row

    # ---- derived hardware constants -----------------------------------------------------
    @property
    def eta(self) -> float:
        return 2.0 ** self.eta_log2

    @cached_property
    def params(self) -> UpdateParams:
        fg, fv, fs = self.grad.frac_bits, self.moment.frac_bits, self.step_frac_bits
        fc = max(fg, fv + 1)
        return UpdateParams(
            w=self.weight.params, g=self.grad.params, v=self.moment.params,
            rms=int(self.has_second_moment), stochastic=int(self.is_stochastic),
            c_beta=log2_constant_code(self.beta, fv),
            c_one_minus_beta=log2_constant_code(1.0 - self.beta, fv),
            g2_shift=fv - fg + 1,
            norm_g_shift=fc - fg, norm_v_shift=fc - fv - 1, norm_round=fc - fs,
            l_bound=log2_constant_code(float(self.g_bound), fs),
            step_frac_bits=fs, exp_bits=self.exp_bits,
            eta_shift=self.eta_log2 + self.weight.frac_bits,
            shift_cap=self.exp_bits + RANDOM_BITS + 2, random_bits=RANDOM_BITS)

    @property
    def sb_table(self):
        """The second moment's ``sb`` table (the adder of ``beta v + (1 - beta) g**2``), or
        None without a second moment (the sign normaliser holds no such table)."""
        if not self.has_second_moment:
            return None
        return gauss_table("sb", self.moment.frac_bits, self.table)

    @property
    def exp_table(self) -> np.ndarray:
        return exp2_table(self.step_frac_bits, self.exp_bits)

    @property
    def exp_table_width(self) -> int:
        """Bits of one ``2**frac`` ROM word (``exp_bits + 1``, or one more when the last
        entry rounds up to the top)."""
        return int(self.exp_table.max()).bit_length()

    @property
    def exp_table_bits(self) -> int:
        return rom_bits(self.exp_table)

    def bias_correction_code(self, t: int) -> int:
        """``X_bc``: ``RNE(log2(1 - beta**t) * 2**Fv)``, correctly rounded, for step ``t >= 1``."""
        if not isinstance(t, (int, np.integer)) or isinstance(t, bool) or t < 1:
            raise InvalidValue(f"t must be an int >= 1, not {t!r}")
        return bias_correction_code(float(self.beta), self.moment.frac_bits, int(t))

    def clip_code(self, w0) -> int:
        """The weight word of ``sigma* = p_scale * RMS(w0)`` (``w0`` floats), rounded to
        nearest like any encode."""
        from ..codec import encode
        w0 = np.asarray(w0, dtype=np.float64)
        if w0.size == 0 or not np.all(np.isfinite(w0)):
            raise InvalidValue("w0 must be a non-empty array of finite floats")
        sigma = self.p_scale * float(np.sqrt(np.mean(w0 ** 2)))
        if sigma == 0:
            raise InvalidValue("w0 must not be all zeros (sigma* would be 0)")
        return int(encode(self.weight, sigma))

    # ---- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, LNSFormat) else plain(v)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "MadamConfig":
        """From `to_dict`'s table or a `describe` row (`lns.rule.fields_from_dict`); a
        format may be a table or a name (``"lns12_i4f7_b14"``)."""
        from ..rule import check_derived, fields_from_dict
        kwargs, derived = fields_from_dict(cls, data, LNSFormat.from_dict)
        return check_derived(cls(**kwargs), derived)

    def replace(self, **changes) -> "MadamConfig":
        return dataclasses.replace(self, **changes)
