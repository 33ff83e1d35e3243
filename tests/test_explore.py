"""lnsmadam explore (sim.explore): the grid through the store, reuse and resume, the join with
cost, the Pareto fronts, the command line's outputs and errors, and the same stored
accuracies from one and from two Dask workers."""

import json
import math

import numpy as np
import pytest

from sim.cli import main
from sim.explore import QUICK, Store, explore
from sim.explore.grid import final_configs, methods_of, tuning_configs
from sim.explore.pareto import front
from sim.explore.run import strip_timing

# the four LNS rules and Madam's sign variant at 8 bits, stochastic rounding, 2 seeds, 1
# epoch, no float rows
TINY = QUICK.replace(bits=(8,), roundings=("stochastic",), seeds=(0, 1), epochs=1,
                     tune_epochs=1, floats=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "s.sqlite"
    result = explore(TINY, Store(path), workers=0, area="none")
    return path, result


def test_the_quick_grid_has_at_least_40_configurations_and_5_seeds():
    etas = {(t, "mlp", m.key): {"eta_log2": -7 if m.key in ("lns", "lns_sign") else -8}
            for t in QUICK.tasks for m in methods_of(QUICK)}
    finals, skipped = final_configs(QUICK, etas)
    configs = {(c["method"], c["bits"], c["rounding"]) for c in finals}
    assert len(configs) >= 40 and len(QUICK.seeds) >= 5
    assert len(finals) == len(configs) * len(QUICK.seeds)
    # every registered LNS rule at every width and rounding, and the float baselines
    keys = {m.key for m in methods_of(QUICK)}
    assert {"lns", "lns_adam", "lns_sgd", "lns_lion", "lns_sign", "adam", "sgd", "madam",
            "lion", "adam8bit", "adam_bf16grad"} <= keys
    # Madam at 6 bits with nearest-even at eta 2^-7 cannot be built, nor the sign
    # normaliser's up to 10 bits (its step is eta weight LSBs, below one LSB there):
    # skipped with their reasons
    assert [(s["method"], s["bits"], s["rounding"]) for s in skipped] == \
        [("lns", 6, "nearest_even"), ("lns_sign", 6, "nearest_even"),
         ("lns_sign", 8, "nearest_even"), ("lns_sign", 10, "nearest_even")]
    assert "eta_log2 must be at least -6" in skipped[0]["reason"]
    assert "eta_log2 must be at least -2" in skipped[1]["reason"]
    tuning, _ = tuning_configs(QUICK)
    assert all(c["split"] == "validation" for c in tuning)
    assert all(c["split"] == "test" for c in finals)


def test_rows_are_the_seeds_mean_and_t_interval_joined_with_exact_bytes(tiny):
    from scipy import stats
    from lns import presets
    path, r = tiny
    rows = Store(path).rows()
    n_tune = sum(c["split"] == "validation" for c, _ in rows)
    assert n_tune >= 15                            # 5 rules x 3 etas, and grown grids
    assert r["counts"]["tuning"] == {"total": n_tune, "reused": 0, "computed": n_tune}
    assert r["counts"]["final"] == {"total": 10, "reused": 0, "computed": 10}
    assert len(r["rows"]) == 5
    for row in r["rows"]:
        errs = [100 * res["test_err"] for c, res in rows
                if c["split"] == "test" and c["method"] == row["method"]]
        assert len(errs) == 2 and row["test_err"] == errs
        assert row["err"]["mean"] == pytest.approx(np.mean(errs))
        half = stats.t.ppf(0.975, 1) * np.std(errs, ddof=1) / math.sqrt(2)
        assert row["err"]["ci_hi"] - row["err"]["mean"] == pytest.approx(half)
        # bytes per update: the configuration's own words, at the chosen eta
        rule = {"lns": "madam", "lns_adam": "adam", "lns_sgd": "sgd", "lns_lion": "lion",
                "lns_sign": "madam"}
        base = {"lns_sign": "lns8_sign"}.get(row["method"])      # Madam's sign variant
        cfg = presets.for_bits(rule[row["method"]], 8, base=base, rounding="stochastic")
        assert row["bytes"] == sum(cfg.update_bits) / 8
        assert row["energy_pj"] > 0 and row["lut4_ecp5"] is None
    # the chosen eta is the grid point of least validation error, inside its grid unless
    # the grid has grown EXTEND_MAX steps that way
    from sim.explore.grid import EXTEND_MAX, grid_of
    for e in r["etas"]:
        best = min(e["grid"], key=lambda g: (g["val_err"], g["val_loss"]))
        assert e["eta_log2"] == best["eta_log2"]
        tried = [g["eta_log2"] for g in e["grid"]]
        base = grid_of(TINY, next(m for m in methods_of(TINY) if m.key == e["method"]))
        if e["eta_log2"] in (min(tried), max(tried)):
            assert e["eta_log2"] in (min(base) - 2 * EXTEND_MAX, max(base) + 2 * EXTEND_MAX)


def test_a_rerun_reuses_every_point_and_gives_the_same_rows(tiny):
    path, r = tiny
    again = explore(TINY, Store(path), workers=0, area="none")
    n = r["counts"]["tuning"]["total"]
    assert again["counts"]["tuning"] == {"total": n, "reused": n, "computed": 0}
    assert again["counts"]["final"] == {"total": 10, "reused": 10, "computed": 0}
    assert [x["test_err"] for x in again["rows"]] == [x["test_err"] for x in r["rows"]]


def test_an_interrupted_run_resumes_from_what_it_stored(tmp_path, tiny):
    # the tiny run's store without its final runs (its tuning runs kept: less to train)
    import shutil
    import sqlite3
    path = tmp_path / "s.sqlite"
    shutil.copy(tiny[0], path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM points WHERE config LIKE '%\"split\":\"test\"%'")
    db.commit()
    db.close()
    n_tune = tiny[1]["counts"]["tuning"]["total"]
    assert Store(path).count() == n_tune
    seen = []

    def stop_after_3(done, total, stage):
        seen.append((stage, done))
        if stage == "final" and done == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        explore(TINY, Store(path), workers=0, area="none", progress=stop_after_3)
    assert Store(path).count() == n_tune + 3      # every tuning run and 3 final ones
    r = explore(TINY, Store(path), workers=0, area="none")
    assert r["counts"]["final"] == {"total": 10, "reused": 3, "computed": 7}
    # the same numbers as the uninterrupted run
    assert [x["test_err"] for x in r["rows"]] == [x["test_err"] for x in tiny[1]["rows"]]


def test_a_grid_grows_past_the_edge_its_best_eta_lies_on():
    from sim.explore.grid import EXTEND_MAX, edge_configs
    plan = TINY
    # float Adam's quick grid is -12, -10, -8 (step 2); LNS SGD's -5, -3, -1
    etas = {("mnist1d", "mlp", "lns_adam"): {"eta_log2": -8, "grid": [
                {"eta_log2": e, "val_err": 1.0, "val_loss": 1.0} for e in (-12, -10, -8)]},
            ("mnist1d", "mlp", "lns_sgd"): {"eta_log2": -3, "grid": [
                {"eta_log2": e, "val_err": 1.0, "val_loss": 1.0} for e in (-5, -3, -1)]},
            ("mnist1d", "mlp", "lns_lion"): {"eta_log2": -14, "grid": [
                {"eta_log2": e, "val_err": 1.0, "val_loss": 1.0} for e in (-14, -12, -10)]}}
    tried: dict = {}
    more = edge_configs(plan, etas, tried)
    got = sorted((c["method"], c["eta_log2"], c["split"]) for c in more)
    # best inside its grid (SGD): nothing; on the top edge: one step up; bottom: one down
    assert got == [("lns_adam", -6, "validation"), ("lns_lion", -16, "validation")]
    assert edge_configs(plan, etas, tried) == []            # not asked twice
    # never beyond EXTEND_MAX steps past the original grid
    far = {("mnist1d", "mlp", "lns_adam"): {"eta_log2": -8 + 2 * EXTEND_MAX, "grid": [
        {"eta_log2": e, "val_err": 1.0, "val_loss": 1.0}
        for e in range(-12, -8 + 2 * EXTEND_MAX + 1, 2)]}}
    assert edge_configs(plan, far, {}) == []


def test_pareto_front_against_brute_force():
    rng = np.random.default_rng(0)
    # continuous values: no two rows tie in cost or in error
    rows = [{"label": str(i), "bytes": float(rng.uniform(1, 20)),
             "err": {"mean": float(rng.uniform(0, 30))}} for i in range(60)]
    rows.append({"label": "no cost", "bytes": None, "err": {"mean": -1.0}})
    costed = [r for r in rows if r["bytes"] is not None]
    brute = {r["label"] for r in costed
             if not any(q["bytes"] < r["bytes"] and q["err"]["mean"] < r["err"]["mean"]
                        for q in costed)}
    f = front(rows, "bytes")
    assert {r["label"] for r in f} == brute and "no cost" not in brute
    assert [r["bytes"] for r in f] == sorted(r["bytes"] for r in f)
    assert len(brute) >= 3


@pytest.mark.parametrize("argv, text", [
    (["--workers", "0"], "--workers must be from 1 to 4 x the"),
    (["--tasks", "cifar"], "--tasks must be distinct names from digits, mnist5k, mnist1d, "
                           "not 'cifar'"),
    (["--tasks", "mnist1d,mnist1d"], "--tasks must be distinct names"),
    (["--scheduler", "nohost"], "--scheduler must be an address such as tcp://host:8786"),
    (["--scheduler", "tcp://h:8786", "--workers", "1"],
     "--workers must not be given with --scheduler"),
    (["--seeds", "1"], "argument --seeds: 1 is below the least value, 2"),
    (["--bits", "3"], "--bits"),
])
def test_bad_input_is_one_line_and_exit_2(argv, text, tmp_path, capsys):
    code = main(["explore", "--quick", "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("lnsmadam: error: ")
    assert text in err


def test_a_bad_store_is_one_line_and_makes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database" * 100)
    out = tmp_path / "o"
    assert main(["explore", "--quick", "--out", str(out), "--store", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"lnsmadam: error: --store {bad} is not an SQLite file: file is not a " \
                  "database\n"
    assert not out.exists()
    assert main(["explore", "--quick", "--out", str(out), "--store",
                 str(tmp_path / "no" / "s.sqlite")]) == 2
    assert "folder" in capsys.readouterr().err and not out.exists()


def test_out_is_required_and_must_be_a_folder(tmp_path, capsys):
    assert main(["explore", "--quick"]) == 2
    assert "--out" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["explore", "--quick", "--out", str(f)]) == 2
    assert capsys.readouterr().err.startswith("lnsmadam: error: --out")


def _cli(out, workers, capsys, scheduler=None):
    where = ["--scheduler", scheduler] if scheduler else ["--workers", str(workers)]
    code = main(["explore", "--quick", "--bits", "8", "--seeds", "2", "--epochs", "1",
                 *where, "--out", str(out), "--json"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    return json.loads(cap.out), cap.err


def test_one_and_two_workers_store_the_same_accuracies(tmp_path, capsys):
    r1, err1 = _cli(tmp_path / "w1", 1, capsys)
    r2, err2 = _cli(tmp_path / "w2", 2, capsys)
    assert "local cluster of 1" in err1 and "local cluster of 2" in err2
    s1 = {Store(tmp_path / "w1" / "explore.sqlite").key(c): strip_timing(r)
          for c, r in Store(tmp_path / "w1" / "explore.sqlite").rows()}
    s2 = {Store(tmp_path / "w2" / "explore.sqlite").key(c): strip_timing(r)
          for c, r in Store(tmp_path / "w2" / "explore.sqlite").rows()}
    n = r1["counts"]["tuning"]["total"] + r1["counts"]["final"]["total"]
    # 6 float baselines and 5 LNS rules x 2 roundings at 8 bits, less what cannot be built
    # at the tuned eta (the sign normaliser with nearest even below 2^-3)
    skipped = len(r1["skipped"]["final"])
    assert r1["counts"]["final"]["total"] == (16 - skipped) * 2 and skipped <= 1
    assert len(s1) == n and s1 == s2
    assert [x["err"] for x in r1["rows"]] == [x["err"] for x in r2["rows"]]
    # an existing cluster, reached by its address, stores the same numbers too
    import logging
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cl:
        r3, err3 = _cli(tmp_path / "w3", None, capsys, scheduler=cl.scheduler_address)
    s3 = {Store(tmp_path / "w3" / "explore.sqlite").key(c): strip_timing(r)
          for c, r in Store(tmp_path / "w3" / "explore.sqlite").rows()}
    assert s3 == s1 and r3["where"] == cl.scheduler_address
    # the outputs: a plot and a table per task, strict JSON
    out = tmp_path / "w1"
    assert (out / "mnist1d" / "pareto.png").stat().st_size > 10_000
    assert "| configuration |" in (out / "mnist1d" / "front.md").read_text()
    json.loads((out / "explore.json").read_text(),
               parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    # a rerun says what it reused
    main(["explore", "--quick", "--bits", "8", "--seeds", "2", "--epochs", "1",
          "--workers", "1", "--out", str(out)])
    cap = capsys.readouterr()
    k = r1["counts"]["final"]["total"]
    assert f"final: {k} runs, {k} already in the store, 0 to compute" in cap.err
    assert f"final {k} ({k} reused, 0 computed)" in cap.out


def test_claims_are_paired_differences_over_the_stored_seeds(tiny):
    path, r = tiny
    cl = r["claims"]
    # the tiny plan has no float rows: only "easy low-bit training" at 8 bits, SR, for LNS
    # Madam with each normaliser
    assert [(c["a"], c["b"]) for c in cl] == [
        (f"LNS Madam{n} 8-bit SR", f"LNS {o} 8-bit SR") for n in ("", " sign")
        for o in ("Adam", "SGD", "Lion")]
    runs = {(c["method"], c["seed"]): res for c, res in Store(path).rows()
            if c["split"] == "test"}
    pairs = [(m, o) for m in ("lns", "lns_sign") for o in ("lns_adam", "lns_sgd", "lns_lion")]
    for c, (mine, other) in zip(cl, pairs):
        assert c["claim"] == "easy low-bit training" and c["seeds"] == [0, 1]
        diffs = [100 * (runs[(other, s)]["test_err"] - runs[(mine, s)]["test_err"])
                 for s in (0, 1)]          # accuracy difference = error difference, negated
        assert c["diff_mean"] == pytest.approx(np.mean(diffs))
        assert c["verdict"] in ("comparable", "better", "worse", "inconclusive")


def test_the_cnn_trains_each_task_s_own_network_and_no_software_method():
    from sim.explore.points import run_point
    from sim.jaxlns.cnn import train_cnn
    from sim.analysis.training.tasks import task_data
    plan = TINY.replace(models=("mlp", "cnn"), floats=True, tasks=("mnist1d",))
    tuning, _ = tuning_configs(plan)
    by_model = {m: {c["method"] for c in tuning if c["model"] == m} for m in ("mlp", "cnn")}
    # 8-bit Adam and the bf16-gradient Adam are the MLP trainer's (python_ref), not optax's
    assert by_model["mlp"] - by_model["cnn"] == {"adam8bit", "adam_bf16grad"}
    assert {"adam", "madam", "lns", "lns_adam", "lns_sign"} <= by_model["cnn"]
    # the methods a plan reports are those of its models
    assert {m.key for m in methods_of(plan)} == by_model["mlp"]
    assert {m.key for m in methods_of(plan.replace(models=("cnn",)))} == by_model["cnn"]
    config = next(c for c in tuning if c["model"] == "cnn" and c["method"] == "lns_adam")
    got = run_point(config)
    # the point is the 1-D network on the task's validation split at the point's eta
    from sim.explore.points import lns_config
    cfg = lns_config("lns_adam", config["bits"], config["rounding"], config["eta_log2"])
    want = train_cnn("lns_adam", config["seed"], epochs=config["epochs"], cfg=cfg,
                     lr=2.0 ** config["eta_log2"], data=task_data("mnist1d", "validation"),
                     task="mnist1d")
    assert got["curves"] == want["curves"] and got["model"] == "cnn"
    assert len(got["curves"]["test_err"]) == config["epochs"]


def test_models_must_be_known(tmp_path, capsys):
    assert main(["explore", "--quick", "--out", str(tmp_path / "o"), "--models",
                 "mlp,rnn"]) == 2
    err = capsys.readouterr().err
    assert err == "lnsmadam: error: --models must be distinct names from mlp, cnn, not " \
                  "'mlp,rnn'\n"
    assert not (tmp_path / "o").exists()


def test_a_diverged_tuning_run_from_the_store_loses_the_eta(tmp_path):
    # the store keeps an infinite loss as the string "Infinity"; choosing reads it back
    from sim.explore.grid import choose_etas
    store = Store(tmp_path / "s.sqlite")
    base = {"task": "mnist1d", "model": "mlp", "method": "adam8bit", "seed": 0}
    for e, err, loss in ((-8, 0.5, 1.2), (-2, 1.0, math.inf), (-3, 0.5, 1.1)):
        store.put(dict(base, eta_log2=e), {"test_err": err, "test_loss": loss})
    chosen = choose_etas(store.rows())
    pick = chosen[("mnist1d", "mlp", "adam8bit")]
    assert pick["eta_log2"] == -3
    assert [g["val_loss"] for g in pick["grid"]] == [1.2, 1.1, math.inf]   # by eta


@pytest.mark.parametrize("method", ["adam", "madam"])
def test_a_float_method_is_priced_by_an_ieee_unit_that_moves_its_bytes(method):
    """The float baselines' LUT4 and area come from an IEEE FP32 unit (`FLOAT_UNITS`): it
    must be a float32 unit of the same optimizer, reading and writing the words the
    method's bytes count (a unit with more words, such as mp_adam's BF16 copy, would price
    another update)."""
    from lns import presets
    from sim.explore.points import FLOAT_UNITS, cost_point
    point = cost_point({"method": method, "bits": None, "rounding": None, "eta_log2": -6,
                        "area": "none"})
    cfg = presets.get(FLOAT_UNITS[method])
    assert point["unit"] == cfg.name
    assert sum(cfg.update_bits) / 8 == point["bytes"]
    assert cfg.optimizer in {"adam": ("float_adam", "float_adam_fast"),
                             "madam": ("float_madam",)}[method]
