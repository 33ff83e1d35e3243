"""rtl.update against lns: the second-moment path, the normaliser and the weight update,
each exhaustively over the small formats' words."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

import lns
from lns import presets
from lns.rounding import round_shift_rne
from rtl.unit import xbc_shape
from rtl.update import Normaliser, SecondMoment, WeightUpdate


def _comb(dut, cases, setter, getter):
    got = []

    async def bench(ctx):
        for case in cases:
            setter(ctx, case)
            got.append(getter(ctx))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return got


def _weight_word(cfg):
    # A non-zero weight whose update cannot change v: the model's v' ignores w.
    return cfg.weight.word(0, cfg.weight.e_max)


@pytest.mark.parametrize("name,sample", [("tiny", None), ("lns8", 20000), ("lns16", 20000)])
def test_second_moment(name, sample):
    cfg = presets.get(name)
    G, V = cfg.grad, cfg.moment
    if sample is None:     # every (g, v) pair
        pairs = [(g, v) for g in range(1 << G.total_bits) for v in range(1 << V.total_bits)]
    else:
        rng = random.Random(5)
        edges = [0, 1, V.e_max, V.e_max - 1]
        gedges = [0, 1, G.e_max, G.word(1, 0), G.word(1, 1), G.word(1, G.e_max)]
        pairs = [(g, v) for g in gedges for v in edges]
        pairs += [(rng.randrange(1 << G.total_bits), rng.randrange(1 << V.total_bits))
                  for _ in range(sample)]
    dut = SecondMoment(cfg)

    def setter(ctx, c):
        ctx.set(dut.g, c[0])
        ctx.set(dut.v, c[1])

    got = _comb(dut, pairs, setter, lambda ctx: ctx.get(dut.v_out))
    g = np.array([c[0] for c in pairs])
    v = np.array([c[1] for c in pairs])
    _, want = lns.madam_update(cfg, np.full(len(pairs), _weight_word(cfg)), g, v, 5,
                               lfsr_state=lns.lane_seeds(1, 1) if cfg.rounding == "stochastic"
                               else None)
    assert got == [int(x) for x in want]
    assert 0 in got                                        # flushed (or both zero)
    if sample is None:
        assert V.e_max in got                              # saturated (reachable in tiny)


def _model_l(cfg, g, v, x_bc):
    p = cfg.params
    e_g = g & ((1 << p.g.log_bits) - 1)
    e_v = v & ((1 << p.v.log_bits) - 1)
    if e_v == 0:
        return p.l_bound
    num = ((e_g - p.g.offset) << p.norm_g_shift) - ((e_v - p.v.offset - x_bc) << p.norm_v_shift)
    return min(int(round_shift_rne(num, p.norm_round)), p.l_bound)


@pytest.mark.parametrize("name", ["tiny", "lns12"])
def test_normaliser(name):
    cfg = presets.get(name)
    G, V = cfg.grad, cfg.moment
    bcs = [cfg.bias_correction_code(t) for t in (1, 2, 10, 10 ** 9)]
    if name == "tiny":     # every (g, v') pair with each bias correction
        cases = [(g, v, b) for g in range(1 << G.total_bits) for v in range(1 << V.total_bits)
                 for b in bcs]
    else:
        rng = random.Random(9)
        cases = [(rng.randrange(1 << G.total_bits), rng.randrange(1 << V.total_bits),
                  rng.choice(bcs)) for _ in range(20000)]
        cases += [(g, v, b) for g in (1, G.e_max) for v in (0, 1, V.e_max) for b in bcs]
    dut = Normaliser(cfg, xbc_shape(cfg))

    def setter(ctx, c):
        ctx.set(dut.g, c[0])
        ctx.set(dut.v, c[1])
        ctx.set(dut.x_bc, c[2])

    got = _comb(dut, cases, setter, lambda ctx: ctx.get(dut.l))
    want = [_model_l(cfg, *c) for c in cases]
    assert got == want
    assert cfg.params.l_bound in got and min(got) < 0


def test_weight_update_every_8bit_weight():
    cfg = presets.get("lns8")                            # 8-bit weight words
    W = cfg.weight
    p = cfg.params
    deltas = list(range(0, 40)) + [127, 255, 511]
    clips = [W.e_max, W.e_max // 2, 1, 0]
    cases = [(w, sg, zg, d, c) for w in range(1 << W.total_bits) for sg in (0, 1)
             for zg in (0, 1) for d in (deltas if not zg else (0, 77)) for c in clips]
    dut = WeightUpdate(cfg, range(512))

    def setter(ctx, c):
        ctx.set(dut.w, c[0])
        ctx.set(dut.g_sign, c[1])
        ctx.set(dut.g_zero, c[2])
        ctx.set(dut.delta, c[3])
        ctx.set(dut.clip, c[4])

    got = _comb(dut, cases, setter, lambda ctx: ctx.get(dut.w_out))

    def model(w, sg, zg, d, clip):      # step 4 of lns.rules.madam_update._update_kernel
        sw, ew = w >> W.log_bits, w & ((1 << W.log_bits) - 1)
        if ew == 0:
            return 0
        d = 0 if zg else d
        xn = (ew - W.offset) - d if sw == sg else (ew - W.offset) + d
        xn = min(xn, clip - W.offset)
        xn = max(xn, p.w.x_min)
        return W.word(sw, xn + W.offset)

    want = [model(*c) for c in cases]
    assert got == want
    assert W.word(1, 1) in got and W.word(0, W.e_max) in got
