"""sim.analysis.training.tensors.LNSTensor under each bit-exact rule: the words it keeps are
the words the rule's update gives (every registered LNS rule through its contract, and
`lns.madam_update` / `adam_update` / `sgd_update` / `lion_update` called directly) on the
same inputs; the clip options; the decode table."""

import math

import numpy as np
import pytest

import lns
from lns import presets
from lns.presets import adam_config_for_bits, config_for_bits, sgd_config_for_bits
from lns.word import zero_word
from sim.analysis.training import LNSTensor
from sim.analysis.training.methods import lns_rules


def _grads(rng, shape, steps):
    return [rng.normal(0, 3e-3, shape) * np.exp2(rng.normal(0, 1, shape)) for _ in range(steps)]


def _start(cfg, w0):
    """The oracle's initial words: ``encode(w0)``; a rule with a clip (Madam) has its log
    field raised to the format's floor and lowered to sigma* = p_scale RMS(w0)."""
    W = cfg.weight
    words = {k: np.zeros(w0.size, dtype=np.int64) for k in cfg.output_roles}
    words["w"] = lns.encode(W, w0.ravel())
    held = {}
    if "clip" in cfg.HELD:
        held["clip"] = int(lns.encode(W, cfg.p_scale * math.sqrt(np.mean(w0 ** 2))))
        mask = (1 << W.log_bits) - 1
        words["w"] = (words["w"] & ~mask) | np.clip(words["w"] & mask, W.e_min, held["clip"])
    return words, held


@pytest.mark.parametrize("bits", [8, 12])
@pytest.mark.parametrize("rule", lns_rules())
def test_tensor_words_equal_the_rules_update_of_the_unscaled_gradient(rule, bits):
    # every registered LNS rule at its 8-bit (stochastic for most) and 12-bit configuration:
    # the tensor scales the gradient by a power of two and compensates (lns.grad_scale); the
    # oracle is the rule's update (the contract) of the plain gradient through the plain
    # configuration, with its own lane: the weight words must be the same
    cfg = presets.for_bits(rule, bits)
    rng = np.random.default_rng(7)
    w0 = rng.normal(0, 0.2, (12, 5))
    t = LNSTensor(cfg, w0, seed=3)
    words, held = _start(cfg, w0)
    assert np.array_equal(t.codes, words["w"]) and t.clip == held.get("clip")
    lane = lns.lane_seeds(3, 1) if cfg.is_stochastic else None
    for step, g in enumerate(_grads(rng, w0.shape, 6), start=1):
        out = t.step(None, g)
        words["g"] = lns.encode(cfg.grad, g.ravel())
        words = cfg.update(words, step, cfg.held(step, **held), lfsr_state=lane)
        assert np.array_equal(t.codes, words["w"]), f"{rule} {bits}-bit step {step}"
        assert np.array_equal(out, lns.decode(cfg.weight, words["w"]).reshape(w0.shape))
    assert set(t.moments) == set(cfg.output_roles) - {"w"}
    assert np.count_nonzero(t.codes != _start(cfg, w0)[0]["w"]) > 5       # the words moved


@pytest.mark.parametrize("name", ["lns12_lion", "lns8_lion"])
def test_lion_tensor_words_equal_lion_update_called_directly(name):
    # Lion's sign(c) is scale free, so the tensor runs the configuration as it is on the
    # gradient times 2**k: every word (weight, momentum holding 2**k m, the lane) is
    # lion_update's on that gradient; on the plain gradient the weight words are the same
    cfg = presets.get(name)
    rng = np.random.default_rng(8)
    w0 = rng.normal(0, 0.2, 40)
    t = LNSTensor(cfg, w0, seed=5)
    gs = _grads(rng, w0.shape, 8)
    k = -math.floor(math.log2(np.max(np.abs(gs[0]))))
    w = u = lns.encode(cfg.weight, w0)
    m = mu = np.zeros(w.shape, dtype=np.int64)
    lane = lns.lane_seeds(5, 1) if cfg.is_stochastic else None
    lane_u = None if lane is None else lane.copy()
    for g in gs:
        t.step(None, g)
        w, m = lns.lion_update(cfg, w, lns.encode(cfg.grad, g * 2.0 ** k), m, lfsr_state=lane)
        u, mu = lns.lion_update(cfg, u, lns.encode(cfg.grad, g), mu, lfsr_state=lane_u)
        assert np.array_equal(t.codes, w) and np.array_equal(t.moments["m"], m)
        assert np.array_equal(t.codes, u)
        if lane is not None:
            assert np.array_equal(t.state, lane)
    assert t.scale == 2.0 ** k and t.clip is None and t.v is None
    assert np.count_nonzero(t.codes != lns.encode(cfg.weight, w0)) > 10


@pytest.mark.parametrize("bits", [8, 16])              # stochastic (LFSR) and nearest-even
def test_adam_tensor_words_equal_adam_update_called_directly(bits):
    cfg = adam_config_for_bits(bits)
    rng = np.random.default_rng(1)
    w0 = rng.normal(0, 0.2, (12, 5))
    t = LNSTensor(cfg, w0, seed=3)
    gs = _grads(rng, w0.shape, 6)
    k = -math.floor(math.log2(np.max(np.abs(gs[0]))))        # the scale, fixed at step 1
    scaled = cfg.replace(eps=cfg.eps * 2.0 ** k)
    z_m, z_v = zero_word(cfg.first_moment.params), zero_word(cfg.second_moment.params)
    w = u = lns.encode(cfg.weight, w0.ravel())
    m = mu = np.full(w.shape, z_m, dtype=np.int64)
    v = vu = np.full(w.shape, z_v, dtype=np.int64)
    state = lns.lane_seeds(3, 1) if cfg.is_stochastic else None
    state_u = None if state is None else state.copy()
    for step, g in enumerate(gs, start=1):
        out = t.step(None, g)
        w, m, v = lns.adam_update(scaled, w, lns.encode(cfg.grad, g.ravel() * 2.0 ** k), m, v,
                                  step, lfsr_state=state)
        # the unscaled gradient through the unscaled config: the same weight words
        u, mu, vu = lns.adam_update(cfg, u, lns.encode(cfg.grad, g.ravel()), mu, vu, step,
                                    lfsr_state=state_u)
        assert np.array_equal(t.codes, w) and np.array_equal(t.moments["m"], m)
        assert np.array_equal(t.moments["v"], v) and np.array_equal(t.codes, u)
        assert np.array_equal(out, lns.decode(cfg.weight, w).reshape(w0.shape))
    assert t.scale == 2.0 ** k and not np.array_equal(t.codes, lns.encode(cfg.weight, w0.ravel()))


def test_sgd_tensor_runs_at_eta_over_the_gradient_scale():
    cfg = sgd_config_for_bits(12)
    rng = np.random.default_rng(2)
    w0 = rng.normal(0, 0.2, 40)
    t = LNSTensor(cfg, w0, seed=0)
    gs = _grads(rng, w0.shape, 5)
    k = math.floor(math.log2(np.max(np.abs(gs[0]))))
    scale = 2.0 ** -k
    eff = cfg.replace(eta_log2=cfg.eta_log2 + k)        # eta * m = (eta / scale) (scale m)
    w = lns.encode(cfg.weight, w0)
    m = np.full(w.shape, zero_word(cfg.momentum.params), dtype=np.int64)
    u, mu = w, m
    for g in gs:
        t.step(None, g)
        w, m = lns.sgd_update(eff, w, lns.encode(cfg.grad, g * scale), m)
        u, mu = lns.sgd_update(cfg, u, lns.encode(cfg.grad, g), mu)    # unscaled: same w
    assert t.scale == scale and np.array_equal(t.codes, w) and np.array_equal(t.moments["m"], m)
    assert np.array_equal(t.codes, u)
    # the momentum words hold scale * m: decoded, about scale x the float momentum's size
    assert np.any(t.moments["m"] != zero_word(cfg.momentum.params))


def test_madam_tensor_words_equal_madam_update_and_a_schedule_changes_only_eta():
    cfg = config_for_bits(12)
    rng = np.random.default_rng(4)
    w0 = rng.normal(0, 0.2, 30)
    t = LNSTensor(cfg, w0)
    clip = cfg.clip_code(w0)
    assert t.clip == clip
    w = t.codes.copy()
    v = np.zeros(w.shape, dtype=np.int64)
    gs = _grads(rng, w0.shape, 4)
    scale = 2.0 ** -math.floor(math.log2(np.max(np.abs(gs[0]))))
    for k, g in enumerate(gs, start=1):
        eta = -6 if k <= 2 else -7
        t.set_eta_log2(eta)
        t.step(None, g)
        w, v = lns.madam_update(cfg.replace(eta_log2=eta), w, lns.encode(cfg.grad, g * scale),
                                v, k, clip=clip)
        assert np.array_equal(t.codes, w) and np.array_equal(t.v, v)


def test_sigma_none_never_clips_and_a_finite_sigma_is_its_nearest_word():
    cfg = config_for_bits(12)
    w0 = np.random.default_rng(5).normal(0, 0.2, 64)
    free = LNSTensor(cfg, w0, sigma=math.inf)
    assert free.clip == cfg.weight.e_max                 # the format's own largest magnitude
    # every weight grows for 200 steps (g against sign w): none stops below the format's top
    for _ in range(200):
        free.step(None, -np.sign(w0) * 1e-3)
    # above 1.0: beyond 5 x Xavier of any layer here (0.63), the sweep's largest finite clip
    assert np.max(np.abs(free.weights())) > 1.0
    tight = LNSTensor(cfg, w0, sigma=0.1)
    assert tight.clip == int(lns.encode(cfg.weight, 0.1))
    for _ in range(50):
        tight.step(None, -np.sign(w0) * 1e-3)
    assert np.max(np.abs(tight.weights())) == lns.decode(cfg.weight, tight.clip)


def test_additive_weights_start_from_encode_and_may_be_zero():
    cfg = adam_config_for_bits(8)
    w0 = np.array([0.0, 0.3, -0.2, 1e-9])
    t = LNSTensor(cfg, w0)
    assert np.array_equal(t.codes, lns.encode(cfg.weight, w0))
    assert t.weights()[0] == 0.0 and t.clip is None


@pytest.mark.parametrize("make", [lambda: config_for_bits(8), lambda: adam_config_for_bits(16)])
def test_decode_table_is_decode(make):
    cfg = make()
    words = np.arange(1 << cfg.weight.total_bits, dtype=np.int64)
    t = LNSTensor(cfg, np.full(words.shape, 0.1))
    t.codes = words
    assert np.array_equal(t.weights(), lns.decode(cfg.weight, words))
