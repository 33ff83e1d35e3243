"""The bit-exact LNS Adam update (lns.rules.adam, lns.rules.additive): reference == kernel, the exact
cases (cancellation, one LSB apart, t = 1, zero crossing, swamping, saturation), precision
against a float64 rendering of the same equations, the tables against mpmath, the presets.

Every assertion runs over both evaluators (the Fraction reference and the Numba kernel).
"""

import json
import math
from functools import lru_cache

import mpmath
import numpy as np
import pytest

import lns
from lns import presets
from lns.rules.adam import AdamConfig
from lns.codec import fields_ref, store_ref
from lns.format import LNSFormat
from lns.optimizers import Optimizer, config_from_dict, config_from_json, describe
from lns.rounding import round_shift_rne_ref
from lns.tables import gauss_table

EVALUATORS = ["python", "numba"]
ADAM = [n for n in (presets.names("adam") + presets.names("sgd")) if n.endswith("_adam")]


def direct(cfg, **kw):
    """The preset with every table direct (correctly rounded): exact oracles apply."""
    return cfg.replace(table="direct", **kw)


def state(cfg, seed=5, lanes=1):
    return lns.lane_seeds(seed, lanes) if cfg.is_stochastic else None


def mp_log_code(x, frac_bits):
    """nint(log2|x| 2**F) of an mpf (the correctly rounded log code), or None for zero."""
    with mpmath.workprec(120):
        if x == 0:
            return None
        return int(mpmath.nint(mpmath.log(abs(x), 2) * 2 ** frac_bits))


def mp_value(fmt, word):
    s, x, z = fields_ref(fmt, word)
    with mpmath.workprec(120):
        return mpmath.mpf(0) if z else (-1) ** s * mpmath.power(2, mpmath.mpf(x) / 2 ** fmt.frac_bits)


def words(cfg, w, g, m, v):
    return tuple(int(lns.encode(getattr(cfg, r), x)) for r, x in
                 zip(cfg.FORMAT_ROLES, (w, g, m, v)))


# ============================================================ presets, config, validation ==
@pytest.mark.parametrize("name", (presets.names("adam") + presets.names("sgd")))
def test_presets_validate_and_round_trip(name):
    cfg = presets.get(name)
    assert cfg.name == name and presets.get(name) is cfg
    back = type(cfg).from_json(cfg.to_json())
    assert back == cfg and back.params == cfg.params
    assert config_from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["optimizer"] == str(cfg.optimizer)
    row = describe(cfg)
    assert row["optimizer"] == cfg.optimizer and row["weight"]["format"] == cfg.weight.name
    # weight widths as the Madam presets of the same width
    width = name.split("_")[0]
    assert cfg.weight == presets.get(width).weight
    assert cfg.acc_frac_bits == cfg.weight.frac_bits + cfg.guard_bits
    assert cfg.is_stochastic == (name in ("lns8_adam", "lns12_adam"))


def test_preset_registry():
    assert presets.names("adam") + presets.names("sgd") == ["lns8_adam", "lns12_adam",
                                                            "lns16_adam", "lns12_sgd"]
    assert presets.names("madam") == ["tiny", "lns8_sign", "lns8", "lns12", "lns16"]
    assert set(presets.names()) >= set(presets.names("madam") + presets.names("float_adam"))
    with pytest.raises(ValueError, match="preset must be one of tiny, .*lns12_sgd, .*, "
                                         "not 'nope'"):
        presets.get("nope")
    madam = presets.get("lns12")
    assert config_from_dict(madam.to_dict()) == madam           # no "optimizer": Madam
    assert config_from_dict({**madam.to_dict(), "optimizer": "madam"}) == madam
    assert lns.Optimizer("adam") is Optimizer.ADAM


def _base():
    """lns12_adam with nearest-even rounding: the exact cases need no LFSR."""
    return presets.get("lns12_adam").replace(rounding="nearest_even")


@pytest.mark.parametrize("change, err, text", [
    (dict(weight=LNSFormat(4, 7, signed=False)), ValueError,
     "weight format must be signed, not ulns11_i4f7"),
    (dict(weight=LNSFormat(4, 7, zero="none", underflow="saturate")), ValueError,
     "weight format must have a zero code, not lns12_i4f7_nz"),
    (dict(second_moment=LNSFormat(7, 10, bias=100)), ValueError,
     "second_moment format must be unsigned, not lns18_i7f10_b100"),
    (dict(first_moment=LNSFormat(5, 4, bias=24)), ValueError,
     "first_moment frac_bits must be at least grad frac_bits = 5, not 4"),
    (dict(grad=3), TypeError, "grad must be an LNSFormat, not int"),
    (dict(beta1=1.0), ValueError, "beta1 must be strictly between 0.0 and 1.0, not 1.0"),
    (dict(beta2=0), ValueError, "beta2 must be strictly between 0.0 and 1.0, not 0"),
    (dict(eps=0.0), ValueError, "eps must be a positive finite number, not 0.0"),
    (dict(eta_log2=3), ValueError, "eta_log2 must be between -24 and 0, not 3"),
    (dict(guard_bits=8), ValueError, "weight frac_bits \\+ guard_bits must be at most 14, not 15"),
    (dict(rounding="up"), ValueError, "rounding must be one of nearest_even, stochastic, not 'up'"),
])
def test_config_errors(change, err, text):
    with pytest.raises(err, match=f"^{text}$"):
        _base().replace(**change)


def test_config_json_errors():
    d = _base().to_dict()
    with pytest.raises(ValueError, match="optimizer must be 'adam' for AdamConfig, not 'sgd'"):
        AdamConfig.from_dict({**d, "optimizer": "sgd"})
    with pytest.raises(ValueError, match="unknown config field 'beta'"):
        AdamConfig.from_dict({**d, "beta": 0.9})
    with pytest.raises(ValueError, match="optimizer must be one of madam, adam, sgd, lion, float_adam, "
                       "float_adam_fast, mp_adam, float_madam, not 'x'"):
        config_from_dict({**d, "optimizer": "x"})


def test_api_errors():
    cfg = _base()
    with pytest.raises(TypeError, match="cfg must be an AdamConfig, not MadamConfig"):
        lns.adam_update(presets.get("lns12"), 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="evaluator must be one of python, numba, not 'c'"):
        lns.adam_update(cfg, 1, 1, 1, 1, 1, evaluator="c")
    with pytest.raises(ValueError, match="t must be an int >= 1, not 0"):
        lns.adam_update(cfg, 1, 1, 1, 1, 0)
    with pytest.raises(ValueError, match="m must be codes of lns13_i5f7"):
        lns.adam_update(cfg, 1, 1, 1 << 13, 1, 1)
    with pytest.raises(ValueError, match="w, g, m, v must have the same shape"):
        lns.adam_update(cfg, [1, 2], [1, 2], [1, 2], [1, 2, 3], 1)
    with pytest.raises(ValueError, match="lfsr_state is only used with rounding='stochastic'"):
        lns.adam_update(cfg, 1, 1, 1, 1, 1, lfsr_state=lns.lane_seeds(1, 1))
    with pytest.raises(ValueError, match="rounding='stochastic' needs lfsr_state"):
        lns.adam_update(presets.get("lns8_adam"), 1, 1, 1, 1, 1)
    with pytest.raises(TypeError, match="lfsr_state must be a non-empty 1-D int64 numpy array"):
        lns.adam_update(presets.get("lns12_adam"), 1, 1, 1, 1, 1, lfsr_state=[5])


# ================================================================== reference == kernel ==
@pytest.mark.parametrize("name", ADAM)
@pytest.mark.parametrize("t", [1, 3, 1000])
@pytest.mark.parametrize("table", ["interp", "direct"])
def test_kernel_equals_reference(name, t, table):
    cfg = presets.get(name).replace(table=table)
    rng = np.random.default_rng(t)
    n = 1500
    w, g, m, v = (rng.integers(0, 1 << getattr(cfg, r).total_bits, n) for r in cfg.FORMAT_ROLES)
    # a quarter of realistic words (random words are mostly huge or tiny)
    k = n // 4
    w[:k], g[:k], m[:k], v[:k] = (lns.encode(getattr(cfg, r), x) for r, x in zip(
        cfg.FORMAT_ROLES, _realistic(rng, k)))
    s1, s2 = state(cfg, lanes=3), state(cfg, lanes=3)
    a = lns.adam_update(cfg, w, g, m, v, t, lfsr_state=s1, evaluator="numba")
    b = lns.adam_update(cfg, w, g, m, v, t, lfsr_state=s2, evaluator="python")
    for x, y in zip(a, b):
        assert x.dtype == np.int64 and np.array_equal(x, y)
    if s1 is not None:
        assert np.array_equal(s1, s2) and not np.array_equal(s1, state(cfg, lanes=3))


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_scalar_and_shape(evaluator):
    cfg = _base()
    out = lns.adam_update(cfg, *words(cfg, 0.25, 0.5, 0.0, 0.0), 1, evaluator=evaluator)
    assert all(type(x) is int for x in out)
    arr = lns.adam_update(cfg, *(np.full((2, 3), x) for x in words(cfg, 0.25, 0.5, 0, 0)), 1,
                          evaluator=evaluator)
    assert all(a.shape == (2, 3) and np.all(a == o) for a, o in zip(arr, out))


# ======================================================================== exact cases ==
@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_first_step_moves_by_eta_exactly(evaluator):
    """At t = 1 from m = v = 0, m_hat = g and v_hat = g**2 exactly (the bias codes equal the
    (1 - beta) codes), so the step is eta sign(g): every weight word, both signs of g,
    against mpmath: X_w' = RNE(nint(2**Fa log2|w - eta sign g|), guard)."""
    cfg = direct(_base())
    W, fa = cfg.weight, cfg.acc_frac_bits
    p = cfg.params
    assert cfg.bias_correction_codes(1) == (p.c_one_minus_beta1, p.c_one_minus_beta2)
    w = np.arange(1 << W.total_bits)
    for g_val in (1.0, -0.375):
        g = np.full(w.shape, int(lns.encode(cfg.grad, g_val)))
        zero = np.zeros_like(w)
        w1, m1, v1 = lns.adam_update(cfg, w, g, zero, zero, 1, evaluator=evaluator)
        assert len(set(m1.tolist())) == 1 and len(set(v1.tolist())) == 1
        eta = mpmath.mpf(2) ** cfg.eta_log2 * (1 if g_val > 0 else -1)
        want = []
        for word in w.tolist():
            exact = mp_value(W, word) - eta
            R = mp_log_code(exact, fa)
            want.append(store_ref(W, 0, None) if R is None else
                        store_ref(W, int(exact < 0), round_shift_rne_ref(R, cfg.guard_bits)))
        assert np.array_equal(w1, want)
        # the weight equal to the step cancels exactly; a zero weight moves by -step
        eta_word = int(lns.encode(W, float(eta)))
        assert w1[eta_word] == 0
        assert w1[0] == int(lns.encode(W, -float(eta)))


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_interp_weight_adder_is_faithful(evaluator):
    """With the preset's interpolated tables the same sweep is within 1/2 + 2**-guard LSB."""
    cfg = _base()
    W = cfg.weight
    w = np.arange(1, 1 << W.log_bits)          # positive non-zero words
    g = np.full(w.shape, int(lns.encode(cfg.grad, -1.0)))
    zero = np.zeros_like(w)
    w1, _, _ = lns.adam_update(cfg, w, g, zero, zero, 1, evaluator=evaluator)
    s, x, z = lns.codec.split(W, w1)
    assert not z.any() and not s.any()
    with mpmath.workprec(80):
        exact = [float(mpmath.log(mp_value(W, int(k)) + mpmath.mpf(2) ** cfg.eta_log2, 2)
                       * 2 ** W.frac_bits) for k in w]
    err = np.abs(x - np.minimum(np.array(exact), W.x_max))
    assert err.max() < 0.5 + 2.0 ** -cfg.guard_bits


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_weight_crosses_zero(evaluator):
    cfg = direct(_base())
    w0 = 2.0 ** -12                            # far below eta = 2**-10
    w, g, m, v = words(cfg, w0, 0.5, 0.0, 0.0)
    w1, _, _ = lns.adam_update(cfg, w, g, m, v, 1, evaluator=evaluator)
    s, x, z = fields_ref(cfg.weight, w1)
    assert s == 1 and not z
    exact = mp_log_code(mpmath.mpf(w0) - mpmath.mpf(2) ** -10, cfg.acc_frac_bits)
    assert x == round_shift_rne_ref(exact, cfg.guard_bits)
    assert lns.decode(cfg.weight, w1) == pytest.approx(w0 - 2.0 ** -10, rel=2 ** -8)
    # and back: the opposite gradient moves it up through zero again
    w2, _, _ = lns.adam_update(cfg, w1, int(lns.encode(cfg.grad, -0.5)), m, v, 1,
                               evaluator=evaluator)
    assert lns.decode(cfg.weight, w2) == pytest.approx(w0, rel=2 ** -6)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_first_moment_cancels_exactly(evaluator):
    """beta1 m + (1 - beta1) g with equal codes of opposite signs is the zero word; no step
    is taken (w unchanged), and v' is not zero."""
    cfg = _base()
    p, M, G = cfg.params, cfg.first_moment, cfg.grad
    for xg in (0, -100, 37):
        for sg in (0, 1):
            xm = (xg << p.g_shift) + p.c_one_minus_beta1 - p.c_beta1
            g = G.word(sg, xg + G.offset)
            m = M.word(1 - sg, xm + M.offset)
            w = int(lns.encode(cfg.weight, -0.3))
            v = int(lns.encode(cfg.second_moment, 1e-3))
            w1, m1, v1 = lns.adam_update(cfg, w, g, m, v, 5, evaluator=evaluator)
            assert (w1, m1) == (w, 0) and v1 != 0


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("table", ["direct", "interp"])
@pytest.mark.parametrize("apart", [1, -1, 2, 5])
def test_first_moment_terms_lsbs_apart(evaluator, table, apart):
    """Opposite terms a few LSBs apart (the steep end of db, held directly in both methods):
    m' is the correctly rounded log2|2**a - 2**b|."""
    cfg = _base().replace(table=table)
    p, M, G = cfg.params, cfg.first_moment, cfg.grad
    fm = M.frac_bits
    for xg in (0, -200):
        b = (xg << p.g_shift) + p.c_one_minus_beta1           # the g term's code
        a = b + apart                                          # the m term's code
        g = G.word(0, xg + G.offset)
        m = M.word(1, a - p.c_beta1 + M.offset)
        _, m1, _ = lns.adam_update(cfg, 0, g, m, 0, 2, evaluator=evaluator)
        with mpmath.workprec(120):
            exact = mpmath.power(2, mpmath.mpf(b) / 2 ** fm) - mpmath.power(2, mpmath.mpf(a) / 2 ** fm)
        assert m1 == store_ref(M, int(exact < 0), mp_log_code(exact, fm))
        assert gauss_table("db", fm, table).lookup_ref(abs(apart)) == \
            gauss_table("db", fm, "direct").near[abs(apart)]


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_weight_and_step_one_lsb_apart(evaluator):
    """With guard_bits = 0 a weight one LSB from the step gives db(1) at the weight's
    precision; with the preset's guard bits, one weight LSB is 2**guard accumulator LSBs.
    (eta = 2**-4, so that the difference, 2**-11.5, is above the weight's smallest.)"""
    for guard in (0, 4):
        cfg = direct(_base(), guard_bits=guard, eta_log2=-4)
        W = cfg.weight
        eta_x = cfg.eta_log2 << W.frac_bits
        g = int(lns.encode(cfg.grad, 0.75))
        for d in (1, -1):
            w = W.word(0, eta_x + d + W.offset)
            w1, _, _ = lns.adam_update(cfg, w, g, 0, 0, 1, evaluator=evaluator)
            exact = mp_value(W, w) - mpmath.mpf(2) ** cfg.eta_log2
            R = mp_log_code(exact, cfg.acc_frac_bits)
            assert w1 == store_ref(W, int(exact < 0), round_shift_rne_ref(R, guard))
            assert w1 != 0 and (w1 >> W.log_bits) == (d < 0)     # crossed zero when d < 0


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_swamped_step(evaluator):
    """A step under half a weight LSB vanishes under nearest-even rounding; stochastic
    rounding lets it through on average (the accumulator's 2**-guard resolution)."""
    cfg = _base()                              # RNE
    W, ga = cfg.weight, cfg.guard_bits
    # w = 1, step = 2**-10: log2(1 - 2**-10) = -0.18 weight LSBs (F = 7)
    n = 4000 if evaluator == "numba" else 800
    w = np.full(n, int(lns.encode(W, 1.0)))
    g = np.full(n, int(lns.encode(cfg.grad, 0.5)))
    zero = np.zeros(n, dtype=np.int64)
    w1, _, _ = lns.adam_update(cfg, w, g, zero, zero, 1, evaluator=evaluator)
    assert np.all(w1 == w)                                     # swamped
    exact = math.log2(1 - 2.0 ** -10) * 2 ** W.frac_bits       # -0.1804 LSB
    R = round(exact * 2 ** ga)                                 # the accumulator's code: -3
    sr = cfg.replace(rounding="stochastic")
    lanes = lns.lane_seeds(11, 4)
    w2, _, _ = lns.adam_update(sr, w, g, zero, zero, 1, lfsr_state=lanes, evaluator=evaluator)
    dx = lns.codec.split(W, w2)[1] - lns.codec.split(W, w)[1]
    assert set(dx.tolist()) == {0, -1}
    p = -R / 2 ** ga                                           # P(one LSB down) = 3/16
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(-dx.mean() - p) < 4 * sigma
    assert abs(dx.mean() - exact) < 2.0 ** -(ga + 1) + 4 * sigma


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_zero_cases(evaluator):
    cfg = _base()
    p = cfg.params
    M, V = cfg.first_moment, cfg.second_moment
    w = int(lns.encode(cfg.weight, 2.0 ** -8))
    # g = m = v = 0: nothing moves
    assert lns.adam_update(cfg, w, 0, 0, 0, 7, evaluator=evaluator) == (w, 0, 0)
    # g = 0: the moments decay by their constants exactly
    m = int(lns.encode(M, -0.01))
    v = int(lns.encode(V, 1e-4))
    w1, m1, v1 = lns.adam_update(cfg, w, 0, m, v, 7, evaluator=evaluator)
    assert m1 == m + p.c_beta1 and v1 == v + p.c_beta2 and w1 > w     # m < 0 pushes w up
    # a zero weight moves by the step
    w1, _, _ = lns.adam_update(cfg, 0, int(lns.encode(cfg.grad, 1.0)), 0, 0, 1,
                               evaluator=evaluator)
    assert w1 == int(lns.encode(cfg.weight, -2.0 ** cfg.eta_log2))
    # v' = 0 with m' != 0: the denominator is eps; the huge step saturates the weight
    w1, m1, v1 = lns.adam_update(cfg, w, 0, m, 0, 7, evaluator=evaluator)
    assert v1 == 0 and m1 != 0 and w1 == cfg.weight.word(0, cfg.weight.e_max)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_moments_saturate(evaluator):
    """The moments saturate at their largest words (v with a window low enough for g**2 to
    reach its top) and flush to zero below their smallest."""
    cfg = _base().replace(second_moment=LNSFormat(5, 10, bias=28, signed=False))
    M, V, G = cfg.first_moment, cfg.second_moment, cfg.grad
    w = int(lns.encode(cfg.weight, 0.5))
    for sign in (0, 1):
        g = G.word(sign, G.e_max)
        m = M.word(sign, M.e_max)
        w1, m1, v1 = lns.adam_update(cfg, w, g, m, V.e_max, 3, evaluator=evaluator)
        assert m1 == m and v1 == V.e_max
        _, _, v1 = lns.adam_update(cfg, w, g, 0, 0, 3, evaluator=evaluator)
        assert v1 == V.e_max                        # (1 - beta2) g**2 alone is above the top
        # the step is formed from the saturated words
        step = cfg.eta * (M.max_value / (1 - 0.9 ** 3)) / math.sqrt(V.max_value / (1 - 0.999 ** 3))
        assert lns.decode(cfg.weight, w1) == pytest.approx(0.5 + (step if sign else -step),
                                                           rel=2 ** -7)
    # the smallest moments with g = 0 flush to zero
    w1, m1, v1 = lns.adam_update(cfg, w, 0, M.word(1, M.e_min), V.e_min, 3, evaluator=evaluator)
    assert (m1, v1, w1) == (0, 0, w)


# ============================================================ precision against float64 ==
def _realistic(rng, n):
    def signed(lo, hi):
        return rng.choice([-1.0, 1.0], n) * 2.0 ** rng.uniform(lo, hi, n)
    w = signed(-6, 0)
    g = signed(-12, 0)
    m = signed(-12, 0)
    v = 2.0 ** rng.uniform(-24, 0, n)
    for x in (g, m, v):
        x[rng.random(n) < 0.1] = 0.0
    return w, g, m, v


def _u(lsbs, frac_bits):
    """The relative factor of ``lsbs`` log LSBs at ``frac_bits``: 2**(lsbs 2**-F) - 1."""
    return 2.0 ** (lsbs * 2.0 ** -frac_bits) - 1.0


def _check(name, got, want, bound, fmt):
    """|got - want| <= bound, except where the float result saturates or underflows the
    format (then the word must be the saturated magnitude, or may be 0)."""
    sat = np.abs(want) >= fmt.max_value
    ok = np.abs(got - want) <= bound * (1 + 1e-9) + 1e-12 * np.abs(want)
    ok |= sat & (np.abs(got) == fmt.max_value) & (np.sign(got) == np.sign(want))
    ok |= (got == 0) & (np.abs(want) <= fmt.min_value * 2 + bound)
    assert ok.all(), (f"{name}: {np.count_nonzero(~ok)} out of bound, first "
                      f"got {got[~ok][0]!r} want {want[~ok][0]!r} bound {bound[~ok][0]!r}")
    inside = ~sat & (bound > 0)
    return float(np.max(np.abs(got - want)[inside] / bound[inside], initial=0.0))


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("name", ADAM)
@pytest.mark.parametrize("table", ["interp", "direct"])
def test_against_float64(name, table, evaluator):
    """One step against the same equations in float64 (eps as a floor), with error bounds
    derived from the rounding points (tau: a table entry's error, 1/2 LSB direct, < 1 interp):

    m' = A + B, A = beta1 m, B = (1 - beta1) g: each term's constant is within 1/2 LSB of
       its log (m, g exact), the sum's table within tau:
       |m'_lns - m'| <= (|A| + |B|) u(1/2) (1 + u(tau)) + |m'| u(tau)     (u: at Fm);
    v' (positive terms): |v'_lns - v'| <= v' u(1/2 + tau)                    (at Fv);
    w' from the stored m', v' (decoded): the step's log is off by at most
       dL = 2**-(Fm+1) [X_bc1] + max(2**-(Fv+2) [X_bc2 halved], 2**-(Fc+1) [X_eps])
            + 2**-(Fa+1) [rounding to Fa]   (log2 units),
       the sum's table by tau 2**-Fa and the final rounding by 2**-(Fw+1) (nearest) or
       2**-Fw (stochastic): d = tau 2**-Fa + that;
       |w'_lns - w'| <= |step| (2**dL - 1) 2**d + |w'| (2**d - 1).
    """
    cfg = presets.get(name).replace(table=table)
    W, G, M, V = cfg.weight, cfg.grad, cfg.first_moment, cfg.second_moment
    fm, fv, fa, fc = M.frac_bits, V.frac_bits, cfg.acc_frac_bits, cfg.work_frac_bits
    tau = 0.5 if table == "direct" else 1.0
    rng = np.random.default_rng(len(name))
    n = 20000 if evaluator == "numba" else 1500
    worst = {}
    for t in (1, 2, 10, 1000):
        ww, gw, mw, vw = (lns.encode(f, x) for f, x in zip((W, G, M, V), _realistic(rng, n)))
        w, g, m, v = (lns.decode(f, x) for f, x in zip((W, G, M, V), (ww, gw, mw, vw)))
        w1, m1, v1 = lns.adam_update(cfg, ww, gw, mw, vw, t, lfsr_state=state(cfg, lanes=2),
                                     evaluator=evaluator)
        b1, b2 = cfg.beta1, cfg.beta2
        A, B = b1 * m, (1 - b1) * g
        mf = A + B
        worst["m"] = max(worst.get("m", 0), _check(
            "m'", lns.decode(M, m1), mf,
            (np.abs(A) + np.abs(B)) * _u(0.5, fm) * (1 + _u(tau, fm)) + np.abs(mf) * _u(tau, fm), M))
        vf = b2 * v + (1 - b2) * g * g
        worst["v"] = max(worst.get("v", 0), _check("v'", lns.decode(V, v1), vf,
                                                   vf * _u(0.5 + tau, fv), V))
        # the weight, from the stored moments
        ml, vl = lns.decode(M, m1), lns.decode(V, v1)
        m_hat = ml / (1 - b1 ** t)
        v_hat = vl / (1 - b2 ** t)
        step = cfg.eta * m_hat / np.maximum(np.sqrt(v_hat), cfg.eps)
        wf = w - step
        dL = 2.0 ** -(fm + 1) + max(2.0 ** -(fv + 2), 2.0 ** -(fc + 1)) + 2.0 ** -(fa + 1)
        d = tau * 2.0 ** -fa + 2.0 ** -(W.frac_bits + (0 if cfg.is_stochastic else 1))
        bound = np.abs(step) * (2.0 ** dL - 1) * 2.0 ** d + np.abs(wf) * (2.0 ** d - 1)
        worst["w"] = max(worst.get("w", 0), _check("w'", lns.decode(W, w1), wf, bound, W))
    # the bounds are not loose by orders of magnitude
    assert worst["w"] > 0.3 and worst["m"] > 0.1


# ============================================================== tables against mpmath ==
@lru_cache(maxsize=None)
def _mp_gauss(kind, frac_bits):
    """``2**F f(z)`` for z in [0, end) with mpmath at 96 bits (f = sb or db; db(0) recorded
    as 0), as the nearest integers and the float64 residuals; ``end`` where it first rounds
    to 0.  ``2**(-z/2**F)`` is carried as a running product (one multiply a step: its
    relative error stays below end * 2**-96 < 1e-23, far inside the 1e-9 margin asserted
    from every rounding boundary)."""
    nint, resid = [], []
    with mpmath.workprec(96):
        scale = mpmath.mpf(2) ** frac_bits / mpmath.ln(2)
        step = mpmath.power(2, -mpmath.mpf(1) / 2 ** frac_bits)
        u = mpmath.mpf(1)
        z = 0
        while True:
            if kind == "db" and z == 0:
                nint.append(0)
                resid.append(0.0)
            else:
                val = mpmath.ln(1 + u if kind == "sb" else 1 - u) * scale
                k = int(mpmath.nint(val))
                if k == 0 and z >= 1:
                    break
                nint.append(k)
                resid.append(float(val - k))
            z += 1
            u *= step
    resid = np.array(resid)
    assert np.abs(resid).max() < 0.5 - 1e-9
    return np.array(nint, dtype=np.int64), resid


def _preset_precisions():
    out = set()
    for name in (presets.names("adam") + presets.names("sgd")):
        cfg = presets.get(name)
        fm = (cfg.first_moment if name.endswith("_adam") else cfg.momentum).frac_bits
        out |= {("db", fm), ("db", cfg.acc_frac_bits), ("sb", fm), ("sb", cfg.acc_frac_bits)}
        if name.endswith("_adam"):
            out.add(("sb", cfg.second_moment.frac_bits))
    # sb/db at F <= 12 are checked exhaustively by test_oracles (slow); db is checked here
    # at every precision the presets use, sb where test_oracles does not reach
    return sorted((k, f) for k, f in out if k == "db" or f > 12)


@pytest.mark.parametrize("kind, frac_bits", _preset_precisions())
def test_tables_against_mpmath_every_index(kind, frac_bits):
    """Every index of the presets' tables: direct entries are the nearest integer, the
    interpolated table (the one the presets use) is faithful, and the kernels' flat
    expansion is the hardware lookup."""
    nint, resid = _mp_gauss(kind, frac_bits)
    end = len(nint)
    lo = 1 if kind == "db" else 0
    d = gauss_table(kind, frac_bits, "direct")
    assert d.end == end and np.array_equal(d.near[lo:], nint[lo:])
    assert np.abs(resid[lo:]).max() < 0.5
    it = gauss_table(kind, frac_bits, "interp")
    assert it.end == end
    vals = it.lookup_all()
    err = np.abs(vals[lo:] - nint[lo:] - resid[lo:])
    assert err.max() < 1.0
    assert np.array_equal(lns.kernels.table_tuple(it)[5][:end], vals)
    # spot-check the scalar (hardware-structured) lookup over the whole range
    zs = list(range(lo, end, max(1, end // 2000))) + list(range(end - 5, end + 5))
    assert [it.lookup_ref(z) for z in zs] == [int(vals[z]) if z < end else 0 for z in zs]


def test_cli_lists_optimizer_presets(capsys):
    from sim.cli import main
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()
             if line.split()[1:2] in (["adam"], ["sgd"])}
    assert list(lines) == (presets.names("adam") + presets.names("sgd"))
    assert lines["lns12_adam"][2:6] == ["lns12_i4f7_b14", "lns11_i5f5_b24", "lns13_i5f7_b24",
                                        "ulns17_i7f10_b100"]
    assert lines["lns12_sgd"][5] == "-"
    assert main(["presets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows if r["optimizer"] in ("adam", "sgd")] == \
        (presets.names("adam") + presets.names("sgd"))
    assert [r["name"] for r in rows if r["optimizer"] == "madam"] == presets.names("madam")
    assert [r["name"] for r in rows] == presets.names()
