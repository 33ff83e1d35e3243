"""The float Lion of python_ref/lion.py against the published equations (Chen et al. 2023,
Algorithm 2): ``c = b1 m + (1 - b1) g``, ``w -= lr (sign(c) + lambda w)``,
``m = b2 m + (1 - b2) g``.

Expected values are worked out by hand (written as literals, with the arithmetic in the
comments) or are consequences of the equations; none is copied from a run.
"""

import re

import numpy as np
import pytest

from python_ref.lion import Lion

DTYPES = [np.float64, np.float32]


def rtol(dtype):
    return 1e-12 if dtype == np.float64 else 1e-5


def raises(message, exc=ValueError):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


@pytest.mark.parametrize("dtype", DTYPES)
def test_three_steps_by_hand(dtype):
    opt = Lion(np.zeros(4), lr=0.01, betas=(0.9, 0.99), dtype=dtype)
    w0 = np.array([0.5, -1.0, 2.0, 0.0], dtype)
    # step 1, m = 0: c = 0.1 g, so every weight with g != 0 moves by lr against g
    w1 = opt.step(w0, [0.1, -2.0, 0.0, 3.0])
    np.testing.assert_allclose(w1, [0.49, -0.99, 2.0, -0.01], rtol=rtol(dtype))
    np.testing.assert_allclose(opt.m, [0.001, -0.02, 0.0, 0.03], rtol=rtol(dtype))
    # step 2, g = [-0.3, 1, 0, -0.5]:
    #   c = 0.9 m + 0.1 g = [0.0009 - 0.03, -0.018 + 0.1, 0, 0.027 - 0.05]
    #     = [-0.0291, 0.082, 0, -0.023]: signs [-1, +1, 0, -1]
    #   m = 0.99 m + 0.01 g = [0.00099 - 0.003, -0.0198 + 0.01, 0, 0.0297 - 0.005]
    # element 1: c > 0 (the gradient wins at b1) while the new m < 0 (it loses at b2)
    w2 = opt.step(w1, [-0.3, 1.0, 0.0, -0.5])
    np.testing.assert_allclose(w2, [0.5, -1.0, 2.0, 0.0], rtol=rtol(dtype), atol=1e-7)
    np.testing.assert_allclose(opt.m, [-0.00201, -0.0098, 0.0, 0.0247], rtol=rtol(dtype))
    # step 3, g[0] = 0.01 > 0 but c = 0.9 (-0.00201) + 0.001 = -0.000809 < 0: the momentum
    # decides, so w[0] grows against the gradient's sign
    w3 = opt.step(w2, [0.01, 0.0, 0.0, 0.0])
    assert w3.dtype == dtype and opt.t == 3
    # c[1] = 0.9 (-0.0098) < 0 -> +lr; c[3] = 0.9 * 0.0247 > 0 -> -lr; c[2] = 0 -> stays
    np.testing.assert_allclose(w3, [0.51, -0.99, 2.0, -0.01], rtol=rtol(dtype), atol=1e-7)
    np.testing.assert_allclose(opt.m, [-0.0019899 + 0.0001, -0.009702, 0.0, 0.024453],
                               rtol=rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_step_is_lr_or_nothing(dtype):
    rng = np.random.default_rng(1)
    w = rng.standard_normal(300).astype(dtype)
    opt = Lion(w, lr=2.0 ** -10, dtype=dtype)
    for _ in range(5):
        g = rng.standard_normal(300)
        g[::7] = 0.0
        c_zero = (opt.beta1 * opt.m + (1 - opt.beta1) * g) == 0
        w_new = opt.step(w, g)
        dw = np.abs(w_new.astype(np.float64) - w.astype(np.float64))
        # w -+ 2**-10 is rounded once in dtype: within an ulp of the larger of w, w'
        ulp = np.spacing(np.maximum(np.abs(w), np.abs(w_new))).astype(np.float64)
        assert np.all(np.abs(dw - 2.0 ** -10)[~c_zero] <= ulp[~c_zero])
        assert np.all(dw[c_zero] == 0)
        w = w_new
    assert opt.t == 5


def test_exact_cancellation_of_c_and_weight_decay():
    # b1 = 0.5, m = 1, g = -1: c = 0.5 - 0.5 = 0 exactly, so only the decay moves w
    opt = Lion(np.zeros(2), lr=0.1, betas=(0.5, 0.99), weight_decay=0.5)
    opt.m = np.array([1.0, 1.0])
    w = opt.step([2.0, 2.0], [-1.0, 3.0])
    # [2 - 0.1 (0 + 0.5 * 2), 2 - 0.1 (1 + 0.5 * 2)]; m = [0.99 - 0.01, 0.99 + 0.03]
    np.testing.assert_allclose(w, [1.9, 1.8], rtol=1e-15)
    np.testing.assert_allclose(opt.m, [0.98, 1.02], rtol=1e-15)
    # without decay the cancelled weight does not move at all
    opt = Lion(np.zeros(1), lr=0.1, betas=(0.5, 0.99))
    opt.m = np.array([1.0])
    assert opt.step([2.0], [-1.0])[0] == 2.0


def test_defaults():
    opt = Lion(np.zeros(2))
    assert (opt.lr, opt.beta1, opt.beta2, opt.weight_decay) == (1e-4, 0.9, 0.99, 0.0)
    assert opt.m.dtype == np.float64 and np.all(opt.m == 0)
    w = opt.step([1.0, -1.0], [-5.0, 0.25])
    np.testing.assert_allclose(w, [1.0001, -1.0001], rtol=1e-15)
    np.testing.assert_allclose(opt.m, [-0.05, 0.0025], rtol=1e-14)


def test_errors_are_pinned_and_leave_state_unchanged():
    with raises("lr must be positive, not 0.0"):
        Lion(np.ones(3), lr=0.0)
    with raises("betas[0] must be in [0, 1), not 1.5"):
        Lion(np.ones(3), betas=(1.5, 0.99))
    with raises("betas[1] must be in [0, 1), not 1.0"):
        Lion(np.ones(3), betas=(0.9, 1.0))
    with raises("betas must be a pair of numbers, not 0.9"):
        Lion(np.ones(3), betas=0.9)
    with raises("weight_decay must be non-negative, not -0.1"):
        Lion(np.ones(3), weight_decay=-0.1)
    with raises("lr must be a real number, not str", TypeError):
        Lion(np.ones(3), lr="0.1")
    opt = Lion(np.ones((2, 3)))
    g = np.ones((2, 3))
    g[1, 2] = np.nan
    with raises("g must be finite, not nan at index (1, 2)"):
        opt.step(np.ones((2, 3)), g)
    with raises("g must have shape (2, 3) like w0, not (3, 2)"):
        opt.step(np.ones((2, 3)), np.ones((3, 2)))
    with raises("w must have shape (2, 3) like w0, not (6,)"):
        opt.step(np.ones(6), np.ones((2, 3)))
    # an assigned momentum is checked like an input
    opt2 = Lion(np.ones(2))
    opt2.m = np.array([np.inf, 1.0])
    with raises("m must be finite, not inf at index 0"):
        opt2.step(np.ones(2), np.ones(2))
    assert opt.t == 0 and np.all(opt.m == 0) and opt2.t == 0
