"""Property, for every rule of the registry: any configuration either fails at
construction with one clear line (an `lns.errors.InputError`, still a ValueError /
TypeError), or is a config whose Verilog lints clean on Verilator and matches the model on
1,000 vectors of the one verification path (Icarus, the reference evaluator, Python).

Madam's configs come from a strategy of their own (`config_fields`, every field over its
whole range); every rule's (Madam's too) from `rule_configs`, which varies each field of a
preset of the rule around its value (formats, hyperparameters, modes), so most draws are
valid and the rest test the rule's checks.

Few examples (each valid one generates, lints and simulates a design), derandomized so every
run draws the same ones; designs and simulator builds are cached by content, so a rerun is
quick.  The `example`s pin the cases issue 12 found: each was accepted and then failed
somewhere downstream.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from rtl.design import design
from lns import LNSFormat, MadamConfig
from lns import presets
from lns.errors import InputError
from lns.registry import rules

VERILATOR_BIN = Path(__import__("verilator").__file__).parent / "bin"
ALLOWED_WARNINGS = {"%Warning-DECLFILENAME", "%Warning-PROCASSINIT", "%Warning-UNUSEDSIGNAL",
                    "%Warning-WIDTHEXPAND", "%Warning-WIDTHTRUNC"}   # as test_rtl_verilog

# Bias: centred or near the centre; the weight's sometimes anywhere in the allowed range
# (where float64's limits reject most; so do 11 and 12 integer bits about a small bias).
BIAS = st.none() | st.integers(-48, 48)
WIDE_BIAS = BIAS | st.integers(-4096, 4096)


def _format(signed: bool, frac_bits, bias=BIAS, int_bits=st.integers(1, 10)):
    return st.builds(dict, int_bits=int_bits, frac_bits=frac_bits, bias=bias,
                     signed=st.just(signed),
                     underflow=st.sampled_from(["flush", "saturate"]))


@st.composite
def config_fields(draw):
    """Keyword arguments of a MadamConfig (formats as dicts): widths small enough to
    simulate in seconds, hyperparameters over their whole range, extremes included."""
    grad = draw(_format(True, st.integers(0, 8)))
    # mostly a moment that holds g**2 exactly (frac_bits >= grad's - 1), sometimes not
    fv = draw(st.integers(max(grad["frac_bits"] - 1, 0), 9) | st.integers(0, 9))
    return {
        "weight": draw(_format(True, st.integers(0, 10), WIDE_BIAS, st.integers(1, 12))),
        "grad": grad,
        "moment": draw(_format(False, st.just(fv))),
        "eta_log2": draw(st.integers(-24, 0)),
        "beta": draw(st.sampled_from([0.9, 0.99, 0.999]) | st.floats(1e-7, 1 - 1e-12)),
        "g_bound": draw(st.floats(-12.0, 16.0).map(lambda e: 10.0 ** e)),
        "normaliser": draw(st.sampled_from(["rms", "sign"])),
        "rounding": draw(st.sampled_from(["nearest_even", "stochastic"])),
        "table": draw(st.sampled_from(["direct", "interp"])),
        "step_frac_bits": draw(st.integers(0, 8)),
        "exp_bits": draw(st.integers(1, 16)),
    }


def _config(fields: dict) -> MadamConfig:
    kw = dict(fields)
    for role in ("weight", "grad", "moment"):
        kw[role] = LNSFormat(**kw[role])
    return MadamConfig(name="prop", **kw)


def _lint(verilog: Path):
    env = dict(os.environ, PATH=f"{VERILATOR_BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("VERILATOR_ROOT", None)
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-fatal", str(verilog)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "%Error" not in proc.stderr, proc.stderr[-2000:]
    kinds = {line.split(":")[0] for line in proc.stderr.splitlines()
             if line.startswith("%Warning")}
    assert kinds <= ALLOWED_WARNINGS, proc.stderr[-2000:]


def _fmt(int_bits, frac_bits, bias=None, signed=True, underflow="flush"):
    return dict(int_bits=int_bits, frac_bits=frac_bits, bias=bias, signed=signed,
                underflow=underflow)


_BASE = dict(weight=_fmt(4, 5, 12), grad=_fmt(4, 3, 10), moment=_fmt(6, 4, 30, signed=False),
             eta_log2=-5, beta=0.999, g_bound=10.0, normaliser="rms",
             rounding="nearest_even", table="direct", step_frac_bits=4, exp_bits=8)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(config_fields())
@example(_BASE)                                                   # a valid config
@example({**_BASE, "rounding": "stochastic", "normaliser": "sign"})
@example({**_BASE, "beta": 3e-4})                                 # x_bc would have no bits
@example({**_BASE, "g_bound": 1e-9})                              # the step below the shifter
@example({**_BASE, "g_bound": 1e15})                              # the step beyond 64 bits
@example({**_BASE, "weight": _fmt(12, 12, -4096)})                # magnitudes beyond float64
@example({**_BASE, "weight": _fmt(12, 12, 4096)})                 # ... and below it
@example({**_BASE, "weight": _fmt(1, 0), "grad": _fmt(1, 0, -2),     # L can only be 0: it
           "moment": _fmt(1, 0, signed=False), "eta_log2": 0, "beta": 0.9,  # was a zero-width
           "g_bound": 1.0, "step_frac_bits": 0, "exp_bits": 1})       # signal (ASCRANGE)
def test_config_is_rejected_clearly_or_builds_and_matches_the_model(fields):
    _rejected_clearly_or_matches(lambda: _config(fields))


def _event(text):
    from hypothesis.control import currently_in_test_context
    if currently_in_test_context():
        event(text)


def _rejected_clearly_or_matches(make):
    from testbench import evaluate, vectors
    try:
        cfg = make()
    except (ValueError, TypeError) as exc:
        assert isinstance(exc, InputError), repr(exc)
        text = str(exc)
        assert "\n" not in text and " must " in text, text
        _event(f"rejected: {text.split(' must ')[0]}")
        return
    assert not _held_port_without_bits(cfg), f"{cfg!r}: a held port would have no bits"
    _event("built and simulated")
    d = design(cfg, 1)
    _lint(d.verilog)
    vs = vectors.generate(cfg, 1000, seed=3)
    out = io.StringIO()
    res = evaluate.evaluate(vs, ("icarus",), design=d, python_sample=300, rng_seed=3,
                            out=out, failures_dir=None)
    assert res["ok"], out.getvalue()[-3000:]
    assert res["evaluators"]["icarus"]["vectors"] == len(vs) >= 1000
    assert res["evaluators"][cfg.reference_evaluator]["mismatches"] == 0


# ---- every rule ---------------------------------------------------------------------------------
def _base(rule):
    """The preset a rule's configs vary around (its family's base, as `for_bits` builds)."""
    from lns.registry import config_class
    return presets.get(config_class(rule).FAMILY_BASE)


def _variant(name, value):
    """A strategy of values for one field of a configuration: its own value or a variant
    of the same kind (formats near it, a float over its range, a nearby int, any member of
    an enum)."""
    import dataclasses
    import enum
    from lns.ieee.format import FLOAT_FORMATS, FloatFormat
    if isinstance(value, LNSFormat):
        fmt = st.builds(dict, int_bits=st.integers(max(1, value.int_bits - 2),
                                                   value.int_bits + 1),
                        frac_bits=st.integers(max(0, value.frac_bits - 3), value.frac_bits + 1),
                        bias=st.just(value.bias) | BIAS, signed=st.just(value.signed),
                        underflow=st.sampled_from(["flush", "saturate"]))
        return st.just(value) | fmt.map(lambda d: LNSFormat(**d))
    if isinstance(value, FloatFormat):       # (fp32's unit takes minutes to generate)
        return st.sampled_from([FLOAT_FORMATS["bf16"], FLOAT_FORMATS["fp16"]])
    if isinstance(value, enum.Enum):
        return st.sampled_from([value, *type(value)])
    if isinstance(value, bool) or dataclasses.is_dataclass(value):
        return st.just(value)
    if isinstance(value, int):
        return st.just(value) | st.integers(value - 4, value + 4)
    if isinstance(value, float):
        if 0.0 < value < 1.0:
            return st.just(value) | st.sampled_from([0.5, 0.9, 0.99, 0.999]) \
                | st.floats(1e-7, 1 - 1e-12)
        return st.just(value) | st.floats(-12.0, 16.0).map(lambda e: 10.0 ** e)
    return st.just(value)


@st.composite
def rule_configs(draw, rule):
    """A thunk making a configuration of ``rule``: each field of its base preset kept or
    varied (`_variant`); the construction (and its error) happens in the test."""
    import dataclasses
    base = _base(rule)
    kw = {}
    for f in dataclasses.fields(base):
        value = getattr(base, f.name)
        if f.name == "name" or not f.init:
            continue
        kw[f.name] = draw(_variant(f.name, value), label=f.name)
    return _Make(type(base), dict(kw, name=f"prop_{rule}"))


class _Make:
    """Makes a configuration when called (its error is part of the property); its repr
    names every field, so a falsifying example reads as the config it is."""

    def __init__(self, cls, kw):
        self.cls, self.kw = cls, kw

    def __call__(self):
        return self.cls(**self.kw)

    def __repr__(self):
        return f"{self.cls.__name__}({', '.join(f'{k}={v!r}' for k, v in self.kw.items())})"


def _held_port_without_bits(cfg) -> bool:
    """Whether a held port of ``cfg`` would have no bits (its only value 0 at every step,
    as Madam's ``x_bc`` with a tiny beta, which its config rejects)."""
    return any(lo == hi == 0 for lo, hi in map(cfg.held_range, cfg.HELD))


def test_a_held_port_without_bits_is_rejected():
    """Found by the property below: LNS Adam with beta2 = 1e-7 (log2(1 - beta2**t) rounds
    to 0 at every t) built a unit whose x_bc2 port had no bits; now rejected as Madam's
    beta is."""
    from lns.modes import Optimizer
    base = _base(Optimizer.ADAM)
    with pytest.raises(ValueError, match=r"^beta2 must be above 0\.0003384 for a moment of "
                                         r"10 fractional bits \(below, log2\(1 - beta2\) "
                                         r"rounds to 0 and its bias correction has no bits\), "
                                         r"not 1e-07$"):
        base.replace(beta2=1e-7)
    with pytest.raises(ValueError, match=r"^beta1 must be above"):
        base.replace(beta1=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("rule", rules(), ids=str)
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_rule_config_is_rejected_clearly_or_matches_the_model(rule, data):
    make = data.draw(rule_configs(rule), label="config")
    _rejected_clearly_or_matches(make)
