"""sim.analysis.training: the MLP's gradients, the LNS tensor, training on digits (LNS Madam, Adam,
SGD and Lion beside float Madam, Adam, SGD and Lion), tuned learning rates, curves, the
verdicts, `lnsmadam train`."""

import json

import numpy as np
import pytest

import lns
from lns.presets import config_for_bits
from sim.cli import main
from sim.analysis.training import (LNSTensor, claim_8bit, init_params, load_data, loss_and_grads,
                                   plot_convergence, plot_training, run_training, train_once)


def test_data_split_is_fixed():
    xtr, ytr, xte, yte = load_data()
    assert xtr.shape == (1347, 64) and xte.shape == (450, 64)
    assert 0.0 <= xtr.min() and xtr.max() == 1.0
    assert np.array_equal(np.bincount(yte), np.bincount(load_data()[3]))
    assert sorted(set(ytr)) == list(range(10))


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    params = init_params(rng, hidden=8)
    params[1] = rng.normal(0, 0.1, 8)              # non-zero biases: every path is exercised
    xtr, ytr, _, _ = load_data()
    X, y = xtr[:20], ytr[:20]
    _, grads = loss_and_grads(params, X, y)
    for k in range(4):
        for idx in [tuple(rng.integers(0, s) for s in params[k].shape) for _ in range(5)]:
            plus = [p.copy() for p in params]
            minus = [p.copy() for p in params]
            plus[k][idx] += 1e-6
            minus[k][idx] -= 1e-6
            num = (loss_and_grads(plus, X, y)[0] - loss_and_grads(minus, X, y)[0]) / 2e-6
            assert grads[k][idx] == pytest.approx(num, rel=1e-4, abs=1e-8)


def test_lns_tensor_scales_quantises_and_keeps_signs():
    cfg = config_for_bits(8)                      # stochastic: needs and advances its LFSR lane
    rng = np.random.default_rng(0)
    w0 = rng.normal(0, 0.1, (16, 8))
    t = LNSTensor(cfg, w0, seed=5)
    w = t.weights()
    assert np.array_equal(np.sign(w), np.sign(w0)) and np.all(w != 0)
    assert np.max(np.abs(w)) <= lns.decode(cfg.weight, t.clip)
    state0 = t.state.copy()
    g = rng.normal(0, 3e-4, w0.shape)
    w1 = t.step(w, g)
    assert t.scale == 2.0 ** 11                   # max |g| ~ 9e-4: x 2048 lands in [1, 2)
    assert 1 <= np.max(np.abs(g)) * t.scale < 2
    assert np.array_equal(w1, lns.decode(cfg.weight, t.codes).reshape(w0.shape))
    assert np.array_equal(np.sign(w1), np.sign(w0)) and not np.array_equal(t.state, state0)
    # t = 1: |g_hat| = 1, eta = 1/16 LSB: each weight moves by 0 or 1 LSB against its gradient
    step = (t.codes & 0x7F) - (lns.encode(cfg.weight, w).ravel() & 0x7F)
    moved = step != 0
    assert 0 < moved.mean() < 0.3
    assert np.all(np.abs(step) <= 1)
    against = -np.sign(g.ravel()) * np.sign(w0.ravel())
    at_clip = (t.codes & 0x7F) == t.clip
    assert np.all((step[moved] == against[moved]) | at_clip[moved])


@pytest.fixture(scope="module")
def small():
    return run_training(True, seeds=(0,), bits=(4, 12), epochs=6, extra_lns=(), tune_lr=False)


def test_training_result_keys(small):
    assert {"dataset", "model", "models", "epochs", "batch", "seeds", "bits", "settings",
            "tuning", "rows", "claim_8bit", "verdicts", "seconds", "cpu_seconds"} <= set(small)
    assert [(r["optimizer"], r["weight_bits"], r["rounding"]) for r in small["rows"]] == [
        ("adam", None, None), ("sgd", None, None), ("lion", None, None), ("madam", None, None),
        ("lns", 4, "stochastic"), ("lns", 12, "nearest_even"),
        ("lns_adam", 4, "stochastic"), ("lns_adam", 12, "stochastic"),
        ("lns_sgd", 4, "stochastic"), ("lns_sgd", 12, "nearest_even"),
        ("lns_lion", 4, "stochastic"), ("lns_lion", 12, "nearest_even")]
    row = next(r for r in small["rows"] if r["label"] == "LNS Madam 12-bit")
    assert {"label", "grad_bits", "weight_format", "grad_format", "moment_format", "rounding",
            "train_err_mean", "train_err_std", "test_err_mean", "test_err_std", "test_acc_mean",
            "test_acc_std", "test_err_curve", "runs", "curves", "eta", "eta_log2",
            "test_loss_mean", "train_loss_mean"} <= set(row)
    assert row["weight_format"] == "lns12_i4f7_b14" and len(row["test_err_curve"]) == 6
    assert small["claim_8bit"]["holds"] is None          # no 8-bit row in this run
    json.dumps(small)


def test_rows_carry_eta_and_the_formats_of_their_rule(small):
    by = {r["label"]: r for r in small["rows"]}
    assert by["Adam"]["eta"] == 1e-3 and by["SGD"]["eta"] == 0.1 and by["SGD"]["momentum"] == 0.9
    assert by["Madam, base 2"]["eta_log2"] == -7 and by["LNS Madam 12-bit"]["eta_log2"] == -7
    adam = by["LNS Adam 12-bit, SR"]
    assert adam["eta_log2"] == -10 and adam["weight_format"] == by["LNS Madam 12-bit"]["weight_format"]
    assert adam["grad_format"] == by["LNS Madam 12-bit"]["grad_format"]
    assert adam["config"]["first_moment"]["frac_bits"] == 7
    assert by["LNS SGD 12-bit, RNE"]["eta_log2"] == -3 and by["LNS SGD 12-bit, RNE"]["momentum"] == 0.9


def test_curves_are_the_runs_per_epoch_mean_and_band(small):
    row = small["rows"][1]
    run = row["runs"][0]
    assert set(run["curves"]) == {"train_loss", "test_loss", "train_err", "test_err"}
    assert run["test_err"] == run["curves"]["test_err"][-1]
    assert run["test_loss"] == run["curves"]["test_loss"][-1]
    # one seed: the mean is the run, the band has zero width; errors in percent
    assert row["curves"]["test_err"]["mean"] == pytest.approx(
        [100 * e for e in run["curves"]["test_err"]])
    assert row["curves"]["train_loss"]["lo"] == row["curves"]["train_loss"]["hi"]
    # the loss falls while training: the last epoch's train loss is below the first's
    assert run["curves"]["train_loss"][-1] < run["curves"]["train_loss"][0]


def test_float_optimizers_learn_digits(small):
    acc = {r["optimizer"]: r["test_acc_mean"] for r in small["rows"] if r["weight_bits"] is None}
    # measured after 6 epochs, seed 0: Adam 94.2, SGD 96.0, Madam 93.1, Lion (2^-11) 93.8
    assert acc["adam"] > 90 and acc["sgd"] > 90 and acc["madam"] > 90 and acc["lion"] > 90


def test_lns_lion_rows_train_and_fail_where_lns_adam_fails(small):
    # measured (seed 0, 6 epochs, the presets' eta 2^-11): LNS Lion 12-bit 90.7 % (float
    # Lion 93.8 %), 4-bit (a whole octave an LSB) 14.2 %, about chance: the sign step of
    # eta = 2^-11 is a 0.01-LSB step there, which only stochastic rounding keeps, and that
    # too rarely to train in 6 epochs; the verdicts report it as they do LNS Adam's 18.2 %
    by = {r["label"]: r for r in small["rows"]}
    lion12 = by["LNS Lion 12-bit, RNE"]
    assert lion12["test_acc_mean"] > 85 and by["Lion"]["test_acc_mean"] > 90
    assert by["LNS Lion 4-bit, SR"]["test_acc_mean"] < 50
    assert lion12["eta_log2"] == -11 and by["Lion"]["eta_log2"] == -11
    assert lion12["moment_format"] == "lns13_i5f7_b24" and lion12["momentum"] is None
    assert lion12["config"]["optimizer"] == "lion" and lion12["config"]["beta2"] == 0.99
    assert lion12["weight_format"] == by["LNS Madam 12-bit"]["weight_format"]
    claims = {v["claim"]: v for v in small["verdicts"]}
    v = claims["LNS Lion vs LNS Madam at 12 bits (nearest_even)"]
    assert v["diff_mean"] == pytest.approx(lion12["test_acc_mean"]
                                           - by["LNS Madam 12-bit"]["test_acc_mean"])
    assert v["kind"] == "additive" and v["rule"] == "lns_lion"
    assert "Madam vs Lion: final accuracy" in claims
    assert any(t.startswith("LNS Lion fails to train where LNS Madam trains at 4 bits")
               for t in small["findings"]["text"])


def test_lns_madam_tracks_float_madam_and_narrow_weights_cost_accuracy(small):
    rows = {r["weight_bits"]: r for r in small["rows"] if r["optimizer"] == "lns"}
    # measured: LNS 12-bit 93.6 (float Madam 93.1), 4-bit (one log2 octave an LSB) 88.2
    madam = next(r for r in small["rows"] if r["optimizer"] == "madam")
    assert abs(rows[12]["test_acc_mean"] - madam["test_acc_mean"]) < 1.5
    assert abs(rows[12]["train_err_mean"] - madam["train_err_mean"]) < 1.5
    assert rows[4]["test_acc_mean"] < rows[12]["test_acc_mean"] - 2


def test_lns_adam_fails_at_4_bits_where_lns_madam_trains(small):
    # measured (seed 0, 6 epochs): LNS Adam 4-bit 18.2 % (stochastic rounding), LNS Madam
    # 4-bit 88.2 %, LNS Adam 12-bit 94.2 %: a finding the verdicts must report
    by = {r["label"]: r for r in small["rows"]}
    assert by["LNS Adam 4-bit, SR"]["test_acc_mean"] < 50 < by["LNS Madam 4-bit"]["test_acc_mean"]
    assert by["LNS Adam 12-bit, SR"]["test_acc_mean"] > 90


def test_verdicts_are_the_paired_numbers_of_the_rows(small):
    v = next(v for v in small["verdicts"] if v["claim"].startswith("LNS Adam vs LNS Madam at 12"))
    adam = next(r for r in small["rows"] if r["label"] == "LNS Adam 12-bit, SR")
    madam = next(r for r in small["rows"] if r["label"] == "LNS Madam 12-bit")
    assert v["diff_mean"] == pytest.approx(adam["test_acc_mean"] - madam["test_acc_mean"])
    assert v["n"] == 1 and v["ci_lo"] is None and "one seed, no interval" in v["text"]


def test_an_absurd_eta_is_measurably_worse(small):
    bad = train_once("lns", 0, epochs=6, cfg=config_for_bits(16, eta_log2=0))
    madam = next(r for r in small["rows"] if r["optimizer"] == "madam")
    assert bad["test_err"] * 100 > madam["test_err_mean"] + 20     # measured 57 % vs 7 %


def _result(madam_acc, lns8_acc):
    def row(opt, bits, acc):
        return {"optimizer": opt, "weight_bits": bits, "grad_bits": None, "label": opt,
                "test_acc_mean": acc, "test_acc_std": 0.5}
    return {"rows": [row("madam", None, madam_acc), row("lns", 8, lns8_acc),
                     row("lns", 16, madam_acc)]}


def test_claim_8bit():
    assert claim_8bit(_result(96.0, 95.5))["holds"] is True
    c = claim_8bit(_result(96.0, 94.5))
    assert c["holds"] is False and c["gap_points"] == pytest.approx(1.5)
    assert c["text"].startswith("on the mean, '8 bits comparable to full precision' does not hold here")
    assert "(-1.50 points;" in c["text"]
    assert claim_8bit(_result(96.0, 94.5), tolerance=2.0)["holds"] is True


def test_plots(small, tmp_path):
    for fn, name in ((plot_training, "t.png"), (plot_convergence, "c.png")):
        path = fn(small, tmp_path / name)
        assert open(path, "rb").read(4) == b"\x89PNG"


def test_quick_tuned_run_and_cli_json(capsys):
    rc = main(["train", "--quick", "--table", "--bits", "8", "--seeds", "2", "--epochs", "1",
               "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and set(data) >= {"rows", "verdicts", "claim_8bit", "tuning"}
    assert "sigma_sweep" not in data and "schedule" not in data
    assert [r["label"] for r in data["rows"]] == [
        "Adam", "SGD", "Lion", "Madam, base 2", "LNS Madam 8-bit", "LNS Madam 8-bit, 8-bit grad",
        "LNS Adam 8-bit, RNE", "LNS Adam 8-bit, SR", "LNS SGD 8-bit, RNE", "LNS SGD 8-bit, SR",
        "LNS Lion 8-bit, RNE", "LNS Lion 8-bit, SR"]
    by = {r["label"]: r for r in data["rows"]}
    assert by["LNS Madam 8-bit, 8-bit grad"]["grad_format"] == "lns8_i5f2_b24"
    for r in data["rows"]:
        # each eta is a grid point and the argmin of the validation error of its tuning
        t = r["tuning"]
        scored = [p for p in t["grid"] if p["val_err"] is not None]
        best = min(scored, key=lambda p: (p["val_err"], p["val_loss"]))
        assert r["eta_log2"] == t["eta_log2"] == best["eta_log2"]
        assert r["eta_log2"] in data["tuning"]["grids_eta_log2"][r["optimizer"]]
        assert len(r["runs"]) == 2 and [x["seed"] for x in r["runs"]] == [0, 1]
    # the LNS rules were tuned once at 8 bits, with the rule's own rounding there (Adam:
    # stochastic, SGD: nearest-even): both rows of a rule share that tuning
    assert by["LNS Adam 8-bit, RNE"]["tuning"] == by["LNS Adam 8-bit, SR"]["tuning"]
    assert by["LNS Adam 8-bit, RNE"]["tuning"]["tuned_on"] == "LNS Adam 8-bit, SR"
    assert by["LNS SGD 8-bit, RNE"]["tuning"]["tuned_on"] == "LNS SGD 8-bit, RNE"
    assert by["LNS Madam 8-bit"]["tuning"]["tuned_on"] == "LNS Madam 8-bit"
    # LNS Lion rounds stochastically at 8 bits (its step, eta = 2^-11, is about 0.1 LSB)
    assert by["LNS Lion 8-bit, RNE"]["tuning"]["tuned_on"] == "LNS Lion 8-bit, SR"
    assert by["Lion"]["tuning"]["grid"][0]["momentum"] is None     # Lion has no momentum
    # the verdict is the rule applied to the numbers of the same run
    claim = data["claim_8bit"]
    madam = next(r for r in data["rows"] if r["optimizer"] == "madam")
    lns8 = [r for r in data["rows"] if r["optimizer"] == "lns" and r["weight_bits"] == 8]
    assert claim["float_madam_test_acc"] == madam["test_acc_mean"]
    assert claim["lns_8bit_test_acc"] == min(r["test_acc_mean"] for r in lns8)
    gap = madam["test_acc_mean"] - claim["lns_8bit_test_acc"]
    assert claim["gap_points"] == pytest.approx(gap)
    assert claim["holds"] is (gap <= claim["tolerance_points"])
    assert ("does not hold" in claim["text"]) is (not claim["holds"])
    p = claim["paired"]
    assert p["n"] == 2 and p["ci_lo"] <= p["diff_mean"] <= p["ci_hi"]
    assert claim["holds_ci"] is (p["ci_lo"] >= -claim["tolerance_points"])


def test_cli_text_sweep_and_schedule(capsys, tmp_path):
    rc = main(["train", "--quick", "--sigma-sweep", "--schedule", "--seeds", "2", "--epochs",
               "1", "--sigma-plot", str(tmp_path / "s.png")])
    out = capsys.readouterr().out
    assert rc == 0 and "sigma* sweep" in out and "halved every 2 epochs" in out
    assert "'best between 1 and 3 x Xavier'" in out and "95 % CI" in out
    assert "optimizer" not in out.splitlines()[0]                   # no table part
    assert open(tmp_path / "s.png", "rb").read(4) == b"\x89PNG"


@pytest.mark.parametrize("argv,message", [
    (["--bits", "3"], "--bits must be between 4 and 22 bits, not '3'"),
    (["--seeds", "0"], "argument --seeds: 0 is below the least value, 1"),
    (["--epochs", "0"], "argument --epochs: 0 is below the least value, 1"),
    (["--grad-bits", "5"], "--grad-bits must be between 7 and 22, not 5"),
    (["--sigma-sweep", "--plot", "x.png"], "--plot needs the table part of the run"),
    (["--sigma-sweep", "--task", "cifar"],
     "--task must be one of digits, mnist5k, mnist1d, not 'cifar'"),
    (["--task", "mnist1d"], "--task applies to the sigma* sweep alone: give --sigma-sweep "
                            "without --table, --schedule or --units"),
    (["--units", "--sigma-eta-log2", "-3"],
     "--sigma-eta-log2 needs the sigma* sweep (--sigma-sweep)"),
    (["--sigma-sweep", "--sigma-eta-log2", "1"],
     "--sigma-eta-log2 must be between -16 and 0, not 1"),
])
def test_cli_errors(capsys, argv, message):
    assert main(["train", *argv]) == 2
    assert capsys.readouterr().err == f"lnsmadam: error: {message}\n"


def test_a_float_run_whose_state_overflows_ends_as_diverged():
    # blockwise 8-bit Adam keeps float32 moments: at lr 4 its second moment overflows in
    # the first epoch; the run is kept, counted all wrong at an infinite loss from there
    from sim.analysis.training.tasks import task_data
    data = task_data("digits", "validation")
    run = train_once("adam8bit", 0, epochs=3, lr=4.0, data=data)
    assert run["diverged"] == 1
    assert run["curves"]["test_err"] == [1.0] * 3 and run["test_err"] == 1.0
    assert run["curves"]["train_loss"] == [np.inf] * 3
    fine = train_once("adam8bit", 0, epochs=1, lr=2.0 ** -8, data=data)
    assert fine["diverged"] is None and fine["test_err"] < 0.5
