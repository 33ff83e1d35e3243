"""sim.jaxlns: the bit-exact LNS optimizers as optax transformations, float Madam in JAX,
and the CNN on digits.

The oracle of the LNS transformations is the kernels called directly, on the *unscaled*
gradient and the unmodified configuration: the transformation scales each gradient by a
power of two (`sim.jaxlns.rules`), which must change no weight word (it only shifts the
moments' logs by whole octaves), so agreeing with the plain calls checks the kernels'
wiring, the scale rule and its compensation at once.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lns
from lns.errors import InvalidType, InvalidValue
from lns.optimizers import Optimizer, optimizer_of
from lns import presets
from python_ref import Lion, Madam
from sim.analysis.training.methods import lns_rules
from sim.jaxlns import lns_adam, lns_lion, lns_madam, lns_sgd, lns_transform
from sim.jaxlns.cnn import batch_loss as cnn_loss
from sim.jaxlns.cnn import ARCHS, arch_of, forward, init_cnn, make_optimizer, train_cnn
from sim.jaxlns.madam import madam

SHAPES = {"b": (4,), "w1": (16, 8), "w2": (8, 4)}
LABELS = {"b": "b", "w1": "w", "w2": "w"}
CONFIGS = {
    "lns12": lns.presets.get("lns12"),                     # Madam, nearest even
    "lns8": lns.presets.get("lns8"),                       # Madam, stochastic
    "lns8_sign": lns.presets.get("lns8_sign"),             # Madam, sign normaliser, stochastic
    "lns12_adam": presets.get("lns12_adam"),         # Adam, stochastic
    "lns16_adam": presets.get("lns16_adam"),         # Adam, nearest even
    # eps at the gradients' size, so the floor max(sqrt(v_hat), eps) decides many steps
    "lns12_adam_eps": presets.get("lns12_adam").replace(eps=1e-2),
    "lns12_sgd": presets.get("lns12_sgd"),           # SGD, nearest even
    "lns12_sgd_sr": presets.get("lns12_sgd").replace(rounding="stochastic"),
    "lns12_lion": presets.get("lns12_lion"),         # Lion, nearest even
    # Lion, stochastic; eta 2^-8 (the preset's 2^-12 is ~0.01 LSB of an 8-bit word, which
    # six steps of stochastic rounding hardly ever take)
    "lns8_lion": presets.get("lns8_lion").replace(eta_log2=-8),
}
TRANSFORMS = {Optimizer.MADAM: lns_madam, Optimizer.ADAM: lns_adam, Optimizer.SGD: lns_sgd,
              Optimizer.LION: lns_lion}
# the oracle: each rule's kernel called directly on one tensor's words ``d`` and gradient
# words ``g`` (not through the rule contract the transformation uses)
KERNELS = {
    Optimizer.MADAM: lambda d, g: dict(zip("wv", lns.madam_update(
        d.cfg, d.w, g, d.v, d.t, clip=d.clip, lfsr_state=d.lane))),
    Optimizer.ADAM: lambda d, g: dict(zip("wmv", lns.adam_update(
        d.cfg, d.w, g, d.m, d.v, d.t, lfsr_state=d.lane))),
    Optimizer.SGD: lambda d, g: dict(zip("wm", lns.sgd_update(
        d.cfg, d.w, g, d.m, lfsr_state=d.lane))),
    Optimizer.LION: lambda d, g: dict(zip("wm", lns.lion_update(
        d.cfg, d.w, g, d.m, lfsr_state=d.lane))),
}


def test_every_registered_lns_rule_is_tested():
    # a new LNS rule needs its transformation, its oracle and a configuration here
    assert set(TRANSFORMS) == set(KERNELS) == set(lns_rules())
    assert {optimizer_of(c) for c in CONFIGS.values()} == set(lns_rules())


def _params(rng):
    return {k: jnp.asarray(rng.normal(0.0, 0.2, s), jnp.float32) for k, s in SHAPES.items()}


def _grads(rng, scale):
    # a few exact zeros (no step), magnitudes over a few octaves: inside every preset's
    # gradient window (the narrowest, lns8_sign's, is 2**-12 .. 2**4) scaled or not
    out = {}
    for k, s in SHAPES.items():
        g = rng.choice([-1.0, 1.0], s) * scale * np.exp2(rng.normal(0.0, 1.0, s))
        g[rng.random(s) < 0.1] = 0.0
        out[k] = jnp.asarray(g, jnp.float32)
    return out


class Direct:
    """The oracle: one tensor's words updated by calling the kernels directly."""

    def __init__(self, cfg, w0, lane_seed):
        self.cfg, self.rule = cfg, optimizer_of(cfg)
        W = cfg.weight
        w0 = np.asarray(w0, dtype=np.float64)
        codes = lns.encode(W, w0)
        if self.rule is Optimizer.MADAM:
            # sigma* = 3 RMS(w0); the log field raised to the floor and lowered to the clip
            self.clip = int(lns.encode(W, cfg.p_scale * math.sqrt(np.mean(w0 ** 2))))
            mask = (1 << W.log_bits) - 1
            codes = (codes & ~mask) | np.clip(codes & mask, W.e_min, self.clip)
        self.w = codes
        self.m = np.zeros_like(codes)
        self.v = np.zeros_like(codes)
        self.lane = lns.lane_seeds(lane_seed, 1) if cfg.is_stochastic else None
        self.t = 0

    def step(self, g):
        g_codes = lns.encode(self.cfg.grad, np.asarray(g, dtype=np.float64))
        self.t += 1
        for word, value in KERNELS[self.rule](self, g_codes).items():
            setattr(self, word, value)


def _run_both(cfg, steps, *, jit=True, seed=3, grad_scale=1e-2):
    rng = np.random.default_rng(seed)
    params = _params(rng)
    tx = optax.multi_transform({"w": TRANSFORMS[optimizer_of(cfg)](cfg, seed=seed),
                                "b": optax.adam(1e-3)}, LABELS)
    state = tx.init(params)
    # the transformation's own leaves in jax.tree order: w1 is lane 0, w2 lane 1
    direct = {k: Direct(cfg, params[k], seed * 16 + i) for i, k in enumerate(("w1", "w2"))}
    update = jax.jit(tx.update) if jit else tx.update
    history = []
    for _ in range(steps):
        grads = _grads(rng, grad_scale)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for k, d in direct.items():
            d.step(grads[k])
        history.append((params, state.inner_states["w"].inner_state))
    return history, direct


def _moment_formats(cfg, k):
    """``(word, format, octaves the scale 2**k shifts it)`` of each state word of the rule:
    ``v`` holds g**2 (2k octaves), ``m`` holds g (k octaves)."""
    return [(word, cfg.word_formats[word], 2 * k if word == "v" else k)
            for word in cfg.output_roles if word != "w"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_optax_words_equal_direct_kernel_calls(name):
    cfg = CONFIGS[name]
    history, direct = _run_both(cfg, steps=6)
    params, inner = history[-1]
    assert int(inner.count) == 6
    for k, d in direct.items():
        s = inner.tensors[k]
        np.testing.assert_array_equal(np.asarray(s.w), d.w, err_msg=f"{name} {k} weight words")
        # the moments hold 2**k g: the same words with the log shifted by k (v: 2k) octaves
        k_scale = int(s.k)
        for word, fmt, octaves in _moment_formats(cfg, k_scale):
            np.testing.assert_array_equal(lns.decode(fmt, np.asarray(getattr(s, word))),
                                          np.ldexp(lns.decode(fmt, getattr(d, word)), octaves),
                                          err_msg=f"{name} {k} {word} words")
        if cfg.is_stochastic:
            assert int(s.lfsr[0]) == int(d.lane[0])
        else:
            assert s.lfsr is None
        # apply_updates lands on the decoded words (float32), exactly for Madam's
        # multiplicative steps, within an ulp for the additive ones (Adam, SGD, Lion)
        decoded = lns.decode(cfg.weight, d.w).astype(np.float32)
        if optimizer_of(cfg) is Optimizer.MADAM:
            np.testing.assert_array_equal(np.asarray(params[k]), decoded)
        else:
            np.testing.assert_array_max_ulp(np.asarray(params[k]), decoded, maxulp=1)
    # the words move at all: an oracle that never changes would agree trivially
    first = history[0][1].tensors["w1"].w
    assert np.count_nonzero(np.asarray(first) != np.asarray(inner.tensors["w1"].w)) > 20


def test_eager_update_equals_jitted():
    cfg = CONFIGS["lns8"]
    params = _params(np.random.default_rng(1))
    tx = lns_madam(cfg, seed=2)
    for a, b in zip(jax.tree.leaves(tx.init(params)), jax.tree.leaves(jax.jit(tx.init)(params))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    jitted, _ = _run_both(cfg, steps=3, jit=True)
    eager, _ = _run_both(cfg, steps=3, jit=False)
    for (pj, sj), (pe, se) in zip(jitted, eager):
        for leaf_j, leaf_e in zip(jax.tree.leaves(sj), jax.tree.leaves(se)):
            np.testing.assert_array_equal(np.asarray(leaf_j), np.asarray(leaf_e))


def test_scale_keeps_tiny_gradients_from_flushing():
    # |g| ~ 1e-9 is below the gradient format's window (2**-24 = 6e-8): encoded as it is it
    # flushes to zero and no weight moves (the plain oracle); the step-1 power of two lifts
    # the largest |g| into [1, 2), and the words are those of the kernels on 2**k g.
    cfg = CONFIGS["lns12"]
    history, direct = _run_both(cfg, steps=3, grad_scale=1e-9, seed=4)
    s = history[-1][1].tensors["w1"]
    start = Direct(cfg, _params(np.random.default_rng(4))["w1"], 0).w
    np.testing.assert_array_equal(direct["w1"].w, start)       # plain: every g flushed
    # the oracle with the scale: k from frexp of the first step's largest |g|
    rng = np.random.default_rng(4)
    params = _params(rng)
    oracle = Direct(cfg, params["w1"], 64)
    for t in range(3):
        g = np.asarray(_grads(rng, 1e-9)["w1"], dtype=np.float64)
        if t == 0:
            k = 1 - np.frexp(np.max(np.abs(g)))[1]
        oracle.step(np.ldexp(g, k))
    assert int(s.k) == k and k >= 28
    np.testing.assert_array_equal(np.asarray(s.w), oracle.w)
    assert np.count_nonzero(oracle.w != Direct(cfg, params["w1"], 64).w) > 20


# ---- float Madam ------------------------------------------------------------------------
def _madam_pair(w0, steps, rng, *, base=2, p_scale=3.0, ref_p_scale=None, dtype=np.float64):
    ref = Madam(w0, eta=2.0 ** -5, base=base, p_scale=ref_p_scale or p_scale, dtype=dtype)
    tx = madam(2.0 ** -5, base=base, p_scale=p_scale)
    w = jnp.asarray(w0)
    state = tx.init(w)
    update = jax.jit(tx.update)
    w_ref = np.array(w0)
    worst = 0.0
    for t in range(steps):
        g = rng.normal(0.0, 1e-2, w0.shape) * np.exp2(rng.normal(0, 2, w0.shape))
        g[rng.random(w0.shape) < 0.1] = 0.0
        g = g.astype(dtype)
        u, state = update(jnp.asarray(g), state, w)
        w = optax.apply_updates(w, u)
        w_ref = ref.step(w_ref, g)
        worst = max(worst, float(np.max(np.abs(np.asarray(w) - w_ref) / np.abs(w_ref))))
    return worst, np.asarray(w), w_ref, ref


@pytest.mark.parametrize("base", [2, "e"])
def test_float_madam_equals_python_ref_float64(base):
    rng = np.random.default_rng(5)
    w0 = rng.normal(0.0, 0.1, (40, 6))
    with jax.enable_x64(True):
        worst, w, w_ref, ref = _madam_pair(w0, 150, rng, base=base)
    assert worst < 1e-13
    assert np.any(np.abs(w_ref) == ref.sigma_star)           # the clip was exercised
    assert np.all(np.sign(w) == np.sign(w0))


def test_float_madam_float32_and_without_clip():
    rng = np.random.default_rng(6)
    w0 = rng.normal(0.0, 0.1, (40, 6)).astype(np.float32)
    worst, w, _, _ = _madam_pair(w0, 100, rng, dtype=np.float32)
    assert worst < 2e-5                                       # float32 round-off over 100 steps
    # p_scale=None: no clip; python_ref with a clip far out of reach is the same optimizer
    worst, w, w_ref, ref = _madam_pair(w0.astype(np.float64), 100, rng, p_scale=None,
                                       ref_p_scale=1e6, dtype=np.float32)
    assert worst < 2e-5
    assert np.max(np.abs(w)) > 3 * np.sqrt(np.mean(w0.astype(np.float64) ** 2))


# ---- errors -----------------------------------------------------------------------------
def test_bad_input_is_one_clear_error():
    with pytest.raises(InvalidType, match="lns.MadamConfig"):
        lns_madam(presets.get("lns12_adam"))
    with pytest.raises(InvalidType, match="cfg must be"):
        lns_sgd("lns12_sgd")
    with pytest.raises(InvalidType, match="lns_lion needs a lns.LionConfig"):
        lns_lion(presets.get("lns12_sgd"))
    with pytest.raises(InvalidType, match="cfg must be an LNS rule's configuration"):
        lns_transform(presets.get("fp32_adam"))
    with pytest.raises(InvalidType, match="seed"):
        lns_adam(presets.get("lns12_adam"), seed=1.5)
    tx = lns_madam(CONFIGS["lns12"])
    params = {"w": jnp.ones((3, 2), jnp.float32)}
    state = tx.init(params)
    with pytest.raises(InvalidValue, match="needs params"):
        tx.update(params, state)
    bad = {"w": jnp.full((3, 2), jnp.nan, jnp.float32)}
    with pytest.raises(InvalidValue, match="gradients must be finite"):
        tx.update(bad, state, params)
    with pytest.raises(Exception, match="gradients must be finite"):
        jax.jit(tx.update)(bad, state, params)
    with pytest.raises(InvalidType, match="floating-point"):
        tx.init({"w": jnp.ones((3, 2), jnp.int32)})
    with pytest.raises(InvalidValue, match="all zeros"):
        tx.init({"w": jnp.zeros((3, 2), jnp.float32)})
    with pytest.raises(InvalidValue, match="non-zero initial weights"):
        madam().init({"b": jnp.zeros(3)})
    with pytest.raises(InvalidValue, match="eta"):
        madam(-1.0)
    with pytest.raises(InvalidValue, match="base"):
        madam(base=10)


# ---- the CNN ----------------------------------------------------------------------------
def _digits():
    from sim.analysis.training.data import load_data
    return load_data()


def test_cnn_learns_in_two_epochs_with_lns_madam():
    data = _digits()
    run = train_cnn("lns_madam", 0, epochs=2, data=data)
    assert set(run) >= {"seed", "train_err", "test_err", "train_loss", "test_loss", "curves"}
    assert set(run["curves"]) == {"train_loss", "test_loss", "train_err", "test_err"}
    assert all(len(c) == 2 for c in run["curves"].values())
    assert run["test_err"] == run["curves"]["test_err"][-1]
    # chance is 90 % error and a loss of ln 10 = 2.30; two epochs of LNS Madam get far below
    assert run["test_err"] < 0.4 and run["train_err"] < 0.4
    assert run["test_loss"] < 1.5 < math.log(10)
    assert run["curves"]["train_loss"][1] < run["curves"]["train_loss"][0]
    # the error is the share of wrong argmaxes of the returned curves' last model: a value
    # in {0, 1/450, ...} for the 450 test images
    assert abs(run["test_err"] * len(data[3]) - round(run["test_err"] * len(data[3]))) < 1e-4
    # the seed decides the run: the same seed repeats its first epoch exactly (nothing of
    # the previous run survives in the shared compiled step), another seed differs
    again = train_cnn("lns_madam", 0, epochs=1, data=data)
    assert again["curves"]["train_loss"] == run["curves"]["train_loss"][:1]
    other = train_cnn("lns_madam", 1, epochs=1, data=data)
    assert other["curves"]["train_loss"] != again["curves"]["train_loss"]


def _task_data(task):
    from sim.analysis.training.tasks import task_data
    return _digits() if task == "digits" else task_data(task)


@pytest.mark.parametrize("task", ["digits", "mnist1d"])
def test_cnn_gradients_match_finite_differences(task):
    # the forward/backward pass is JAX's; this checks the model is one function of every
    # parameter (a layer left out of the loss would have a zero gradient), in float64, on
    # the 2-D network and on the 1-D one
    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), init_cnn(rng, task))
        for layer in params:        # non-zero biases: a blank patch is then off the ReLU kink
            params[layer]["b"] = jnp.asarray(rng.normal(0, 0.1, params[layer]["b"].shape))
        x, y = (jnp.asarray(a) for a in _task_data(task)[:2])
        x, y, mask = x[:12], y[:12], jnp.ones(12)
        loss = jax.jit(lambda *a: cnn_loss(*a, task))
        grads = jax.jit(jax.grad(lambda *a: cnn_loss(*a, task)))(params, x, y, mask)
        assert set(params) == {name for name, _, _ in ARCHS[task].layers}
        leaves, treedef = jax.tree.flatten(params)
        for j, g in enumerate(jax.tree.leaves(grads)):
            i = int(np.argmax(np.abs(np.asarray(g)).ravel()))
            values = []
            for h in (1e-6, -1e-6):
                moved = list(leaves)
                moved[j] = leaves[j].ravel().at[i].add(h).reshape(leaves[j].shape)
                values.append(float(loss(jax.tree.unflatten(treedef, moved), x, y, mask)))
            num = (values[0] - values[1]) / 2e-6
            assert abs(num) > 1e-4
            assert float(np.asarray(g).ravel()[i]) == pytest.approx(num, rel=1e-5)


@pytest.mark.parametrize("task, shape, dense_in", [("digits", (8, 8, 1), 4 * 4 * 16),
                                                   ("mnist5k", (28, 28, 1), 7 * 7 * 16),
                                                   ("mnist1d", (40, 1), 5 * 32)])
def test_each_task_has_its_network_picked_by_name_or_by_the_data_width(task, shape, dense_in):
    arch = ARCHS[task]
    assert arch.shape == shape and arch_of(task) is arch
    assert arch_of(None, math.prod(shape)) is arch
    # the dense layer takes what the strided convolutions leave: each stride 2 halves every
    # spatial side (SAME padding), the last convolution's channels
    assert arch.layers[-1][1] == (dense_in, 10)
    params = init_cnn(np.random.default_rng(0), task)
    x = jnp.asarray(np.random.default_rng(1).random((3, math.prod(shape))), jnp.float32)
    logits = forward(params, x, task)
    assert logits.shape == (3, 10) and bool(jnp.all(jnp.isfinite(logits)))
    # each sample is its own: the logits of one do not depend on the others in the batch
    np.testing.assert_allclose(np.asarray(forward(params, x[1:2], task))[0],
                               np.asarray(logits)[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["adam", "lns_madam"])
def test_the_1d_cnn_learns_mnist1d(method):
    # measured (seed 0, 3 epochs, float Adam 1e-3 / LNS Madam 2^-7): 50.0 % and 57.7 % test
    # error on MNIST-1D's 1,000 test signals, chance 90 %
    data = _task_data("mnist1d")
    lr = 1e-3 if method == "adam" else 2.0 ** -7
    run = train_cnn(method, 0, epochs=3, data=data, lr=lr)        # picked by the width, 40
    assert run["test_err"] < 0.65
    assert run["curves"]["train_loss"][-1] < run["curves"]["train_loss"][0]
    assert run == {**run, **train_cnn(method, 0, epochs=3, data=data, lr=lr,
                                      task="mnist1d"), "seconds": run["seconds"]}


@pytest.mark.parametrize("method", ["lion", "lns_lion"])
def test_cnn_trains_with_float_and_lns_lion(method):
    # measured (seed 0, eta 2^-9): one epoch, 7.8 % (float) and 8.0 % (LNS, lns12_lion) test
    # error against chance's 90 %
    run = train_cnn(method, 0, epochs=1, data=_digits(), lr=2.0 ** -9)
    assert run["test_err"] < 0.2 and run["method"] == method


def test_cnn_float_lion_is_python_ref_lion():
    # the CNN's float Lion (optax.lion without weight decay, on every tensor: Lion moves a
    # zero bias) is python_ref.Lion, the registry's float reference, step for step
    with jax.enable_x64(True):
        rng = np.random.default_rng(9)
        params = {"conv1": {"w": jnp.asarray(rng.normal(0, 0.2, (3, 3, 1, 8))),
                            "b": jnp.zeros(8)}}
        tx = make_optimizer("lion", params, lr=2.0 ** -9)
        state = tx.init(params)
        refs = {k: Lion(np.asarray(v), lr=2.0 ** -9) for k, v in params["conv1"].items()}
        ref = {k: np.asarray(v) for k, v in params["conv1"].items()}
        for _ in range(5):
            g = {"conv1": {k: jnp.asarray(rng.normal(0, 1e-2, v.shape))
                           for k, v in params["conv1"].items()}}
            updates, state = tx.update(g, state, params)
            params = optax.apply_updates(params, updates)
            ref = {k: refs[k].step(ref[k], np.asarray(g["conv1"][k])) for k in ref}
        for k in ref:
            np.testing.assert_allclose(np.asarray(params["conv1"][k]), ref[k], rtol=0,
                                       atol=1e-15)
        assert np.any(np.asarray(params["conv1"]["b"]) != 0)


def test_cnn_bad_input():
    data = _digits()
    with pytest.raises(InvalidValue, match="method"):
        train_cnn("rmsprop", 0, epochs=1, data=data)
    with pytest.raises(InvalidValue, match="epochs"):
        train_cnn("adam", 0, epochs=0, data=data)
    with pytest.raises(InvalidValue, match="data"):
        train_cnn("adam", 0, epochs=1, data=data[:2])
    with pytest.raises(InvalidValue, match="power of two"):
        train_cnn("lns_madam", 0, epochs=1, data=data, lr=0.01)
    with pytest.raises(InvalidType, match="AdamConfig"):
        train_cnn("lns_adam", 0, epochs=1, data=data, cfg=lns.presets.get("lns12"))
    with pytest.raises(InvalidValue, match="task must be one of digits, mnist5k, mnist1d, "
                                           "not 'cifar'"):
        train_cnn("adam", 0, epochs=1, data=data, task="cifar")
    with pytest.raises(InvalidValue, match=r"train data of mnist1d must be inputs \(N, 40\)"):
        train_cnn("adam", 0, epochs=1, data=data, task="mnist1d")
    with pytest.raises(InvalidValue, match=r"inputs of 64 \(digits\), 784 \(mnist5k\), 40 "
                                           r"\(mnist1d\) values, not 63"):
        train_cnn("adam", 0, epochs=1, data=(data[0][:, 1:], data[1], data[2][:, 1:], data[3]))
    # 8-bit Adam is a software method of the MLP's trainer, not an optax transform here
    with pytest.raises(InvalidValue, match="method must be one of .*, not 'adam8bit'"):
        train_cnn("adam8bit", 0, epochs=1, data=data)
