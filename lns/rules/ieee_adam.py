"""The float Adam update as a fixed sequence of single IEEE operations (issue 11).

For words ``w, g, m, v`` of one `FloatFormat` and the per-step words ``k1, k2``::

    m' = b1*m + c1*g                     # 2 mul, 1 add
    v' = b2*v + c2*(g*g)                 # 3 mul, 1 add
    mh = m'*k1;  vh = v'*k2              # 2 mul
    d  = sqrt(vh) + eps                  # 1 sqrt, 1 add
    w' = w - (lr*mh)/d                   # 1 mul, 1 div, 1 sub

every operation rounded to the format on its own (`lns.ieee.ops`: nearest even, subnormals,
IEEE specials, canonical NaN), no fused multiply-add: 14 operations, the datapath of the
float hardware unit.  The constants ``b1 = beta1, c1 = 1 - beta1, b2 = beta2,
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
from functools import cached_property, lru_cache

import numpy as np

from ..degenerate import Degenerate
from ..degenerate import check as check_degenerate
from ..errors import InvalidType, InvalidValue
from ..modes import Optimizer, Rounding
from ..rule import Rule, check_config
from ..ieee import exact, ops
from ..ieee.format import FLOAT_FORMATS, FloatFormat, parse_format

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
_WANT = {"1.0": "less than 1.0", "0": "more than 0", "inf": "a finite value"}
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


def _check_real(name, value, lo_open=None, hi_open=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or (lo_open is not None and not value > lo_open) \
            or (hi_open is not None and not value < hi_open):
        rng = ("strictly between 0.0 and 1.0" if hi_open is not None
               else "a positive finite number")
        raise InvalidValue(f"{name} must be {rng}, not {value!r}")


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
class FloatAdamConfig(Rule):
    """One float Adam unit: its format and hyperparameters (float64, as a user gives them).

    The derived words (`b1`, `c1`, `b2`, `c2`, `lr_word`, `eps_word`; all of them in
    `constants`) are the constants of the datapath, each rounded to `fmt` once.

    The rule contract (`lns.rule.Rule`): every word (``w, g, m, v``) is of `fmt`; the held
    inputs are the bias-correction words ``k1, k2``; IEEE rounds to nearest even (no
    LFSR); the evaluators are ``"python"`` (exact integers, one rounding function) and
    ``"numpy"`` (numpy's correctly rounded float32 / bfloat16), with ``"numba"`` taken as
    the fast one as well, so a caller may ask every rule for ``"numba"``.
    """

    OPTIMIZER = Optimizer.FLOAT_ADAM
    WORD_ROLES = {"w": "fmt", "g": "fmt", "m": "fmt", "v": "fmt"}
    FORMAT_ROLES = ("fmt",)
    HELD = ("k1", "k2")
    EVALUATORS = ("python", "numpy")
    HYPER = ("lr", "beta1", "beta2", "eps")
    FAMILY_BASE = "fp32_adam"
    MODEL = "lns.rules.ieee_adam.float_adam_update"
    DERIVED = ("operations",)
    rounding = Rounding.NEAREST_EVEN        # IEEE's, every operation

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
        if not isinstance(self.fmt, FloatFormat):
            raise InvalidType(f"fmt must be a FloatFormat, not {type(self.fmt).__name__}")
        _check_real("lr", self.lr, lo_open=0.0)
        _check_real("beta1", self.beta1, lo_open=0.0, hi_open=1.0)
        _check_real("beta2", self.beta2, lo_open=0.0, hi_open=1.0)
        _check_real("eps", self.eps, lo_open=0.0)
        if not isinstance(self.name, str):
            raise InvalidType(f"name must be a str, not {type(self.name).__name__}")
        for f in ("lr", "beta1", "beta2", "eps"):
            object.__setattr__(self, f, float(getattr(self, f)))
        if not self.name:
            object.__setattr__(self, "name", f"{self.fmt.name}_adam")
        check_degenerate(self)

    def _round(self, x: Fraction) -> int:
        return exact.round_to_format(self.fmt, 0, x)

    def _exact_constants(self) -> dict[str, Fraction]:
        """The exact values the `constants` are rounded from."""
        b1, b2 = Fraction(self.beta1), Fraction(self.beta2)
        return {"b1": b1, "c1": 1 - b1, "b2": b2, "c2": 1 - b2, "lr": Fraction(self.lr),
                "eps": Fraction(self.eps)}

    def _degenerate(self) -> list:
        """Each constant of `_DEGENERATE` held as 1.0, 0 or infinity where that breaks the
        update, with the smallest of `FLOAT_FORMATS` (by width) that holds it."""
        found = []
        for key, x in self._exact_constants().items():
            label, effects = _DEGENERATE[key]
            held = _held(self.fmt, self.constants[key])
            if held not in effects:
                continue
            ok = [f for f in _by_width().values()
                  if _held(f, exact.round_to_format(f, 0, x)) not in effects]
            holds = (f"{ok[0].name} is the smallest format that holds it" if ok else
                     f"none of {', '.join(_by_width())} holds it")
            value, fmt = float(x), self.fmt.name
            found.append(Degenerate(
                label.replace("1 - ", ""),
                f"{label} {value!r} rounds to {held} in {fmt}: {effects[held]}",
                f"{label} must be held by {fmt} as {_WANT[held]}, not {value!r} (it rounds to "
                f"{held}: {effects[held]})", holds))
        return found

    @cached_property
    def constants(self) -> dict[str, int]:
        """``{b1, c1, b2, c2, lr, eps}`` as words of `fmt`, each rounded once."""
        return {k: self._round(x) for k, x in self._exact_constants().items()}

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

    # ---- the rule contract ------------------------------------------------------------------
    @property
    def operations(self) -> tuple:
        """The fixed sequence of IEEE operations (`OPERATIONS`)."""
        return OPERATIONS

    def held(self, t: int, *, clip=None) -> dict:
        return dict(zip(self.HELD, self.bias_correction_words(t)))

    def held_range(self, port: str) -> tuple[int, int]:
        if port not in self.HELD:
            return super().held_range(port)
        return 0, self.fmt.word_mask

    def check_evaluator(self, evaluator):
        return super().check_evaluator("numpy" if evaluator == "numba" else evaluator)

    def update(self, words: dict, t: int = 1, held: dict | None = None, *, lfsr_state=None,
               evaluator: str | None = None) -> dict:
        """`float_adam_update` on ``words`` with the held ``k1, k2`` of step ``t``
        (``evaluator`` ``"python"``: the exact path; ``"numpy"``: numpy's)."""
        impl = {"python": "exact", "numpy": "numpy"}[self.check_evaluator(evaluator)]
        held = self.check_held(t, held)
        # Checked as words (integers in the format's range: a float array is refused, not
        # truncated), then flat arrays of the word dtype
        arrays = {key: np.ravel(ops.check_words(self.fmt, np.asarray(words[key]), key)[0])
                  for key in "wgmv"}
        out = float_adam_update(self, *(arrays[k] for k in "wgmv"), held["k1"], held["k2"],
                                impl=impl)
        return {k: np.asarray(a, dtype=np.int64).ravel() for k, a in zip(self.output_roles, out)}

    def encode_words(self, key: str, x) -> np.ndarray:
        """Float64 values as words of `fmt`, nearest even (`lns.ieee.fast.from_float`)."""
        from ..ieee.fast import from_float
        return np.asarray(from_float(self.fmt, np.asarray(x, np.float64)), dtype=np.int64)

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


def _by_width() -> dict[str, FloatFormat]:
    """`FLOAT_FORMATS` from the narrowest (bf16, fp16, fp32)."""
    return dict(sorted(FLOAT_FORMATS.items(), key=lambda kv: kv[1].total_bits))


def _held(fmt: FloatFormat, word: int) -> str:
    """A constant's word as `_DEGENERATE` names it: ``"1.0"``, ``"0"``, ``"inf"``, or
    ``""`` for any other value."""
    if word == 0:
        return "0"
    if word == fmt.pos_inf:
        return "inf"
    return "1.0" if word == fmt.bias << fmt.frac_bits else ""


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
    env = dict(cfg.constants, **{name: x for name, (x, _) in checked.items()})
    for result, op, args in OPERATIONS:
        env[result] = ops.apply(fmt, op, *(env[a] for a in args), impl=impl)
    out = (env["w'"], env["m'"], env["v'"])
    if all(scalar for _, scalar in checked.values()):
        return out
    # Arrays in, arrays out, all of the inputs' broadcast shape (m' does not depend on w).
    shape = np.broadcast_shapes(*(np.shape(x) for x, _ in checked.values()))
    dt = ops.word_dtype(fmt)
    return tuple(np.broadcast_to(np.asarray(o, dtype=dt), shape).copy() for o in out)
