"""The float Adam update as a fixed sequence of single IEEE operations (issue 11).

For words ``w, g, m, v`` of one `FloatFormat` and the per-step words ``k1, k2``::

    m' = b1*m + c1*g                     # 2 mul, 1 add
    v' = b2*v + c2*(g*g)                 # 3 mul, 1 add
    mh = m'*k1;  vh = v'*k2              # 2 mul
    d  = sqrt(vh) + eps                  # 1 sqrt, 1 add
    w' = w - (lr*mh)/d                   # 1 mul, 1 div, 1 sub

every operation rounded to the format on its own (`lns.ieee.ops`: nearest even, subnormals,
IEEE specials, canonical NaN), no fused multiply-add: 14 operations, the datapath of the
float hardware unit.  The rule is a program of `lns.rules.ieee_program` (`FloatProgram`:
the table `OPERATIONS`, interpreted by the model and scheduled by `rtl.float_program`), the
literal form kept beside the efficient one (`lns.rules.ieee_adam_fast`).
The constants ``b1 = beta1, c1 = 1 - beta1, b2 = beta2,
c2 = 1 - beta2, lr, eps`` are rounded to the format once, from the exact values of the given
float64 hyperparameters (``1 - beta`` formed exactly before its one rounding, so ``c1`` is
not ``1 - b1`` rounded twice).  The bias corrections ``k1 = 1/(1 - beta1**t)`` and
``k2 = 1/(1 - beta2**t)`` are per-step inputs, like the LNS units' ``x_bc``: computed
exactly from the hyperparameters (not from the rounded ``b1, b2``: in bf16 ``b2`` is 1.0, see
below) and rounded once (`FloatAdamConfig.bias_correction_words`).

What the presets' constants become (`FloatAdamConfig.constants`, checked in the tests):

* fp32: beta1 0.9 -> 0x3F666666 (0.899999976), 1 - beta1 -> 0x3DCCCCCD (0.100000001),
  beta2 0.999 -> 0x3F7FBE77 (0.999000013), 1 - beta2 -> 0x3A83126F (0.00100000005),
  lr 1e-3 -> 0x3A83126F, eps 1e-8 -> 0x322BCC77 (9.99999994e-09).
* bf16 (8 significant bits, quantum 2**-8 just below 1): beta1 0.9 -> 0x3F66 = 0.8984375;
  1 - beta1 -> 0x3DCD = 0.10009765625 (so b1 + c1 = 0.99853515625, not 1); **beta2 0.999
  -> 0x3F80 = 1.0** (0.999 is 0.001 from 1.0 and 0.0029 from 0.99609375; 0.9990234375 =
  1 - 2**-10 would need 10 fraction bits, which fp16 has and bf16 has not), so in bf16 the
  second moment does not decay: ``v' = v + c2 g**2`` with c2 = 1 - beta2 -> 0x3A83 =
  0.00099945068359375; lr 1e-3 -> 0x3A83 (same word); eps 1e-8 -> 0x322C =
  1.00117176771e-08 (a normal bf16: bf16 has fp32's exponent range).
* fp16 (no preset): beta2 0.999 -> 0.9990234375 = 1 - 2**-10, but eps 1e-8 -> **+0**: it
  is below half the smallest fp16 subnormal (2**-25 ~ 2.98e-8), so ``d = sqrt(vh) + eps``
  is 0 when ``v' = 0`` and the update divides by zero (IEEE: an infinite step, or NaN for
  0/0).

Both are *degenerate* constants (`lns.degenerate`, `FloatAdamConfig._degenerate`): a
configuration holding one is refused, naming the value it became and the smallest format
that holds it, unless it sets ``allow_degenerate`` (the bf16_adam preset does; its
`caveats` say that beta2 is 1.0).  ``FloatAdamConfig(FLOAT_FORMATS["fp16"])`` is refused for
its eps; ``FloatAdamConfig(FLOAT_FORMATS["fp16"], eps=1e-7)`` is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..errors import InvalidType, InvalidValue
from ..modes import Optimizer
from ..rule import check_config
from ..ieee import exact, ops
from ..ieee.format import FLOAT_FORMATS, FloatFormat, parse_format
from .ieee_program import (ADAM_REALS, WANT, FloatProgram, check_fields, check_real, held_as,
                           run_program)

__all__ = ["FloatAdamConfig", "bias_correction_word",
           "float_adam_update", "CONSTANTS", "OPERATIONS"]

CONSTANTS = ("b1", "c1", "b2", "c2", "lr", "eps")
# The sequence, one entry per IEEE operation (the hardware's schedule and the cost model
# count these): (result, op, operands).
OPERATIONS = (
    ("b1m", "mul", ("b1", "m")), ("c1g", "mul", ("c1", "g")), ("m'", "add", ("b1m", "c1g")),
    ("gg", "mul", ("g", "g")), ("b2v", "mul", ("b2", "v")), ("c2gg", "mul", ("c2", "gg")),
    ("v'", "add", ("b2v", "c2gg")), ("mh", "mul", ("m'", "k1")), ("vh", "mul", ("v'", "k2")),
    ("s", "sqrt", ("vh",)), ("d", "add", ("s", "eps")), ("n", "mul", ("lr", "mh")),
    ("q", "div", ("n", "d")), ("w'", "sub", ("w", "q")),
)

# What a constant held as 1.0, 0 or infinity must be instead (`FloatAdamConfig._degenerate`)
_WANT = WANT
# The degenerate constants (`FloatAdamConfig._degenerate`): ``{constant: (what the config
# calls it, {value held: its effect})}``; a held value is "1.0", "0" or "inf".
_DEGENERATE = {
    "b1": ("beta1", {"1.0": "the first moment never decays",
                     "0": "the first moment keeps no history (m' = (1 - beta1) g)"}),
    "c1": ("1 - beta1", {"0": "the gradient never enters the first moment"}),
    "b2": ("beta2", {"1.0": "the second moment never decays",
                     "0": "the second moment keeps no history (v' = (1 - beta2) g**2)"}),
    "c2": ("1 - beta2", {"0": "the gradient never enters the second moment"}),
    "lr": ("lr", {"0": "every step is 0 and the update never moves a weight",
                  "inf": "every step is infinite"}),
    "eps": ("eps", {"0": "where v' = 0, sqrt(v_hat) + eps is 0 and the update divides by "
                         "zero (NaN or an infinite step)",
                    "inf": "sqrt(v_hat) + eps is infinite and every step is 0"}),
}
_check_real = check_real


@lru_cache(maxsize=4096)
def bias_correction_word(fmt: FloatFormat, beta: float, t: int) -> int:
    """``1 / (1 - beta**t)`` rounded once to `fmt` (nearest even), from the exact value of
    the float `beta`.

    ``beta = n / 2**e`` exactly, so the value is ``2**(e t) / (2**(e t) - n**t)``, one integer
    quotient for `exact.round_quotient`.  Once ``beta**t < 2**-(p+2)`` the value lies in
    ``(1, 1 + 2**-(p+1))``, below the midpoint between 1 and its successor, so the word is
    exactly 1.0: the shortcut (taken from ``beta**t < 2**-(p+3)`` on the float64 logarithm,
    a bit of margin) keeps late steps from raising ``n`` to a power of many megabits.
    """
    if not isinstance(fmt, FloatFormat):
        raise InvalidType(f"fmt must be a FloatFormat, not {type(fmt).__name__}")
    _check_real("beta", beta, lo_open=0.0, hi_open=1.0)
    if isinstance(t, bool) or not isinstance(t, int) or t < 1:
        raise InvalidValue(f"t must be an int >= 1, not {t!r}")
    p = fmt.frac_bits
    # 1/(1-y) < 1 + 2y for y < 1/2; with a bit of margin on the float64 logarithm.
    if t * math.log2(beta) < -(p + 3):
        return fmt.bias << p                                 # the word of 1.0
    num, den = Fraction(beta).as_integer_ratio()
    big = den ** t
    return exact.round_quotient(fmt, 0, big, big - num ** t)


@dataclass(frozen=True)
class FloatAdamConfig(FloatProgram):
    """One float Adam unit: its format and hyperparameters (float64, as a user gives them).

    The derived words (`b1`, `c1`, `b2`, `c2`, `lr_word`, `eps_word`; all of them in
    `constants`) are the constants of the datapath, each rounded to `fmt` once.

    The rule contract (`lns.rule.Rule`, through `lns.rules.ieee_program.FloatProgram`): every
    word (``w, g, m, v``) is of `fmt`; the held inputs are the bias-correction words ``k1,
    k2``; IEEE rounds to nearest even (no LFSR); the evaluators are ``"python"`` (exact
    integers, one rounding function) and ``"numpy"`` (numpy's correctly rounded float32 /
    bfloat16), with ``"numba"`` taken as the fast one as well, so a caller may ask every
    rule for ``"numba"``.
    """

    OPTIMIZER = Optimizer.FLOAT_ADAM
    WORD_ROLES = {"w": "fmt", "g": "fmt", "m": "fmt", "v": "fmt"}
    HELD_ROLES = {"k1": "fmt", "k2": "fmt"}
    CONSTANT_ROLES = {k: "fmt" for k in CONSTANTS}
    OPERATIONS = OPERATIONS
    OUTPUTS = {"w": "w'", "m": "m'", "v": "v'"}
    DEGENERATE = _DEGENERATE
    HELD_DOC = {k: f"bias correction 1/(1 - beta{k[1]}**t)" for k in ("k1", "k2")}
    FORMAT_ROLES = ("fmt",)
    HYPER = ("lr", "beta1", "beta2", "eps")
    GRADIENT_SCALED = ("eps",)          # m / (sqrt(v) + eps) is then scale invariant
    FAMILY_BASE = "fp32_adam"
    MODEL = "lns.rules.ieee_adam.float_adam_update"
    DERIVED = ("operations",)

    @property
    def eta(self) -> float:
        """The step size (``lr``), as the LNS rules name it."""
        return self.lr

    fmt: FloatFormat
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name: str = ""
    # Not part of the arithmetic: two configurations that compute the same are equal.
    allow_degenerate: bool = field(default=False, compare=False)

    def __post_init__(self):
        check_fields(self, "adam", ADAM_REALS)

    def _exact_constants(self) -> dict[str, Fraction]:
        """The exact values the `constants` are rounded from."""
        b1, b2 = Fraction(self.beta1), Fraction(self.beta2)
        return {"b1": b1, "c1": 1 - b1, "b2": b2, "c2": 1 - b2, "lr": Fraction(self.lr),
                "eps": Fraction(self.eps)}

    def _held_word(self, port: str, fmt: FloatFormat, t: int) -> int:
        return bias_correction_word(fmt, self.beta1 if port == "k1" else self.beta2, t)

    @property
    def b1(self) -> int:
        return self.constants["b1"]

    @property
    def c1(self) -> int:
        return self.constants["c1"]

    @property
    def b2(self) -> int:
        return self.constants["b2"]

    @property
    def c2(self) -> int:
        return self.constants["c2"]

    @property
    def lr_word(self) -> int:
        return self.constants["lr"]

    @property
    def eps_word(self) -> int:
        return self.constants["eps"]

    def bias_correction_words(self, t: int) -> tuple[int, int]:
        """``(k1_t, k2_t) = (1/(1 - beta1**t), 1/(1 - beta2**t))`` as words (`t >= 1`)."""
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise InvalidValue(f"t must be an int >= 1, not {t!r}")
        return (bias_correction_word(self.fmt, self.beta1, t),
                bias_correction_word(self.fmt, self.beta2, t))

    def describe(self) -> dict:
        """A preset row (JSON): the rule, the format, the hyperparameters, the constants."""
        return {"name": self.name, "optimizer": str(self.optimizer),
                "format": self.fmt.to_dict(), "lr": self.lr, "beta1": self.beta1,
                "beta2": self.beta2, "eps": self.eps, "constants": self.to_dict()["constants"],
                "operations": len(self.operations), "allow_degenerate": self.allow_degenerate,
                "caveats": list(self.caveats())}

    def at_width(self, bits: int, **overrides) -> "FloatAdamConfig":
        """This configuration in the IEEE format of ``bits`` bits (32: fp32; 16: this
        configuration's own 16-bit format, else bf16); the LNS overrides do not apply."""
        fmt = {32: FLOAT_FORMATS["fp32"], 16: self.fmt if self.fmt.total_bits == 16
               else FLOAT_FORMATS["bf16"]}.get(bits)
        if fmt is None:
            raise InvalidValue(f"bits must be 16 or 32 for IEEE Adam, not {bits!r}")
        return self.replace(fmt=fmt, name=f"{fmt.name}_adam")

    def replace(self, **changes) -> "FloatAdamConfig":
        import dataclasses
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The config for a JSON sidecar: the rule, hyperparameters, and each constant as a
        word and as the value it holds."""
        return {"optimizer": str(self.optimizer), "name": self.name,
                "format": self.fmt.to_dict(), "lr": self.lr,
                "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "allow_degenerate": self.allow_degenerate,
                "constants": {k: {"word": f"{w:#0{2 + (self.fmt.total_bits + 3) // 4}x}",
                                  "value": _value(self.fmt, w)}
                              for k, w in self.constants.items()}}

    def to_json(self) -> str:
        import json
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "FloatAdamConfig":
        """From `to_dict`'s dict or a `describe` row (``constants`` and ``caveats`` are
        derived, so ignored; ``operations`` checked); ``format`` a name (``"fp16"``,
        ``"e5m6"``) or a table with ``exp_bits`` and ``frac_bits``
        (`lns.ieee.format.parse_format`)."""
        from ..rule import check_derived
        if not isinstance(data, dict):
            raise InvalidType(f"a config must be a mapping, not {type(data).__name__}")
        fields = ("name", "format", "lr", "beta1", "beta2", "eps", "allow_degenerate")
        known = {*fields, "optimizer", *cls.DERIVED, "constants", "caveats"}
        extra = sorted(set(data) - known)
        if extra:
            raise InvalidValue(f"unknown float Adam config field(s): {', '.join(extra)} (the "
                               f"fields of {cls.__name__} are {', '.join(fields)})")
        if data.get("optimizer", str(cls.OPTIMIZER)) != str(cls.OPTIMIZER):
            raise InvalidValue(f"optimizer must be {str(cls.OPTIMIZER)!r} for {cls.__name__}, "
                               f"not {data['optimizer']!r}")
        fmt = parse_format(data.get("format"))
        kw = {k: data[k] for k in fields[2:] + ("name",) if k in data}
        return check_derived(cls(fmt, **kw), {k: data[k] for k in cls.DERIVED if k in data})


def _held(fmt: FloatFormat, word: int) -> str:
    """A constant's word as `_DEGENERATE` names it: ``"1.0"``, ``"0"``, ``"inf"``, or
    ``""`` for any other value."""
    return held_as(fmt, word)


def _value(fmt: FloatFormat, word: int):
    """A constant's value for JSON: a float, or ``"inf"`` (strict JSON has no infinity;
    only a configuration that allows degenerate constants holds one)."""
    return "inf" if word == fmt.pos_inf else float(exact.to_fraction(fmt, word))


def float_adam_update(cfg: FloatAdamConfig, w, g, m, v, k1, k2, *, impl: str = "auto"):
    """One Adam step on words: ``(w', m', v')``, the `OPERATIONS` in order, each a correctly
    rounded `lns.ieee.ops` operation (``impl`` picks the exact or the numpy path; both give
    the same words).  Scalars give ints, arrays give arrays (broadcast like numpy)."""
    check_config(cfg, FloatAdamConfig, "a FloatAdamConfig")
    fmt = cfg.fmt
    inputs = {"w": w, "g": g, "m": m, "v": v, "k1": k1, "k2": k2}
    checked = {name: ops.check_words(fmt, x, name) for name, x in inputs.items()}
    ops.apply(fmt, "add", 0, 0, impl=impl)          # the impl checked, as before
    env = run_program(cfg, {name: x for name, (x, _) in checked.items()}, impl=impl)
    out = (env["w"], env["m"], env["v"])
    if all(scalar for _, scalar in checked.values()):
        return tuple(int(o) for o in out)
    # Arrays in, arrays out, all of the inputs' broadcast shape (m' does not depend on w).
    shape = np.broadcast_shapes(*(np.shape(x) for x, _ in checked.values()))
    dt = ops.word_dtype(fmt)
    return tuple(np.broadcast_to(np.asarray(o, dtype=dt), shape).copy() for o in out)
