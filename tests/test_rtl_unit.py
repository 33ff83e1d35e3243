"""The whole pipelined unit in Amaranth's simulator against lns.madam_update (numba), per
preset, with random input gaps and output backpressure."""

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

import lns
from lns import presets
from rtl.sim import simulate_update
from rtl.unit import MadamUpdateArray, pipeline_stages

VECTORS = 10_000        # per preset: 5 runs (t, clip) of 2,000


def edge_vectors(cfg):
    """Crossed edge words: zero (both sign bits), min, max, clip-side, floor."""
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    ws = [0, W.word(1, 0), W.word(0, 1), W.word(1, 1), W.word(0, 2), W.word(0, W.e_max),
          W.word(1, W.e_max), W.word(0, W.offset), W.word(1, W.offset - 1)]
    gs = [0, G.word(1, 0), G.word(0, 1), G.word(1, 1), G.word(0, G.e_max),
          G.word(1, G.e_max), G.word(0, G.offset), G.word(1, G.offset)]
    vs = [0, 1, 2, V.e_max, V.offset, V.e_max >> 1]
    out = np.array([(w, g, v) for w in ws for g in gs for v in vs], dtype=np.int64)
    return out[:, 0], out[:, 1], out[:, 2]


def random_vectors(cfg, n, rng):
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    return (rng.integers(0, 1 << W.total_bits, n), rng.integers(0, 1 << G.total_bits, n),
            rng.integers(0, 1 << V.total_bits, n))


def _runs(cfg):
    W = cfg.weight
    # (t, clip): t = 1 (g_hat = +-1 from v = 0), small and huge t (x_bc = 0), clips at the
    # top, inside the range and at the floor.
    return [(1, W.e_max), (2, W.offset), (10, W.e_max - 5), (1000, 1), (10 ** 9, W.offset + 3)]


def _check(cfg, w, g, v, t, clip, lanes=1, seed=0, gap=0.3, stall=0.3):
    states = lns.lane_seeds(seed + t, lanes) if cfg.rounding == "stochastic" else None
    res = simulate_update(cfg, w, g, v, t, clip=clip, lanes=lanes,
                          lfsr_state=None if states is None else states.copy(),
                          gap=gap, stall=stall, seed=seed)
    want_w, want_v = lns.madam_update(cfg, w, g, v, t, clip=clip, lfsr_state=states)
    assert res.accepted == res.delivered == -(-len(w) // lanes)
    bad = np.nonzero((res.w != want_w) | (res.v != want_v))[0]
    assert bad.size == 0, (
        f"{bad.size} mismatches; first element {bad[0]}: w={w[bad[0]]:#x} g={g[bad[0]]:#x} "
        f"v={v[bad[0]]:#x} t={t} clip={clip}: rtl ({res.w[bad[0]]:#x}, {res.v[bad[0]]:#x}) "
        f"model ({want_w[bad[0]]:#x}, {want_v[bad[0]]:#x})")
    return res, want_w, want_v


@pytest.mark.parametrize("name", presets.names("madam"))
def test_unit_against_model(name):
    cfg = presets.get(name)
    rng = np.random.default_rng(2024)
    ew, eg, ev = edge_vectors(cfg)
    runs = _runs(cfg)
    per_run = VECTORS // len(runs)
    total, changed, clamped_low = 0, 0, 0
    for k, (t, clip) in enumerate(runs):
        rw, rg, rv = random_vectors(cfg, per_run - len(ew), rng)
        w, g, v = (np.concatenate([a, b]) for a, b in ((ew, rw), (eg, rg), (ev, rv)))
        perm = rng.permutation(len(w))
        w, g, v = w[perm], g[perm], v[perm]
        res, want_w, _ = _check(cfg, w, g, v, t, clip, seed=k)
        total += len(w)
        changed += int(np.sum(want_w != w))
        clamped_low += int(np.sum((want_w & ((1 << cfg.weight.log_bits) - 1)) == 1))
        assert res.cycles > res.accepted          # the gaps and stalls really happened
    assert total == VECTORS
    assert changed > VECTORS // 10 and clamped_low > 0


@pytest.mark.parametrize("name", ["lns12", "lns8_sign"])
def test_fixed_latency_without_backpressure(name):
    cfg = presets.get(name)
    w, g, v = random_vectors(cfg, 200, np.random.default_rng(1))
    res, _, _ = _check(cfg, w, g, v, 3, cfg.weight.e_max, gap=0.0, stall=0.0)
    latency = pipeline_stages(cfg) - 1
    # Sampled before the edges: acceptance at edge k, out_valid right after edge k + L,
    # delivered at edge k + L + 1.
    assert res.latencies == [latency + 1] * 200
    assert res.cycles <= 200 + latency + 2            # II = 1


@pytest.mark.parametrize("name,lanes", [("lns8", 3), ("lns8_sign", 4), ("tiny", 2),
                                        ("lns16", 2)])
def test_lanes_match_model_lane_by_lane(name, lanes):
    cfg = presets.get(name)
    rng = np.random.default_rng(lanes)
    w, g, v = random_vectors(cfg, 1001, rng)         # not a multiple of lanes: a short last beat
    w[::7] = 0                                       # zero weights still advance their lane
    g[::5] = 0
    _check(cfg, w, g, v, 4, cfg.weight.e_max - 2, lanes=lanes, seed=3)


def test_stochastic_lane_seeds_matter():
    cfg = presets.get("lns8")
    w, g, v = random_vectors(cfg, 400, np.random.default_rng(8))
    a = simulate_update(cfg, w, g, v, 50, lanes=2, lfsr_state=lns.lane_seeds(1, 2))
    b = simulate_update(cfg, w, g, v, 50, lanes=2, lfsr_state=lns.lane_seeds(2, 2))
    assert np.any(a.w != b.w)


def test_reset_clears_valids():
    cfg = presets.get("tiny")
    dut = MadamUpdateArray(cfg)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    seen = []

    async def bench(ctx):
        ctx.set(dut.out_ready, 0)
        ctx.set(dut.in_valid, 1)
        ctx.set(dut.in_w, cfg.weight.word(0, 9))
        for _ in range(dut.stages + 2):
            await ctx.tick()
        seen.append((ctx.get(dut.out_valid), ctx.get(dut.in_ready)))
        ctx.set(dut.in_valid, 0)
        ctx.set(cd.rst, 1)     # the generated module's rst
        await ctx.tick()
        ctx.set(cd.rst, 0)
        seen.append((ctx.get(dut.out_valid), ctx.get(dut.in_ready)))
        ctx.set(dut.out_ready, 1)
        for _ in range(dut.stages + 1):
            await ctx.tick()
            seen.append((ctx.get(dut.out_valid), ctx.get(dut.in_ready)))

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen[0] == (1, 0)                  # full and stalled
    assert all(s == (0, 1) for s in seen[1:])  # emptied by the reset, nothing comes out


def test_pipeline_stages_are_counted_from_the_datapath():
    # 1 input + 2 moment operands/adder + 3 interpolation + 1 pack + 1 + 1 normaliser + 1
    # + 2 exp step + 1 + 1 weight + 1 output = 16 with an interpolated sb table, 3 fewer
    # with a direct one; the sign normaliser has the input registers, the step with
    # X_w -+ Delta, and the clamps with the output registers.
    expected = {"tiny": 13, "lns8_sign": 3, "lns8": 16, "lns12": 16, "lns16": 16}
    assert {n: pipeline_stages(presets.get(n)) for n in presets.names("madam")} == expected
    direct = presets.get("lns12").replace(table="direct")
    assert pipeline_stages(direct) == 13
