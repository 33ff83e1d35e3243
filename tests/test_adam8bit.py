"""Blockwise 8-bit Adam (python_ref.adam8bit, Dettmers et al. 2022) and Adam with a bf16
gradient: the maps' construction, the quantiser's error, the update against float32 Adam."""

import numpy as np
import pytest

from python_ref import Adam, Adam8bit, AdamBF16Grad
from python_ref.adam8bit import (BLOCK, dequantize_blockwise, dynamic_map,
                                 quantize_blockwise)


@pytest.mark.parametrize("signed", [True, False])
def test_map_has_256_sorted_distinct_values_with_0_and_1(signed):
    q = dynamic_map(signed)
    assert q.dtype == np.float32 and q.shape == (256,)
    assert np.all(np.diff(q) > 0)                       # sorted and distinct
    assert 0.0 in q and 1.0 in q
    assert q.max() == 1.0
    if signed:
        # the paper's construction holds +1 but not -1 (the authors' map too)
        assert -1.0 not in q
        assert q.min() == np.float32(-(1 - 0.9 / 128))
    else:
        assert q.min() == 0.0


def test_signed_map_levels_follow_the_tree_layout():
    # E leading zeros -> 10**-E, then 6 - E fraction bits: 2**(6-E) values in
    # [0.1, 1] x 10**-E for each sign (an independent count from the bit layout)
    q = dynamic_map(True).astype(np.float64)
    pos = q[q > 0]
    for e in range(7):
        lo, hi = 0.1 * 10.0 ** -e, 10.0 ** -e
        inside = pos[(pos > lo * (1 - 1e-6)) & (pos < hi * (1 + 1e-6))]
        expect = 2 ** (6 - e) + (1 if e == 0 else 0)       # + the value 1.0 at E = 0
        assert len(inside) == expect, e
    # symmetric but for +1
    assert np.allclose(np.sort(-q[(q < 0)]), np.sort(pos[pos < 1.0]))
    u = dynamic_map(False).astype(np.float64)
    for e in range(7):   # the unsigned map: one more fraction bit a level
        lo, hi = 0.1 * 10.0 ** -e, 10.0 ** -e
        assert np.sum((u > lo * (1 - 1e-6)) & (u < hi * (1 - 1e-6))) == 2 ** (7 - e)


def test_smallest_level_is_the_midpoint_of_the_fraction_range():
    # E = 6: one value a sign, the midpoint of [0.1, 1] x 1e-6
    q = dynamic_map(True)
    assert np.float32(0.55e-6) in q and np.float32(-0.55e-6) in q


@pytest.mark.parametrize("signed", [True, False])
def test_quantise_dequantise_error_is_within_half_the_local_gap(signed):
    q = dynamic_map(signed).astype(np.float64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3 * BLOCK + 17) * np.exp(rng.uniform(-12, 0, 3 * BLOCK + 17))
    if not signed:
        x = np.abs(x)
    x = x.astype(np.float32)
    codes, absmax = quantize_blockwise(x, dynamic_map(signed))
    assert absmax.shape == (4,)
    back = dequantize_blockwise(codes, absmax, dynamic_map(signed))
    blk = np.arange(x.size) // BLOCK
    norm = x.astype(np.float64) / absmax[blk]
    # the local gap: between the two map values around the normalised input
    i = np.clip(np.searchsorted(q, norm), 1, 255)
    gap = q[i] - q[i - 1]
    err = np.abs(back.astype(np.float64) / absmax[blk] - norm)
    assert np.all(err <= gap / 2 + 1e-6)
    # and the choice is the nearest map value (brute force over all 256)
    nearest = np.abs(norm[:, None] - q[None, :]).min(axis=1)
    assert np.allclose(err, nearest, atol=1e-7)


def test_a_blocks_positive_absmax_round_trips_exactly():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(2 * BLOCK).astype(np.float32)
    x[5] = 7.25                                     # the first block's largest magnitude
    x[BLOCK + 9] = 30.0                             # the second block's
    codes, absmax = quantize_blockwise(x, dynamic_map(True))
    back = dequantize_blockwise(codes, absmax, dynamic_map(True))
    assert absmax[0] == np.float32(7.25) and back[5] == np.float32(7.25)
    assert absmax[1] == np.float32(30.0) and back[BLOCK + 9] == np.float32(30.0)
    # a negative absmax comes back as the map's most negative value x absmax (-0.70 %)
    y = x.copy()
    y[5] = -9.0
    codes, absmax = quantize_blockwise(y, dynamic_map(True))
    back = dequantize_blockwise(codes, absmax, dynamic_map(True))
    assert back[5] == np.float32(-(1 - 0.9 / 128)) * np.float32(9.0)


def test_a_block_of_zeros_stays_zero():
    codes, absmax = quantize_blockwise(np.zeros(10, np.float32), dynamic_map(True))
    assert absmax[0] == 0 and np.all(dequantize_blockwise(codes, absmax,
                                                          dynamic_map(True)) == 0)


def test_update_equals_float32_adam_when_states_are_representable():
    # a constant positive gradient: every m and v in a block equals its absmax, whose
    # normalised value 1.0 the maps hold, so the stored states are exact
    w0 = np.linspace(-1, 1, 3000).astype(np.float32)
    g = np.full(3000, 0.37, np.float32)
    a, b = Adam8bit(w0, lr=1e-2), Adam(w0, lr=1e-2, dtype=np.float32)
    wa = wb = w0
    for _ in range(20):
        wa, wb = a.step(wa, g), b.step(wb, g)
        assert np.array_equal(wa, wb)
        assert np.array_equal(a.m, b.m.astype(np.float32))
        assert np.array_equal(a.v, b.v.astype(np.float32))


def test_update_differs_from_adam_when_states_are_not_representable():
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal(3000).astype(np.float32)
    a, b = Adam8bit(w0), Adam(w0, dtype=np.float32)
    wa = wb = w0
    for _ in range(5):
        g = rng.standard_normal(3000).astype(np.float32)
        wa, wb = a.step(wa, g), b.step(wb, g)
    d = np.abs(wa - wb)
    assert d.max() > 0                          # quantised states change the steps
    # ... but little: each step moves a weight at most about lr
    assert d.max() < 5 * 1e-3
    # the first step uses the unquantised new states: equal to Adam's
    a, b = Adam8bit(w0), Adam(w0, dtype=np.float32)
    g = rng.standard_normal(3000).astype(np.float32)
    assert np.array_equal(a.step(w0, g), b.step(w0, g))


def test_bad_arguments_are_refused_and_state_is_kept():
    with pytest.raises(ValueError, match="block must be a positive int, not 0"):
        Adam8bit(np.zeros(4), block=0)
    with pytest.raises(ValueError, match="lr must be positive"):
        Adam8bit(np.zeros(4), lr=-1.0)
    a = Adam8bit(np.zeros(4))
    with pytest.raises(ValueError, match="g must be finite"):
        a.step(np.zeros(4), np.array([1.0, np.nan, 0, 0]))
    assert a.t == 0 and np.all(a.m == 0)


def test_bf16_gradient_adam_is_adam_on_the_rounded_gradient():
    import ml_dtypes
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(100).astype(np.float32)
    g = rng.standard_normal(100).astype(np.float32)
    g16 = g.astype(ml_dtypes.bfloat16).astype(np.float32)
    assert not np.array_equal(g, g16)           # the rounding does something
    # bf16 keeps 8 significant bits: rounding to nearest errs by at most half an ulp,
    # 2**-8 of the value's power of two
    assert np.all(np.abs(g16 - g) <= 2.0 ** (np.floor(np.log2(np.abs(g))) - 8))
    a, b = AdamBF16Grad(w0), Adam(w0, dtype=np.float32)
    assert np.array_equal(a.step(w0, g), b.step(w0, g16))


def test_software_methods_train_through_the_training_package():
    from sim.analysis.training.methods import Method
    from sim.analysis.training.runs import train_once
    from sim.analysis.training.data import load_data
    m = Method.parse("adam8bit")
    assert m.key == "adam8bit" and not m.is_lns
    x, y, xt, yt = load_data()
    small = (x[:300], y[:300], xt[:150], yt[:150])
    adam = train_once("adam", 0, epochs=3, data=small)["test_err"]
    r = train_once("adam8bit", 0, epochs=3, data=small)
    assert r["method"] == "adam8bit"
    # same seed, same batches: within a few points of float Adam, well below chance (0.9)
    assert abs(r["test_err"] - adam) < 0.05 and r["test_err"] < 0.7
    r2 = train_once("adam_bf16grad", 0, epochs=3, data=small)
    assert abs(r2["test_err"] - adam) < 0.05
    with pytest.raises(ValueError, match="method must be one of .*adam8bit, adam_bf16grad, "
                                         "not 'adam4bit'"):
        Method.parse("adam4bit")
