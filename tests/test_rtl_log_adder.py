"""rtl.log_adder against lns: every table index, every pair of 8-bit log codes."""

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from lns.kernels import gauss_lookup, log_add, table_tuple
from lns.tables import gauss_table
from rtl.log_adder import GaussLookup, LogAdder


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("method", ["direct", "interp"])
@pytest.mark.parametrize("frac_bits", [2, 3, 4, 10])
def test_gauss_lookup_every_index(method, frac_bits):
    table = gauss_table("sb", frac_bits, method)
    top = table.end + (1 << table.seg_bits) + 3          # past the end: zeros
    width = top.bit_length()
    dut = GaussLookup(table, width)
    got = []

    async def bench(ctx):
        for z in range(top):
            ctx.set(dut.z, z)
            got.append(ctx.get(dut.value))

    _run(dut, bench)
    tt = table_tuple(table)
    want = [int(gauss_lookup(z, tt)) for z in range(top)]
    assert got == want
    assert want == [table.lookup_ref(z) for z in range(top)]
    assert got[0] == 1 << frac_bits                       # sb(0) = log2(2) = 1
    assert got[table.end:] == [0] * (top - table.end)


@pytest.mark.parametrize("method", ["direct", "interp"])
def test_log_adder_every_pair_of_8bit_codes(method):
    table = gauss_table("sb", 2, method)                  # the tiny preset's moment table
    tt = table_tuple(table)
    dut = LogAdder(table, signed(8), signed(8))
    got = np.empty((256, 256), dtype=np.int64)

    async def bench(ctx):
        for i, a in enumerate(range(-128, 128)):
            ctx.set(dut.a, a)
            for j, b in enumerate(range(-128, 128)):
                ctx.set(dut.b, b)
                got[i, j] = ctx.get(dut.x)

    _run(dut, bench)
    codes = range(-128, 128)
    want = np.array([[log_add(a, b, True, tt, tt)[0] for b in codes] for a in codes])
    mism = np.argwhere(got != want)
    assert mism.size == 0, \
        f"{len(mism)} mismatches, first a={mism[0][0] - 128} b={mism[0][1] - 128}"
    assert got[128, 128] == 4                             # 1 + 1 = 2: log 0 + sb(0) = 1.0 = 4 LSBs


def test_log_adder_zero_cases_exact():
    table = gauss_table("sb", 3, "interp")
    dut = LogAdder(table, signed(8), signed(8))
    seen = []

    async def bench(ctx):
        for a, b in [(-128, 127), (5, 5), (127, -128), (0, 0)]:
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            for za, zb in [(0, 0), (1, 0), (0, 1), (1, 1)]:
                ctx.set(dut.a_zero, za)
                ctx.set(dut.b_zero, zb)
                seen.append((a, b, za, zb, ctx.get(dut.x), ctx.get(dut.zero)))

    _run(dut, bench)
    tt = table_tuple(table)
    for a, b, za, zb, x, zero in seen:
        assert zero == (za & zb)
        if za and not zb:
            assert x == b
        elif zb and not za:
            assert x == a
        elif not za:
            assert x == log_add(a, b, True, tt, tt)[0]
