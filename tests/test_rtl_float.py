"""rtl.float (IEEE add/sub, mul, div, sqrt in Amaranth) against the reference lns.ieee.ops,
TestFloat style: every pair of an 8-bit format and every bf16 square root on Verilator, the
edge tables and seeded random operands for bf16 and fp32 on Verilator, small formats
exhaustively and a sample of bf16 and fp32 in Amaranth's simulator; `round_pack` (the one
rounding) against `lns.ieee.exact.round_scaled`; latency, II = 1 and back-pressure.
The million-vector runs are `benchmarks/bench_float_ops.py`.
"""

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from lns.errors import InvalidType, InvalidValue
from lns.ieee import FloatFormat, get_format
from lns.ieee.exact import round_scaled
from lns.ieee.vectors import edge_pairs, edge_words, random_operands
from rtl._common import Pipe
from rtl.float import (FloatAdd, FloatDiv, FloatMul, FloatSqrt, float_add, float_mul,
                       operator, round_pack, verilog)
from testbench.fastpath import VERILATOR_FLAGS
from testbench.float_ops import OPS, FloatHarness, reference, run_amaranth
from testbench.tools import require, run

E4M3 = FloatFormat(4, 3)
BF16, FP32 = get_format("bf16"), get_format("fp32")
LINT_FLAGS = [f for f in VERILATOR_FLAGS if f.startswith("-Wno")]


def _mismatches(op, fmt, a, b, neg, got):
    want = reference(op, fmt, a, b, neg)
    bad = np.nonzero(np.asarray(got) != want)[0]
    return [f"{op} {fmt.name} a={int(a[i]):#x} b={int(b[i]):#x} neg={bool(neg[i])}: "
            f"got {int(got[i]):#x}, want {int(want[i]):#x}" for i in bad[:5]], len(bad)


def _check_all(fmt, h, a, b, neg, **stream):
    """Every operator of the harness ``h`` on the operands, against the reference."""
    status, cycles, got = h.run(a, b, neg, **stream)
    assert status == 0, f"stream protocol error {status}"
    for op in OPS:
        first, count = _mismatches(op, fmt, a, b, neg, got[op])
        assert count == 0, f"{count} mismatches: {first}"
    return cycles


# ---- Verilator --------------------------------------------------------------------------
def test_e4m3_every_pair_on_verilator():
    """Every pair of 8-bit words (65,536) for add, sub, mul and div, every word for sqrt,
    through a stream with random input gaps and output back-pressure."""
    n = E4M3.word_mask + 1
    a, b = (x.ravel() for x in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    a, b = np.concatenate([a, a]), np.concatenate([b, b])
    neg = np.repeat([False, True], n * n)                  # add, then sub, of every pair
    with FloatHarness(E4M3) as h:
        _check_all(E4M3, h, a, b, neg, gap=20, bp=20, rng=7)


def test_bf16_every_sqrt_and_every_value_against_a_sample():
    """Every bf16 word as ``a`` (so every square root), each against a seeded random ``b``."""
    a = np.arange(BF16.word_mask + 1)
    (b,) = random_operands(BF16, len(a), np.random.default_rng(11), arity=1)
    neg = np.random.default_rng(12).integers(0, 2, len(a)).astype(bool)
    with FloatHarness(BF16) as h:
        _check_all(BF16, h, a, b, neg)


@pytest.mark.parametrize("fmt", [BF16, FP32], ids=lambda f: f.name)
def test_edge_tables_and_random_on_verilator(fmt):
    """The edge table (every pair of +-0, subnormals at both ends, the smallest normal,
    1 and its neighbours, the largest finite, +-inf, NaNs), the exact-tie pairs (sums and
    products on a midpoint, underflow onto the subnormal grid, overflow to inf), both as
    add and as sub, then 40,000 seeded random operand sets."""
    ea, eb = edge_pairs(fmt)
    ra, rb = random_operands(fmt, 40_000, np.random.default_rng(2026))
    a = np.concatenate([ea, ea, ra])
    b = np.concatenate([eb, eb, rb])
    neg = np.concatenate([np.zeros(len(ea), bool), np.ones(len(ea), bool),
                          np.random.default_rng(5).integers(0, 2, len(ra)).astype(bool)])
    with FloatHarness(fmt) as h:
        _check_all(fmt, h, a, b, neg, gap=5, bp=5, rng=3)


@pytest.mark.parametrize("fmt", [BF16, FP32], ids=lambda f: f.name)
def test_initiation_interval_one(fmt):
    """Without gaps or back-pressure n operand sets take n cycles plus a fixed fill: a new
    set every clock.  The harness counts a cycle per clock edge, from the edge that accepts
    the first set to the one after which the slowest operator's last result is read, so
    the fill is that operator's latency plus the one edge that accepts."""
    cycles = {}
    with FloatHarness(fmt) as h:
        for n in (1_000, 10_000):
            a, b = random_operands(fmt, n, np.random.default_rng(n))
            cycles[n] = _check_all(fmt, h, a, b, np.zeros(n, bool))
        fill = max(h.latency.values()) + 1
    assert cycles == {1_000: 1_000 + fill, 10_000: 10_000 + fill}


# ---- Amaranth's simulator -----------------------------------------------------------------
@pytest.mark.parametrize("op", OPS)
def test_e3m2_every_pair_in_amaranth(op):
    """A 6-bit format (2 exponent bits too few for any shortcut), every pair (and both add
    and sub); division and square root one step a stage (the deepest pipeline)."""
    fmt = FloatFormat(3, 2)
    n = fmt.word_mask + 1
    if op == "sqrt":
        a, b, neg = np.arange(n), None, None
    else:
        a, b = (x.ravel() for x in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
        neg = (np.arange(len(a)) % 2).astype(bool) if op == "add" else None
    opts = {"steps_per_stage": 1} if op in ("div", "sqrt") else {}
    got = run_amaranth(op, fmt, a, b, neg, **opts)
    b = np.zeros_like(a) if b is None else b
    neg = np.zeros(len(a), bool) if neg is None else neg
    first, count = _mismatches(op, fmt, a, b, neg, got)
    assert count == 0, f"{count} mismatches: {first}"


@pytest.mark.parametrize("fmt", [BF16, FP32], ids=lambda f: f.name)
@pytest.mark.parametrize("op", OPS)
def test_sample_in_amaranth(fmt, op):
    """A sample of the edge pairs and of random operands in Amaranth's simulator (the same
    Python description the Verilog comes from, checked without a Verilog tool)."""
    rng = np.random.default_rng(10 * OPS.index(op) + fmt.total_bits)
    ea, eb = edge_pairs(fmt)
    pick = rng.choice(len(ea), 150, replace=False)
    ra, rb = random_operands(fmt, 150, rng)
    a, b = np.concatenate([ea[pick], ra]), np.concatenate([eb[pick], rb])
    neg = rng.integers(0, 2, len(a)).astype(bool)
    if op == "sqrt":
        a = np.concatenate([edge_words(fmt), ra])
        b, neg = np.zeros_like(a), np.zeros(len(a), bool)
    got = run_amaranth(op, fmt, a, b, neg)
    first, count = _mismatches(op, fmt, a, b, neg, got)
    assert count == 0, f"{count} mismatches: {first}"


# ---- round_pack, the one rounding -------------------------------------------------------
class _RoundPack(wiring.Component):
    """`round_pack` alone, combinational (a `Pipe` without registers)."""

    def __init__(self, fmt, sig_bits, exp_bits=12):
        self.fmt = fmt
        super().__init__({"sign": In(1), "exp": In(signed(exp_bits)), "sig": In(sig_bits),
                          "zero": In(1), "inf": In(1), "nan": In(1),
                          "y": Out(fmt.total_bits)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(round_pack(m, Pipe(m), self.fmt, self.sign, self.exp,
                                         self.sig, zero=self.zero, inf=self.inf,
                                         nan=self.nan))
        return m


@pytest.mark.parametrize("fmt,extra", [(E4M3, 2), (E4M3, 9), (BF16, 2), (BF16, 5)],
                         ids=["e4m3+2", "e4m3+9", "bf16+2", "bf16+5"])
def test_round_pack_against_round_scaled(fmt, extra):
    """Normalised significands of ``frac_bits + 1 + extra`` bits at exponents from far below
    the subnormal range to beyond overflow, each rounded by `round_pack` and by the
    reference's one rounding function (an exact value: no sticky)."""
    p = fmt.frac_bits
    width = p + 1 + extra
    rng = np.random.default_rng(width)
    cases = []
    for exp in range(-p - 6, fmt.exp_max + 3):
        for _ in range(6):
            sig = (1 << (width - 1)) | int(rng.integers(0, 1 << (width - 1)))
            cases.append((int(rng.integers(0, 2)), exp, sig))
        # exact ties and their neighbours at the rounding point of a normal result
        half = 1 << (extra - 1)
        for low in (half - 1, half, half + 1):
            for lsb in (0, 1):
                cases.append((0, exp, (1 << (width - 1)) | (lsb << extra) | low))
    dut = _RoundPack(fmt, width)
    got = []

    async def bench(ctx):
        for sign, exp, sig in cases:
            ctx.set(dut.sign, sign)
            ctx.set(dut.exp, exp)
            ctx.set(dut.sig, sig)
            got.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    want = [round_scaled(fmt, s, sig, e - fmt.bias - (width - 1)) for s, e, sig in cases]
    bad = [(c, g, w) for c, g, w in zip(cases, got, want) if g != w]
    assert not bad, f"{len(bad)} of {len(cases)} differ, first (sign, exp, sig) " \
                    f"{bad[0][0]}: got {bad[0][1]:#x}, want {bad[0][2]:#x}"
    assert fmt.pos_inf in want and 0 in want        # overflow and underflow were reached


def test_round_pack_special_precedence():
    """NaN over infinity over zero over the value; the signs of inf and zero kept."""
    fmt = E4M3
    dut = _RoundPack(fmt, fmt.frac_bits + 3)
    got = {}
    one = 1 << (fmt.frac_bits + 2)

    async def bench(ctx):
        ctx.set(dut.exp, fmt.bias)
        ctx.set(dut.sig, one)
        for sign in (0, 1):
            ctx.set(dut.sign, sign)
            for flags in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 1, 1)]:
                ctx.set(dut.zero, flags[0])
                ctx.set(dut.inf, flags[1])
                ctx.set(dut.nan, flags[2])
                got[(sign, *flags)] = ctx.get(dut.y)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    s = fmt.sign_mask
    one_word = fmt.bias << fmt.frac_bits
    for sign in (0, 1):
        m = s if sign else 0
        assert got[(sign, 0, 0, 0)] == m | one_word
        assert got[(sign, 1, 0, 0)] == m
        assert got[(sign, 0, 1, 0)] == got[(sign, 1, 1, 0)] == m | fmt.pos_inf
        assert got[(sign, 0, 0, 1)] == got[(sign, 1, 1, 1)] == fmt.canonical_nan


# ---- structure --------------------------------------------------------------------------
def _first_output_edge(dut, a, b=0):
    """Edges from the one that accepts a beat to the one after which its result shows."""
    seen = []

    async def bench(ctx):
        ctx.set(dut.out_ready, 1)
        ctx.set(dut.a, a)
        if hasattr(dut, "b"):
            ctx.set(dut.b, b)
        ctx.set(dut.in_valid, 1)
        await ctx.tick()                            # edge 0 accepts the beat
        ctx.set(dut.in_valid, 0)
        for k in range(40):
            if ctx.get(dut.out_valid):
                seen.append((k, ctx.get(dut.y)))
                return
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen[0]


@pytest.mark.parametrize("cls", [FloatAdd, FloatMul, FloatDiv, FloatSqrt])
def test_latency_is_what_the_pipeline_builds(cls):
    """The ``latency`` attribute is the observed one, and the digit recurrences get deeper
    with fewer steps a stage."""
    fmt = BF16
    dut = cls(fmt)
    one = fmt.bias << fmt.frac_bits
    k, y = _first_output_edge(dut, one, one)
    assert k == dut.latency
    two = (fmt.bias + 1) << fmt.frac_bits
    expect = {FloatAdd: two, FloatMul: one, FloatDiv: one, FloatSqrt: one}[cls]
    assert y == expect
    if cls in (FloatDiv, FloatSqrt):
        steps = fmt.frac_bits + 2
        shallow, deep = cls(fmt, steps_per_stage=steps), cls(fmt, steps_per_stage=1)
        assert deep.latency - shallow.latency == steps - 1
        for unused in (shallow, deep):
            _first_output_edge(unused, one, one)    # elaborated, not just built


def test_datapaths_chain_on_one_pipe():
    """The datapath functions compose in one pipeline (as a larger unit uses them):
    ``(a * b) + c`` with two roundings equals the two reference operations."""
    fmt = BF16

    class MulAdd(wiring.Component):
        def __init__(self):
            n = fmt.total_bits
            super().__init__({"a": In(n), "b": In(n), "c": In(n), "y": Out(n)})

        def elaborate(self, platform):
            m = Module()
            pipe = Pipe(m)
            prod = float_mul(m, pipe, fmt, self.a, self.b)
            m.d.comb += self.y.eq(float_add(m, pipe, fmt, prod, self.c, 0))
            return m

    a, b = random_operands(fmt, 300, np.random.default_rng(9))
    (c,) = random_operands(fmt, 300, np.random.default_rng(10), arity=1)
    dut = MulAdd()
    got = []

    async def bench(ctx):
        for x, y, z in zip(a, b, c):
            ctx.set(dut.a, int(x))
            ctx.set(dut.b, int(y))
            ctx.set(dut.c, int(z))
            got.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    want = reference("add", fmt, reference("mul", fmt, a, b), c)
    assert np.array_equal(np.array(got), want)


def test_verilog_of_one_operator():
    text = verilog("mul", "bf16")
    assert "module float_mul_bf16(" in text
    for port in ("clk", "rst", "in_valid", "in_ready", "a", "b", "out_valid", "out_ready", "y"):
        assert f" {port}" in text
    assert verilog("mul", BF16) == text                 # deterministic
    sq = verilog("sqrt", E4M3, steps_per_stage=2)
    assert "module float_sqrt_e4m3(" in sq and " b;" not in sq


def test_verilog_of_one_operator_passes_lint_and_icarus(tmp_path):
    """The single-operator Verilog is what a Verilator (or any) flow reads: it lints clean
    of errors (the harness's flags for warnings), and Icarus compiles it."""
    require("verilator")
    for op in OPS:
        path = tmp_path / f"float_{op}_bf16.v"
        path.write_text(verilog(op, BF16))
        run(["verilator", "--lint-only", *LINT_FLAGS, "--top-module", path.stem, path],
            cwd=tmp_path)
    require("icarus")                                       # and Icarus elaborates it
    run(["iverilog", "-g2012", "-o", tmp_path / "div.vvp", "-s", "float_div_bf16",
         tmp_path / "float_div_bf16.v"], cwd=tmp_path)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(InvalidValue, match="op must be one of"):
        operator("fma", BF16)
    with pytest.raises(InvalidValue, match="float format must be one of"):
        operator("add", "fp8")
    with pytest.raises(InvalidType, match="FloatFormat"):
        FloatAdd(16)
    with pytest.raises(InvalidValue, match="steps_per_stage"):
        FloatDiv(BF16, steps_per_stage=0)
    with pytest.raises(InvalidType, match="steps_per_stage"):
        FloatSqrt(BF16, steps_per_stage=2.5)
    with pytest.raises(InvalidValue, match="takes no options"):
        operator("add", BF16, steps_per_stage=2)
