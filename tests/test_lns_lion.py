"""The bit-exact LNS Lion (lns.rules.lion, on the adders of lns.rules.additive): reference == kernel, the
exact cases, sign(c) and m' against mpmath, precision against the float Lion of python_ref,
the presets, validation and JSON.

Every assertion on values runs over both evaluators (the Fraction reference and the Numba
kernel).
"""

import math
import re

import mpmath
import numpy as np
import pytest

import lns
from lns.codec import fields_ref, split, store_ref
from lns.format import LNSFormat
from lns.lfsr import lfsr_advance_ref
from lns.rules.lion import LionConfig, lion_update, lion_update_ref
from lns import presets
from lns.rounding import round_shift_rne_ref
from python_ref.lion import Lion

EVALUATORS = ["python", "numba"]
PRESETS = {n: presets.get(n) for n in presets.names("lion")}
NAMES = list(PRESETS)


def other_preset(name):
    """Another rule's preset."""
    return presets.get(name)


def base(**kw):
    return PRESETS["lns12_lion"].replace(**kw)


def seeds(cfg, seed=2, lanes=5):
    return lns.lane_seeds(seed, lanes) if cfg.is_stochastic else None


def mp_log_code(x, frac_bits):
    with mpmath.workprec(160):
        return None if x == 0 else int(mpmath.nint(mpmath.log(abs(x), 2) * 2 ** frac_bits))


def mp_value(fmt, word):
    s, x, z = fields_ref(fmt, word)
    with mpmath.workprec(160):
        return mpmath.mpf(0) if z else \
            (-1) ** s * mpmath.power(2, mpmath.mpf(x) / 2 ** fmt.frac_bits)


def mp_terms(cfg, g, m, c_m, c_g):
    """The exact value of ``2**(c_m/2**Fm) m + 2**(c_g/2**Fm) g`` (the quantised constants):
    each term's exponent formed as an integer code first, so equal codes cancel exactly."""
    fm, gs = cfg.momentum.frac_bits, cfg.momentum.frac_bits - cfg.grad.frac_bits
    total = mpmath.mpf(0)
    with mpmath.workprec(160):
        for fmt, word, c, shift in ((cfg.momentum, m, c_m, 0), (cfg.grad, g, c_g, gs)):
            s, x, z = fields_ref(fmt, word)
            if not z:
                total += (-1) ** s * mpmath.power(2, mpmath.mpf((x << shift) + c) / 2 ** fm)
    return total


# ============================================================ presets, config, validation ==
def test_presets():
    a, b = PRESETS["lns12_lion"], PRESETS["lns8_lion"]
    assert presets.get("lns12_lion") is a                    # the same objects each call
    assert all(isinstance(c, LionConfig) and c.optimizer == "lion" for c in (a, b))
    # weight and gradient formats of the 12- / 8-bit additive presets
    sgd12, adam8 = other_preset("lns12_sgd"), other_preset("lns8_adam")
    assert (a.weight, a.grad) == (sgd12.weight, sgd12.grad)
    assert (b.weight, b.grad) == (adam8.weight, adam8.grad)
    assert a.momentum == b.momentum == LNSFormat(5, 7, bias=24)
    assert (a.eta_log2, a.rounding, a.guard_bits) == (-11, "nearest_even", 4)
    assert (b.eta_log2, b.rounding, b.guard_bits) == (-12, "stochastic", 6)
    assert (a.beta1, a.beta2, a.table) == (0.9, 0.99, "interp")
    assert a.word_bits == {"w": 12, "g": 11, "m": 13} and b.word_bits == {"w": 8, "g": 9, "m": 13}
    assert a.update_words == (("w", "g", "m"), ("w", "m")) and a.update_bits == (36, 25)
    assert set(a.tables) == {"m_sb", "m_db", "w_sb", "w_db"}
    # the constants: RNE(log2(x) 2**7), worked out by hand: log2 0.9 = -0.1520 -> -19.46,
    # log2 0.1 = -3.3219 -> -425.2, log2 0.99 = -0.0145 -> -1.856, log2 0.01 -> -850.4
    for cfg in (a, b):
        p = cfg.params
        assert (p.c_beta1, p.c_one_minus_beta1, p.c_beta2, p.c_one_minus_beta2) == \
            (-19, -425, -2, -850)
        assert p.g_shift == 7 - cfg.grad.frac_bits
        assert p.eta_acc == cfg.eta_log2 << cfg.acc_frac_bits
    assert a.params.eta_acc == -11 * 2 ** 11 and b.params.eta_acc == -12 * 2 ** 9


def test_json_round_trip():
    for cfg in PRESETS.values():
        d = cfg.to_dict()
        assert d["optimizer"] == "lion" and d["beta2"] == 0.99 and d["momentum"]["bias"] == 24
        back = LionConfig.from_dict(d)
        assert back == cfg and back.params == cfg.params
        assert LionConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="^optimizer must be 'lion' for LionConfig, not 'sgd'$"):
        LionConfig.from_dict({**base().to_dict(), "optimizer": "sgd"})
    with pytest.raises(ValueError, match=r"^unknown config field 'mu' \(the fields of LionConfig "
                                         r"are weight, grad, momentum, eta_log2, beta1, beta2, "
                                         r"rounding, table, guard_bits, name, "
                                         r"allow_degenerate\)$"):
        LionConfig.from_dict({**base().to_dict(), "mu": 0.9})
    with pytest.raises(ValueError, match="^config needs a momentum format$"):
        LionConfig.from_dict({k: v for k, v in base().to_dict().items() if k != "momentum"})


@pytest.mark.parametrize("change, err, text", [
    (dict(momentum=LNSFormat(5, 7, signed=False)), ValueError,
     "momentum format must be signed, not ulns12_i5f7"),
    (dict(weight=LNSFormat(4, 7, bias=14, zero="none", underflow="saturate")), ValueError,
     "weight format must have a zero code, not lns12_i4f7_b14_nz"),
    (dict(momentum=LNSFormat(5, 3, bias=20)), ValueError,
     "momentum frac_bits must be at least grad frac_bits = 5, not 3"),
    (dict(grad=None), TypeError, "grad must be an LNSFormat, not NoneType"),
    (dict(beta1=1.0), ValueError, "beta1 must be strictly between 0.0 and 1.0, not 1.0"),
    (dict(beta2=0), ValueError, "beta2 must be strictly between 0.0 and 1.0, not 0"),
    (dict(beta2="0.99"), ValueError, "beta2 must be strictly between 0.0 and 1.0, not '0.99'"),
    (dict(eta_log2=1), ValueError, "eta_log2 must be between -24 and 0, not 1"),
    (dict(eta_log2=-25), ValueError, "eta_log2 must be between -24 and 0, not -25"),
    (dict(eta_log2=-3.0), TypeError, "eta_log2 must be an int, not -3.0"),
    (dict(guard_bits=-1), ValueError, "guard_bits must be between 0 and 8, not -1"),
    (dict(guard_bits=8), ValueError, "weight frac_bits + guard_bits must be at most 14, not 15"),
    (dict(rounding="up"), ValueError, "rounding must be one of nearest_even, stochastic, not 'up'"),
    (dict(table="rom"), ValueError, "table must be one of direct, interp, not 'rom'"),
])
def test_config_errors(change, err, text):
    with pytest.raises(err, match=f"^{re.escape(text)}$"):
        base(**change)


def test_api_errors():
    cfg = base()

    def fails(err, text, *args, **kw):
        with pytest.raises(err, match=f"^{re.escape(text)}$"):
            lion_update(*args, **kw)

    fails(TypeError, "cfg must be a LionConfig, not SGDConfig", other_preset("lns12_sgd"), 1, 1, 1)
    fails(ValueError, "g must be codes of lns11_i5f5_b24 (0..2047), not -1", cfg, 1, -1, 1)
    fails(ValueError, "w, g, m must have the same shape, not (1,), (2,), (1,)",
          cfg, [1], [1, 2], [1])
    fails(ValueError, "evaluator must be one of python, numba, not 'fast'",
          cfg, 1, 1, 1, evaluator="fast")
    fails(ValueError, "rounding='stochastic' needs lfsr_state (see lns.lane_seeds)",
          PRESETS["lns8_lion"], 1, 1, 1)
    fails(ValueError, "lfsr_state is only used with rounding='stochastic'",
          cfg, 1, 1, 1, lfsr_state=lns.lane_seeds(0, 1))


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_shapes_and_scalars(evaluator):
    cfg = base()
    w = np.full((2, 3), int(lns.encode(cfg.weight, 0.25)))
    g = np.full((2, 3), int(lns.encode(cfg.grad, -0.5)))
    w1, m1 = lion_update(cfg, w, g, np.zeros((2, 3), np.int64), evaluator=evaluator)
    assert w1.shape == m1.shape == (2, 3) and w1.dtype == np.int64
    one = lion_update(cfg, int(w[0, 0]), int(g[0, 0]), 0, evaluator=evaluator)
    assert type(one[0]) is int and one == (int(w1[0, 0]), int(m1[0, 0]))
    # the scalar reference returns the lane's state too: None, or advanced once
    assert lion_update_ref(cfg, int(w[0, 0]), int(g[0, 0]), 0) == (*one, None)
    sr = PRESETS["lns8_lion"]
    st = lns.lane_seeds(4, 1)
    s0 = int(st[0])
    want = lion_update(sr, 17, 33, 65, lfsr_state=st, evaluator=evaluator)
    assert st[0] == lfsr_advance_ref(s0)                      # advanced in place
    assert lion_update_ref(sr, 17, 33, 65, s0) == (*want, lfsr_advance_ref(s0))


# ================================================================== reference == kernel ==
def _realistic(rng, n):
    def signed(lo, hi):
        return rng.choice([-1.0, 1.0], n) * 2.0 ** rng.uniform(lo, hi, n)
    w, g, m = signed(-8, 0), signed(-12, 0), signed(-14, 0)
    g[rng.random(n) < 0.1] = 0.0
    m[rng.random(n) < 0.1] = 0.0
    return w, g, m


def _words(cfg, rng, n):
    """Half fully random words, half realistic values (a third of those weights within a
    few octaves of eta, where every step shows), a tenth with a c that cancels exactly or
    whose terms are one LSB apart."""
    w, g, m = (rng.integers(0, 1 << getattr(cfg, r).total_bits, n) for r in cfg.FORMAT_ROLES)
    k = n // 2
    wv, gv, mv = _realistic(rng, k)
    wv[::3] = np.sign(wv[::3]) * 2.0 ** (cfg.eta_log2 + rng.uniform(-1, 5, len(wv[::3])))
    w[:k], g[:k], m[:k] = (lns.encode(getattr(cfg, r), x) for r, x in
                           zip(cfg.FORMAT_ROLES, (wv, gv, mv)))
    p, M = cfg.params, cfg.momentum
    for i in range(0, k, 10):                       # X_m + c_b1 = X_g << g_shift + c_1mb1 + d
        sg, xg, zg = fields_ref(cfg.grad, int(g[i]))
        xm = (xg << p.g_shift) + p.c_one_minus_beta1 - p.c_beta1 + int(rng.integers(-1, 2))
        if not zg and M.params.x_min <= xm <= M.params.x_max:
            m[i] = M.word(int(rng.integers(0, 2)), xm + M.params.offset)
    return w, g, m


@pytest.mark.parametrize("table", ["interp", "direct"])
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
@pytest.mark.parametrize("name", NAMES)
def test_kernel_equals_reference(name, rounding, table):
    cfg = PRESETS[name].replace(rounding=rounding, table=table)
    w, g, m = _words(cfg, np.random.default_rng(3 + NAMES.index(name)), 3000)
    s1 = seeds(cfg)
    s2 = None if s1 is None else s1.copy()
    a = lion_update(cfg, w, g, m, lfsr_state=s1, evaluator="numba")
    b = lion_update(cfg, w, g, m, lfsr_state=s2, evaluator="python")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    if s1 is not None:
        assert np.array_equal(s1, s2) and not np.array_equal(s1, seeds(cfg))
    assert len(set(a[0].tolist())) > 100 and len(set(a[1].tolist())) > 100


# ======================================================================== exact cases ==
@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_zero_gradient_and_momentum_leave_the_weight(evaluator):
    """g = m = 0: c = 0, no step: every weight word unchanged, m' = 0 (also stochastic)."""
    for cfg in PRESETS.values():
        w = np.arange(1 << cfg.weight.total_bits)
        z = np.zeros_like(w)
        st = seeds(cfg)
        w1, m1 = lion_update(cfg, w, z, z, lfsr_state=st, evaluator=evaluator)
        e = w & ((1 << cfg.weight.params.log_bits) - 1)
        assert np.array_equal(w1, np.where(e == 0, 0, w))      # -0 comes out as the word 0
        assert np.all(m1 == 0)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_first_step_moves_eta_against_g(evaluator):
    """m = 0: sign(c) = sign(g), so w' is the rounding of the exact w - eta sign(g) (every
    weight word against mpmath, direct tables), and m' = (1 - b2) g exactly."""
    cfg = base(table="direct")
    W, p = cfg.weight, cfg.params
    w = np.arange(1 << W.total_bits)
    for gv in (0.5, -3.0, 2.0 ** -20):
        gw = int(lns.encode(cfg.grad, gv))
        sg, xg, _ = fields_ref(cfg.grad, gw)
        g = np.full(w.shape, gw)
        w1, m1 = lion_update(cfg, w, g, np.zeros_like(w), evaluator=evaluator)
        assert np.all(m1 == store_ref(cfg.momentum, sg, (xg << p.g_shift) + p.c_one_minus_beta2))
        want = []
        for word in w.tolist():
            exact = mp_value(W, word) - mpmath.mpf(2) ** cfg.eta_log2 * (1 - 2 * sg)
            R = mp_log_code(exact, cfg.acc_frac_bits)
            want.append(store_ref(W, 0, None) if R is None else
                        store_ref(W, int(exact < 0), round_shift_rne_ref(R, cfg.guard_bits)))
        assert np.array_equal(w1, want)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_weight_moves_by_eta_exactly(evaluator):
    """Weights that are multiples of eta: w - eta sign(c) is a word exactly; a weight at eta
    becomes exactly zero, one below it crosses zero, a zero weight moves to -+eta."""
    cfg = base()
    W, G, M = cfg.weight, cfg.grad, cfg.momentum
    eta = 2.0 ** cfg.eta_log2
    gp = int(lns.encode(G, 1.0))
    for w0, want in ((eta, 0.0), (2 * eta, eta), (eta / 2, -eta / 2), (0.0, -eta),
                     (-eta, -2 * eta), (-3 * eta, -4 * eta)):
        w1, m1 = lion_update(cfg, int(lns.encode(W, w0)), gp, 0, evaluator=evaluator)
        assert w1 == int(lns.encode(W, want)), (w0, want)
    # the momentum decides when it is the larger term: m = 1, g = -1: c = 0.9 - 0.1 > 0
    w1, _ = lion_update(cfg, int(lns.encode(W, 2 * eta)), int(lns.encode(G, -1.0)),
                        int(lns.encode(M, 1.0)), evaluator=evaluator)
    assert w1 == int(lns.encode(W, eta))
    # g = 0: sign(c) = sign(m), m' = b2 m exactly
    for mv in (0.75, -0.75):
        mw = int(lns.encode(M, mv))
        w1, m1 = lion_update(cfg, 0, 0, mw, evaluator=evaluator)
        assert w1 == int(lns.encode(W, -math.copysign(eta, mv)))
        sm, xm, _ = fields_ref(M, mw)
        assert m1 == store_ref(M, sm, xm + cfg.params.c_beta2)


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_c_cancels_exactly_and_one_lsb_apart(evaluator):
    """X_m + c_b1 == (X_g << g_shift) + c_1mb1 with opposite signs: c = 0, no step, while m'
    (with b2's constants) is the correctly rounded non-zero sum.  One LSB apart, the larger
    term's sign decides."""
    cfg = base(table="direct")
    p, M, G, W = cfg.params, cfg.momentum, cfg.grad, cfg.weight
    fm = M.frac_bits
    w = int(lns.encode(W, 2.0 ** -5))
    for xg in (0, -150, -300):
        tg = (xg << p.g_shift) + p.c_one_minus_beta1
        for sg in (0, 1):
            g = G.word(sg, xg + G.offset)
            for d in (0, 1, -1):
                for sm in (0, 1):
                    m = M.word(sm, tg - p.c_beta1 + d + M.offset)
                    w1, m1 = lion_update(cfg, w, g, m, evaluator=evaluator)
                    c_sign = sm if d > 0 else sg if d < 0 else (sg if sm == sg else None)
                    exact_c = mp_terms(cfg, g, m, p.c_beta1, p.c_one_minus_beta1)
                    assert (exact_c == 0) == (c_sign is None)
                    assert c_sign is None or int(exact_c < 0) == c_sign
                    if c_sign is None:
                        assert w1 == w
                    else:
                        assert w1 == lion_update(cfg, w, g if c_sign == sg else 0,
                                                 m if c_sign == sm else 0,
                                                 evaluator=evaluator)[0]
                    exact_m = mp_terms(cfg, g, m, p.c_beta2, p.c_one_minus_beta2)
                    assert exact_m != 0
                    assert m1 == store_ref(M, int(exact_m < 0), mp_log_code(exact_m, fm))
    # the moved code of g is on m's grid exactly: cancelling X_m terms for b2 give m' = 0
    xg = -100
    g = G.word(0, xg + G.offset)
    m = M.word(1, (xg << p.g_shift) + p.c_one_minus_beta2 - p.c_beta2 + M.offset)
    assert lion_update(cfg, w, g, m, evaluator=evaluator)[1] == 0


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_saturation_and_flush(evaluator):
    # the weight: eta = 1 against the largest magnitude saturates; below the smallest flushes
    cfg = base(eta_log2=0)
    W, G = cfg.weight, cfg.grad
    for s in (0, 1):
        top = W.word(s, W.e_max)
        g = G.word(1 - s, 0)                    # g of the other sign: |w| grows
        assert lion_update(cfg, top, g, 0, evaluator=evaluator)[0] == top
    # w = 2**(1/128) = 1 + 0.0054, minus eta = 1: below a window that ends at 2**-7
    narrow = base(weight=LNSFormat(3, 7, bias=7), eta_log2=0)
    Wn = narrow.weight
    w = Wn.word(0, 1 + Wn.params.offset)
    assert 2.0 ** (1 / 128) - 1 < Wn.min_value
    assert lion_update(narrow, w, int(lns.encode(G, 1.0)), 0, evaluator=evaluator)[0] == 0
    # the momentum: a window below the gradient's saturates m'; b2 m below its floor flushes
    cfg = base(momentum=LNSFormat(5, 7, bias=26))
    M = cfg.momentum
    for s in (0, 1):
        _, m1 = lion_update(cfg, 0, G.word(s, G.e_max), M.word(s, M.e_max), evaluator=evaluator)
        assert m1 == M.word(s, M.e_max)
    assert lion_update(cfg, 0, 0, M.word(0, 1), evaluator=evaluator)[1] == 0


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("name", NAMES)
def test_swamped_step_and_stochastic_rounding(name, evaluator):
    """A step under half a weight LSB (eta against w = 1/4): nearest even leaves the word;
    stochastic rounding moves it by one LSB with the probability of the fraction, which the
    weight adder holds at Fa: ``-db(z) / 2**guard`` with ``z = (X_w << guard) - eta_acc``."""
    cfg = PRESETS[name]
    W = cfg.weight
    n = 4000 if evaluator == "numba" else 1000
    xw = -2 << W.frac_bits
    w = np.full(n, W.word(0, xw + W.params.offset))
    g = np.full(n, int(lns.encode(cfg.grad, 0.25)))
    zero = np.zeros(n, dtype=np.int64)
    ne = cfg.replace(rounding="nearest_even")
    assert np.all(lion_update(ne, w, g, zero, evaluator=evaluator)[0] == w)
    sr = cfg.replace(rounding="stochastic")
    w2, _ = lion_update(sr, w, g, zero, lfsr_state=lns.lane_seeds(9, 3), evaluator=evaluator)
    dx = split(W, w2)[1] - split(W, w)[1]
    db = cfg.weight_tables[1].lookup_ref((xw << cfg.guard_bits) - cfg.params.eta_acc)
    p = -db / 2 ** cfg.guard_bits
    # the table's value is log2(1 - eta / w) at Fa within its rounding (one Fa LSB, interp)
    exact = -math.log2(1 - 2.0 ** (cfg.eta_log2 + 2)) * 2 ** W.frac_bits
    assert 0 < p < 1 and abs(p - exact) <= 2.0 ** -cfg.guard_bits
    assert set(dx.tolist()) == {0, -1}
    assert abs(-dx.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)


# ===================================================================== against mpmath ==
@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("table", ["direct", "interp"])
@pytest.mark.parametrize("name", NAMES)
def test_sign_and_momentum_against_mpmath(name, table, evaluator):
    """On random words: with w = 0 the new weight is -eta sign(c) exactly, c the exact sum
    of the quantised c-terms (mpmath); m' is the correctly rounded code of the exact sum of
    the m-terms (direct tables) or within one LSB of it (interp), saturated / flushed by
    the momentum format."""
    cfg = PRESETS[name].replace(table=table, rounding="nearest_even")
    p, W, M = cfg.params, cfg.weight, cfg.momentum
    rng = np.random.default_rng(11)
    n = 600 if evaluator == "numba" else 300
    _, g, m = _words(cfg, rng, n)
    w1, m1 = lion_update(cfg, np.zeros(n, np.int64), g, m, evaluator=evaluator)
    s_api, z_api = cfg.step_sign({"w": np.zeros(n, np.int64), "g": g, "m": m})
    up, down = int(lns.encode(W, 2.0 ** cfg.eta_log2)), int(lns.encode(W, -2.0 ** cfg.eta_log2))
    fm = M.frac_bits
    exact_codes = []
    for i in range(n):
        c = mp_terms(cfg, int(g[i]), int(m[i]), p.c_beta1, p.c_one_minus_beta1)
        assert w1[i] == (0 if c == 0 else down if c > 0 else up)
        assert bool(z_api[i]) == (c == 0) and (c == 0 or s_api[i] == int(c < 0))
        s = mp_terms(cfg, int(g[i]), int(m[i]), p.c_beta2, p.c_one_minus_beta2)
        if s == 0:
            assert m1[i] == 0
            continue
        code = mp_log_code(s, fm)
        sm, xm, zm = fields_ref(M, int(m1[i]))
        if code > M.params.x_max:
            assert (sm, xm) == (int(s < 0), M.params.x_max)
        elif code < M.params.x_min:
            assert zm or (sm, xm) == (int(s < 0), M.params.x_min)
        elif table == "direct":
            assert m1[i] == store_ref(M, int(s < 0), code)
        else:
            with mpmath.workprec(160):
                exact = mpmath.log(abs(s), 2) * 2 ** fm
            assert not zm and sm == int(s < 0) and abs(xm - exact) < 1
            exact_codes.append(xm == code)
    if table == "interp":
        assert np.mean(exact_codes) > 0.5                 # most are correctly rounded


# ============================================================ against the float Lion ==
def _u(lsbs, frac_bits):
    return 2.0 ** (lsbs * 2.0 ** -frac_bits) - 1.0


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("name", NAMES)
def test_against_float_lion(name, evaluator):
    """One step against `python_ref.lion.Lion` (float64) from the decoded words.  Bounds
    from the rounding points (tau = 1/2 direct, 1 interp): each constant within 1/2 LSB of
    Fm, so sign(c) agrees wherever |c| exceeds that; m' within the constants plus the
    table (tau at Fm); the step eta is exact, so w' is within the weight adder's table
    (tau at Fa) and the final rounding (1/2 LSB of Fw nearest, 1 LSB stochastic) in log2."""
    cfg = PRESETS[name]
    W, G, M = cfg.weight, cfg.grad, cfg.momentum
    fm, fa, fw = M.frac_bits, cfg.acc_frac_bits, W.frac_bits
    tau = 0.5 if cfg.table == "direct" else 1.0
    rng = np.random.default_rng(7)
    n = 20000 if evaluator == "numba" else 2000
    ww, gw, mw = (lns.encode(f, x) for f, x in zip((W, G, M), _realistic(rng, n)))
    w, g, m = (lns.decode(f, x) for f, x in zip((W, G, M), (ww, gw, mw)))
    w1, m1 = lion_update(cfg, ww, gw, mw, lfsr_state=seeds(cfg), evaluator=evaluator)
    opt = Lion(w, lr=cfg.eta, betas=(cfg.beta1, cfg.beta2))
    opt.m = m.copy()
    wf = opt.step(w, g)
    mf = opt.m
    # sign(c)
    c = cfg.beta1 * m + (1 - cfg.beta1) * g
    resolved = np.abs(c) > (np.abs(cfg.beta1 * m) + np.abs((1 - cfg.beta1) * g)) \
        * _u(0.5, fm) * (1 + 1e-9)
    assert resolved.mean() > 0.98
    s_lns, z_lns = cfg.step_sign({"w": ww, "g": gw, "m": mw})
    sign_lns = np.where(z_lns, 0, 1 - 2 * s_lns)
    assert np.array_equal(sign_lns[resolved], np.sign(c)[resolved])
    # m'
    ml = lns.decode(M, m1)
    A, B = cfg.beta2 * np.abs(m), (1 - cfg.beta2) * np.abs(g)
    bm = (A + B) * _u(0.5, fm) * (1 + _u(tau, fm)) + np.abs(mf) * _u(tau, fm)
    ok = np.abs(ml - mf) <= bm * (1 + 1e-9) + 1e-300
    ok |= (ml == 0) & (np.abs(mf) < 2 * M.min_value)
    assert ok.all(), (ml[~ok][:3], mf[~ok][:3])
    # w'
    d = tau * 2.0 ** -fa + 2.0 ** -(fw + (0 if cfg.is_stochastic else 1))
    wl = lns.decode(W, w1)
    same = resolved | (sign_lns == np.sign(c))
    bw = np.abs(wf) * (2.0 ** d - 1)
    ok = np.abs(wl - wf) <= bw * (1 + 1e-9) + 1e-15
    ok |= (np.abs(wf) >= W.max_value) & (np.abs(wl) == W.max_value)
    ok |= (wl == 0) & (np.abs(wf) < 2 * W.min_value)
    assert ok[same].all(), (wl[same & ~ok][:3], wf[same & ~ok][:3])
    # in LSBs of the weight's log: within half an LSB (+ the table's share) when nearest
    both = same & (wl != 0) & (wf != 0) & (np.abs(wf) < W.max_value)
    err = np.abs(np.log2(np.abs(wl[both])) - np.log2(np.abs(wf[both]))) * 2 ** fw
    assert err.max() <= d * 2 ** fw + 1e-9
    moved = (w1 != ww)
    assert moved.mean() > (0.05 if cfg.is_stochastic else 0.3)      # the steps are not all lost
