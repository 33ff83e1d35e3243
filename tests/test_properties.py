"""Property: any `LNSFormat` / `MadamConfig` either fails at construction with one clear line
(an `lns.errors.InputError`, still a ValueError / TypeError), or is a config whose Verilog
lints clean on Verilator and matches the model on 1,000 vectors (Icarus, Numba, Python).

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
from lns.errors import InputError

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
    from testbench import evaluate, vectors
    try:
        cfg = _config(fields)
    except (ValueError, TypeError) as exc:
        assert isinstance(exc, InputError), repr(exc)
        text = str(exc)
        assert "\n" not in text and " must " in text, text
        event(f"rejected: {text.split(' must ')[0]}")
        return
    event("built and simulated")
    d = design(cfg, 1)
    _lint(d.verilog)
    vs = vectors.generate(cfg, 1000, seed=3)
    out = io.StringIO()
    res = evaluate.evaluate(vs, ("icarus",), design=d, python_sample=300, rng_seed=3,
                            out=out, failures_dir=None)
    assert res["ok"], out.getvalue()[-3000:]
    assert res["evaluators"]["icarus"]["vectors"] == len(vs) >= 1000
