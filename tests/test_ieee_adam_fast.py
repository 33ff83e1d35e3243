"""Efficient IEEE Adam (`lns.rules.ieee_adam_fast`: fp32_adam_fast, fp12_adam): the held
scalars rounded once (checked by squares in integers and against mpmath), the update op by
op against Berkeley SoftFloat, the narrow format's fast path against the exact one, the
degenerate values, the rule contract (JSON, counts, bytes), the unit on the simulators and
a flipped constant caught."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from lns import presets
from lns.errors import InvalidType, InvalidValue
from lns.ieee import FLOAT_FORMATS, exact
from lns.ieee.softfloat import softfloat_apply
from lns.rules.ieee_adam_fast import (FP12, FP12_EPS, OPERATIONS, FloatAdamFastConfig,
                                      scaled_root_word)
from sim.cli import main

FP32, BF16 = FLOAT_FORMATS["fp32"], FLOAT_FORMATS["bf16"]


def _nearest_root(fmt, w, x2: Fraction) -> bool:
    """``w`` is the word nearest to sqrt(x2): x2 against the squared midpoints beside it."""
    v = exact.to_fraction(fmt, w)
    for nb in (w - 1, w + 1):
        if 0 <= nb < fmt.pos_inf:
            mid2 = ((v + exact.to_fraction(fmt, nb)) / 2) ** 2
            if (nb > w and not (x2 < mid2 or (x2 == mid2 and w % 2 == 0))) or \
                    (nb < w and not (x2 > mid2 or (x2 == mid2 and w % 2 == 0))):
                return False
    return True


@pytest.mark.parametrize("fmt", [FP32, BF16, FP12])
@pytest.mark.parametrize("t", [1, 2, 3, 10, 100, 1000])
def test_held_scalars_are_rounded_once_from_exact_values(fmt, t):
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8 if fmt != FP12 else FP12_EPS
    y1, y2 = Fraction(b1) ** t, Fraction(b2) ** t
    alpha2 = Fraction(lr) ** 2 * (1 - y2) / (1 - y1) ** 2
    eps2 = Fraction(eps) ** 2 * (1 - y2)
    cfg = FloatAdamFastConfig(fmt, eps=eps)
    h = cfg.held(t)
    assert _nearest_root(fmt, h["alpha_t"], alpha2)
    assert _nearest_root(fmt, h["eps_t"], eps2)


def test_held_scalars_at_late_steps_against_mpmath():
    """Late steps take the bounds on beta**t: mpmath at 60 digits is the oracle."""
    import mpmath
    mpmath.mp.dps = 60
    for t in (5000, 12345, 10 ** 6, 2 ** 40):
        for fmt in (FP32, BF16):
            a = (mpmath.mpf(1e-3) * mpmath.sqrt(1 - mpmath.mpf(0.999) ** t)
                 / (1 - mpmath.mpf(0.9) ** t))
            want = exact.round_to_format(fmt, 0, Fraction(*mpmath.mpf(a).as_integer_ratio()))
            assert scaled_root_word(fmt, 1e-3, 0.999, t, 0.9) == want
    # once beta**t is gone the words are lr's and eps's, rounded once
    cfg = presets.get("fp32_adam_fast")
    assert cfg.held(2 ** 40) == {"alpha_t": 0x3A83126F, "eps_t": 0x322BCC77}


def test_the_program_and_its_constants():
    cfg = presets.get("fp32_adam_fast")
    assert len(OPERATIONS) == 12
    kinds = [op for _, op, _ in OPERATIONS]
    assert kinds.count("mul") == 2 and kinds.count("mulc") == 2      # c1 (g - m), c2 (gg - v)
    assert [args[0] for _, op, args in OPERATIONS if op == "mulc"] == ["c1", "c2"]
    assert cfg.constants == {"c1": 0x3DCCCCCD, "c2": 0x3A83126F}
    assert cfg.HELD == ("alpha_t", "eps_t")
    # 1 - 0.999 formed exactly, then rounded once (not 1 - round(0.999))
    assert cfg.constants["c2"] == exact.round_to_format(FP32, 0, 1 - Fraction(0.999))
    assert presets.get("fp12_adam").fmt == FP12 and presets.get("fp12_adam").eps == 2 ** -14


def _adam_like(cfg, n, seed):
    from testbench.recipes.float_adam import adam_like_words
    return adam_like_words(cfg, n, np.random.default_rng(seed))


@pytest.mark.parametrize("t", [1, 7, 1000])
def test_update_op_by_op_against_softfloat(t):
    """fp32: each operation of the table computed by SoftFloat on the previous SoftFloat
    results (mulc: SoftFloat's mul, the same correctly rounded product); the rule's words
    equal the last ones (both evaluators)."""
    cfg = presets.get("fp32_adam_fast")
    words = _adam_like(cfg, 400, t)
    rng = np.random.default_rng(t)
    words["g"][:40] = rng.integers(0, 1 << 32, 40)              # any bit pattern too
    words["v"][40:80] = rng.integers(0, 1 << 32, 40)
    env = {k: np.asarray(v) for k, v in words.items()}
    env.update({k: np.full(400, w) for k, w in {**cfg.constants, **cfg.held(t)}.items()})
    for result, op, args in OPERATIONS:
        env[result] = softfloat_apply(FP32, "mul" if op == "mulc" else op,
                                      *(env[a] for a in args)).astype(np.int64)
    for ev in ("numpy", "python"):
        out = cfg.update(words, t, evaluator=ev)
        for role, result in cfg.OUTPUTS.items():
            assert out[role].tolist() == env[result].tolist(), (ev, role)


def test_fp12_fast_path_equals_the_exact_one():
    cfg = presets.get("fp12_adam")
    rng = np.random.default_rng(2)
    words = _adam_like(cfg, 2000, 3)
    for k in "wgmv":
        words[k][:500] = rng.integers(0, 1 << 12, 500)
    for t in (1, 50, 10 ** 6):
        a = cfg.update(words, t, evaluator="numpy")
        b = cfg.update(words, t, evaluator="python")
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_fast_and_literal_units_agree_within_rounding():
    """The efficient form is the same update as the literal one in exact arithmetic: on
    typical words the two fp32 units' new weights differ by a few ulps of the step."""
    fast, lit = presets.get("fp32_adam_fast"), presets.get("fp32_adam")
    words = _adam_like(fast, 2000, 9)
    for t in (1, 10, 1000):
        a, b = fast.update(words, t), lit.update(words, t)
        f = lambda w: np.asarray(w, np.uint32).view(np.float32).astype(np.float64)  # noqa
        w0 = f(words["w"])
        step_a, step_b = f(a["w"]) - w0, f(b["w"]) - w0
        ok = np.isfinite(step_b) & (np.abs(step_b) > 0)
        rel = np.abs(step_a[ok] - step_b[ok]) / np.abs(step_b[ok])
        assert np.median(rel) < 1e-5 and np.mean(rel < 1e-3) > 0.99


def test_degenerate_values_are_refused_with_the_remedy():
    with pytest.raises(InvalidValue, match=r"eps_t must be held by e5m6 as more than 0, not "
                       r"3\.16.*at step 1.*divides by zero.*bf16 is the smallest format"):
        FloatAdamFastConfig(FP12)
    with pytest.raises(InvalidValue, match="alpha_t must be held by e5m6 as a finite value"):
        FloatAdamFastConfig(FP12, lr=1e6, eps=FP12_EPS)
    cfg = FloatAdamFastConfig(FP12, allow_degenerate=True)
    assert cfg.caveats() == ("eps_t 3.1622776601683806e-10 rounds to 0 in e5m6 at step 1: "
                             "where v' = 0, sqrt(v') + eps_t is 0 and the update divides by "
                             "zero (NaN or an infinite step)",)
    with pytest.raises(InvalidValue, match="beta2 must be strictly between 0.0 and 1.0"):
        FloatAdamFastConfig(FP32, beta2=1.0)
    with pytest.raises(InvalidType, match="fmt must be a FloatFormat, not str"):
        FloatAdamFastConfig("fp32")
    with pytest.raises(InvalidValue, match="bits must be 12, 16 or 32"):
        presets.get("fp32_adam_fast").at_width(8)


def test_contract_json_counts_and_bytes():
    from lns.registry import config_class
    from sim.analysis.ops import operation_counts
    cfg = presets.get("fp32_adam_fast")
    assert config_class("float_adam_fast") is FloatAdamFastConfig
    again = FloatAdamFastConfig.from_dict(json.loads(json.dumps(cfg.describe())))
    assert again == cfg and again.name == "fp32_adam_fast"
    assert cfg.update_bytes == 28 and presets.get("fp12_adam").update_bytes == 10.5
    c = operation_counts(cfg)
    assert c["totals"] == {"fp_mul": 4, "fp_add": 6, "fp_exp": 0, "fp_sqrt": 1, "fp_div": 1,
                           "fp_compare": 0}
    assert presets.for_bits("float_adam_fast", 12) == presets.get("fp12_adam").replace(
        name="e5m6_adam_fast")
    with pytest.raises(InvalidValue, match="operations must be 12"):
        FloatAdamFastConfig.from_dict({**cfg.describe(), "operations": 14})


def test_sidecar_schedule_and_latency():
    from rtl.design import design
    from rtl.float_program import program_stages, schedule
    cfg = presets.get("fp12_adam")
    d = design(cfg)
    meta = json.loads(d.sidecar.read_text())
    assert meta["latency"] == program_stages(cfg) - 1 == d.latency
    assert [s["result"] for s in meta["schedule"]] == [r for r, *_ in schedule(cfg)]
    assert set(meta["ports"]) >= {"in_w", "in_g", "in_m", "in_v", "alpha_t", "eps_t",
                                  "out_w", "out_m", "out_v"}


def test_fp12_on_icarus_and_a_flipped_constant_is_caught(tmp_path):
    from testbench import evaluate, faults, vectors
    from testbench.tools import Simulator
    cfg = presets.get("fp12_adam")
    vs = vectors.generate(cfg, 1500, seed=3)
    r = evaluate.evaluate(vs, (Simulator.ICARUS,), python_sample=50)
    assert r["ok"], r
    path = faults.faulty_verilog(cfg, "constant", tmp_path, constant="c2", bit=0)
    r = evaluate.evaluate(vs, (Simulator.ICARUS,), verilog=path, python_sample=50)
    assert not r["ok"] and r["evaluators"]["icarus"]["mismatches"] > 0


@pytest.mark.parametrize("preset", ["fp32_adam_fast", "fp12_adam"])
def test_cli_all_simulators(preset, capsys):
    rc = main(["testbench", "--preset", preset, "--sim", "all", "--vectors", "3000",
               "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err[-3000:]
    data = json.loads(out)
    assert data["ok"] is True
    for ev in ("numpy", "icarus", "verilator"):
        assert data[ev] == {"vectors": 3000, "mismatches": 0}


def _e3m1():
    from lns.ieee import FloatFormat
    # 5-bit words: every (w, g, m, v) is 2**20 cases a step; constants that the format holds
    return FloatAdamFastConfig(FloatFormat(3, 1), lr=0.25, beta1=0.5, beta2=0.75, eps=0.25,
                               name="e3m1_adam_fast")


def test_reduced_format_exhaustive_set_model_paths_agree():
    from testbench.recipes import float_adam
    cfg = _e3m1()
    assert cfg.constants == {"c1": 4, "c2": 2}                 # 0.5 and 0.25
    assert cfg.held(1) == {"alpha_t": 2, "eps_t": 1}           # 0.25 and 0.125 (subnormal)
    (g1, words), (g2, _) = float_adam.exhaustive(cfg)
    assert (g1.t, g2.t) == (1, 1000) and len(words["w"]) == 1 << 20
    idx = np.random.default_rng(1).choice(1 << 20, 4000, replace=False)
    sub = {k: v[idx] for k, v in words.items()}
    a, b = cfg.update(sub, 1), cfg.update(sub, 1, evaluator="python")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert float_adam.exhaustive(presets.get("fp12_adam")) is None


def test_reduced_format_exhaustive_on_verilator():
    """Every (w, g, m, v) of 5-bit words at steps 1 and 1000 (2,097,152 vectors) on
    Verilator against the model (slow: the build and 2M vectors)."""
    from testbench import evaluate, vectors
    from testbench.tools import Simulator
    vs = vectors.exhaustive(_e3m1())
    r = evaluate.evaluate(vs, (Simulator.VERILATOR,), python_sample=2000)
    assert r["ok"] and r["evaluators"]["verilator"] == {"vectors": 1 << 21, "mismatches": 0}
