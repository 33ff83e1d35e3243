"""The seed's statements about the multiplicative update as property tests (issue 13,
deliverable 7), on the bit-exact model and on the generated Verilog.

Statements (checked by `seed_properties`, which predicts the sign update from ``eta`` alone):

1. sign normaliser, ``eta`` a whole number of weight-log LSBs (``eta_log2 + Fw >= 0``):
   every non-zero weight with a non-zero gradient moves its log by exactly ``eta`` per step,
   unless the move would cross the clip (it lands on the clip) or the format's smallest
   magnitude (it lands there); a subset of weights all stepping one way changes its 2-norm
   by exactly ``|2**(+-eta) - 1|``, a mixed one by an amount between the two;
2. any normaliser (sign and rms): no weight reaches zero, no sign flips, the clip holds,
   a zero weight stays zero;
3. rms normaliser, step 1 from ``v = 0`` (the moment stored unclamped): ``|g_hat| = 1``
   exactly, so the first step is the sign step of statement 1.

Where a statement does not hold, the exact condition is pinned (`test_finding_*`):
``eta`` below one LSB (nearest rounding never moves a weight; stochastic rounding moves it
by one LSB or not at all, so the preset ``lns8_sign``, eta = 1/4 LSB, never moves by eta),
a step that would cross the floor, a zero gradient, and a weight that starts above the clip.

Configurations, tensors, subsets and step counts are drawn by Hypothesis (derandomized, as
`test_properties.py`: every run draws the same examples).  The Verilog runs on Verilator
in the persistent streaming harness (`testbench.fastpath.StreamHarness`, one whole-tensor
block a step, the unit's outputs fed back as the next step's inputs), one cached build per
design for a few fixed configurations (`VERILOG_SIGN`, `VERILOG_RMS`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lns
from lns import LNSFormat, MadamConfig

from seed_properties import (Run, Tally, check_invariant_run, check_invariants, check_norms,
                             check_sign_run, check_sign_step, fields, model_steps, rms_configs,
                             runs, sign_configs, sign_expectation)


def _settings(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _events(tally: Tally):
    for k in ("exact", "clipped", "floored", "still"):
        if getattr(tally, k):
            event(f"has {k}")


# ---- 1. the exact-eta statement on the model ---------------------------------------------
@_settings(60)
@given(st.data())
def test_sign_whole_lsb_moves_exactly_eta_numba(data):
    cfg = data.draw(sign_configs(), "cfg")
    run = data.draw(runs(cfg, max_n=400, max_steps=25), "run")
    ws = model_steps(cfg, run, "numba")
    tally = check_sign_run(cfg, run, ws, np.random.default_rng(run.seed))
    _events(tally)


@_settings(25)
@given(st.data())
def test_sign_whole_lsb_moves_exactly_eta_python(data):
    cfg = data.draw(sign_configs(), "cfg")
    run = data.draw(runs(cfg, max_n=24, max_steps=5), "run")
    ws = model_steps(cfg, run, "python")
    _events(check_sign_run(cfg, run, ws, np.random.default_rng(run.seed)))


@_settings(20)
@given(st.data())
def test_sign_whole_lsb_rounding_mode_changes_nothing(data):
    """With eta a whole number of LSBs the step is exact, so nearest and stochastic rounding
    give the same words (the LFSR's bits fall below the step's LSB)."""
    cfg = data.draw(sign_configs(rounding="nearest_even"), "cfg")
    run = data.draw(runs(cfg, max_n=200, max_steps=10), "run")
    other = cfg.replace(rounding="stochastic")
    np.testing.assert_array_equal(model_steps(cfg, run), model_steps(other, run))


# ---- 2. the invariants with the published rms normaliser ---------------------------------
@_settings(40)
@given(st.data())
def test_rms_never_zero_never_flips_clip_holds_numba(data):
    cfg = data.draw(rms_configs(), "cfg")
    run = data.draw(runs(cfg, max_n=300, max_steps=25), "run")
    check_invariant_run(cfg, run, model_steps(cfg, run, "numba"))


@_settings(15)
@given(st.data())
def test_rms_never_zero_never_flips_clip_holds_python(data):
    cfg = data.draw(rms_configs(), "cfg")
    run = data.draw(runs(cfg, max_n=12, max_steps=4), "run")
    check_invariant_run(cfg, run, model_steps(cfg, run, "python"))


def _rms_first_step_is_sign(cfg, run, evaluator):
    """Step 1 from ``v = 0``: ``v' = (1 - beta) g**2`` and ``X_bc(1) = log2(1 - beta)``, so
    ``|g_hat| = 1`` and the rms update is the sign update, wherever ``v'`` was stored
    unclamped (its log field strictly inside the moment's range: not flushed, not
    saturated) and the gradient is non-zero.  Checked on those elements, with the norms."""
    v0 = np.zeros_like(run.w0)
    state = lns.lane_seeds(run.seed, run.lanes) if cfg.is_stochastic else None
    w1, v1 = lns.madam_update(cfg, run.w0, run.g[0], v0, 1, clip=run.clip,
                              lfsr_state=state, evaluator=evaluator)
    M = cfg.moment
    e = np.asarray(v1) & ((1 << M.log_bits) - 1)
    inside = (e > M.e_min) & (e < M.e_max)
    tally = check_sign_step(cfg, run.clip, run.w0, run.g[0], w1,
                            np.random.default_rng(run.seed), only=inside)
    _events(tally)


@_settings(40)
@given(st.data())
def test_rms_first_step_from_zero_moment_is_the_sign_step_numba(data):
    cfg = data.draw(rms_configs(eta_shifts=st.integers(0, 3)), "cfg")
    _rms_first_step_is_sign(cfg, data.draw(runs(cfg, max_n=400, max_steps=1), "run"), "numba")


@_settings(15)
@given(st.data())
def test_rms_first_step_from_zero_moment_is_the_sign_step_python(data):
    cfg = data.draw(rms_configs(eta_shifts=st.integers(0, 3)), "cfg")
    _rms_first_step_is_sign(cfg, data.draw(runs(cfg, max_n=24, max_steps=1), "run"), "python")


@_settings(20)
@given(st.data())
def test_sign_below_one_lsb_keeps_the_invariants(data):
    cfg = data.draw(sign_configs(eta_shifts=st.integers(-6, -1)), "cfg")
    run = data.draw(runs(cfg, max_n=300, max_steps=20), "run")
    check_invariant_run(cfg, run, model_steps(cfg, run, "numba"))


# ---- the checks are not vacuous and have teeth ---------------------------------------------
_W10 = LNSFormat(4, 5, bias=14)                     # 2**-14 .. 2**2, 32 LSBs an octave
_CFG2 = MadamConfig(weight=_W10, grad=LNSFormat(4, 3, bias=12),
                    moment=LNSFormat(6, 2, bias=40, signed=False), eta_log2=-4,  # 2 LSBs
                    normaliser="sign", rounding="nearest_even", step_frac_bits=3,
                    exp_bits=8, name="seedprop_eta2")


def _fixed_run(cfg, n=2000, steps=30, seed=5, clip=None):
    """A seeded run (one lane) of words over the whole format: 20 weights above the clip
    (when there is room), 20 zero weights, 10 % zero gradients, the clip 40 LSBs below the
    top unless given."""
    W, G = cfg.weight, cfg.grad
    rng = np.random.default_rng(seed)
    clip = clip if clip is not None else W.e_max - 40
    e = rng.integers(W.e_min, clip + 1, n)
    if clip < W.e_max:
        e[:20] = rng.integers(clip + 1, W.e_max + 1, 20)  # some start above the clip
    e[20:40] = 0                                         # zero weights
    w0 = (rng.integers(0, 2, n) << W.log_bits) | e
    ge = rng.integers(1, 1 << G.log_bits, (steps, n))
    ge[rng.random((steps, n)) < 0.1] = 0
    g = (rng.integers(0, 2, (steps, n)) << G.log_bits) | ge
    return Run(w0, np.zeros(n, dtype=np.int64), g, int(clip), seed, 1)


def test_fixed_run_meets_every_class():
    """A fixed run hits every class of the statement (exact both ways, clipped, floored,
    still, zero) and checks norms of many subsets: the property tests are not vacuous."""
    run = _fixed_run(_CFG2)
    tally = check_sign_run(_CFG2, run, model_steps(_CFG2, run), np.random.default_rng(1))
    assert min(tally.exact, tally.clipped, tally.floored, tally.still, tally.zero) > 0, tally
    assert tally.subsets >= 30 * 6 * 3, tally


@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_long_run_many_steps(rounding):
    """300 steps of 3,000 weights (4 lanes when stochastic): every step of the long random
    walk between the floor and the clip meets statement 1."""
    cfg = _CFG2.replace(rounding=rounding)
    run = _fixed_run(cfg, n=3000, steps=300, seed=7)
    run.lanes = 4
    ws = model_steps(cfg, run)
    total = Tally()
    rng = np.random.default_rng(2)
    for t in range(300):
        total.add(check_sign_step(cfg, run.clip, ws[t], run.g[t], ws[t + 1], rng, subsets=1))
    assert min(total.exact, total.clipped, total.floored, total.still) > 1000, total


def test_checker_rejects_wrong_updates():
    """Each way an update could break a statement is caught: a weight off by one LSB, a
    flipped sign, a weight flushed to zero, a weight above the clip, a subset whose norm
    moved by 2 eta (checked on the norm statement alone)."""
    cfg, run = _CFG2, _fixed_run(_CFG2, n=300, steps=1)
    W = cfg.weight
    w, g = run.w0, run.g[0]
    good = model_steps(cfg, run)[1]
    rng = np.random.default_rng(0)
    check_sign_step(cfg, run.clip, w, g, good, rng)
    _, cls, d = sign_expectation(cfg, run.clip, w, g)
    i = int(np.flatnonzero(cls == "exact")[0])
    sign_bit = 1 << W.log_bits
    for bad_word in (good[i] + 1, good[i] ^ sign_bit, good[i] & sign_bit,
                     (good[i] & sign_bit) | (run.clip + 1)):
        bad = good.copy()
        bad[i] = bad_word
        with pytest.raises(AssertionError):
            check_sign_step(cfg, run.clip, w, g, bad, rng)
    # every exact mover that can moves 2 eta (word differences are log differences here)
    twice = np.where(cls == "exact", 2 * good - w, good)
    e2 = twice & (sign_bit - 1)
    twice = np.where((e2 >= W.e_min) & (e2 <= run.clip), twice, good)
    assert np.sum(twice != good) > 100
    with pytest.raises(AssertionError, match="relative norm change"):
        check_norms(cfg, run.clip, w, twice, cls, d, rng, 4)


# ---- findings: where a statement does not hold, and the exact condition -------------------
def _both(cfg, w, g, clip, t=1, seed=3):
    """The model's words from both evaluators (asserted equal)."""
    st_ = (lambda: lns.lane_seeds(seed, 1)) if cfg.is_stochastic else (lambda: None)
    a = lns.madam_update(cfg, w, g, np.zeros_like(w), t, clip=clip, lfsr_state=st_(),
                         evaluator="numba")[0]
    b = lns.madam_update(cfg, w, g, np.zeros_like(w), t, clip=clip, lfsr_state=st_(),
                         evaluator="python")[0]
    np.testing.assert_array_equal(a, b)
    return a


def test_finding_floor_stops_a_step_short_and_never_flushes():
    """Floored: a weight within eta of the smallest magnitude, stepping down, lands on the
    smallest magnitude (it moves by less than eta), also with ``underflow="flush"``: the
    update clamps at the floor, it does not round to zero."""
    cfg = _CFG2                                          # eta = 2 LSBs, flush
    W, G = cfg.weight, cfg.grad
    assert W.underflow == "flush"
    g_pos = G.word(0, G.offset)                          # g = +1
    w = np.array([W.word(0, 1), W.word(0, 2), W.word(0, 3), W.word(1, 1), W.word(1, 2)])
    g = np.array([g_pos, g_pos, g_pos, G.word(1, G.offset), G.word(1, G.offset)])
    got = _both(cfg, w, g, W.e_max)
    # e = 1 and 2 land on e = 1 (moved 0 and 1 LSB); e = 3 moves the full 2 LSBs.
    np.testing.assert_array_equal(got, [W.word(0, 1), W.word(0, 1), W.word(0, 1),
                                        W.word(1, 1), W.word(1, 1)])


def test_finding_zero_gradient_and_above_clip():
    """A zero gradient gives no step (sign(0) = 0: the log moves by 0, not eta); a weight
    above the clip drops to the clip in one step, by more than eta."""
    cfg = _CFG2
    W, G = cfg.weight, cfg.grad
    clip = W.e_max - 40
    tiny_neg = G.word(1, 3)
    w = np.array([W.word(0, 300), W.word(1, 300), W.word(1, clip + 30), W.word(0, clip + 30)])
    g = np.array([0, G.word(1, 0), tiny_neg, tiny_neg])  # zero, negative zero, -tiny twice
    got = _both(cfg, w, g, clip)
    # no step twice; a shrinking step (-2 LSBs) and a growing one both end on the clip
    np.testing.assert_array_equal(got, [W.word(0, 300), W.word(1, 300), W.word(1, clip),
                                        W.word(0, clip)])


@_settings(25)
@given(st.data())
def test_finding_nearest_rounding_below_one_lsb_never_moves(data):
    """eta below one LSB (``eta_log2 + Fw < 0``) with nearest-even rounding: the step
    ``2**(eta_log2 + Fw)`` is at most 1/2 LSB and rounds (ties to even) to 0, so no weight
    ever moves (only the clip acts): the update is a no-op, not a move by eta."""
    cfg = data.draw(sign_configs(eta_shifts=st.integers(-6, -1), rounding="nearest_even"))
    run = data.draw(runs(cfg, max_n=200, max_steps=5))
    ws = model_steps(cfg, run)
    W = cfg.weight
    x_clip = run.clip - W.offset
    for t in range(run.g.shape[0]):
        old, new = fields(W, ws[t]), fields(W, ws[t + 1])
        live = ~old.zero
        np.testing.assert_array_equal(new.x[live], np.minimum(old.x[live], x_clip))


def _sub_lsb_step_checks(cfg, clip, w, g, w_new):
    """Below one LSB, stochastic: each live weight's log moves by 0 or by one LSB in the
    step's direction (the clip and the floor aside), so a single weight's relative change is
    0 or |2**(+-2**-Fw) - 1|, never |2**(+-eta) - 1|.  Returns (moves, candidates)."""
    W = cfg.weight
    old, new, og = fields(W, w), fields(W, w_new), fields(cfg.grad, g)
    x_clip = clip - W.offset
    d = np.where(og.zero, 0, np.where(old.sign == og.sign, -1, 1))
    live = ~old.zero & (old.x <= x_clip)
    moved = new.x - old.x
    assert np.all(np.isin(moved[live], (0, 1, -1))), "a move of more than one LSB"
    assert np.all((moved[live] == 0) | (moved[live] == d[live])), "a move against the step"
    free = live & (d != 0) & (old.x + d <= x_clip) & (old.x + d >= W.x_min)
    # one weight's relative change: 0 or one LSB's factor, never eta's
    a = np.abs(lns.decode(W, w_new[free]) / lns.decode(W, w[free]) - 1.0)
    lsb_up, lsb_down = math.expm1(2.0 ** -W.frac_bits * math.log(2)), \
        -math.expm1(-(2.0 ** -W.frac_bits) * math.log(2))
    ok = (a == 0) | np.isclose(a, lsb_up, rtol=1e-12) | np.isclose(a, lsb_down, rtol=1e-12)
    assert np.all(ok)
    return int(np.sum(moved[free] != 0)), int(np.sum(free))


def test_finding_lns8_sign_moves_one_lsb_a_quarter_of_the_time():
    """The preset ``lns8_sign`` has eta = 2**-5 and 3 fractional weight bits: eta is 1/4
    LSB.  Stochastic rounding moves a weight by one whole LSB (2**(1/8), 9 %) with
    probability 1/4 and leaves it otherwise: never by eta; only the expected log step is eta.
    The rate is checked on 40,000 weight-steps against 1/4 within 5 binomial sigmas."""
    cfg = lns.presets.get("lns8_sign")
    assert cfg.eta_log2 + cfg.weight.frac_bits == -2
    run = _fixed_run(cfg, n=8000, steps=5, clip=cfg.weight.e_max)
    ws = model_steps(cfg, run)
    moves = cands = 0
    for t in range(5):
        check_invariants(cfg, run.clip, ws[t], ws[t + 1])
        m, c = _sub_lsb_step_checks(cfg, run.clip, ws[t], run.g[t], ws[t + 1])
        moves, cands = moves + m, cands + c
    assert cands > 30_000
    sigma = math.sqrt(cands * 0.25 * 0.75)
    assert abs(moves - 0.25 * cands) < 5 * sigma, (moves, cands)


@_settings(20)
@given(st.data())
def test_finding_stochastic_below_one_lsb_moves_zero_or_one_lsb(data):
    cfg = data.draw(sign_configs(eta_shifts=st.integers(-6, -1), rounding="stochastic"))
    run = data.draw(runs(cfg, max_n=300, max_steps=8))
    ws = model_steps(cfg, run)
    for t in range(run.g.shape[0]):
        _sub_lsb_step_checks(cfg, run.clip, ws[t], run.g[t], ws[t + 1])


# ---- the generated Verilog (Verilator, the streaming harness) -----------------------------
# A few fixed configurations, each built once (cached by the Verilog's content): drawing a
# config per example would cost a 15 s build each.  They cover both roundings, 1, 2 and 8
# LSBs of eta, a weight format without a zero code, one and several lanes, idle input
# cycles and back-pressure.
_W8 = LNSFormat(4, 3, bias=14)
_G8 = LNSFormat(4, 3, bias=12)
_M = LNSFormat(5, 2, bias=24, signed=False)
VERILOG_SIGN = {
    "seedprop_s8_eta1": (MadamConfig(weight=_W8, grad=_G8, moment=_M, eta_log2=-3,
                                     normaliser="sign", rounding="stochastic",
                                     step_frac_bits=3, exp_bits=8, name="seedprop_s8_eta1"), 2),
    "seedprop_s10_eta2_nz": (MadamConfig(
        weight=LNSFormat(4, 5, bias=14, zero="none", underflow="saturate"), grad=_G8,
        moment=_M, eta_log2=-4, normaliser="sign", rounding="nearest_even",
        step_frac_bits=3, exp_bits=8, name="seedprop_s10_eta2_nz"), 1),
    "seedprop_s12_eta8": (MadamConfig(
        weight=LNSFormat(4, 7, bias=14, underflow="saturate"), grad=LNSFormat(5, 5, bias=24),
        moment=LNSFormat(5, 4, bias=24, signed=False), eta_log2=-4, normaliser="sign",
        rounding="stochastic", step_frac_bits=6, exp_bits=10, name="seedprop_s12_eta8"), 3),
}


def verilog_steps(cfg, lanes, run, gap=0, bp=0):
    """``[steps + 1][n]`` weight words from the generated Verilog on Verilator (``w0``, then
    the unit's outputs of every step, each step one block of the whole tensor through the
    persistent streaming harness, `testbench.fastpath.StreamHarness`, with ``gap`` percent
    idle input cycles and ``bp`` percent output back-pressure), and the model's: (rtl, model).

    The harness loads the lanes' LFSR seeds at every block; the hardware's registers would
    carry on from the last step, so each block is given the model's lane states after the
    previous step (the lane of element ``i`` is ``i % lanes`` in both)."""
    from testbench.design import generate
    from testbench.fastpath import StreamHarness
    design = generate(cfg, lanes)
    state = lns.lane_seeds(run.seed, lanes) if cfg.is_stochastic else None
    v_rtl = v_model = run.v0
    rtl, model = [run.w0], [run.w0]
    with StreamHarness(design) as harness:
        for t in range(1, run.g.shape[0] + 1):
            seeds = None if state is None else state.copy()
            status, _, ow, ov = harness.run_block(cfg.bias_correction_code(t), run.clip,
                                                  rtl[-1], run.g[t - 1], v_rtl, seeds=seeds,
                                                  gap=gap, bp=bp, rng=run.seed + t)
            assert status == 0, f"harness status {status} at step {t}"
            w, v_model = lns.madam_update(cfg, model[-1], run.g[t - 1], v_model, t,
                                          clip=run.clip, lfsr_state=state)
            rtl.append(ow.astype(np.int64))
            v_rtl = ov.astype(np.int64)
            model.append(w)
    return np.stack(rtl), np.stack(model)


@_settings(30)
@given(st.data())
def test_verilog_sign_whole_lsb_moves_exactly_eta(data):
    name = data.draw(st.sampled_from(sorted(VERILOG_SIGN)), "config")
    cfg, lanes = VERILOG_SIGN[name]
    run = data.draw(runs(cfg, max_n=512, max_steps=40, lanes=lanes), "run")
    gap, bp = data.draw(st.sampled_from([(0, 0), (20, 30)]), "gap, bp")
    rtl, model = verilog_steps(cfg, lanes, run, gap, bp)
    _events(check_sign_run(cfg, run, rtl, np.random.default_rng(run.seed)))
    np.testing.assert_array_equal(rtl, model)          # and bit-exact, for good measure


VERILOG_RMS = {"lns8": 2, "tiny": 1}        # stochastic / interp sb; nearest / direct sb


@_settings(10)
@given(st.data())
def test_verilog_rms_never_zero_never_flips_clip_holds(data):
    name = data.draw(st.sampled_from(sorted(VERILOG_RMS)), "preset")
    cfg, lanes = lns.presets.get(name), VERILOG_RMS[name]
    run = data.draw(runs(cfg, max_n=512, max_steps=40, lanes=lanes), "run")
    rtl, model = verilog_steps(cfg, lanes, run)
    check_invariant_run(cfg, run, rtl)
    np.testing.assert_array_equal(rtl, model)


def test_verilog_finding_lns8_sign_moves_one_lsb_not_eta():
    """The preset lns8_sign on Verilator: one LSB or nothing, never eta (1/4 LSB), at a
    rate of 1/4 (5 sigmas), and the invariants."""
    cfg, lanes = lns.presets.get("lns8_sign"), 1
    run = _fixed_run(cfg, n=4000, steps=10, clip=cfg.weight.e_max - 8, seed=11)
    rtl, model = verilog_steps(cfg, lanes, run)
    moves = cands = 0
    for t in range(10):
        check_invariants(cfg, run.clip, rtl[t], rtl[t + 1])
        m, c = _sub_lsb_step_checks(cfg, run.clip, rtl[t], run.g[t], rtl[t + 1])
        moves, cands = moves + m, cands + c
    assert cands > 30_000
    assert abs(moves - 0.25 * cands) < 5 * math.sqrt(cands * 0.25 * 0.75), (moves, cands)
    np.testing.assert_array_equal(rtl, model)
