"""Training with each IEEE unit's bit-exact update (`sim.analysis.training.units`): the
tensor against the float64 references, the gradient scale, the methods' contract, the
rows and the command."""

import json

import numpy as np
import pytest

from lns import presets
from lns.errors import InvalidValue
from python_ref import Adam, AdamBF16Grad, Madam
from sim.analysis.training.methods import Method
from sim.cli import main
from sim.analysis.training.runs import train_run
from sim.analysis.training.units import (TRAIN_FLOOR, UNIT_PRESETS, UnitMethod, UnitTensor,
                                         run_units)


def _grads(shape, steps, seed=3, scale=1e-2):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for _ in range(steps)]


def test_every_ieee_preset_is_a_unit_method():
    # the registry's "ieee" number system, not a list kept here
    assert set(UNIT_PRESETS) == {"fp32_adam", "bf16_adam", "fp32_adam_fast",
                                 "fp32_adam_fast_ftz", "mp_adam", "fp12_adam", "fp32_madam",
                                 "fp12_madam"}


@pytest.mark.parametrize("preset", ["fp32_adam", "fp32_adam_fast", "mp_adam"])
def test_fp32_adam_units_follow_float64_adam(preset):
    # fp32 arithmetic, one rounding an operation: within a few fp32 ulps of each step of
    # float64 Adam (mp_adam against Adam on the gradient rounded to bf16: the reference of
    # mixed precision)
    rng = np.random.default_rng(0)
    w0 = 0.1 * rng.standard_normal(200)
    unit = UnitTensor(presets.get(preset).with_lr(1e-2), w0)
    ref = (AdamBF16Grad if preset == "mp_adam" else Adam)(w0.copy(), lr=1e-2)
    w = w0
    for g in _grads(w0.shape, 5):
        got = unit.step(None, g)
        w = ref.step(w, g)
    tol = 1e-5
    # each weight moved by up to 5 lr; compare the movement
    np.testing.assert_allclose(got - w0, w - w0, rtol=tol, atol=tol * 1e-2)
    assert np.max(np.abs(got - w0)) > 1e-2          # it really moved


def test_fp32_madam_unit_follows_float64_madam():
    rng = np.random.default_rng(1)
    w0 = 0.1 * rng.standard_normal(300)
    eta = 2.0 ** -5
    unit = UnitTensor(presets.get("fp32_madam").with_lr(eta), w0)
    ref = Madam(w0.copy(), eta=eta, base=2)
    w = w0
    for g in _grads(w0.shape, 4, seed=5):
        got = unit.step(None, g)
        w = ref.step(w, g)
    np.testing.assert_allclose(got, w, rtol=1e-5)
    assert np.max(np.abs(got / w0 - 1)) > 0.05


def test_a_power_of_two_gradient_scale_changes_no_word():
    # Adam's update of (2**7 g, 2**7 eps) is its update of (g, eps); the tensor's own scale
    # (the first batch's largest |g| to [1, 2)) keeps it so by scaling eps with the gradient
    cfg = presets.get("fp32_adam_fast").replace(eps=1e-2)      # large enough to matter
    rng = np.random.default_rng(2)
    w0 = 0.1 * rng.standard_normal(100)
    grads = _grads(w0.shape, 3, scale=1e-3)
    a = UnitTensor(cfg, w0)
    b = UnitTensor(cfg.replace(eps=1e-2 * 2.0 ** 7), w0)
    for g in grads:
        a.step(None, g)
        b.step(None, g * 2.0 ** 7)
    np.testing.assert_array_equal(a.words["w"], b.words["w"])
    assert a.scale == b.scale * 2.0 ** 7 and a.scale > 1
    assert a.active_cfg.eps == 1e-2 * a.scale
    # and the eps scaling is what makes it so: with eps left alone the weights differ
    c = UnitTensor(cfg, w0)
    c.scale = 1.0                                         # the tensor scales nothing
    for g in grads:
        c.step(None, g * a.scale)
    assert np.any(c.words["w"] != a.words["w"])


def test_weights_are_the_words_rounded_before_any_step():
    w0 = np.array([1 / 3, -0.1, 2.0, 0.0])
    t = UnitTensor(presets.get("fp12_madam"), w0)
    w = t.weights()
    assert w[2] == 2.0 and w[3] == 0.0                   # exact in FloatFormat(5, 6)
    # 1/3 to 6 fraction bits: 1.010101 x 2**-2 rounds to 1.010101 (0.33203125)
    assert w[0] == 0.33203125 and w[1] < 0


def test_methods_contract():
    m = Method.parse("unit_fp32_madam")
    assert isinstance(m, UnitMethod) and m.key == "unit_fp32_madam"
    assert not m.moves_zero and m.twin.key == "madam" and not m.is_lns
    a = Method.parse(UnitMethod("mp_adam"))
    assert a.moves_zero and a.twin.key == "adam" and a.default_lr == 1e-3
    assert presets.get("fp32_madam").with_lr(0.25).eta == 0.25
    assert presets.get("fp12_adam").with_lr(0.25).lr == 0.25
    with pytest.raises(InvalidValue, match="unit_fp32_madam"):
        Method.parse("unit_lns12")
    with pytest.raises(InvalidValue, match="preset must be one of fp32_adam"):
        UnitMethod("lns12")


def test_madam_unit_leaves_the_biases_to_adam_and_trains():
    # Madam cannot move a zero weight: the biases (zero at the start) train by Adam, as in
    # every Madam row, and the digits are learnt in two epochs
    run = train_run("mlp", "unit_fp32_madam", 0, epochs=2, lr=2.0 ** -6)
    assert run["method"] == "unit_fp32_madam"
    assert run["test_err"] < 0.2 and run["curves"]["test_err"][1] < 0.5


def test_rows_carry_the_verdict_and_the_paired_gap():
    u = run_units(True, units=("fp12_adam", "fp32_adam_fast"), seeds=(0, 1), epochs=2,
                  tune_lr=False)
    assert [r["preset"] for r in u["rows"]] == ["fp12_adam", "fp32_adam_fast"]
    assert [t["optimizer"] for t in u["twins"]] == ["adam"]
    for r in u["rows"]:
        assert r["trains"] == (r["test_acc_mean"] >= TRAIN_FLOOR)
        assert r["vs_twin"]["seeds"] == [0, 1]
        assert len(r["runs"]) == 2
    fast = u["rows"][1]
    # fp32 at lr 1e-3 for two epochs: the float64 twin's accuracy to within a sample
    assert abs(fast["vs_twin"]["diff_mean"]) < 0.5
    assert u["cpu_seconds"] > 0


def test_cli_units_json(capsys):
    rc = main(["train", "--units", "--quick", "--seeds", "1", "--epochs", "1", "--no-tune",
               "--json"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    rows = result["units"]["rows"]
    assert [r["preset"] for r in rows] == list(UNIT_PRESETS)
    assert all(isinstance(r["trains"], bool) for r in rows)
    assert "rows" not in result                 # the table part was not run
