"""rtl.exp_step against the step of lns.rules.madam_update._update_kernel: every table index, every
shift from the left-shift side to past the cap, both roundings."""

import random

import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from lns import presets
from lns.rounding import round_shift_rne, round_shift_stochastic
from rtl.exp_step import ExpStep


def model_delta(cfg, L, r):
    """Step 3 of the kernel, through the lns rounding functions."""
    p = cfg.params
    E = L + (p.eta_shift << p.step_frac_bits)
    q = E >> p.step_frac_bits
    P = int(cfg.exp_table[E & ((1 << p.step_frac_bits) - 1)])
    s = min(p.exp_bits - q, p.shift_cap)
    if p.stochastic:
        return int(round_shift_stochastic(P, s, r, p.random_bits))
    return int(round_shift_rne(P, s))


def _cases(cfg, l_max):
    p = cfg.params
    fs = p.step_frac_bits
    # From where s is past the cap (two table periods further) up to l_max: every index.
    l_lo = ((p.exp_bits - p.shift_cap - 3 - p.eta_shift) << fs)
    return range(l_lo, l_max + 1)


CONFIGS = {
    "tiny": presets.get("tiny"),
    "lns8": presets.get("lns8"),                                  # stochastic
    "lns16": presets.get("lns16"),
    # A large g_bound makes q exceed exp_bits: the left-shift path.
    "tiny_left": presets.get("tiny").replace(g_bound=1e6, name="tiny_left"),
    "tiny_stoch_left": presets.get("tiny").replace(g_bound=1e6, rounding="stochastic"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_exp_step_every_index_and_shift(name):
    cfg = CONFIGS[name]
    p = cfg.params
    l_max = p.l_bound
    ls = list(_cases(cfg, l_max))
    width = max(abs(ls[0]), abs(ls[-1])).bit_length() + 1
    dut = ExpStep(cfg, signed(width), l_max)
    rng = random.Random(7)
    rs = [0, 1, (1 << 15), (1 << 16) - 1] if p.stochastic else [0]
    cases = [(L, r) for L in ls for r in rs + ([rng.randrange(1 << 16) for _ in range(4)]
                                               if p.stochastic else [])]
    got = []

    async def bench(ctx):
        for L, r in cases:
            ctx.set(dut.l, L)
            if p.stochastic:
                ctx.set(dut.r, r)
            got.append(ctx.get(dut.delta))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    want = [model_delta(cfg, L, r) for L, r in cases]
    bad = [(c, g, w) for c, g, w in zip(cases, got, want) if g != w]
    assert not bad, f"{len(bad)} mismatches, first (L, r), rtl, model = {bad[0]}"
    assert max(want) > 0 and min(want) == 0
    if name.endswith("left"):
        assert dut.s_min < 0 and max(want) > max(int(x) for x in cfg.exp_table)
