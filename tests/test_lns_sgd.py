"""The bit-exact LNS SGD with momentum (lns.rules.sgd, on the adders of lns.rules.additive):
reference == kernel, the exact cases, precision against float64, the preset.

Every assertion runs over both evaluators (the Fraction reference and the Numba kernel).
The tables the preset uses are checked against mpmath in test_lns_adam (same precisions).
"""

import math

import mpmath
import numpy as np
import pytest

import lns
from lns import presets
from lns.codec import fields_ref, split, store_ref
from lns.format import LNSFormat
from lns.rounding import round_shift_rne_ref
from lns.rules.sgd import SGDConfig

EVALUATORS = ["python", "numba"]


def base(**kw):
    return presets.get("lns12_sgd").replace(**kw)


def mp_log_code(x, frac_bits):
    with mpmath.workprec(120):
        return None if x == 0 else int(mpmath.nint(mpmath.log(abs(x), 2) * 2 ** frac_bits))


def mp_value(fmt, word):
    s, x, z = fields_ref(fmt, word)
    with mpmath.workprec(120):
        return mpmath.mpf(0) if z else (-1) ** s * mpmath.power(2, mpmath.mpf(x) / 2 ** fmt.frac_bits)


# ============================================================ preset, config, validation ==
def test_preset():
    cfg = presets.get("lns12_sgd")
    assert isinstance(cfg, SGDConfig) and cfg.optimizer == "sgd" == lns.Optimizer.SGD
    assert cfg.weight == presets.get("lns12").weight and cfg.grad == presets.get("lns12").grad
    assert SGDConfig.from_json(cfg.to_json()) == cfg
    assert cfg.params.step_round == 0            # Fa = 11 >= Fm = 7: the step's log is exact
    assert cfg.word_bits == {"w": 12, "g": 11, "m": 13}
    assert cfg.update_words == (("w", "g", "m"), ("w", "m")) and cfg.update_bits == (36, 25)
    assert set(cfg.tables) == {"m_sb", "m_db", "w_sb", "w_db"}


@pytest.mark.parametrize("change, err, text", [
    (dict(momentum=LNSFormat(5, 7, signed=False)), ValueError,
     "momentum format must be signed, not ulns12_i5f7"),
    (dict(momentum=LNSFormat(5, 3, bias=20)), ValueError,
     "momentum frac_bits must be at least grad frac_bits = 5, not 3"),
    (dict(mu=1.5), ValueError, "mu must be strictly between 0.0 and 1.0, not 1.5"),
    (dict(eta_log2=5), ValueError, "eta_log2 must be between -24 and 4, not 5"),
    (dict(guard_bits=-1), ValueError, "guard_bits must be between 0 and 8, not -1"),
    (dict(table="rom"), ValueError, "table must be one of direct, interp, not 'rom'"),
])
def test_config_errors(change, err, text):
    with pytest.raises(err, match=f"^{text}$"):
        base(**change)


def test_api_errors():
    with pytest.raises(TypeError, match="cfg must be an SGDConfig, not AdamConfig"):
        lns.sgd_update(presets.get("lns12_adam"), 1, 1, 1)
    with pytest.raises(ValueError, match="g must be codes of lns11_i5f5"):
        lns.sgd_update(base(), 1, -1, 1)
    with pytest.raises(ValueError, match="w, g, m must have the same shape"):
        lns.sgd_update(base(), [1], [1, 2], [1])


# ================================================================== reference == kernel ==
@pytest.mark.parametrize("table", ["interp", "direct"])
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_kernel_equals_reference(table, rounding):
    cfg = base(table=table, rounding=rounding)
    rng = np.random.default_rng(3)
    n = 2000
    w, g, m = (rng.integers(0, 1 << getattr(cfg, r).total_bits, n) for r in cfg.FORMAT_ROLES)
    k = n // 2
    w[:k], g[:k], m[:k] = (lns.encode(getattr(cfg, r), x) for r, x in
                           zip(cfg.FORMAT_ROLES, _realistic(rng, k)))
    s1 = lns.lane_seeds(2, 5) if rounding == "stochastic" else None
    s2 = None if s1 is None else s1.copy()
    a = lns.sgd_update(cfg, w, g, m, lfsr_state=s1, evaluator="numba")
    b = lns.sgd_update(cfg, w, g, m, lfsr_state=s2, evaluator="python")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    if s1 is not None:
        assert np.array_equal(s1, s2)


# ======================================================================== exact cases ==
@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_first_step_is_eta_g(evaluator):
    """m = 0: m' = g exactly, the step eta g exactly (Fa >= Fm), so w' is the rounding of
    the exact w - eta g: every weight word against mpmath (direct tables)."""
    cfg = base(table="direct")
    W = cfg.weight
    w = np.arange(1 << W.total_bits)
    for gv in (0.5, -3.0):
        gw = int(lns.encode(cfg.grad, gv))
        sg, xg, _ = fields_ref(cfg.grad, gw)
        g = np.full(w.shape, gw)
        w1, m1 = lns.sgd_update(cfg, w, g, np.zeros_like(w), evaluator=evaluator)
        assert np.all(m1 == store_ref(cfg.momentum, sg, xg << cfg.params.g_shift))
        want = []
        for word in w.tolist():
            exact = mp_value(W, word) - mpmath.mpf(2) ** cfg.eta_log2 * mp_value(cfg.grad, gw)
            R = mp_log_code(exact, cfg.acc_frac_bits)
            want.append(store_ref(W, 0, None) if R is None else
                        store_ref(W, int(exact < 0), round_shift_rne_ref(R, cfg.guard_bits)))
        assert np.array_equal(w1, want)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_weight_becomes_exactly_zero_and_crosses(evaluator):
    cfg = base()
    W, G = cfg.weight, cfg.grad
    g = int(lns.encode(G, 1.0))                      # step = eta * 1 = 2**-3
    for w0, want in ((2.0 ** -3, 0.0), (2.0 ** -4, -2.0 ** -4), (-2.0 ** -4, -3 * 2.0 ** -4)):
        w1, m1 = lns.sgd_update(cfg, int(lns.encode(W, w0)), g, 0, evaluator=evaluator)
        assert w1 == int(lns.encode(W, want))
    assert lns.sgd_update(cfg, int(lns.encode(W, 2.0 ** -3)), g, 0, evaluator=evaluator)[0] == 0
    # a zero weight moves; a zero step (g = m = 0) leaves any weight as it is
    assert lns.sgd_update(cfg, 0, g, 0, evaluator=evaluator)[0] == int(lns.encode(W, -0.125))
    for w in (0, 5, 1 << 11 | 77):
        assert lns.sgd_update(cfg, w, 0, 0, evaluator=evaluator) == (w, 0)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_momentum_cancels_and_one_lsb_apart(evaluator):
    cfg = base(table="interp")
    p, M, G = cfg.params, cfg.momentum, cfg.grad
    fm = M.frac_bits
    w = int(lns.encode(cfg.weight, 0.25))
    for xg in (0, -150):
        b = xg << p.g_shift
        g = G.word(0, xg + G.offset)
        # mu m = -g exactly: the zero word, and no step
        m = M.word(1, b - p.c_mu + M.offset)
        assert lns.sgd_update(cfg, w, g, m, evaluator=evaluator) == (w, 0)
        for apart in (1, -1, 3):
            m = M.word(1, b + apart - p.c_mu + M.offset)
            _, m1 = lns.sgd_update(cfg, w, g, m, evaluator=evaluator)
            with mpmath.workprec(120):
                exact = mpmath.power(2, mpmath.mpf(b) / 2 ** fm) \
                    - mpmath.power(2, mpmath.mpf(b + apart) / 2 ** fm)
            assert m1 == store_ref(M, int(exact < 0), mp_log_code(exact, fm))


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_swamped_step_and_stochastic_rounding(evaluator):
    cfg = base()
    W = cfg.weight
    n = 4000 if evaluator == "numba" else 1000
    w = np.full(n, int(lns.encode(W, 1.0)))
    g = np.full(n, int(lns.encode(cfg.grad, 2.0 ** -7)))      # step 2**-10: 0.18 LSB
    zero = np.zeros(n, dtype=np.int64)
    w1, _ = lns.sgd_update(cfg, w, g, zero, evaluator=evaluator)
    assert np.all(w1 == w)
    sr = cfg.replace(rounding="stochastic")
    w2, _ = lns.sgd_update(sr, w, g, zero, lfsr_state=lns.lane_seeds(9, 3), evaluator=evaluator)
    dx = split(W, w2)[1] - split(W, w)[1]
    p = 3 / 16                      # the accumulator's code is -3 at guard 4 (as in Adam's)
    assert set(dx.tolist()) == {0, -1}
    assert abs(-dx.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_momentum_saturates(evaluator):
    cfg = base(momentum=LNSFormat(5, 7, bias=24))          # a window g can reach the top of
    M, G = cfg.momentum, cfg.grad
    for s in (0, 1):
        _, m1 = lns.sgd_update(cfg, 0, G.word(s, G.e_max), M.word(s, M.e_max), evaluator=evaluator)
        assert m1 == M.word(s, M.e_max)
    # mu m below the smallest word, g = 0: flushed
    assert lns.sgd_update(cfg, 0, 0, M.word(0, M.e_min), evaluator=evaluator)[1] == 0


# ============================================================ precision against float64 ==
def _realistic(rng, n):
    def signed(lo, hi):
        return rng.choice([-1.0, 1.0], n) * 2.0 ** rng.uniform(lo, hi, n)
    w, g, m = signed(-6, 0), signed(-12, 0), signed(-10, 3)
    g[rng.random(n) < 0.1] = 0.0
    m[rng.random(n) < 0.1] = 0.0
    return w, g, m


def _u(lsbs, frac_bits):
    return 2.0 ** (lsbs * 2.0 ** -frac_bits) - 1.0


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("table", ["interp", "direct"])
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_against_float64(table, rounding, evaluator):
    """One step against ``m' = mu m + g``, ``w' = w - eta m'`` in float64.  Bounds from the
    rounding points (tau = 1/2 direct, 1 interp): the mu m term within 1/2 LSB, g exact,
    the table within tau at Fm; the step's log is exact here (Fa >= Fm); the weight adder's
    table within tau 2**-Fa and the final rounding 2**-(Fw+1) (2**-Fw stochastic)."""
    cfg = base(table=table, rounding=rounding)
    W, G, M = cfg.weight, cfg.grad, cfg.momentum
    fm, fa = M.frac_bits, cfg.acc_frac_bits
    tau = 0.5 if table == "direct" else 1.0
    rng = np.random.default_rng(7)
    n = 20000 if evaluator == "numba" else 2000
    ww, gw, mw = (lns.encode(f, x) for f, x in zip((W, G, M), _realistic(rng, n)))
    w, g, m = (lns.decode(f, x) for f, x in zip((W, G, M), (ww, gw, mw)))
    st = lns.lane_seeds(1, 2) if rounding == "stochastic" else None
    w1, m1 = lns.sgd_update(cfg, ww, gw, mw, lfsr_state=st, evaluator=evaluator)
    A = cfg.mu * m
    mf = A + g
    ml = lns.decode(M, m1)
    bm = np.abs(A) * _u(0.5, fm) * (1 + _u(tau, fm)) + np.abs(mf) * _u(tau, fm)
    assert np.all(np.abs(ml - mf) <= bm * (1 + 1e-9) + 1e-12 * np.abs(mf))
    step = cfg.eta * ml                              # from the stored m'
    wf = w - step
    d = tau * 2.0 ** -fa + 2.0 ** -(W.frac_bits + (0 if rounding == "stochastic" else 1))
    bw = np.abs(wf) * (2.0 ** d - 1)
    wl = lns.decode(W, w1)
    ok = np.abs(wl - wf) <= bw * (1 + 1e-9) + 1e-15
    ok |= (np.abs(wf) >= W.max_value) & (np.abs(wl) == W.max_value)
    ok |= (wl == 0) & (np.abs(wf) < 2 * W.min_value)
    assert ok.all(), (wl[~ok][:3], wf[~ok][:3])
    inside = bw > 0
    assert np.max(np.abs(wl - wf)[inside] / bw[inside]) > 0.3      # the bound is tight-ish
