"""The digits data and its three disjoint parts: train-proper, validation, test.

``sklearn.datasets.load_digits`` (1,797 8x8 images shipped inside scikit-learn, no
download), pixels scaled to [0, 1].  One fixed stratified split (``split_seed``, 25 % test)
gives train and test; the validation split is carved out of the *training* part (stratified,
20 % of it, its own fixed seed), so a learning rate is chosen without the test set ever being
seen.  Splits are index arrays into the 1,797 samples, so disjointness is checkable.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["load_data", "split_indices", "validation_indices", "train_validation"]

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
