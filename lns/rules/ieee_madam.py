"""Float Madam (issue 18 item 3): the published update (Bernstein et al., "Learning
compositional functions via multiplicative weight updates", NeurIPS 2020) with base 2, as
`python_ref.madam.Madam(base=2)` computes it, as a program of single IEEE operations
(`lns.rules.ieee_program`) in one `FloatFormat`.

For words ``w, g, v``, the held per-step word ``bc = 1 - beta**t`` and the held per-tensor
clip ``sigma`` (``sigma* = p_scale RMS(w0)``, as LNS Madam holds its clip:
`lns.rules.madam.MadamConfig.held`)::

    gg  = g * g
    v'  = v + c (gg - v)                 # lerp form, c = 1 - beta: 1 sub, 1 mul, 1 add
    r   = (gg * bc) / v'                 # g_hat**2
    gs  = copysign(sqrt(r), g)           # g_hat = sign(g) sqrt(g**2 (1 - beta**t) / v')
    gh  = nan0_clamp(gs, g_bound)        # 0/0 -> 0, |g_hat| <= g_bound
    x   = eta * gh
    e   = negsign(x, w)                  # -x sign(w): the sign bit flipped (exact)
    f   = exp2(e)                        # 2**e, faithful (lns.ieee.exp2)
    w'  = clamp(w * f, sigma)            # |w'| <= sigma*

14 operations: 5 multiplications (3 by a constant or a held word), 2 add/sub, 1 division,
1 square root, 1 ``2**x`` and 4 exact integer selects (`lns.ieee.select`).

Why this form
-------------
* ``g_hat`` as ``sign(g) sqrt(g**2 (1 - beta**t) / v')`` is the reference's own evaluation
  (`python_ref._common.madam_normalise`): at ``t = 1`` with ``v = 0``, ``gg * bc`` and
  ``v' = c gg`` are the same rounded product (``bc`` and ``c`` are both ``1 - beta``
  rounded once), so ``g_hat = sign(g)`` exactly, as the reference guarantees.  One
  division, one square root (a ``g / sqrt(v' / bc)`` form needs two divisions; ``g /
  sqrt(v' k)`` with ``k = 1 / bc`` misses the exact first step).
* The second moment in the lerp form ``v + c (gg - v)``: ``beta = 0.999`` rounds to 1.0 in
  ``FloatFormat(5, 6)`` (its largest word below 1 is ``1 - 2**-7``), so ``beta v + c gg``
  would never decay there, while ``c = 0.001`` is a normal word of every format here.
* ``2**x`` is the one transcendental operation: `lns.ieee.exp2` (faithful, table and
  polynomial, defined in integers), the RTL `rtl.float.exp2`.
* ``sigma`` is held per tensor (`tensor_held`: the word of ``p_scale RMS(w0)``, rounded
  once from float64); ``held(t)`` without a clip holds +inf (no clip).

The model agrees with `python_ref.madam.Madam(base=2, dtype=float32)` to a few ulps, not bit
for bit: numpy's ``exp2`` is not correctly rounded and the reference forms ``beta v +
(1 - beta) g**2`` (tests/test_ieee_madam.py measures how close).

Presets: ``fp32_madam`` and ``fp12_madam`` (`FP12 = FloatFormat(5, 6)`, 12 bits as lns12;
its constants ``c = 0.001`` (a normal), ``eta = 0.01``, ``g_bound = 10`` are not degenerate,
`check_degenerate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..errors import InvalidValue
from ..ieee import exact, select
from ..ieee.exp2 import exp2 as ieee_exp2
from ..ieee.format import FLOAT_FORMATS, FloatFormat
from ..modes import Optimizer
from .ieee_program import (POSITIVE, UNIT, FloatProgram, OpSpec, check_fields, check_step,
                           register_op)

__all__ = ["FloatMadamConfig", "OPERATIONS", "FP12", "bias_correction_word", "sigma_word"]

#: The 12-bit float of the matched-width comparison (as lns12): 5 exponent, 6 fraction bits.
FP12 = FloatFormat(5, 6)


# ---- the ops this program adds to the op table ---------------------------------------------
def _exp2_model(in_fmts, out_fmt, x, impl="auto"):
    return ieee_exp2(out_fmt, x, impl="exact" if impl == "exact" else "auto")


def _select_model(name):
    f = select.OPS[name]

    def model(in_fmts, out_fmt, a, b, impl="auto"):
        return f(out_fmt, a, b)
    model.__name__ = f"ieee_{name}"
    return model


register_op(OpSpec("exp2", 1, _exp2_model, "rtl.float.exp2:build_exp2", "fp_exp",
                   doc="2**x, faithful (lns.ieee.exp2: table and polynomial in integers)"))
for _name, _doc in (("clamp", "|x| limited to |b|, NaN the canonical NaN"),
                    ("nan0_clamp", "|x| limited to |b|, NaN +0"),
                    ("copysign", "|x| with the sign of the second operand"),
                    ("negsign", "-x sign(w): x's sign bit flipped unless w's is set")):
    register_op(OpSpec(_name, 2, _select_model(_name), f"rtl.float.select:build_{_name}",
                       "fp_compare", doc=f"{_doc} (lns.ieee.select, exact)"))

OPERATIONS = (
    ("gg", "mul", ("g", "g")), ("dv", "sub", ("gg", "v")), ("cdv", "mul", ("c", "dv")),
    ("v'", "add", ("v", "cdv")), ("gb", "mul", ("gg", "bc")), ("r", "div", ("gb", "v'")),
    ("s", "sqrt", ("r",)), ("gs", "copysign", ("s", "g")),
    ("gh", "nan0_clamp", ("gs", "g_bound")), ("x", "mul", ("eta", "gh")),
    ("e", "negsign", ("x", "w")), ("f", "exp2", ("e",)), ("wf", "mul", ("w", "f")),
    ("w'", "clamp", ("wf", "sigma")),
)


def bias_correction_word(fmt: FloatFormat, beta: float, t: int) -> int:
    """``1 - beta**t`` from the exact value of the float64 ``beta``, rounded once to
    ``fmt`` (bounds on ``beta**t`` for late steps, tightened until both round alike)."""
    from .ieee_adam_fast import _pow_bounds
    prec = 2 * (fmt.frac_bits + 1) + 64
    while True:
        lo, hi = _pow_bounds(beta, t, prec)
        a = exact.round_to_format(fmt, 0, 1 - hi)
        if a == exact.round_to_format(fmt, 0, 1 - lo):
            return a
        prec *= 2


def sigma_word(fmt: FloatFormat, p_scale: float, w0) -> int:
    """The word of ``sigma* = p_scale sqrt(mean(w0**2))`` (float64), rounded once."""
    w0 = np.asarray(w0, dtype=np.float64)
    if w0.size == 0 or not np.all(np.isfinite(w0)):
        raise InvalidValue("w0 must be a non-empty array of finite floats")
    sigma = p_scale * float(np.sqrt(np.mean(w0 ** 2)))
    if sigma == 0:
        raise InvalidValue("w0 must not be all zeros (sigma* would be 0)")
    return exact.round_to_format(fmt, 0, Fraction(sigma))


@dataclass(frozen=True)
class FloatMadamConfig(FloatProgram):
    """One float Madam unit (see the module's doc): its format and float64
    hyperparameters.  Words ``w, g, v`` of `fmt`; held ``bc`` (per step) and ``sigma``
    (per tensor); constants ``c, eta, g_bound``."""

    OPTIMIZER = Optimizer.FLOAT_MADAM
    WORD_ROLES = {"w": "fmt", "g": "fmt", "v": "fmt"}
    HELD_ROLES = {"bc": "fmt", "sigma": "fmt"}
    CONSTANT_ROLES = {"c": "fmt", "eta": "fmt", "g_bound": "fmt"}
    OPERATIONS = OPERATIONS
    OUTPUTS = {"w": "w'", "v": "v'"}
    DEGENERATE = {
        "c": ("1 - beta", {"0": "the gradient never enters the second moment"}),
        "eta": ("eta", {"0": "every factor is 2**0 and no weight moves",
                        "inf": "every factor is 0 or infinite"}),
        "g_bound": ("g_bound", {"0": "every normalised gradient is clamped to 0"}),
        "bc": ("1 - beta**t", {"0": "g_hat**2 = (g**2 * 0) / v' is 0 and no weight moves"}),
    }
    HELD_DOC = {"bc": "bias correction 1 - beta**t",
                "sigma": "the clip sigma* = p_scale RMS(w0) of the tensor (+inf: none)"}
    FORMAT_ROLES = ("fmt",)
    HYPER = ("beta", "g_bound", "p_scale")
    LR_FIELD = "eta"
    FAMILY_BASE = "fp32_madam"
    MODEL = "lns.rules.ieee_program.run_program"

    fmt: FloatFormat
    eta: float = 0.01
    beta: float = 0.999
    g_bound: float = 10.0
    p_scale: float = 3.0
    name: str = ""
    allow_degenerate: bool = field(default=False, compare=False)

    def __post_init__(self):
        check_fields(self, "madam", {"eta": POSITIVE, "beta": UNIT, "g_bound": POSITIVE,
                                     "p_scale": POSITIVE})

    def _exact_constants(self) -> dict:
        return {"c": 1 - Fraction(self.beta), "eta": Fraction(self.eta),
                "g_bound": Fraction(self.g_bound)}

    def _held_word(self, port: str, fmt: FloatFormat, t: int) -> int:
        check_step(t)
        if port != "bc":
            raise InvalidValue(f"{port} is held per tensor (tensor_held), not per step")
        return bias_correction_word(fmt, self.beta, t)

    def held(self, t: int, *, clip=None) -> dict:
        """``bc`` of step ``t`` and the clip word ``sigma`` (``clip``: the word of
        `tensor_held`; ``None``: +inf, no clip)."""
        check_step(t)
        return {"bc": self._held_word("bc", self.fmt, t),
                "sigma": self.fmt.pos_inf if clip is None else int(clip)}

    def held_range(self, port: str) -> tuple[int, int]:
        """Every word of the format for ``sigma`` and the tensor-held ``clip`` that gives
        it (the vectors' hex field); the base's for the other ports."""
        if port == "clip":
            return 0, self.fmt.word_mask
        return super().held_range(port)

    def tensor_held(self, w0) -> dict:
        """``{"clip": sigma_word(w0)}``: the word of the tensor's ``sigma*``."""
        return {"clip": sigma_word(self.fmt, self.p_scale, w0)}

    def rom_tables(self) -> dict:
        """The ``exp2`` operator's table (`lns.ieee.exp2.exp2_rom`), the one ROM."""
        from ..ieee.exp2 import exp2_rom_row
        return {"exp2": exp2_rom_row(self.fmt)}

    def at_width(self, bits: int, **overrides) -> "FloatMadamConfig":
        """This configuration at ``bits`` bits: 32 fp32, 16 bf16, 12 `FP12`."""
        fmt = {32: FLOAT_FORMATS["fp32"], 16: FLOAT_FORMATS["bf16"], 12: FP12}.get(bits)
        if fmt is None:
            raise InvalidValue(f"bits must be 12, 16 or 32 for float Madam, not {bits!r}")
        return self.replace(fmt=fmt, name=f"{fmt.name}_madam")
