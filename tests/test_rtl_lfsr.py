"""rtl.lfsr against lns.lfsr: the XOR network, sequences, load and advance."""

import random

from amaranth.sim import Simulator

from lns.lfsr import RANDOM_BITS, lane_seeds, lfsr_advance, lfsr_advance_ref
from rtl.lfsr import LaneLFSR, advance_matrix


def _apply(rows, state):
    out = 0
    for i, taps in enumerate(rows):
        bit = 0
        for j in taps:
            bit ^= (state >> j) & 1
        out |= bit << i
    return out


def test_matrix_is_the_model_advance():
    rows = advance_matrix()
    rng = random.Random(3)
    for state in [1, 0x80000000, 0xFFFFFFFF, 0x12345678] + [rng.randrange(1, 1 << 32)
                                                           for _ in range(500)]:
        assert _apply(rows, state) == lfsr_advance_ref(state) == lfsr_advance(state)


def test_register_sequence_with_loads_and_idle_cycles():
    dut = LaneLFSR(init=int(lane_seeds(0, 1)[0]))
    rng = random.Random(11)
    plan = [(rng.random() < 0.6, rng.random() < 0.05, rng.randrange(1, 1 << 32))
            for _ in range(600)]
    plan[0] = (True, True, 0xACE1)       # load and advance at the same edge
    plan[1] = (False, True, 0xBEEF)      # load only
    seen = []

    async def bench(ctx):
        for adv, load, seed in plan:
            ctx.set(dut.advance, adv)
            ctx.set(dut.load, load)
            ctx.set(dut.seed, seed)
            seen.append((ctx.get(dut.r), ctx.get(dut.state)))
            await ctx.tick()
        seen.append((None, ctx.get(dut.state)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    state = dut.init
    for (adv, load, seed), (r, reg) in zip(plan, seen):
        assert reg == state
        base = seed if load else state
        nxt = lfsr_advance_ref(base)
        assert r == nxt & ((1 << RANDOM_BITS) - 1)
        state = nxt if adv else base
    assert seen[-1][1] == state
    assert state != dut.init
