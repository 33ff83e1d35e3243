"""Tests of the float reference optimizers in python_ref.

Expected values are derived from the published equations, recomputed here with Python's
``math`` module on a few elements, or are consequences of the equations (t = 1 gives
g_hat = sign g, the largest factor is base**(eta * g_bound), ...). None is copied from a run.
"""

import math
import re

import numpy as np
import pytest

from python_ref import SGD, Adam, IntegerMadam, LNSMadam, Madam

DTYPES = [np.float64, np.float32]
BASES = ["e", 2]


def rtol(dtype):
    """Tolerance for comparing a few chained float operations with a double recomputation."""
    return 1e-12 if dtype == np.float64 else 1e-5


def power(base, x):
    return math.exp(x) if base == "e" else 2.0 ** x


def raises(message, exc=ValueError):
    """pytest.raises pinning the whole error text."""
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def small_weights(rng, n, dtype):
    """Weights with a fixed RMS-based sigma* (from w0) and values well below it."""
    w0 = rng.standard_normal(n).astype(dtype)
    # |w| <= 0.2 * max|w0| stays far below sigma* = 3 RMS(w0) even after a few e^0.1 factors
    w = (0.2 * w0).astype(dtype)
    return w0, w


# ---------------------------------------------------------------------------------- Madam


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", BASES)
def test_first_step_g_hat_is_sign_of_g(dtype, base):
    rng = np.random.default_rng(1)
    w0, w = small_weights(rng, 2000, dtype)
    # magnitudes over 12 decades whose squares stay normal in float32
    g = (rng.standard_normal(2000) * 10.0 ** rng.uniform(-6, 6, 2000)).astype(dtype)
    g[::97] = 0
    opt = Madam(w0, eta=0.02, base=base, dtype=dtype)
    w1 = opt.step(w, g)
    assert opt.t == 1
    assert opt.g_hat.dtype == dtype
    assert np.array_equal(opt.g_hat, np.sign(g))  # exactly, not to a tolerance
    factor = w1.astype(np.float64) / w.astype(np.float64)
    expected = np.array([power(base, -0.02 * np.sign(gi) * np.sign(wi)) for gi, wi in zip(g, w)])
    np.testing.assert_allclose(factor, expected, rtol=rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", BASES)
def test_zero_gradient_leaves_weights_unchanged(dtype, base):
    rng = np.random.default_rng(2)
    w0, w = small_weights(rng, 50, dtype)
    opt = Madam(w0, base=base, dtype=dtype)
    assert np.array_equal(opt.step(w, np.zeros(50)), w)  # t = 1: v = 0, 0/0 -> 0
    for _ in range(4):
        w = opt.step(w, rng.standard_normal(50))
    g = rng.standard_normal(50)
    g[::3] = 0
    w_next = opt.step(w, g)
    assert np.array_equal(w_next[::3], w[::3])  # later steps: v > 0, g_hat = 0
    moved = np.ones(50, bool)
    moved[::3] = False
    assert np.all(w_next[moved] != w[moved])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", BASES)
def test_sign_never_changes_and_weights_stay_inside_clip(dtype, base):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(200).astype(dtype)
    w0[7] = 0  # a zero weight never moves
    opt = Madam(w0, eta=0.1, base=base, dtype=dtype)
    w = w0
    reached_clip = np.zeros(200, bool)
    for _ in range(300):
        # heavy tailed, sign-persistent pieces so some weights run into the clip
        g = rng.standard_cauchy(200) + np.where(np.arange(200) % 2, 1.0, -1.0)
        w = opt.step(w, g)
        assert w.dtype == dtype
        assert np.array_equal(np.sign(w), np.sign(w0))
        assert np.all(np.abs(w) <= opt.sigma_star)
        reached_clip |= np.abs(w) == opt.sigma_star
    assert reached_clip.sum() > 10  # the clip was exercised
    assert w[7] == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("g_sign", [1.0, -1.0])
def test_largest_one_step_factor_is_base_to_eta_g_bound(dtype, base, g_sign):
    rng = np.random.default_rng(4)
    w0, w = small_weights(rng, 40, dtype)
    eta = 0.01
    opt = Madam(w0, eta=eta, base=base, dtype=dtype)
    for _ in range(300):
        w = opt.step(w, 1e-6 * rng.standard_normal(40))
    w_next = opt.step(w, np.full(40, g_sign * 1e3))
    assert np.all(opt.g_hat == g_sign * 10.0)
    grow, shrink = power(base, eta * 10.0), power(base, -eta * 10.0)
    # g > 0 shrinks positive weights and grows negative ones; g < 0 the reverse
    expected = np.where(np.sign(w) == g_sign, shrink, grow)
    np.testing.assert_allclose(w_next / w, expected, rtol=rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_first_nonzero_gradient_after_zeros_reaches_bias_correction_bound(dtype):
    # with v = 0 before step t, g_hat = sign(g) sqrt((1 - beta^t) / (1 - beta)) exactly in math
    for t in (2, 3, 5, 50):
        opt = Madam(np.ones(3), dtype=dtype)
        w = np.full(3, 0.5)
        for _ in range(t - 1):
            w = opt.step(w, np.zeros(3))
        opt.step(w, np.array([2.0, -3e-3, 7e4]))
        bound = math.sqrt((1 - 0.999 ** t) / (1 - 0.999))
        np.testing.assert_allclose(opt.g_hat, [bound, -bound, bound], rtol=rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("eta", [0.01, 0.1])
def test_subset_relative_change_bounds_at_unit_g_hat(dtype, base, eta):
    rng = np.random.default_rng(5)
    w0, w = small_weights(rng, 500, dtype)
    g = rng.choice([-1.0, 1.0], 500) * rng.uniform(0.1, 10, 500)
    opt = Madam(w0, eta=eta, base=base, dtype=dtype)
    w_next = opt.step(w, g)
    assert np.all(np.abs(opt.g_hat) == 1)
    lo, hi = 1 - power(base, -eta), power(base, eta) - 1
    tol = 1e-9 if dtype == np.float64 else 1e-4  # w' - w cancels about log10(1/eta) digits
    dw = w_next.astype(np.float64) - w.astype(np.float64)

    def ratio(s):
        return np.linalg.norm(dw[s]) / np.linalg.norm(w[s].astype(np.float64))

    for _ in range(50):
        s = rng.random(500) < rng.uniform(0.01, 1)
        if s.any():
            assert lo * (1 - tol) <= ratio(s) <= hi * (1 + tol)
    # the bounds are attained by the all-shrink and all-grow subsets
    shrinking = np.sign(g) == np.sign(w)
    assert ratio(shrinking) == pytest.approx(lo, rel=tol)
    assert ratio(~shrinking) == pytest.approx(hi, rel=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p_scale", [1.0, 3.0])
def test_sigma_star_and_clipping(dtype, p_scale):
    w0 = np.array([0.5, -1.25, 2.0, 0.0, -0.75], dtype)
    opt = Madam(w0, eta=0.05, p_scale=p_scale, dtype=dtype)
    sigma = p_scale * math.sqrt(math.fsum(float(x) ** 2 for x in w0) / 5)
    assert opt.sigma_star.dtype == dtype
    assert float(opt.sigma_star) == pytest.approx(sigma, rel=rtol(dtype))
    s = float(opt.sigma_star)
    w = np.array([0.99 * s, -0.99 * s, 0.5 * s, 1.5 * s, -2 * s], dtype)
    # grow the first two (g against sign w), shrink the third, no gradient on the last two
    w_next = opt.step(w, [-1.0, 1.0, 1.0, 0.0, 0.0])
    assert w_next[0] == opt.sigma_star and w_next[1] == -opt.sigma_star
    assert float(w_next[2]) == pytest.approx(0.5 * s * math.exp(-0.05), rel=rtol(dtype))
    # a weight handed in outside the clip is clipped even without a gradient
    assert w_next[3] == opt.sigma_star and w_next[4] == -opt.sigma_star



@pytest.mark.parametrize("dtype", DTYPES)
def test_no_clip_when_p_scale_is_none(dtype):
    w0 = np.array([0.5, -1.25, 2.0], dtype)
    opt = Madam(w0, eta=0.5, p_scale=None, base=2, dtype=dtype)
    assert opt.p_scale is None and np.isinf(opt.sigma_star)
    # 1000 x RMS(w0) would be far outside any clip: a grown weight is kept, exactly 2**0.5 x
    w = np.array([1000.0, -1000.0, 2.0], dtype)
    w_next = opt.step(w, [-1.0, 1.0, 1.0])         # t = 1: g_hat = sign(g)
    expect = np.array([1000.0 * 2 ** 0.5, -1000.0 * 2 ** 0.5, 2.0 * 2 ** -0.5])
    assert np.allclose(w_next, expect, rtol=rtol(dtype))

def madam_by_hand(w0, w, gradients, eta, beta, g_bound, p_scale, base):
    """The published equations, element by element, in double precision Python."""
    n = len(w0)
    sigma = p_scale * math.sqrt(math.fsum(x * x for x in w0) / n)
    w, v = list(w), [0.0] * n
    for t, g in enumerate(gradients, start=1):
        g_hat = [0.0] * n
        for i in range(n):
            v[i] = beta * v[i] + (1 - beta) * g[i] ** 2
            v_hat = v[i] / (1 - beta ** t)
            gh = 0.0 if v_hat == 0 else g[i] / math.sqrt(v_hat)
            g_hat[i] = max(-g_bound, min(g_bound, gh))
            sign_w = (w[i] > 0) - (w[i] < 0)
            w[i] = w[i] * power(base, -eta * g_hat[i] * sign_w)
            w[i] = max(-sigma, min(sigma, w[i]))
    return w, v, g_hat, sigma


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", BASES)
def test_third_step_matches_hand_computation(dtype, base):
    eta, beta, g_bound, p_scale = 0.3, 0.9, 1.2, 1.5
    w0 = [0.8, -0.4, 1.1, -1.3, 0.2, 0.6]
    w = [0.7, -0.35, 1.2, -0.9, 0.15, 0.5]
    gradients = [
        [0.5, 0.2, -1.0, 0.0, 0.0, 3.0],
        [-0.25, 0.4, -2.0, 0.0, 1e-3, 3.0],
        [1.0, -0.1, -1.5, 0.0, 4.0, 0.0],
    ]
    # make the inputs exactly representable in dtype so both sides start from the same numbers
    w0 = [float(x) for x in np.asarray(w0, dtype)]
    w = [float(x) for x in np.asarray(w, dtype)]
    gradients = [[float(x) for x in np.asarray(g, dtype)] for g in gradients]
    expect_w, expect_v, expect_g_hat, sigma = madam_by_hand(
        w0, w, gradients, eta, beta, g_bound, p_scale, base)
    # the case list covers the clip, the g_hat clamp and the 0/0 rule at t = 3
    assert expect_w[2] == sigma and expect_g_hat[4] == g_bound and expect_g_hat[3] == 0

    opt = Madam(np.asarray(w0, dtype), eta=eta, beta=beta, g_bound=g_bound, p_scale=p_scale,
                base=base, dtype=dtype)
    got = np.asarray(w, dtype)
    for g in gradients:
        got = opt.step(got, np.asarray(g, dtype))
    assert opt.t == 3
    assert got.dtype == dtype and opt.v.dtype == dtype
    np.testing.assert_allclose(got, expect_w, rtol=rtol(dtype))
    np.testing.assert_allclose(opt.v, expect_v, rtol=rtol(dtype))
    np.testing.assert_allclose(opt.g_hat, expect_g_hat, rtol=rtol(dtype))


def test_step_does_not_modify_inputs():
    w0 = np.array([1.0, -2.0, 3.0])
    w, g = w0.copy(), np.array([1.0, 1.0, 1.0])
    Madam(w0).step(w, g)
    assert np.array_equal(w, w0) and np.array_equal(g, [1.0, 1.0, 1.0])


# -------------------------------------------------------------------------- IntegerMadam


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_madam_codes_in_range_signs_fixed_and_decoding(dtype):
    rng = np.random.default_rng(6)
    w0 = rng.standard_normal(300)
    w0[5] = 0
    opt = IntegerMadam(w0, eta_b=0.05, lr_factor=3.0, bits=4, seed=1, dtype=dtype)
    assert opt.levels == 16
    seen_low = seen_high = False
    for _ in range(200):
        g = rng.standard_cauchy(300) + np.where(np.arange(300) % 2, 1.0, -1.0)
        w = opt.step(g)
        assert w.dtype == dtype
        assert opt.codes.min() >= 0 and opt.codes.max() <= 15
        seen_low |= bool((opt.codes == 0).any())
        seen_high |= bool((opt.codes == 15).any())
        assert np.array_equal(np.sign(w), np.sign(w0))
    assert seen_low and seen_high  # both ends of the code range were exercised
    sigma = 3.0 * math.sqrt(math.fsum(float(x) ** 2 for x in w0.astype(dtype)) / 300)
    for i in (0, 1, 2, 5, 11):
        expect = float(np.sign(w0[i])) * sigma * math.exp(-0.05 * int(opt.codes[i]))
        assert float(w[i]) == pytest.approx(expect, rel=rtol(dtype), abs=0)
    assert w[5] == 0  # zero is not representable: a zero w0 has s = 0 and stays zero


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, move", [(2.5, 2), (3.5, 4), (1.5, 2), (0.5, 0), (3.0, 3)])
def test_integer_madam_rounds_half_even_with_madam_sign_convention(dtype, k, move):
    # w0 signs + + - -, g signs + - + -; at t = 1 g_hat = sign(g), so k * g_hat = +-k
    w0 = np.array([1.0, 1.0, -1.0, -1.0])
    opt = IntegerMadam(w0, lr_factor=k, codes=[100, 100, 100, 100], dtype=dtype)
    before = np.abs(opt.weights())
    opt.step([0.3, -7.0, 2.0, -0.01])
    # |w| shrinks (n grows) when g and w have the same sign, as in w * exp(-eta g_hat sign w)
    assert list(opt.codes) == [100 + move, 100 - move, 100 - move, 100 + move]
    after = np.abs(opt.weights())
    if move:
        assert after[0] < before[0] and after[1] > before[1]
        assert after[2] > before[2] and after[3] < before[3]


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_madam_matches_madam_when_steps_are_whole_codes(dtype):
    # with integer k and |g_hat| = 1 (t = 1) the code step is exact: Madam with eta = k eta_b
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal(100)
    opt = IntegerMadam(w0, eta_b=0.002, lr_factor=8, codes=rng.integers(100, 4000, 100),
                       dtype=dtype)
    w = opt.weights()
    g = rng.standard_normal(100)
    float_madam = Madam(w, eta=0.016, p_scale=100.0, dtype=dtype)  # clip far away
    np.testing.assert_allclose(opt.step(g), float_madam.step(w, g), rtol=10 * rtol(dtype))


def test_integer_madam_initial_codes_are_seeded_and_below_the_top_code():
    w0 = np.linspace(-1, 1, 1000)
    a = IntegerMadam(w0, bits=2, seed=3)
    b = IntegerMadam(w0, bits=2, seed=3)
    c = IntegerMadam(w0, bits=2, seed=4)
    assert np.array_equal(a.codes, b.codes) and not np.array_equal(a.codes, c.codes)
    assert set(np.unique(a.codes)) == {0, 1, 2}  # uniform on [0, levels - 2]: 3 never drawn
    sigma = 3 * math.sqrt(math.fsum(x * x for x in w0) / 1000)
    expect = np.sign(w0) * sigma * np.exp(-0.001 * a.codes)
    np.testing.assert_allclose(a.weights(), expect, rtol=1e-12)


def test_integer_madam_errors():
    w0 = np.ones(4)
    with raises("codes must be in [0, 4095], not 4096"):
        IntegerMadam(w0, codes=[0, 1, 2, 4096])
    with raises("codes must be in [0, 4095], not -1"):
        IntegerMadam(w0, codes=[0, -1, 2, 3])
    with raises("codes must have shape (4,) like w0, not (3,)"):
        IntegerMadam(w0, codes=[0, 1, 2])
    with raises("codes must be integers, not dtype float64"):
        IntegerMadam(w0, codes=[0.0, 1.0, 2.0, 3.0])
    with raises("bits must be an integer from 1 to 32, not 0"):
        IntegerMadam(w0, bits=0)
    with raises("seed must be a non-negative integer, not -1"):
        IntegerMadam(w0, seed=-1)
    with raises("lr_factor must be positive, not 0.0"):
        IntegerMadam(w0, lr_factor=0)
    opt = IntegerMadam(w0)
    with raises("g must be finite, not nan at index 1"):
        opt.step([0.0, np.nan, 1.0, 1.0])
    with raises("g must have shape (4,) like w0, not (2, 2)"):
        opt.step(np.ones((2, 2)))
    assert opt.t == 0


# ------------------------------------------------------------------------------ LNSMadam


@pytest.mark.parametrize("dtype", DTYPES)
def test_lns_madam_log2_moves_by_whole_multiples_of_eta(dtype):
    rng = np.random.default_rng(8)
    w0 = rng.standard_normal(400)
    opt = LNSMadam(w0, dtype=dtype)
    assert opt.base == 2 and opt.eta == 2.0 ** -7
    w = (0.1 * w0).astype(dtype)
    steps_seen = set()
    tol = 1e-9 if dtype == np.float64 else 1e-3
    for _ in range(300):
        g = rng.standard_normal(400) * np.exp(rng.normal(0, 2, 400))
        w_next = opt.step(w, g)
        inside = np.abs(w_next) < opt.sigma_star
        k = (np.log2(np.abs(w_next[inside].astype(np.float64)))
             - np.log2(np.abs(w[inside].astype(np.float64)))) / 2.0 ** -7
        assert np.all(np.abs(k - np.round(k)) < tol)
        assert np.all(np.abs(k) <= 10 + tol)
        # and it is the rounded g_hat, against the sign of w
        expect = -np.rint(opt.g_hat[inside]) * np.sign(w[inside])
        assert np.array_equal(np.round(k), expect)
        steps_seen |= set(np.round(k).astype(int).tolist())
        w = w_next
    assert {-2, -1, 0, 1, 2} <= steps_seen  # not a trivial sign-only update


@pytest.mark.parametrize("dtype", DTYPES)
def test_lns_madam_rounds_g_hat_half_even(dtype):
    # beta = 1/4, g = 4 then 1: v = 3/4*16 = 12, then 1/4*12 + 3/4 = 3.75; 1 - beta^2 = 15/16;
    # g_hat = 1 / sqrt(3.75 / (15/16)) = 1/2 exactly in binary floating point
    for g2 in (1.0, -1.0):
        opt = LNSMadam(np.ones(1), beta=0.25, dtype=dtype)
        w = opt.step([0.5], [4.0])
        w_next = opt.step(w, [g2])
        assert opt.g_hat[0] == 0.5 * g2
        assert w_next[0] == w[0]  # round_half_even(+-0.5) = 0 (half away from zero gives 1)
    # the clamp at g_bound = 2.5 / 3.5 gives ties at 2.5 -> 2 and 3.5 -> 4
    for g_bound, k in ((2.5, 2), (3.5, 4), (1.4, 1)):
        opt = LNSMadam(np.ones(1), g_bound=g_bound, dtype=dtype)
        w = np.array([0.25])
        for _ in range(30):  # zero gradients: v stays 0, so the next g_hat is ~sqrt(31)
            w = opt.step(w, [0.0])
        w_next = opt.step(w, [1.0])
        assert opt.g_hat[0] == g_bound
        assert float(w_next[0]) == pytest.approx(0.25 * 2.0 ** (-k / 128), rel=rtol(dtype))


# -------------------------------------------------------------------------- Adam and SGD


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_two_steps_by_hand(dtype):
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-8
    w = [float(x) for x in np.asarray([0.5, -1.0, 2.0, 0.0], dtype)]
    gradients = [[0.1, -2.0, 0.0, 3.0], [-0.3, -1.0, 0.0, 1e-4]]
    gradients = [[float(x) for x in np.asarray(g, dtype)] for g in gradients]
    expect, m, v = list(w), [0.0] * 4, [0.0] * 4
    for t, g in enumerate(gradients, start=1):
        for i in range(4):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            m_hat, v_hat = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
            expect[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    opt = Adam(np.asarray(w, dtype), lr=lr, betas=(b1, b2), eps=eps, dtype=dtype)
    got = np.asarray(w, dtype)
    first = opt.step(got, gradients[0])
    # Adam's first step moves every weight with g != 0 by lr (up to eps), against the gradient
    np.testing.assert_allclose(first - got, [-lr, lr, 0.0, -lr], rtol=1e-5)
    got = opt.step(first, gradients[1])
    assert got.dtype == dtype and opt.t == 2
    np.testing.assert_allclose(got, expect, rtol=rtol(dtype))
    np.testing.assert_allclose(opt.m, m, rtol=rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_two_steps_by_hand(dtype):
    lr, mu, wd = 0.1, 0.9, 0.01
    w = [0.5, -1.0, 2.0]
    gradients = [[1.0, -2.0, 0.0], [0.5, 0.25, -4.0]]
    # step 1: buf = g + wd w; step 2: buf = mu buf + g + wd w
    buf = [g + wd * x for g, x in zip(gradients[0], w)]
    w1 = [x - lr * b for x, b in zip(w, buf)]
    buf = [mu * b + g + wd * x for b, g, x in zip(buf, gradients[1], w1)]
    w2 = [x - lr * b for x, b in zip(w1, buf)]
    opt = SGD(np.asarray(w, dtype), lr=lr, momentum=mu, weight_decay=wd, dtype=dtype)
    got1 = opt.step(np.asarray(w, dtype), gradients[0])
    np.testing.assert_allclose(got1, w1, rtol=rtol(dtype))
    got2 = opt.step(got1, gradients[1])
    assert got2.dtype == dtype and opt.t == 2
    np.testing.assert_allclose(got2, w2, rtol=rtol(dtype))
    np.testing.assert_allclose(opt.buf, buf, rtol=rtol(dtype))


def test_sgd_defaults_are_plain_momentum():
    opt = SGD(np.zeros(2))
    assert (opt.lr, opt.momentum, opt.weight_decay) == (0.1, 0.9, 0.0)
    w = opt.step([1.0, 1.0], [1.0, -1.0])
    w = opt.step(w, [1.0, -1.0])
    # buf = 1, then 0.9 + 1 = 1.9: w = 1 - 0.1 - 0.19 and 1 + 0.1 + 0.19
    np.testing.assert_allclose(w, [0.71, 1.29], rtol=1e-12)


# -------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("cls", [Madam, LNSMadam, Adam, SGD])
def test_gradient_errors_are_pinned_and_leave_state_unchanged(cls):
    opt = cls(np.ones((2, 3)))
    w = np.full((2, 3), 0.5)
    g = np.ones((2, 3))
    g[1, 2] = np.nan
    with raises("g must be finite, not nan at index (1, 2)"):
        opt.step(w, g)
    g[1, 2] = -np.inf
    with raises("g must be finite, not -inf at index (1, 2)"):
        opt.step(w, g)
    with raises("g must have shape (2, 3) like w0, not (3, 2)"):
        opt.step(w, np.ones((3, 2)))
    with raises("w must have shape (2, 3) like w0, not (6,)"):
        opt.step(np.ones(6), np.ones((2, 3)))
    with raises("w must be finite, not nan at index (0, 0)"):
        opt.step(np.where(np.eye(2, 3) > 0, np.nan, 1.0), np.ones((2, 3)))
    assert opt.t == 0


@pytest.mark.parametrize("cls", [Madam, Adam])
def test_float32_overflow_of_g_squared_is_an_error(cls):
    opt = cls(np.ones(3), dtype=np.float32)
    with raises("g must fit in float32, not 1e+39 at index 2"):
        opt.step(np.ones(3), [1.0, 1.0, 1e39])
    with raises("the second moment v must stay finite in float32, not overflow; "
                "the gradient is too large for this dtype"):
        opt.step(np.ones(3), [1.0, 1.0, 1e20])  # fits float32, its square does not
    assert opt.t == 0 and np.all(opt.v == 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"eta": -1.0}, "eta must be positive, not -1.0"),
    ({"eta": 0}, "eta must be positive, not 0.0"),
    ({"eta": math.inf}, "eta must be finite, not inf"),
    ({"eta": math.nan}, "eta must be finite, not nan"),
    ({"beta": 1.0}, "beta must be in [0, 1), not 1.0"),
    ({"beta": -0.5}, "beta must be in [0, 1), not -0.5"),
    ({"g_bound": 0.0}, "g_bound must be positive, not 0.0"),
    ({"p_scale": -3}, "p_scale must be positive, not -3.0"),
    ({"base": 10}, "base must be 'e' or 2, not 10"),
    ({"base": "2"}, "base must be 'e' or 2, not '2'"),
    ({"base": math.e}, f"base must be 'e' or 2, not {math.e!r}"),
    ({"dtype": np.int64}, "dtype must be float32 or float64, not int64"),
    ({"dtype": np.float16}, "dtype must be float32 or float64, not float16"),
    ({"dtype": "banana"}, "dtype must be float32 or float64, not 'banana'"),
    ({"dtype": None}, "dtype must be float32 or float64, not None"),
])
def test_madam_constructor_errors(kwargs, message):
    with raises(message):
        Madam(np.ones(3), **kwargs)


def test_other_constructor_errors():
    with raises("eta must be a real number, not str", TypeError):
        Madam(np.ones(3), eta="0.01")
    with raises("w0 must have a non-zero RMS, not 0 (all weights zero)"):
        Madam(np.zeros(3))
    with raises("w0 must have at least one element, not 0"):
        Madam([])
    with raises("w0 must be finite, not inf at index 1"):
        Madam([1.0, np.inf])
    with raises("eta must be positive, not -0.5"):
        LNSMadam(np.ones(3), eta=-0.5)
    with raises("betas[0] must be in [0, 1), not 1.0"):
        Adam(np.ones(3), betas=(1.0, 0.999))
    with raises("betas must be a pair of numbers, not 0.9"):
        Adam(np.ones(3), betas=0.9)
    with raises("eps must be positive, not 0.0"):
        Adam(np.ones(3), eps=0.0)
    with raises("momentum must be in [0, 1), not 1.5"):
        SGD(np.ones(3), momentum=1.5)
    with raises("weight_decay must be non-negative, not -0.1"):
        SGD(np.ones(3), weight_decay=-0.1)
