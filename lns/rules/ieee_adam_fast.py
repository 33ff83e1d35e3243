"""Efficient IEEE Adam (issue 18 item 1): the form a strong hardware or GPU kernel computes,
as a program of single correctly rounded IEEE operations (`lns.rules.ieee_program`).

For words ``w, g, m, v`` of one `FloatFormat` and the per-step held words ``alpha_t,
eps_t``::

    m' = m + c1 (g - m)                  # lerp form: 1 sub, 1 mulc, 1 add
    v' = v + c2 (g*g - v)                # 1 mul, 1 mulc, 1 sub, 1 add
    d  = sqrt(v') + eps_t                # 1 sqrt, 1 add
    w' = w - (alpha_t m') / d            # 1 mul, 1 div, 1 sub

12 operations (4 multiplications, 2 of them by a constant, as shift-and-add), against the
literal unit's 14 (8 multiplications: `lns.rules.ieee_adam`).  The constants are
``c1 = 1 - beta1`` and
``c2 = 1 - beta2``, each formed exactly from the float64 hyperparameter and rounded once.
The bias corrections are folded into two per-step scalars, as PyTorch's Adam
(``torch/optim/adam.py``, ``step_size = lr / bias_correction1`` and ``denom = sqrt(v) /
sqrt(bias_correction2) + eps``) and Kingma & Ba's "efficient version" (section 2 of the
paper, ``alpha_t = alpha sqrt(1 - beta2**t) / (1 - beta1**t)`` with ``eps_hat``)::

    alpha_t = lr sqrt(1 - beta2**t) / (1 - beta1**t)
    eps_t   = eps sqrt(1 - beta2**t)

each computed from the exact values of the float64 hyperparameters and rounded once to the
format (`scaled_root_word`: an exact rational square root for early steps, rigorous
bounds on ``beta**t`` for late ones), as `lns.rules.ieee_adam.bias_correction_word` does for
the literal unit's ``k1, k2``.  Dividing by ``sqrt(v'/(1 - beta2**t)) + eps`` and by
``sqrt(v') + eps_t`` differ by the factor ``sqrt(1 - beta2**t)`` moved into ``alpha_t``:
the same update in exact arithmetic; with rounding each is its own sequence.

Multiplication by a constant
----------------------------
``c1 (g - m)`` and ``c2 (g*g - v)`` are ``mulc`` operations (`lns.rules.ieee_program.OPS`):
the same correctly rounded product as ``mul`` in the model; in the hardware
(`rtl.float_program.build_mulc`) the exact product of the significands is a sum of the
variable significand shifted by the canonical signed digits of the constant's, with no
multiplier.  fp32 ``c1 = 0.1`` (0x3DCCCCCD, significand 0xCCCCCD) has 13 non-zero digits,
``c2 = 0.001`` (0x3A83126F, 0x83126F) 8: an adder tree of 12 and 7 adders about 48 bits
wide, against one 24 x 24 product that the ECP5 maps to 4 MULT18X18D.  Measured (ECP5
LFE5U-85F, ``lnsmadam cost --preset fp32_adam_fast --target ecp5``, nextpnr seed 1, one
lane, pins serialised):

==================== ======= ====== ====== === ========= ====================== ==========
constant products    LUT4    CCU2C  FFs    DSP Fmax MHz  LUT4 eq., DSPs at share  DSPs free
==================== ======= ====== ====== === ========= ====================== ==========
general ``mul``      7,284   1,750  12,585 16  61.5      19,360                 10,784
``mulc`` (this)      7,961   1,931  12,995 8   55.3      16,111                 11,823
==================== ======= ====== ====== === ========= ====================== ==========

Shift-and-add is the smaller unit where a DSP is priced at its share of the device (536
LUT4 each, -17 %) and the larger where DSPs are free (+10 %); its Fmax at seed 1 is lower
(55.3 against 61.5 MHz: one seed, the critical path not examined; the adder tree sums two
levels a stage).  One table entry (``mulc`` -> ``mul``) switches back.  The literal unit
(`lns.rules.ieee_adam`) keeps ``mul`` for its five
constant products, as the literal form.

Degenerate values (`lns.degenerate`): ``c1``, ``c2`` held as 0 (the gradient never enters a
moment) and the held ``alpha_t``, ``eps_t`` held as 0 or infinity at step 1 or late (eps_t
is smallest at t = 1: ``eps sqrt(1 - beta2)``).

Flush to zero
-------------
``ftz=True`` is the unit an FPGA vendor's float cores build in their flush-to-zero mode
(issue 18 item 1): every one of the 12 operations reads a subnormal operand as the zero of
its sign and returns the zero of its sign where its exact result is below the smallest
normal (tininess before rounding), the one definition of `lns.ieee.ftz`.  Its operators need
no leading-zero count and shift on their inputs and no subnormal right shift before
rounding (`rtl.float` with ``daz`` and ``ftz``).  In fp32 with PyTorch's defaults every
held word and constant is normal (eps_t = 1e-8 sqrt(1 - beta2) ~ 3.2e-10 at step 1); in a
narrow format a subnormal held word would be read as 0, which the degenerate check reports.

Presets: ``fp32_adam_fast`` (fp32, PyTorch's defaults), ``fp32_adam_fast_ftz`` (the same
with ``ftz``) and ``fp12_adam`` (``FloatFormat(5, 6)``, 12 bits as lns12, with ``eps =
2**-14``, see `FP12_EPS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from ..errors import InvalidType, InvalidValue
from ..ieee import exact
from ..ieee.format import FLOAT_FORMATS, FloatFormat
from ..modes import Optimizer
from .ieee_program import ADAM_REALS, FloatProgram, check_fields, check_step

__all__ = ["FloatAdamFastConfig", "fast_adam_operations", "scaled_root_word", "FP12",
           "FP12_EPS", "OPERATIONS", "CONSTANTS"]

#: The 12-bit float of the matched-width comparison (as lns12): 5 exponent, 6 fraction bits.
FP12 = FloatFormat(5, 6)
#: eps of fp12_adam: the smallest normal of `FP12`, 2**-14 ~ 6.1e-5.  PyTorch's 1e-8 is
#: below half the smallest subnormal (2**-20 / 2) and rounds to 0, and eps_t = eps sqrt(1 -
#: beta2) at step 1 is 32 times smaller still; with 2**-14, eps_1 ~ 1.9e-6 is two subnormal
#: quanta, so ``sqrt(v') + eps_t`` is never 0 at any step.  It is large against the
#: format's gradients (an fp12 g**2 below 2**-28 is 0 anyway: eps bounds the step there).
FP12_EPS = 2.0 ** -14

CONSTANTS = ("c1", "c2")


def fast_adam_operations(g: str = "g") -> tuple:
    """The efficient Adam program's table, reading the gradient ``g`` (a name)."""
    return (
        ("dm", "sub", (g, "m")), ("c1dm", "mulc", ("c1", "dm")), ("m'", "add", ("m", "c1dm")),
        ("gg", "mul", (g, g)), ("dv", "sub", ("gg", "v")), ("c2dv", "mulc", ("c2", "dv")),
        ("v'", "add", ("v", "c2dv")), ("s", "sqrt", ("v'",)), ("d", "add", ("s", "eps_t")),
        ("n", "mul", ("alpha_t", "m'")), ("q", "div", ("n", "d")), ("w'", "sub", ("w", "q")),
    )


OPERATIONS = fast_adam_operations()


# ---- the held scalars, rounded once -------------------------------------------------------
def _trunc(m: int, e: int, prec: int, up: bool) -> tuple[int, int]:
    """``m 2**e`` to ``prec`` significant bits, down or up."""
    extra = m.bit_length() - prec
    if extra <= 0:
        return m, e
    q = m >> extra
    if up and (q << extra) != m:
        q += 1
    return q, e + extra


def _pow_bounds(beta: float, t: int, prec: int) -> tuple[Fraction, Fraction]:
    """``(lo, hi)`` with ``lo <= beta**t <= hi``: exact while ``beta**t`` has few bits,
    else binary powering with every product truncated down (``lo``) and up (``hi``) to
    ``prec`` bits, and ``(0, 2**-prec)`` once ``hi`` is below ``2**-prec``."""
    num, den = Fraction(beta).as_integer_ratio()       # den a power of two: beta is a float
    k = den.bit_length() - 1
    if t * num.bit_length() <= 4 * prec:
        y = Fraction(num ** t, den ** t)
        return y, y
    lo = hi = (1, 0)
    base_lo = base_hi = (num, -k)
    n = t
    while n:
        if n & 1:
            lo = _trunc(lo[0] * base_lo[0], lo[1] + base_lo[1], prec, False)
            hi = _trunc(hi[0] * base_hi[0], hi[1] + base_hi[1], prec, True)
        n >>= 1
        if n:
            base_lo = _trunc(base_lo[0] ** 2, 2 * base_lo[1], prec, False)
            base_hi = _trunc(base_hi[0] ** 2, 2 * base_hi[1], prec, True)
        if hi[0].bit_length() + hi[1] < -prec:          # below 2**-prec: bounded by it
            return Fraction(0), Fraction(1, 1 << prec)
    return (Fraction(lo[0]) * Fraction(2) ** lo[1], Fraction(hi[0]) * Fraction(2) ** hi[1])


@lru_cache(maxsize=8192)
def scaled_root_word(fmt: FloatFormat, scale: float, beta2: float, t: int,
                     beta1: float | None = None) -> int:
    """The word of ``fmt`` nearest to ``scale sqrt(1 - beta2**t) / (1 - beta1**t)`` (no
    ``beta1``: without the division), from the exact values of the float64 arguments.

    Its square is rational: with bounds ``y_lo <= beta**t <= y_hi`` (`_pow_bounds`) the
    value lies between two rational square roots, each rounded exactly
    (`lns.ieee.exact.round_sqrt_quotient`); rounding is monotone, so where both give the
    same word that is the word (exact bounds for early steps give it at once), otherwise
    the bounds are tightened."""
    s2 = Fraction(scale) ** 2
    prec = 4 * (fmt.frac_bits + 1) + 64
    while True:
        y2 = _pow_bounds(beta2, t, prec)
        y1 = _pow_bounds(beta1, t, prec) if beta1 is not None else (Fraction(0),) * 2
        lo = s2 * (1 - y2[1]) / (1 - y1[0]) ** 2
        hi = s2 * (1 - y2[0]) / (1 - y1[1]) ** 2
        a = exact.round_sqrt_quotient(fmt, 0, lo.numerator, lo.denominator)
        b = exact.round_sqrt_quotient(fmt, 0, hi.numerator, hi.denominator)
        if a == b:
            return a
        prec *= 2                  # a value within 2**-prec of a midpoint: tighter bounds


@dataclass(frozen=True)
class FloatAdamFastConfig(FloatProgram):
    """One efficient IEEE Adam unit (see the module's doc): its format and float64
    hyperparameters.  Words ``w, g, m, v`` of `fmt`; held ``alpha_t, eps_t`` (words of
    `fmt`, `held`); constants ``c1, c2``.  ``ftz``: every operation flushes subnormals to
    zero (`lns.ieee.ftz`: subnormal operands read as zeros, results below the smallest
    normal before rounding returned as zeros of their sign)."""

    OPTIMIZER = Optimizer.FLOAT_ADAM_FAST
    WORD_ROLES = {"w": "fmt", "g": "fmt", "m": "fmt", "v": "fmt"}
    HELD_ROLES = {"alpha_t": "fmt", "eps_t": "fmt"}
    CONSTANT_ROLES = {"c1": "fmt", "c2": "fmt"}
    OPERATIONS = OPERATIONS
    OUTPUTS = {"w": "w'", "m": "m'", "v": "v'"}
    DEGENERATE = {
        "c1": ("1 - beta1", {"0": "the gradient never enters the first moment"}),
        "c2": ("1 - beta2", {"0": "the gradient never enters the second moment"}),
        "alpha_t": ("alpha_t", {"0": "every step is 0 and the update never moves a weight",
                                "inf": "every step is infinite"}),
        "eps_t": ("eps_t", {"0": "where v' = 0, sqrt(v') + eps_t is 0 and the update "
                                 "divides by zero (NaN or an infinite step)",
                            "inf": "sqrt(v') + eps_t is infinite and every step is 0"}),
    }
    HELD_DOC = {"alpha_t": "step size lr sqrt(1 - beta2**t) / (1 - beta1**t)",
                "eps_t": "eps sqrt(1 - beta2**t)"}
    FORMAT_ROLES = ("fmt",)
    HYPER = ("lr", "beta1", "beta2", "eps")
    GRADIENT_SCALED = ("eps",)          # m / (sqrt(v) + eps) is then scale invariant
    FAMILY_BASE = "fp32_adam_fast"
    MODEL = "lns.rules.ieee_program.run_program"

    fmt: FloatFormat
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name: str = ""
    allow_degenerate: bool = field(default=False, compare=False)
    ftz: bool = False

    @property
    def eta(self) -> float:
        """The step size (``lr``), as the LNS rules name it."""
        return self.lr

    def __post_init__(self):
        if not isinstance(self.ftz, bool):
            raise InvalidType(f"ftz must be a bool, not {type(self.ftz).__name__}")
        check_fields(self, "adam_fast_ftz" if self.ftz else "adam_fast", ADAM_REALS)

    def _exact_constants(self) -> dict:
        return {"c1": 1 - Fraction(self.beta1), "c2": 1 - Fraction(self.beta2)}

    def _held_word(self, port: str, fmt: FloatFormat, t: int) -> int:
        check_step(t)
        if port == "alpha_t":
            return scaled_root_word(fmt, self.lr, self.beta2, t, self.beta1)
        return scaled_root_word(fmt, self.eps, self.beta2, t)

    def at_width(self, bits: int, **overrides) -> "FloatAdamFastConfig":
        """This configuration at ``bits`` bits: 32 fp32, 16 bf16, 12 `FP12` (with
        `FP12_EPS` unless this configuration is 12 bits already); LNS overrides ignored."""
        fmt = {32: FLOAT_FORMATS["fp32"], 16: FLOAT_FORMATS["bf16"], 12: FP12}.get(bits)
        if fmt is None:
            raise InvalidValue(f"bits must be 12, 16 or 32 for efficient IEEE Adam, "
                               f"not {bits!r}")
        eps = FP12_EPS if bits == 12 and self.fmt.total_bits != 12 else self.eps
        suffix = "_ftz" if self.ftz else ""
        return self.replace(fmt=fmt, eps=eps, name=f"{fmt.name}_adam_fast{suffix}")
