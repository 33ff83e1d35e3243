"""sim.analysis.training: the sigma* sweep (clips in Xavier units, the same for float and LNS
Madam; none never clips) and the eta-halving schedule (ends at one weight LSB)."""

import math

import numpy as np
import pytest

import lns
from lns.presets import config_for_bits
from python_ref import Adam, Madam
from sim.analysis.training import (LNSTensor, halving_schedule, init_params, run_schedule,
                                   run_sigma_sweep, xavier_scales)
from sim.analysis.training.runs import _optimizers
from sim.analysis.training.sigma import sigma_verdict
from sim.analysis.training.stats import compare_runs


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_halving_schedule_ends_at_one_lsb(bits):
    fw = config_for_bits(bits).weight.frac_bits          # 3, 7, 10
    s = halving_schedule(fw, 40, 5)
    assert s[0] == -6 and all(b - a in (0, -1) for a, b in zip(s, s[1:]))
    if fw >= 6:
        assert 2.0 ** s[-1] * 2 ** fw == 1.0              # eta = one LSB of the weight's log
        assert s.index(-fw) == 5 * (fw - 6)               # one halving every 5 epochs
    else:
        assert set(s) == {-6}                             # 2^-6 is already below one LSB


def test_sigma_clips_are_xavier_multiples_for_float_and_lns():
    params = init_params(np.random.default_rng(0))
    xav = xavier_scales(params)
    assert xav[0] == pytest.approx(math.sqrt(2 / (64 + 64)))
    assert xav[2] == pytest.approx(math.sqrt(2 / (64 + 10)))
    cfg = config_for_bits(12)
    for c in (0.5, 2.0):
        fl, _ = _optimizers("madam", params, cfg=None, lr=2 ** -7, momentum=0.9,
                            bias_lr=1e-3, seed=0, clip_xavier=c)
        ln, _ = _optimizers("lns", params, cfg=cfg, lr=2 ** -7, momentum=0.9, bias_lr=1e-3,
                            seed=0, clip_xavier=c)
        for i in (0, 2):
            assert isinstance(fl[i], Madam) and float(fl[i].sigma_star) == pytest.approx(
                c * xav[i], rel=1e-12)
            assert isinstance(ln[i], LNSTensor)
            assert ln[i].clip == int(lns.encode(cfg.weight, c * xav[i]))
    fl, mine = _optimizers("madam", params, cfg=None, lr=2 ** -7, momentum=0.9, bias_lr=1e-3,
                           seed=0, clip_xavier=math.inf)
    ln, _ = _optimizers("lns", params, cfg=cfg, lr=2 ** -7, momentum=0.9, bias_lr=1e-3, seed=0,
                        clip_xavier=math.inf)
    assert math.isinf(fl[0].sigma_star) and ln[0].clip == cfg.weight.e_max
    # Madam cannot move a zero weight: the biases (indices 1, 3) go to float Adam
    assert mine == [True, False, True, False] and isinstance(fl[1], Adam)


def _row(clip, loss, gap, seeds=(0, 1, 2)):
    runs = [{"seed": s, "test_loss": loss + 0.01 * s, "train_loss": loss + 0.01 * s - gap,
             "test_err": 0.05, "curves": {"test_err": [0.05]}} for s in seeds]
    return {"clip": clip, "clip_name": "none" if math.isinf(clip) else f"{clip:g}",
            "label": f"c{clip}", "runs": runs, "test_loss_mean": loss + 0.01,
            "test_err_mean": 5.0, "gap_mean": gap}


def test_sigma_verdict_from_numbers():
    rows = [_row(0.5, 0.40, 0.01), _row(2.0, 0.20, 0.05), _row(5.0, 0.30, 0.10),
            _row(math.inf, 0.35, 0.20)]
    v = sigma_verdict("X", rows)
    assert v["best_clip"] == "2" and v["best_in_1_3"] is True
    cmp = v["verdict"]["in_vs_out"]
    assert cmp["diff_mean"] == pytest.approx(0.20 - 0.30) and cmp["verdict"] == "better"
    assert v["verdict"]["gap"]["diff_mean"] == pytest.approx(0.01 - 0.20)
    assert "'best between 1 and 3 x Xavier' holds" in v["verdict"]["text"]
    rows[0] = _row(0.5, 0.10, 0.01)
    assert sigma_verdict("X", rows)["best_in_1_3"] is False


def test_sigma_sweep_on_another_task_trains_the_mlp_at_its_width(tmp_path, monkeypatch):
    # MNIST-1D: 40 inputs, so W1 is 40 x 64 and its Xavier scale sqrt(2 / 104); the runs
    # see the task's own test split (1,000 examples: errors in steps of 0.1 %)
    s = run_sigma_sweep(True, seeds=(0,), bits=(8,), epochs=1, clips=(2.0,), task="mnist1d",
                        eta_log2=-4)
    assert s["task"] == "mnist1d" and s["eta_log2"] == -4
    for c in s["configs"]:
        (run,) = c["rows"][0]["runs"]
        assert round(run["test_err"] * 1000) == pytest.approx(run["test_err"] * 1000)
        assert run["eta"] == 2.0 ** -4
    # the plot's title names the task the sweep trained on
    import matplotlib.figure
    from sim.analysis.training import plot_sigma
    titles, suptitle = [], matplotlib.figure.Figure.suptitle
    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle",
                        lambda fig, text, **kw: titles.append(text) or suptitle(fig, text, **kw))
    plot_sigma(s, tmp_path / "sigma.png")
    assert (tmp_path / "sigma.png").stat().st_size > 0
    assert titles[0].startswith("sigma* sweep: MNIST-1D MLP, 1 epochs"), titles
    digits = run_sigma_sweep(True, seeds=(0,), bits=(8,), epochs=1, clips=(2.0,))
    assert digits["task"] == "digits"
    # 450 digits test images: errors in steps of 1/450
    (run,) = digits["configs"][0]["rows"][0]["runs"]
    assert round(run["test_err"] * 450) == pytest.approx(run["test_err"] * 450)


def test_tiny_sigma_sweep_and_schedule_runs():
    s = run_sigma_sweep(True, seeds=(0, 1), bits=(8,), epochs=1, clips=(1.0, math.inf))
    assert [c["name"] for c in s["configs"]] == ["Madam, base 2", "LNS Madam 8-bit"]
    assert s["clip_names"] == ["1", "none"] and s["clips"] == [1.0, None]
    row = s["configs"][1]["rows"][0]
    assert row["gap_mean"] == pytest.approx(np.mean([r["test_loss"] - r["train_loss"]
                                                     for r in row["runs"]]))
    h = run_schedule(True, seeds=(0, 1), bits=(12,), epochs=2, every=1)
    w = h["widths"][0]
    assert w["schedule"] == [-6, -7] and w["scheduled"]["runs"][0]["eta"] == 2.0 ** -7
    again = compare_runs(w["scheduled"]["label"], w["scheduled"]["runs"],
                         w["constant"]["label"], w["constant"]["runs"])
    assert w["comparison"]["diff_mean"] == again["diff_mean"]
