"""rtl.float.exp2 (`FloatExp2`, `float_exp2`) bit for bit against its model lns.ieee.exp2:
every word of FloatFormat(5, 6) in Amaranth's simulator and on Verilator; every fp16 word,
the fp32 edge words and seeded random fp32 words on Verilator (random input gaps and output
back-pressure); the latency and II = 1; the registration in `rtl.float` (``operator``,
``verilog``); the table as a ROM."""

import subprocess

import numpy as np
import pytest
from amaranth.sim import Simulator

from lns.ieee import FloatFormat, get_format
from lns.ieee.exp2 import exp2, exp2_params
from lns.ieee.vectors import edge_words, random_operands
from rtl.float import OPERATORS, FloatExp2, operator, verilog
from testbench.fastpath import VERILATOR_FLAGS, build_cpp_harness
from testbench.tools import Simulator as Sim, cache_dir, digest, require, run

E5M6 = FloatFormat(5, 6)
FP16, FP32 = get_format("fp16"), get_format("fp32")
LINT_FLAGS = [f for f in VERILATOR_FLAGS if f.startswith("-Wno")]


def _quiet(dut):
    """A component made for its attributes only: Amaranth must not warn that it was never
    elaborated (as `rtl.float.ops._reject` does)."""
    dut._MustUse__silence = True
    return dut


def run_amaranth(fmt, words):
    """The operator's results in Amaranth's simulator, one word a clock."""
    dut = FloatExp2(fmt)
    words = [int(w) for w in words]
    out = []

    async def bench(ctx):
        ctx.set(dut.out_ready, 1)
        sent = 0
        while len(out) < len(words):
            valid = sent < len(words)
            ctx.set(dut.in_valid, valid)
            if valid:
                ctx.set(dut.a, words[sent])
            _, _, ready, ov, y = await ctx.tick().sample(dut.in_ready, dut.out_valid, dut.y)
            sent += valid and ready
            if ov:
                out.append(y)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return np.array(out, dtype=np.uint64)


_HARNESS = r"""// exp2 operator harness (tests/test_rtl_float_exp2.py)
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>
#include "V%(module)s.h"
#include "verilated.h"

int main(int argc, char** argv) {
    const std::unique_ptr<VerilatedContext> ctx{new VerilatedContext};
    ctx->commandArgs(argc, argv);
    const std::unique_ptr<V%(module)s> dut{new V%(module)s{ctx.get(), "TOP"}};
    uint64_t head[4];                      // n, gap %%, back-pressure %%, rng seed
    if (std::fread(head, 8, 4, stdin) != 4) return 3;
    const long n = (long)head[0];
    std::vector<uint64_t> in(n), out(n + 2, 0);
    if (n && std::fread(in.data(), 8, n, stdin) != (size_t)n) return 3;
    uint32_t rng = head[3] ? (uint32_t)head[3] : 1u;
    auto tick = [&]() { dut->clk = 0; dut->eval(); dut->clk = 1; dut->eval(); };
    dut->in_valid = 0; dut->out_ready = 0; dut->rst = 1;
    for (int i = 0; i < 4; ++i) tick();
    dut->rst = 0; tick();
    long sent = 0, recv = 0, idle = 0; uint64_t cycles = 0, status = 0;
    bool valid = false;
    while (recv < n) {
        rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
        if (!valid && sent < n && !(head[1] && rng %% 100 < head[1])) {
            valid = true; dut->a = in[sent];
        }
        rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
        const bool ready = !(head[2] && rng %% 100 < head[2]);
        dut->in_valid = valid; dut->out_ready = ready;
        dut->clk = 0; dut->eval();
        const bool acc = valid && dut->in_ready;
        const bool got = dut->out_valid && ready;
        if (got) out[2 + recv++] = dut->y;
        dut->clk = 1; dut->eval(); ++cycles;
        if (acc) { ++sent; valid = false; }
        if (acc || got) idle = 0;
        else if (++idle > 1000) { status = 1; break; }
    }
    dut->in_valid = 0; dut->out_ready = 1;
    for (int i = 0; status == 0 && i < 64; ++i) {
        dut->clk = 0; dut->eval();
        if (dut->out_valid) status = 2;      // an extra beat
        dut->clk = 1; dut->eval();
    }
    out[0] = status; out[1] = cycles;
    std::fwrite(out.data(), 8, n + 2, stdout);
    return 0;
}
"""


def run_verilator(fmt, words, *, gap=0, bp=0, rng=1):
    """``(status, cycles, results)`` of the operator built with Verilator (cached)."""
    require(Sim.VERILATOR)
    top = _quiet(FloatExp2(fmt))
    text = verilog("exp2", fmt)
    main = _HARNESS % {"module": top.name}
    key = digest("exp2-harness", text, main, " ".join(VERILATOR_FLAGS))
    d = cache_dir("builds", f"{top.name}-{key}")
    src = d.parent / f"{top.name}-{key}.v"
    src.write_text(text)
    exe, _ = build_cpp_harness(d, src, top.name, main, exe="Vexp2",
                               what=f"the {top.name} harness with Verilator")
    words = np.asarray(words, dtype=np.uint64)
    head = np.array([len(words), gap, bp, rng], dtype=np.uint64)
    res = subprocess.run([str(exe)], input=head.tobytes() + words.tobytes(),
                         capture_output=True, check=True, timeout=300)
    out = np.frombuffer(res.stdout, dtype=np.uint64)
    return int(out[0]), int(out[1]), out[2:]


def _assert_same(fmt, words, got):
    want = exp2(fmt, np.asarray(words).astype(np.uint64))
    bad = np.nonzero(np.asarray(got, dtype=np.uint64) != want)[0]
    first = [f"exp2({int(words[i]):#x}) = {int(got[i]):#x}, model {int(want[i]):#x}"
             for i in bad[:5]]
    assert len(bad) == 0, f"{len(bad)} mismatches: {first}"


def test_every_e5m6_word_in_amaranth():
    words = np.arange(E5M6.word_mask + 1)
    _assert_same(E5M6, words, run_amaranth(E5M6, words))


def test_fp32_edges_and_a_sample_in_amaranth():
    (r,) = random_operands(FP32, 1_500, np.random.default_rng(4), arity=1)
    words = np.concatenate([edge_words(FP32), r])
    _assert_same(FP32, words, run_amaranth(FP32, words))


@pytest.mark.parametrize("fmt", [E5M6, FP16], ids=lambda f: f.name)
def test_every_word_on_verilator(fmt):
    """Every word (FloatFormat(5, 6): 4,096; fp16: 65,536), twice over, with random input
    gaps and output back-pressure."""
    words = np.tile(np.arange(fmt.word_mask + 1), 2)
    status, _, got = run_verilator(fmt, words, gap=20, bp=20, rng=9)
    assert status == 0
    _assert_same(fmt, words, got)


def test_fp32_edges_and_random_on_verilator():
    """The edge words, 2**n for every integer n in range, 200,000 seeded random words
    (uniform bit patterns, the exponent band of the subnormal to overflow results)."""
    rng = np.random.default_rng(2026)
    (r,) = random_operands(FP32, 100_000, rng, arity=1)
    band = rng.uniform(-160, 130, 100_000).astype(np.float32).view(np.uint32)
    ints = np.arange(-152, 130, dtype=np.float32).view(np.uint32)
    words = np.concatenate([edge_words(FP32), ints, r, band])
    status, _, got = run_verilator(FP32, words, gap=5, bp=5, rng=3)
    assert status == 0
    _assert_same(FP32, words, got)


@pytest.mark.parametrize("fmt", [E5M6, FP32], ids=lambda f: f.name)
def test_latency_and_initiation_interval_one(fmt):
    """n words without gaps or back-pressure take n + latency + 1 cycles (the first edge
    accepts, the result is read ``latency`` edges later): a new word every clock."""
    dut = _quiet(FloatExp2(fmt))
    words = np.random.default_rng(5).integers(0, fmt.word_mask + 1, 5_000)
    status, cycles, got = run_verilator(fmt, words)
    assert status == 0 and cycles == len(words) + dut.latency + 1
    _assert_same(fmt, words, got)
    # stages: input, unpack, shift, X, table, 2 per Horner step beyond the first, the
    # product, round_pack's three, output; and two more for each product whose operand is
    # wider than a DSP limb (`rtl.float.product`: fp32's three, with W = 31; e5m6 has none)
    wide = {"e5m6": 0, "fp32": 3}[fmt.name]
    assert dut.stages == 10 + 2 * (exp2_params(fmt).degree - 1) + 2 * wide


def test_registered_in_rtl_float():
    assert OPERATORS["exp2"] is FloatExp2
    dut = _quiet(operator("exp2", "fp32"))
    assert isinstance(dut, FloatExp2) and dut.name == "float_exp2_fp32"
    assert "b" not in dut.signature.members and dut.latency == dut.stages - 1
    assert _quiet(operator(FloatExp2, FP16)).fmt == FP16
    with pytest.raises(Exception, match="FloatExp2 takes no options, got steps_per_stage"):
        operator("exp2", FP16, steps_per_stage=2)


def test_verilog_lints_and_holds_the_table_as_a_rom():
    """The fp32 table (1,024 words) is one memory in the Verilog (a block RAM on the ECP5);
    the module passes ``verilator --lint-only``."""
    text = verilog("exp2", "fp32")
    assert "module float_exp2_fp32" in text
    assert "reg [30:0] exp2_table [1023:0];" in text       # T[i] - 2**W, W = 31 bits
    require(Sim.VERILATOR)
    d = cache_dir("builds", "exp2-lint")
    (d / "float_exp2_fp32.v").write_text(text)
    run(["verilator", "--lint-only", *LINT_FLAGS, "float_exp2_fp32.v"], cwd=d, timeout=120)
