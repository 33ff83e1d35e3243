"""The seed's statements about the multiplicative update, as checkable facts on update words.

Issue 13, deliverable 7.  The seed (Madam, and the sign form ``W <- W exp(-eta sign(g)
sign(W))`` its text bounds the update by) states: with the ``sign`` normaliser and ``eta``
a whole number of weight-log LSBs, every non-zero weight's log moves by exactly ``eta`` per
step unless clipped or floored; hence the relative change of the 2-norm of any subset of
weights is ``|2**(+-eta) - 1|``; no weight reaches zero; no sign flips; the clip holds.

This module holds the strategies that draw configurations and tensors for
`tests/test_seed_properties.py`, and the checkers that state the properties on the words an
update produced.  The checkers are written from the README's word format (``X = e - bias
2**F``; sign bit above the log field; ``e = 0`` is zero where the format reserves it) and the
seed's statements, not from `lns.rules.madam_update`: they take a word apart themselves and predict the
sign update from ``eta`` alone, so a wrong model or a wrong Verilog fails them.

What "within the clip" means here, exactly (`check_norms`):

* *exact movers*: non-zero weights with a non-zero gradient whose target ``X -+ eta`` lies
  in ``[floor, X_clip]``; each moves by exactly ``eta`` (``2**eta_shift`` LSBs).  A subset of
  them that all step the same way changes its 2-norm by exactly ``|2**(+-eta) - 1|``
  (relative; float64 rounding of the decoded values aside, checked to 1e-9 of the change);
  a subset mixing both directions lies between ``2**-eta - 1`` and ``2**eta - 1``.
* *clipped* (target above ``X_clip``: lands on ``X_clip``), *floored* (target below the
  format's smallest magnitude: lands on it, even with ``underflow="flush"``), and *still*
  (zero gradient: no step) weights move by less than ``eta``; any subset of non-zero
  weights that started at or below the clip, these included, keeps its norm ratio within
  ``[2**-eta, 2**eta]``.  A weight that starts *above* the clip is pulled down to it in one
  step, by as much as it takes: it is excluded from the norm statements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

import lns
from lns import LNSFormat, MadamConfig
from lns.errors import InputError

# Relative tolerance on a norm's relative change: the decoded floats are within 2**-53 of
# the exact values, so the change (at least 2**(2**-8) - 1 = 2.7e-3 for F <= 8) is off by
# about 1e-13 of itself at most; 1e-9 leaves room and still catches a single LSB.
NORM_RTOL = 1e-9


# ---- words taken apart (the README's definition, independent of lns.word) ----------------
@dataclass
class Fields:
    """``sign``, ``X`` (log in LSBs) and ``zero`` of every word of an array."""

    sign: np.ndarray
    x: np.ndarray
    zero: np.ndarray


def fields(fmt: LNSFormat, words) -> Fields:
    words = np.asarray(words, dtype=np.int64)
    e = words & ((1 << fmt.log_bits) - 1)
    sign = (words >> fmt.log_bits) & 1 if fmt.signed else np.zeros_like(words)
    zero = (e == 0) if fmt.has_zero else np.zeros(words.shape, dtype=bool)
    return Fields(sign, e - fmt.offset, zero)


# ---- strategies ---------------------------------------------------------------------------
@st.composite
def weight_formats(draw) -> LNSFormat:
    """Signed weight formats of 2-5 integer and 0-8 fractional log bits, any zero/underflow
    policy; the bias keeps every magnitude in 2**-34..2**31, so squares and sums of squares
    stay normal float64 numbers."""
    ib = draw(st.integers(2, 5))
    fb = draw(st.integers(0, 8))
    bias = draw(st.integers(1, (1 << ib) + 2))
    zero = draw(st.sampled_from(["reserved", "none"]))
    underflow = "saturate" if zero == "none" else draw(st.sampled_from(["flush", "saturate"]))
    return LNSFormat(ib, fb, bias=bias, zero=zero, underflow=underflow)


@st.composite
def grad_formats(draw) -> LNSFormat:
    return LNSFormat(draw(st.integers(1, 5)), draw(st.integers(0, 5)),
                     bias=draw(st.none() | st.integers(-4, 24)),
                     underflow=draw(st.sampled_from(["flush", "saturate"])))


def _config(**kw) -> MadamConfig:
    # allow_degenerate: the properties are of the hardware as built, degenerate constants
    # included (a step below one LSB with nearest rounding is one of the seed's findings)
    try:
        return MadamConfig(name="seedprop", allow_degenerate=True, **kw)
    except InputError:          # a datapath limit (`MadamConfig._check_datapath`): not ours
        reject()


@st.composite
def sign_configs(draw, eta_shifts=None, rounding=None) -> MadamConfig:
    """Sign-normaliser configs with ``eta = 2**eta_shift`` weight LSBs: ``eta_shift`` from
    the strategy ``eta_shifts`` (negative: below one LSB), by default any whole number of
    LSBs up to eta = 1 (``0 <= eta_shift <= Fw``: 1 LSB up to a whole octave a step)."""
    weight, grad = draw(weight_formats()), draw(grad_formats())
    shift = draw(eta_shifts if eta_shifts is not None else st.integers(0, weight.frac_bits))
    eta_log2 = shift - weight.frac_bits
    if not -24 <= eta_log2 <= 0:
        reject()
    fv = max(grad.frac_bits - 1, 0)
    return _config(weight=weight, grad=grad, moment=LNSFormat(6, fv, bias=40, signed=False),
                   eta_log2=eta_log2, normaliser="sign",
                   rounding=rounding or draw(st.sampled_from(["nearest_even", "stochastic"])),
                   step_frac_bits=draw(st.integers(0, 6)), exp_bits=draw(st.integers(1, 12)))


@st.composite
def rms_configs(draw, eta_shifts=None) -> MadamConfig:
    """Published (rms) normaliser: every hyperparameter drawn (``g_bound >= 1``), the
    moment's fractional bits up to 7 (its sb table is built on first use); ``eta_shifts``
    as in `sign_configs`, or any eta from 2**-12 (at least 2**-6 of an LSB) up to 1."""
    weight, grad = draw(weight_formats()), draw(grad_formats())
    if eta_shifts is None:
        eta_log2 = draw(st.integers(max(-12, -weight.frac_bits - 6), 0))
    else:
        eta_log2 = draw(eta_shifts) - weight.frac_bits
        if not -24 <= eta_log2 <= 0:
            reject()
    fv = draw(st.integers(max(grad.frac_bits - 1, 0), 7))
    moment = LNSFormat(draw(st.integers(5, 7)), fv, bias=draw(st.integers(20, 60)),
                       signed=False, underflow=draw(st.sampled_from(["flush", "saturate"])))
    return _config(weight=weight, grad=grad, moment=moment,
                   eta_log2=eta_log2, beta=draw(st.sampled_from([0.9, 0.99, 0.999])),
                   g_bound=draw(st.sampled_from([1.0, 3.0, 10.0, 100.0])),
                   normaliser="rms",
                   rounding=draw(st.sampled_from(["nearest_even", "stochastic"])),
                   table=draw(st.sampled_from(["direct", "interp"])),
                   step_frac_bits=draw(st.integers(0, 8)), exp_bits=draw(st.integers(1, 14)))


@dataclass
class Run:
    """A drawn tensor and its gradients: ``w0``, ``v0`` ``[n]``, ``g`` ``[steps][n]`` words,
    the ``clip`` word, and the seed of the LFSR lanes."""

    w0: np.ndarray
    v0: np.ndarray
    g: np.ndarray
    clip: int
    seed: int
    lanes: int


@st.composite
def runs(draw, cfg: MadamConfig, max_n: int, max_steps: int, lanes=None) -> Run:
    """Random words for ``cfg``: weights mostly at or below the clip (a drawn share anywhere
    in the format, so above it too), zero weights and gradients (both zero words, sign bit
    clear and set) at drawn rates, gradients over the whole format; ``n`` a multiple of
    ``lanes``.  Hypothesis draws the shape, the rates and a seed; numpy draws the words."""
    W, G = cfg.weight, cfg.grad
    lanes = lanes if lanes is not None else draw(st.integers(1, 4))
    n = lanes * draw(st.integers(1, max(1, max_n // lanes)))
    steps = draw(st.integers(1, max_steps))
    # the clip anywhere, or (more often) in the upper half, where most weights move freely
    clip = draw(st.integers(W.e_min, W.e_max) | st.integers((W.e_min + W.e_max) // 2, W.e_max))
    above = draw(st.sampled_from([0.0, 0.1, 0.5]))
    zero_w = draw(st.sampled_from([0.0, 0.05, 0.3])) if W.has_zero else 0.0
    zero_g = draw(st.sampled_from([0.0, 0.1, 0.5]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    e = np.where(rng.random(n) < above, rng.integers(W.e_min, W.e_max + 1, n),
                 rng.integers(W.e_min, clip + 1, n))
    sign = rng.integers(0, 2, n)
    e[rng.random(n) < zero_w] = 0
    w0 = (sign << W.log_bits) | e
    ge = rng.integers(1, 1 << G.log_bits, (steps, n))
    ge[rng.random((steps, n)) < zero_g] = 0
    g = (rng.integers(0, 2, (steps, n)) << G.log_bits) | ge
    if cfg.has_second_moment:
        v0 = rng.integers(0, 1 << cfg.moment.log_bits, n)
        v0[rng.random(n) < 0.5] = 0
    else:
        v0 = np.zeros(n, dtype=np.int64)
    return Run(w0.astype(np.int64), v0.astype(np.int64), g.astype(np.int64), int(clip),
               seed, lanes)


# ---- running the model --------------------------------------------------------------------
def model_steps(cfg: MadamConfig, run: Run, evaluator: str = "numba") -> np.ndarray:
    """``[steps + 1][n]`` weight words: ``w0`` then `lns.madam_update` step by step (the
    lanes' LFSR states carried over, element ``i`` on lane ``i % lanes``)."""
    state = lns.lane_seeds(run.seed, run.lanes) if cfg.is_stochastic else None
    w, v = run.w0, run.v0
    out = [w]
    for t in range(1, run.g.shape[0] + 1):
        w, v = lns.madam_update(cfg, w, run.g[t - 1], v, t, clip=run.clip, lfsr_state=state,
                                evaluator=evaluator)
        out.append(np.asarray(w, dtype=np.int64))
    return np.stack(out)


# ---- the checks ---------------------------------------------------------------------------
@dataclass
class Tally:
    """How many weight-steps fell in each class (so a test can see it was not vacuous)."""

    exact: int = 0
    clipped: int = 0
    floored: int = 0
    still: int = 0
    zero: int = 0
    subsets: int = 0
    by_class: dict = field(default_factory=dict)

    def add(self, other: "Tally"):
        for k in ("exact", "clipped", "floored", "still", "zero", "subsets"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def check_invariants(cfg: MadamConfig, clip: int, w, w_new):
    """Any normaliser: a zero weight stays the zero word, no non-zero weight becomes zero,
    no sign flips, every word is a word of the format, and ``|w'|`` is at most the clip
    word's magnitude.  Raises AssertionError naming the first element that breaks one."""
    W = cfg.weight
    w, w_new = np.asarray(w, dtype=np.int64), np.asarray(w_new, dtype=np.int64)
    old, new = fields(W, w), fields(W, w_new)
    x_clip = clip - W.offset

    def first(bad, what):
        if np.any(bad):
            i = int(np.argmax(bad))
            raise AssertionError(f"{what}: element {i}, w {int(w[i]):#x} -> {int(w_new[i]):#x} "
                                 f"(clip {clip:#x}, {cfg.weight.name})")

    first((w_new < 0) | (w_new >> W.total_bits != 0), "a word outside the format")
    first(old.zero & (w_new != 0), "a zero weight did not stay the zero word")
    first(~old.zero & new.zero, "a non-zero weight became zero")
    first(~old.zero & (new.sign != old.sign), "a sign flipped")
    first(~new.zero & (new.x > x_clip), "a weight above the clip")


def sign_expectation(cfg: MadamConfig, clip: int, w, g):
    """The seed's sign update, predicted from ``eta`` alone: ``(target X, class)`` per
    element, ``class`` one of ``"exact"``, ``"clipped"``, ``"floored"``, ``"still"``
    (zero gradient), ``"zero"`` (zero weight).  Needs ``eta`` a whole number of LSBs."""
    W = cfg.weight
    shift = cfg.eta_log2 + W.frac_bits
    assert shift >= 0, "the exact statement is about eta >= one LSB"
    D = 1 << shift                                  # eta in weight LSBs
    ow, og = fields(W, w), fields(cfg.grad, g)
    # The multiplicative step shrinks |w| when g has w's sign, grows it otherwise.
    d = np.where(og.zero, 0, np.where(ow.sign == og.sign, -1, 1))
    target = ow.x + d * D
    x_clip = clip - W.offset
    cls = np.full(ow.x.shape, "exact", dtype=object)
    cls[target > x_clip] = "clipped"
    cls[target < W.x_min] = "floored"
    cls[d == 0] = "still"
    cls[ow.zero] = "zero"
    expect = np.clip(target, W.x_min, x_clip)        # clipped -> X_clip, floored -> floor
    return expect, cls, d


def check_sign_step(cfg: MadamConfig, clip: int, w, g, w_new, rng: np.random.Generator,
                    subsets: int = 6, only=None) -> Tally:
    """One sign-normaliser step with ``eta`` a whole number of LSBs: the invariants, every
    exact mover moved by exactly ``eta``, every clipped / floored / still weight landed where
    the clip, the floor or no step puts it, and the 2-norm statements (`check_norms`).
    ``only``: a boolean mask of the elements the statement is about (the rest are marked
    ``"zero"``, left out of the exact and norm checks; the invariants hold for all)."""
    check_invariants(cfg, clip, w, w_new)
    W = cfg.weight
    expect, cls, d = sign_expectation(cfg, clip, w, g)
    if only is not None:
        cls[~np.asarray(only, dtype=bool)] = "zero"
    new = fields(W, w_new)
    live = cls != "zero"
    bad = live & (new.x != expect)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise AssertionError(
            f"{cls[i]} weight {i}: w {int(w[i]):#x} g {int(g[i]):#x} -> {int(w_new[i]):#x}, "
            f"X {int(fields(W, w[i]).x)} -> {int(new.x[i])}, expected {int(expect[i])} "
            f"(eta {2 ** (cfg.eta_log2 + W.frac_bits)} LSBs, clip {clip:#x})")
    tally = Tally(**{k: int(np.sum(cls == k)) for k in ("exact", "clipped", "floored",
                                                        "still", "zero")})
    tally.subsets = check_norms(cfg, clip, w, w_new, cls, d, rng, subsets)
    return tally


def _norm_ratio(fmt, w, w_new, idx) -> float:
    """``||w'_S|| / ||w_S||`` of the decoded weights (exactly summed squares)."""
    old = lns.decode(fmt, w[idx])
    new = lns.decode(fmt, w_new[idx])
    return math.sqrt(math.fsum(new * new) / math.fsum(old * old))


def check_norms(cfg, clip, w, w_new, cls, d, rng, subsets) -> int:
    """The seed's norm statement on random subsets (see the module text for what "within
    the clip" means).  Returns the number of subsets checked."""
    W = cfg.weight
    eta = 2.0 ** cfg.eta_log2
    up, down = math.expm1(eta * math.log(2)), -math.expm1(-eta * math.log(2))
    w, w_new = np.asarray(w, dtype=np.int64), np.asarray(w_new, dtype=np.int64)
    checked = 0

    def pick(mask):
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return None
        k = int(rng.integers(1, idx.size + 1))
        return rng.choice(idx, size=k, replace=False)

    exact = cls == "exact"
    for _ in range(subsets):
        for direction, change in ((1, up), (-1, down)):
            idx = pick(exact & (d == direction))
            if idx is not None:
                rel = abs(_norm_ratio(W, w, w_new, idx) - 1.0)
                assert math.isclose(rel, change, rel_tol=NORM_RTOL), (
                    f"{idx.size} weights all stepping {'up' if direction > 0 else 'down'}: "
                    f"relative norm change {rel!r}, expected |2**({direction} eta) - 1| = "
                    f"{change!r}")
                checked += 1
        lo, hi = 1.0 - down * (1 + NORM_RTOL), 1.0 + up * (1 + NORM_RTOL)
        idx = pick(exact)
        if idx is not None:                         # mixed directions: between the two
            r = _norm_ratio(W, w, w_new, idx)
            assert lo <= r <= hi, f"mixed exact movers: norm ratio {r!r} outside [{lo}, {hi}]"
            checked += 1
        started_in = (cls != "zero") & (fields(W, w).x <= clip - W.offset)
        idx = pick(started_in)
        if idx is not None:                         # clipped, floored, still included
            r = _norm_ratio(W, w, w_new, idx)
            assert lo <= r <= hi, (f"non-zero weights at or below the clip: norm ratio {r!r} "
                                   f"outside [{lo}, {hi}]")
            checked += 1
    return checked


def check_sign_run(cfg: MadamConfig, run: Run, ws: np.ndarray, rng) -> Tally:
    """`check_sign_step` on every step of ``ws`` (``[steps + 1][n]``, ``ws[0] = w0``)."""
    total = Tally()
    for t in range(run.g.shape[0]):
        total.add(check_sign_step(cfg, run.clip, ws[t], run.g[t], ws[t + 1], rng))
    return total


def check_invariant_run(cfg: MadamConfig, run: Run, ws: np.ndarray):
    for t in range(run.g.shape[0]):
        check_invariants(cfg, run.clip, ws[t], ws[t + 1])
