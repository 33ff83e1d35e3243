"""sim.analysis.training: the validation split and the learning-rate search (a tiny budget)."""

import numpy as np
import pytest

from lns.errors import InvalidValue
from lns.presets import config_for_bits
from sim.analysis.training import load_data, train_validation, tune
from sim.analysis.training.data import _digits, split_indices, validation_indices


def test_validation_is_disjoint_from_test_and_train_proper():
    tr, te = split_indices()
    proper, val = validation_indices()
    assert not set(val) & set(te) and not set(proper) & set(te) and not set(val) & set(proper)
    assert set(proper) | set(val) == set(tr)               # carved out of the training part
    assert len(val) == 270 and len(proper) == 1077
    X, y = _digits()
    xp, yp, xv, yv = train_validation()
    assert np.array_equal(xv, X[val]) and np.array_equal(yp, y[proper])
    # stratified: every class in the validation part, in the training part's proportions
    assert np.all(np.abs(np.bincount(yv) / len(yv) - np.bincount(y[tr]) / len(tr)) < 0.01)
    # the train / test data are the same rows as load_data's
    xtr, _, xte, _ = load_data()
    assert np.array_equal(xtr, X[tr]) and np.array_equal(xte, X[te])


def _check_choice(t, grid):
    scored = [p for p in t["grid"] if p["val_err"] is not None]
    assert t["eta_log2"] in grid and t["eta"] == 2.0 ** t["eta_log2"]
    best = min(scored, key=lambda p: (p["val_err"], p["val_loss"]))
    assert (t["eta_log2"], t["momentum"]) == (best["eta_log2"], best["momentum"])
    assert all(p["val_err"] >= best["val_err"] for p in scored)


def test_tuned_eta_is_a_grid_point_and_the_argmin_of_validation_error():
    grid = (-12, -8, -3)
    t = tune("sgd", grid=grid, momenta=(0.0, 0.9), epochs=1)
    assert len(t["grid"]) == 6 and {p["momentum"] for p in t["grid"]} == {0.0, 0.9}
    _check_choice(t, grid)
    # eta 2^-12 without momentum barely moves in one epoch: its validation error is worst
    worst = max(t["grid"], key=lambda p: p["val_err"])
    assert worst["eta_log2"] == -12 and worst["val_err"] > 20


def test_lns_tuning_skips_a_config_that_cannot_be_built():
    def make(e):
        if e == -20:
            raise InvalidValue("eta out of range")
        return config_for_bits(8, eta_log2=e)
    t = tune("lns", grid=(-20, -7), make_cfg=make, epochs=1)
    assert t["grid"][0]["error"] == "eta out of range" and t["grid"][0]["val_err"] is None
    assert t["eta_log2"] == -7
    with pytest.raises(InvalidValue, match="no grid point"):
        tune("lns", grid=(-20,), make_cfg=make, epochs=1)
