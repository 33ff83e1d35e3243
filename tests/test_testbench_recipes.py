"""The vector recipes (`testbench.recipes`) hit the corners they claim, checked on the
model's outputs of the vectors the one path makes (`vectors.generate` and streamed blocks):
Madam's ties, clamps and clip; the additive rules' cancellation, zero crossing,
saturation and swamping (Lion's ``c = 0`` too); IEEE ties, specials and cancellation."""

import numpy as np
import pytest

import lns.word
from lns import presets
from lns.codec import split
from lns.ieee.vectors import edge_words as ieee_edges
from lns.registry import entry
from testbench import streaming as S
from testbench import vectors as V
from testbench.recipes import additive, float_adam, madam, recipe_of

ADDITIVE = [n for n in presets.names() if recipe_of(presets.get(n)) is additive]
FLOAT = [n for n in presets.names() if recipe_of(presets.get(n)) is float_adam]


def test_every_rule_has_a_recipe():
    from lns.registry import rules
    for rule in rules():
        assert entry(rule).recipe.startswith("testbench.recipes.")
    assert {"lns12_adam", "lns12_sgd", "lns12_lion", "lns8_lion"} <= set(ADDITIVE)
    assert set(FLOAT) == {"fp32_adam", "bf16_adam", "fp32_adam_fast", "fp32_adam_fast_ftz",
                          "mp_adam", "fp12_adam"}


# ---- Madam ----------------------------------------------------------------------------------
def test_madam_edges_ties_and_clip():
    cfg = presets.get("lns12")
    vs = V.generate(cfg, 20000, seed=1)
    W, G = cfg.weight, cfg.grad
    ew = vs.w & ((1 << W.log_bits) - 1)
    assert {0, 1 << W.log_bits} <= set(vs.w.tolist())                 # zero, either sign
    assert {0, 1 << G.log_bits} <= set(vs.g.tolist())
    assert 0 in vs.v and W.e_min in ew and W.e_max in ew
    assert 1 in vs.t and 1_000_000 in vs.t
    assert np.any(ew == vs.clip) and np.any(ew == vs.clip + 1)
    norm_tie, step_tie, bound = madam.tie_flags(cfg, vs.t, vs.w, vs.g, vs.exp_v)
    assert norm_tie.sum() > 50 and step_tie.sum() > 5 and bound.sum() > 100
    # t = 1 with v = 0 makes |g_hat| = 1: a step of exactly eta * 2**Fw = 1 LSB
    _, xw, zw = split(W, vs.w)
    _, xg, zg = split(G, vs.g)
    sel = (vs.t == 1) & (vs.v == 0) & ~zw & ~zg & (xw > W.x_min + 1) & \
        (xw + W.offset < vs.clip - 1)
    assert sel.sum() > 10
    _, xw2, _ = split(W, vs.exp_w[sel])
    assert np.all(np.abs(xw2 - xw[sel]) == 1)


def test_madam_first_blocks_take_every_group_with_its_edges():
    cfg = presets.get("lns12")
    groups = madam.groups(cfg, 3)
    assert [g.t for g in groups[:len(madam.STEPS)]] == list(madam.STEPS)
    edges = madam.edges(cfg, groups[0])
    b, _ = S.make_block(cfg, 3, 0, 3 * S.BLOCK)
    assert (b.t, b.tensor) == (1, groups[0].kw) and b.held["clip"] == groups[0].kw["clip"]
    rows = set(zip(b.w.tolist(), b.g.tolist(), b.v.tolist()))
    cross = set(zip(edges["w"].tolist(), edges["g"].tolist(), edges["v"].tolist()))
    assert cross <= rows                              # the whole edge table in block 0


# ---- LNS Adam, SGD, Lion --------------------------------------------------------------------
@pytest.mark.parametrize("name", ADDITIVE)
def test_additive_corners(name):
    """The vectors hold m' = 0 by exact cancellation (Lion: c = 0 too, no step), w' = 0,
    weights changing sign, saturated (max-word) m, swamped steps, and every step t of a
    rule with held inputs."""
    cfg = presets.get(name)
    p = cfg.params
    vs = V.generate(cfg, 3000, seed=1)
    assert len(vs) == 3000
    assert sorted(set(vs.t.tolist())) == (list(additive.T_VALUES) if cfg.HELD else [1])
    out = vs.expected
    z_in = lns.word.unpack_all(p.m, vs.m)[2]
    z_g = lns.word.unpack_all(p.g, vs.g)[2]
    zm = int((lns.word.unpack_all(p.m, out["m"])[2] & ~z_in & ~z_g).sum())
    sw, _, zwi = lns.word.unpack_all(p.w, vs.w)
    so, _, zwo = lns.word.unpack_all(p.w, out["w"])
    zw = int((zwo & ~zwi).sum())
    cross = int(((sw != so) & ~zwi & ~zwo).sum())
    sat = int((lns.word.unpack_all(p.m, vs.m)[1] == p.m.x_max).sum())
    swamped = int(((out["w"] == vs.w) & ~zwi & (out["m"] != 0)).sum())
    assert zm >= 5 and zw >= 1 and cross >= 20 and sat >= 4 and swamped >= 1, \
        (zm, zw, cross, sat, swamped)
    if hasattr(cfg, "step_sign"):                       # Lion: the direction cancels
        _, zc = cfg.step_sign(vs.words)
        assert (zc & ~z_in & ~z_g).sum() >= 5
        assert np.array_equal(out["w"][zc], vs.w[zc])   # no step: the weight unchanged


@pytest.mark.parametrize("name", ["lns12_adam", "lns12_lion"])
def test_additive_blocks_keep_hitting_cancellation_and_the_step(name):
    """A late block (no edge table) still holds exact cancellations and weights landing
    exactly on zero (the recipe's specials)."""
    cfg = presets.get(name)
    p = cfg.params
    b, _ = S.make_block(cfg, 1, 7, 10 * S.BLOCK)
    m_in = lns.word.unpack_all(p.m, b.m.astype(np.int64))[2]
    g_in = lns.word.unpack_all(p.g, b.g.astype(np.int64))[2]
    zm = lns.word.unpack_all(p.m, b.exp_m)[2] & ~m_in & ~g_in
    zw = lns.word.unpack_all(p.w, b.exp_w)[2] & ~lns.word.unpack_all(p.w, b.w.astype(np.int64))[2]
    assert zm.sum() >= 100 and zw.sum() >= 20, (zm.sum(), zw.sum())


# ---- IEEE Adam ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FLOAT)
def test_float_edges_ties_and_specials(name):
    """Every IEEE edge word in every role, ties of the last operation (checked in exact
    arithmetic), exact cancellation to +0, and NaN, infinite, zero and subnormal results
    (none with flush to zero, `lns.ieee.ftz`)."""
    cfg = presets.get(name)
    fmt = cfg.fmt
    e = float_adam.edges(cfg, float_adam.groups(cfg, 1)[2])
    for k in "wgmv":                # each role's edge words in its own format
        assert set(ieee_edges(cfg.word_formats[k]).tolist()) <= set(e[k].tolist()), k
    assert float_adam.tie_count(cfg, e, 10) >= 20
    out = cfg.update(e, 10)
    w = out["w"]
    expo = (w >> fmt.frac_bits) & fmt.exp_max
    frac = w & fmt.frac_mask
    assert (w == fmt.canonical_nan).any()
    assert ((expo == fmt.exp_max) & (frac == 0)).any()                  # +-inf
    assert (w == 0).any()                                               # +0 (w = q)
    subnormal = any(((((out[k] >> fmt.frac_bits) & fmt.exp_max) == 0)
                     & ((out[k] & fmt.frac_mask) != 0)).any() for k in "wmv")
    assert subnormal != cfg.ftz          # subnormal results, none with flush-to-zero
    b, _ = S.make_block(cfg, 1, 9, 10 * S.BLOCK)                # a late block: ties still
    words = {k: a[:4000].astype(np.int64) for k, a in b.words.items()}
    assert float_adam.tie_count(cfg, words, b.t) >= 20
