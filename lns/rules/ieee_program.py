"""IEEE rules as *programs* of single operations: the one base every IEEE rule declares.

An IEEE rule's update is a straight-line program over words:

* **word roles** (`WORD_ROLES`: the words a beat reads, ``{"w": "fmt", ...}``, each naming
  the configuration attribute that holds its `FloatFormat`: a rule may mix formats) and
  written roles that are no input (`EXTRA_OUTPUTS`: mixed-precision Adam's BF16 copy of
  the weight);
* **held per-step inputs** (`HELD_ROLES`: ``{port: format attribute}``), computed from the
  float64 hyperparameters and the step ``t`` and rounded once (`_held_word`);
* **named constants** (`CONSTANT_ROLES`: ``{name: format attribute}``), each rounded once
  to its format from its exact value (`_exact_constants`);
* **the operations** (`OPERATIONS`: ``((result, op, operands), ...)``), each one
  correctly rounded operation of the op table `OPS`; a result is in the format of its
  operands, or, for an op that changes formats (a conversion), of `RESULT_ROLES`
  ``[result]``;
* **the outputs** (`OUTPUTS`: ``{written role: result}``).

The model (`run_program`) interprets the table over words with `lns.ieee` (exact integers for
the ``"python"`` evaluator, numpy for ``"numpy"``); the hardware (`rtl.float_program`)
schedules the same table on one pipeline, one `rtl.float` operator an entry, so the two
agree bit for bit by construction and the tests check it.  The operation counts of
`sim.analysis.ops` read the same table (each op's ``kind``).

The op table
------------
`OPS` maps an op's name to an `OpSpec`: its arity, its model function, its RTL builder (a
``"module:function"`` string, so `lns` imports without Amaranth) and its cost kind.  A new op
is one `register_op` call; every program may then use it.  Built in: ``add``, ``sub``,
``mul``, ``div``, ``sqrt`` (`lns.ieee.ops`, `rtl.float`), ``convert`` (`lns.ieee.convert`,
`rtl.float.convert`: one format to another, correctly rounded).

Model function: ``model(in_fmts, out_fmt, *operands, impl)`` -> words (``in_fmts`` the
operands' formats, ``out_fmt`` the result's; ``operands`` ints or integer arrays, broadcast
like numpy; ``impl`` ``"exact"`` or ``"auto"``).  RTL builder: ``build(m, pipe, in_fmts,
out_fmt, operands, name, steps_per_stage)`` -> the result's Amaranth value, built on
``pipe`` (an `rtl._common.Pipe`) from the current stage, crossing a fixed number of
register boundaries (counted once per op and formats by `rtl.float_program`).

Flush to zero
-------------
A program whose configuration has ``ftz`` on (`FloatProgram.ftz`; the efficient Adam's
field) runs every op under the one definition of `lns.ieee.ftz`: subnormal operands read as
zeros of their sign, an exact result below the smallest normal returned as the zero of its
sign.  An op brings that form as its `OpSpec.ftz` model (same signature as ``model``; the
arithmetic ops' is `lns.ieee.ftz.apply`, a pure word select passes its own ``model``), and
its RTL builder takes ``ftz=True`` (given only when on, so a builder without the mode is
called as before).  An op without an ``ftz`` model cannot run in such a program.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Callable

import numpy as np

from ..degenerate import Degenerate
from ..errors import InvalidType, InvalidValue
from ..ieee import convert as ieee_convert
from ..ieee import exact, ftz, ops
from ..ieee.format import FLOAT_FORMATS, FloatFormat, parse_format
from ..modes import Rounding
from ..rule import Rule, check_derived, fields_from_dict

__all__ = ["OpSpec", "OPS", "register_op", "op_spec", "FloatProgram", "run_program",
           "check_real", "check_step", "round_constant", "held_degenerate", "WANT",
           "FLOAT_OP_KINDS"]

#: The cost kinds of `sim.analysis.ops` an op may have (`sim.analysis.ops.FLOAT_KINDS`, one
#: IEEE operator each; ``fp_compare`` is priced as an integer add of the word's width).
FLOAT_OP_KINDS = ("fp_mul", "fp_add", "fp_exp", "fp_sqrt", "fp_div", "fp_compare")


@dataclass(frozen=True)
class OpSpec:
    """One operation an IEEE program may use (see the module's doc)."""

    name: str
    arity: int
    model: Callable
    rtl: str                # "module:function", the builder
    kind: str               # the cost kind (`FLOAT_OP_KINDS`)
    mixed: bool = False     # True: the result's format is the program's choice (RESULT_ROLES)
    doc: str = ""
    #: The model under flush to zero (`lns.ieee.ftz`), None where the op has no such form
    ftz: Callable | None = None


OPS: dict[str, OpSpec] = {}


def register_op(spec: OpSpec) -> OpSpec:
    """Add ``spec`` to `OPS` (its name must be new; re-registering the same spec is a
    no-op, so a module may be imported twice)."""
    if not isinstance(spec, OpSpec):
        raise InvalidType(f"spec must be an OpSpec, not {type(spec).__name__}")
    if spec.kind not in FLOAT_OP_KINDS:
        raise InvalidValue(f"kind must be one of {', '.join(FLOAT_OP_KINDS)}, "
                           f"not {spec.kind!r}")
    if isinstance(spec.arity, bool) or not isinstance(spec.arity, int) or spec.arity < 1:
        raise InvalidValue(f"arity must be a positive int, not {spec.arity!r}")
    if ":" not in spec.rtl:
        raise InvalidValue(f"rtl must be 'module:function', not {spec.rtl!r}")
    old = OPS.get(spec.name)
    if old is not None and old != spec:
        raise InvalidValue(f"op {spec.name!r} is registered already")
    OPS[spec.name] = spec
    return spec


def op_spec(name: str) -> OpSpec:
    """The `OpSpec` of ``name``; InvalidValue naming the registered ops otherwise."""
    try:
        return OPS[name]
    except (KeyError, TypeError):
        raise InvalidValue(f"op must be one of {', '.join(OPS)}, not {name!r}") from None


def _basic_model(name):
    def model(in_fmts, out_fmt, *words, impl="auto"):
        return ops.apply(out_fmt, name, *words, impl=impl)
    model.__name__ = f"ieee_{name}"
    return model


def _convert_model(in_fmts, out_fmt, word, impl="auto"):
    return ieee_convert.convert(in_fmts[0], out_fmt, word,
                                impl="exact" if impl == "exact" else "auto")


def _ftz_model(name):
    # the one definition of flush to zero (lns.ieee.ftz), for every arithmetic op
    def model(in_fmts, out_fmt, *words, impl="auto"):
        return ftz.apply(name, tuple(in_fmts), out_fmt, *words,
                         impl="exact" if impl == "exact" else "auto")
    model.__name__ = f"ieee_{name}_ftz"
    return model


_FTZ_MODELS = {n: _ftz_model(n) for n in ftz.FTZ_OPS}

for _name, _kind, _arity in (("add", "fp_add", 2), ("sub", "fp_add", 2), ("mul", "fp_mul", 2),
                             ("div", "fp_div", 2), ("sqrt", "fp_sqrt", 1)):
    register_op(OpSpec(_name, _arity, _basic_model(_name), f"rtl.float_program:build_{_name}",
                       _kind, doc=f"IEEE {_name}, correctly rounded (lns.ieee.ops)",
                       ftz=_FTZ_MODELS[_name]))
# A product by a constant (the first operand must be a constant of the program): the same
# correctly rounded product as ``mul`` in the model; in the hardware a shift-and-add tree
# of the constant's signed digits, no multiplier (`rtl.float_program.build_mulc`).
register_op(OpSpec("mulc", 2, _basic_model("mul"), "rtl.float_program:build_mulc", "fp_mul",
                   doc="c * x for a constant c, correctly rounded; shift-and-add in the RTL",
                   ftz=_FTZ_MODELS["mul"]))
# A conversion is a re-bias and at most one rounding increment of the narrow width (a
# widening one is wiring): counted as ``fp_compare``, an integer operation of that width.
register_op(OpSpec("convert", 1, _convert_model, "rtl.float.convert:build_convert",
                   "fp_compare", mixed=True,
                   doc="one format to another, correctly rounded (lns.ieee.convert)",
                   ftz=_FTZ_MODELS["convert"]))


# ---- helpers for the configurations --------------------------------------------------------
#: What a constant held as 1.0, 0 or infinity must be instead (`FloatProgram._degenerate`)
WANT = {"1.0": "less than 1.0", "0": "more than 0", "inf": "a finite value"}


def check_real(name, value, lo_open=None, hi_open=None):
    """InvalidType / InvalidValue unless ``value`` is a finite real in the open range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or (lo_open is not None and not value > lo_open) \
            or (hi_open is not None and not value < hi_open):
        rng = ("strictly between 0.0 and 1.0" if hi_open is not None
               else "a positive finite number")
        raise InvalidValue(f"{name} must be {rng}, not {value!r}")


# The two kinds of real hyperparameter a program checks (`check_fields`)
POSITIVE, UNIT = "positive", "unit"


def check_fields(cfg, suffix: str, reals: dict) -> None:
    """The fields of a program's configuration, checked and normalised in place (a frozen
    dataclass): ``fmt`` a `FloatFormat`; each of ``reals`` (``{field: POSITIVE or UNIT}``,
    checked in that order) a positive finite real or one in (0, 1), made a float; ``name``
    a str, by default ``<fmt>_<suffix>``; then the degenerate check
    (`lns.degenerate.check`)."""
    from ..degenerate import check as check_degenerate
    if not isinstance(cfg.fmt, FloatFormat):
        raise InvalidType(f"fmt must be a FloatFormat, not {type(cfg.fmt).__name__}")
    for f, kind in reals.items():
        check_real(f, getattr(cfg, f), lo_open=0.0, hi_open=1.0 if kind == UNIT else None)
    if not isinstance(cfg.name, str):
        raise InvalidType(f"name must be a str, not {type(cfg.name).__name__}")
    for f in reals:
        object.__setattr__(cfg, f, float(getattr(cfg, f)))
    if not cfg.name:
        object.__setattr__(cfg, "name", f"{cfg.fmt.name}_{suffix}")
    check_degenerate(cfg)


# Adam's hyperparameters, in the order they are checked
ADAM_REALS = {"lr": POSITIVE, "beta1": UNIT, "beta2": UNIT, "eps": POSITIVE}


def check_step(t) -> int:
    if isinstance(t, bool) or not isinstance(t, int) or t < 1:
        raise InvalidValue(f"t must be an int >= 1, not {t!r}")
    return t


def round_constant(fmt: FloatFormat, x: Fraction) -> int:
    """``x`` (a signed exact value) rounded once to ``fmt``."""
    return exact.round_to_format(fmt, int(x < 0), abs(Fraction(x)))


def _by_width() -> dict[str, FloatFormat]:
    """`FLOAT_FORMATS` from the narrowest (bf16, fp16, fp32)."""
    return dict(sorted(FLOAT_FORMATS.items(), key=lambda kv: kv[1].total_bits))


def held_as(fmt: FloatFormat, word: int) -> str:
    """A word as the degenerate tables name it: ``"1.0"``, ``"0"``, ``"inf"``, or ``""``."""
    if word & ~fmt.sign_mask == 0:
        return "0"
    if word == fmt.pos_inf:
        return "inf"
    return "1.0" if word == fmt.bias << fmt.frac_bits else ""


def held_degenerate(name: str, label: str, effects: dict, value, fmt: FloatFormat,
                    word_in, where: str = "") -> Degenerate | None:
    """The `Degenerate` of a value ``value`` (what the user gave, for the message) held as
    ``word_in(fmt)`` in ``fmt`` when that word is one of ``effects``' keys; the smallest of
    `FLOAT_FORMATS` where ``word_in(f)`` is not degenerate is the remedy."""
    held = held_as(fmt, word_in(fmt))
    if held not in effects:
        return None
    ok = [f for f in _by_width().values() if held_as(f, word_in(f)) not in effects]
    holds = (f"{ok[0].name} is the smallest format that holds it" if ok else
             f"none of {', '.join(_by_width())} holds it")
    v = float(value)
    return Degenerate(
        label.replace("1 - ", ""),
        f"{label} {v!r} rounds to {held} in {fmt.name}{where}: {effects[held]}",
        f"{label} must be held by {fmt.name} as {WANT[held]}, not {v!r} (it rounds to "
        f"{held}{where}: {effects[held]})", holds)


# ---- the base ------------------------------------------------------------------------------
class FloatProgram(Rule):
    """The base of an IEEE rule declared as a program (see the module's doc).

    A subclass is a frozen dataclass with its format fields (named in `FORMAT_ROLES`), its
    hyperparameters, ``name`` and ``allow_degenerate``; it sets the class attributes of the
    module's doc and implements `_exact_constants` and `_held_word`.  Everything else of the
    rule contract (`lns.rule.Rule`) is here: `update` on words, `held`, `held_range`, the
    outputs and bytes per update from the roles, the degenerate check of every constant
    and held value (`DEGENERATE`), JSON.
    """

    HELD_ROLES: dict = {}
    CONSTANT_ROLES: dict = {}
    OPERATIONS: tuple = ()
    RESULT_ROLES: dict = {}
    OUTPUTS: dict = {}
    EXTRA_OUTPUTS: dict = {}
    #: ``{constant or held port: (label, {"1.0" | "0" | "inf": effect})}``
    DEGENERATE: dict = {}
    #: ``{held port: description}`` for the sidecar
    HELD_DOC: dict = {}
    EVALUATORS = ("python", "numpy")
    FORMAT_ROLES: tuple = ("fmt",)
    rounding = Rounding.NEAREST_EVEN        # IEEE's, every operation
    #: Steps at which the held values are checked for degenerate words (the bias
    #: corrections are largest at t = 1 and gone by the late step).
    DEGENERATE_STEPS = (1, 1 << 40)
    #: The field that holds the step size (a trainer's learning rate: `with_lr`).
    LR_FIELD = "lr"
    #: The fields that scale with the gradient (Adam's ``eps``): the update of ``2**k g`` is
    #: the update of ``g`` when each is multiplied by ``2**k`` (`gradient_scale_changes`).
    GRADIENT_SCALED: tuple = ()
    #: Flush to zero (`lns.ieee.ftz`): off here; a rule that offers the mode makes it a
    #: field (`lns.rules.ieee_adam_fast.FloatAdamFastConfig.ftz`).
    ftz = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.OPERATIONS:
            cls.HELD = tuple(cls.HELD_ROLES)
            _check_program(cls)

    # ---- what the subclass implements ------------------------------------------------------
    def _exact_constants(self) -> dict:
        """``{constant: Fraction}``: the exact values the constants are rounded from."""
        return {}

    def _held_word(self, port: str, fmt: FloatFormat, t: int) -> int:
        """Held port ``port`` of step ``t`` as a word of ``fmt``, rounded once."""
        raise NotImplementedError

    # ---- formats --------------------------------------------------------------------------
    def format_of(self, name: str) -> FloatFormat:
        """The format of any value of the program (input, held port, constant, result,
        written role)."""
        return self.value_formats[name]

    @cached_property
    def value_formats(self) -> dict:
        fmts = {k: getattr(self, a) for k, a in {**self.WORD_ROLES, **self.HELD_ROLES,
                                                   **self.CONSTANT_ROLES}.items()}
        for result, op, args in self.OPERATIONS:
            fmts[result] = (getattr(self, self.RESULT_ROLES[result]) if op_spec(op).mixed
                            else fmts[args[0]])
        for role, a in self.EXTRA_OUTPUTS.items():
            fmts[role] = getattr(self, a)
        return fmts

    @property
    def fmt_roles(self) -> dict:
        return {r: getattr(self, r) for r in self.FORMAT_ROLES}

    @property
    def word_formats(self) -> dict:
        """``{role: format}`` of every input word, then every written role that is no input."""
        out = {k: getattr(self, a) for k, a in self.WORD_ROLES.items()}
        out.update({k: getattr(self, a) for k, a in self.EXTRA_OUTPUTS.items()})
        return out

    @property
    def output_roles(self) -> tuple:
        return tuple(self.OUTPUTS)

    @property
    def update_words(self) -> tuple:
        """``(read, written)``: every input word; every written role."""
        return tuple(self.WORD_ROLES), tuple(self.OUTPUTS)

    # ---- constants and held values ---------------------------------------------------------
    @cached_property
    def constants(self) -> dict:
        """``{name: word}``, each rounded once to its format."""
        return {k: round_constant(self.format_of(k), x)
                for k, x in self._exact_constants().items()}

    @property
    def operations(self) -> tuple:
        return self.OPERATIONS

    def held(self, t: int, *, clip=None) -> dict:
        check_step(t)
        return {p: self._held_word(p, self.format_of(p), t) for p in self.HELD_ROLES}

    def held_range(self, port: str) -> tuple[int, int]:
        if port not in self.HELD_ROLES:
            return super().held_range(port)
        return 0, self.format_of(port).word_mask

    def _degenerate(self) -> list:
        """Every constant and held value of `DEGENERATE` held as 1.0, 0 or infinity where
        that breaks the update (held values at `DEGENERATE_STEPS`), with the smallest of
        `FLOAT_FORMATS` that holds it.  With `ftz` a subnormal word is read as 0 by every
        operation, so it is judged as the zero it is read as (`lns.ieee.ftz.daz`)."""
        found = []
        exacts = self._exact_constants()
        read = ((lambda word_in: lambda f: ftz.daz(f, word_in(f))) if self.ftz
                else (lambda word_in: word_in))
        note = " (read as a flushed subnormal with ftz)" if self.ftz else ""
        for key, (label, effects) in self.DEGENERATE.items():
            if key in exacts:
                x = exacts[key]
                d = held_degenerate(key, label, effects, x, self.format_of(key),
                                    read(lambda f, x=x: round_constant(f, x)), note)
            elif key in self.HELD_ROLES:
                d = None
                for t in self.DEGENERATE_STEPS:
                    d = held_degenerate(
                        key, label, effects, self._held_value(key, t), self.format_of(key),
                        read(lambda f, t=t: self._held_word(key, f, t)), f" at step {t}{note}")
                    if d is not None:
                        break
            else:
                continue
            if d is not None:
                found.append(d)
        return found

    def _held_value(self, port: str, t: int) -> float:
        """The held value of step ``t`` as a float64, for messages."""
        f64 = FloatFormat(11, 52, "fp64")
        w = self._held_word(port, f64, t)
        return float(np.array(w, dtype=np.uint64).view(np.float64))

    # ---- the update -----------------------------------------------------------------------
    def check_evaluator(self, evaluator):
        return super().check_evaluator("numpy" if evaluator == "numba" else evaluator)

    def update(self, words: dict, t: int = 1, held: dict | None = None, *, lfsr_state=None,
               evaluator: str | None = None) -> dict:
        """`run_program` on ``words`` with the held ports of step ``t`` (``evaluator``
        ``"python"``: the exact path; ``"numpy"``: the vectorised one)."""
        impl = {"python": "exact", "numpy": "auto"}[self.check_evaluator(evaluator)]
        held = self.check_held(t, held)
        values = {k: np.ravel(ops.check_words(self.format_of(k), np.asarray(words[k]), k)[0])
                  for k in self.WORD_ROLES}
        for p in self.HELD_ROLES:
            values[p] = ops.check_words(self.format_of(p), held[p], p)[0]
        out = run_program(self, values, impl=impl)
        n = len(values[next(iter(self.WORD_ROLES))])
        return {k: np.broadcast_to(np.asarray(out[k], dtype=np.int64), (n,)).ravel().copy()
                for k in self.output_roles}

    def encode_words(self, key: str, x) -> np.ndarray:
        """Float64 values as words of ``key``'s format, nearest even."""
        from ..ieee.fast import from_float
        return np.asarray(from_float(self.word_formats[key], np.asarray(x, np.float64)),
                          dtype=np.int64)

    def weight_range(self) -> tuple[float, float]:
        """The weight format's range; from its smallest normal under flush to zero (no
        subnormal is ever kept: `lns.ieee.ftz`)."""
        lo, hi = super().weight_range()
        if self.ftz:
            lo = math.ldexp(1.0, self.word_formats["w"].emin)
        return lo, hi

    def decode_words(self, key: str, words) -> np.ndarray:
        """Words of ``key``'s format as the float64 values they hold (exact)."""
        from ..ieee.fast import to_floats
        return to_floats(self.word_formats[key], words)

    def with_lr(self, lr: float) -> "FloatProgram":
        """This configuration with step size ``lr`` (`LR_FIELD`)."""
        return self.replace(**{self.LR_FIELD: float(lr)})

    def gradient_scale_changes(self, k: int, eta_log2=None) -> dict:
        """The fields that make this rule's update of ``2**k g`` its update of ``g`` wherever
        no word overflows or flushes: each of `GRADIENT_SCALED` times ``2**k`` (a power of
        two: exact); none for a rule whose step is scale invariant (Madam's ``g_hat``).
        ``eta_log2`` is the LNS rules' argument; an IEEE rule's step size is a field."""
        return {f: getattr(self, f) * 2.0 ** k for f in self.GRADIENT_SCALED}

    def initial_words(self, w0) -> dict:
        w = self.encode_words("w", w0)
        return {k: (w if k == "w" else np.zeros(w.shape, dtype=np.int64))
                for k in self.WORD_ROLES}

    # ---- JSON -----------------------------------------------------------------------------
    def _field_values(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def constant_table(self) -> dict:
        """Each constant as a word and as the value it holds (JSON)."""
        out = {}
        for k, w in self.constants.items():
            f = self.format_of(k)
            out[k] = {"word": f"{w:#0{2 + (f.total_bits + 3) // 4}x}",
                      "value": "inf" if w & ~f.sign_mask == f.pos_inf
                      else float(exact.to_fraction(f, w))}
        return out

    def to_dict(self) -> dict:
        """The config for a JSON sidecar: the rule, every field (formats as tables), the
        constants as words and values."""
        d = {"optimizer": str(self.optimizer)}
        for k, v in self._field_values().items():
            d[k] = v.to_dict() if isinstance(v, FloatFormat) else v
        d["constants"] = self.constant_table()
        return d

    def describe(self) -> dict:
        row = self.to_dict()
        row.update(operations=len(self.OPERATIONS), caveats=list(self.caveats()))
        return row

    DERIVED = ("operations",)

    @classmethod
    def from_dict(cls, data: dict):
        """From `to_dict`'s dict or a `describe` row (formats as names or tables)."""
        kwargs, derived = fields_from_dict(cls, data, parse_format)
        return check_derived(cls(**kwargs), derived)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _check_program(cls) -> None:
    """A program's table is well formed: every operand defined before use, every op
    registered with its arity, one format per non-mixed op, every output a value."""
    defined = {*cls.WORD_ROLES, *cls.HELD_ROLES, *cls.CONSTANT_ROLES}
    for result, op, args in cls.OPERATIONS:
        spec = op_spec(op)
        if len(args) != spec.arity:
            raise InvalidValue(f"{cls.__name__}: {op} takes {spec.arity} operand(s), "
                               f"not {len(args)} ({result})")
        missing = [a for a in args if a not in defined]
        if missing:
            raise InvalidValue(f"{cls.__name__}: {result} reads {missing[0]!r} before it "
                               f"is defined")
        if spec.mixed and result not in cls.RESULT_ROLES:
            raise InvalidValue(f"{cls.__name__}: {result} = {op}(...) needs its format in "
                               f"RESULT_ROLES")
        if result in defined:
            raise InvalidValue(f"{cls.__name__}: {result} is defined twice")
        defined.add(result)
    for role, result in cls.OUTPUTS.items():
        if result not in defined:
            raise InvalidValue(f"{cls.__name__}: output {role} reads {result!r}, which "
                               f"the program does not define")
        if role not in cls.WORD_ROLES and role not in cls.EXTRA_OUTPUTS:
            raise InvalidValue(f"{cls.__name__}: output {role} needs a format: a word role "
                               f"or EXTRA_OUTPUTS")


def run_program(cfg: FloatProgram, values: dict, *, impl: str = "auto") -> dict:
    """The program of ``cfg`` on ``values`` (``{input word or held port: words}``, ints
    or integer arrays, broadcast like numpy): ``{written role: words}``.  Every operation
    is its op's model (`OPS`), so each result is the correctly rounded word of its op;
    ``impl`` ``"exact"`` (integers, one rounding function) or ``"auto"`` (numpy where the
    format has a fast path).  With ``cfg.ftz`` every op is its `OpSpec.ftz` model instead:
    the definition of `lns.ieee.ftz` (subnormal operands read as zeros, results below the
    smallest normal before rounding flushed to zeros of their sign)."""
    if not isinstance(cfg, FloatProgram):
        raise InvalidType(f"cfg must be an IEEE program rule, not {type(cfg).__name__}")
    fmts = cfg.value_formats
    env = dict(cfg.constants)
    env.update(values)
    flush = bool(cfg.ftz)
    for result, op, args in cfg.OPERATIONS:
        spec = OPS[op]
        model = spec.model
        if flush:
            if spec.ftz is None:
                raise InvalidValue(f"op {op!r} has no flush-to-zero form: ftz must be False "
                                   f"for {cfg.name}, not True")
            model = spec.ftz
        env[result] = model(tuple(fmts[a] for a in args), fmts[result],
                            *(env[a] for a in args), impl=impl)
    return {role: env[result] for role, result in cfg.OUTPUTS.items()}
