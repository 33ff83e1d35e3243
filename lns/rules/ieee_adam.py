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
* fp16 (no preset; `FloatAdamConfig(FLOAT_FORMATS["fp16"])` works): beta2 0.999 ->
  0.9990234375 = 1 - 2**-10, but eps 1e-8 -> **+0**: it is below half the smallest fp16
  subnormal (2**-25 ~ 2.98e-8), so ``d = sqrt(vh) + eps`` is 0 when ``v' = 0`` and the
  update divides by zero (IEEE: an infinite step, or NaN for 0/0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

import numpy as np

from ..errors import InvalidType, InvalidValue
from ..modes import Optimizer, Rounding
from ..rule import Rule, check_config
from ..ieee import exact, ops
from ..ieee.format import FLOAT_FORMATS, FloatFormat

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

    def _round(self, x: Fraction) -> int:
        return exact.round_to_format(self.fmt, 0, x)

    @cached_property
    def constants(self) -> dict[str, int]:
        """``{b1, c1, b2, c2, lr, eps}`` as words of `fmt`, each rounded once."""
        b1, b2 = Fraction(self.beta1), Fraction(self.beta2)
        return {"b1": self._round(b1), "c1": self._round(1 - b1),
                "b2": self._round(b2), "c2": self._round(1 - b2),
                "lr": self._round(Fraction(self.lr)), "eps": self._round(Fraction(self.eps))}

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
        from ..ieee.fast import word_dtype
        arrays = {}
        for key in "wgmv":
            a = np.asarray(words[key])
            if a.size and (int(a.min()) < 0 or int(a.max()) > self.fmt.word_mask):
                raise InvalidValue(f"{key} must hold {self.fmt.name} words in "
                                   f"0..{self.fmt.word_mask:#x}")
            arrays[key] = a.astype(word_dtype(self.fmt)).ravel()
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
                "operations": len(self.operations)}

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
                "constants": {k: {"word": f"{w:#0{2 + (self.fmt.total_bits + 3) // 4}x}",
                                  "value": float(exact.to_fraction(self.fmt, w))}
                              for k, w in self.constants.items()}}

    def to_json(self) -> str:
        import json
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "FloatAdamConfig":
        """From `to_dict`'s dict (``constants`` are derived, so ignored; ``format`` a
        preset name or ``{"exp_bits", "frac_bits"[, "name"]}``)."""
        if not isinstance(data, dict):
            raise InvalidType(f"a config must be a mapping, not {type(data).__name__}")
        known = {"name", "format", "lr", "beta1", "beta2", "eps", "constants", "optimizer"}
        extra = sorted(set(data) - known)
        if extra:
            raise InvalidValue(f"unknown float Adam config field(s): {', '.join(extra)}")
        if data.get("optimizer", str(cls.OPTIMIZER)) != str(cls.OPTIMIZER):
            raise InvalidValue(f"optimizer must be {str(cls.OPTIMIZER)!r} for {cls.__name__}, "
                               f"not {data['optimizer']!r}")
        f = data.get("format")
        if isinstance(f, str) and f in FLOAT_FORMATS:
            fmt = FLOAT_FORMATS[f]
        elif isinstance(f, dict) and "exp_bits" in f and "frac_bits" in f:
            fmt = FloatFormat(f["exp_bits"], f["frac_bits"], f.get("name", ""))
            if fmt.name in FLOAT_FORMATS and FLOAT_FORMATS[fmt.name] != fmt:
                raise InvalidValue(f"format {fmt.name} must be {FLOAT_FORMATS[fmt.name]}")
        else:
            raise InvalidValue(f"format must be one of {', '.join(FLOAT_FORMATS)} or a table "
                               f"with exp_bits and frac_bits, not {f!r}")
        kw = {k: data[k] for k in ("lr", "beta1", "beta2", "eps", "name") if k in data}
        return cls(fmt, **kw)


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
