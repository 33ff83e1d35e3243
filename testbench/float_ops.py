"""Evaluators of the float operators (`rtl.float`) against the reference `lns.ieee.ops`:
Amaranth's simulator on a sample, and a persistent Verilator harness for millions of vectors.

* `reference(op, fmt, a, b, negate_b)`: the expected words (`lns.ieee.ops`; ``negate_b``
  picks ``sub`` case by case for the adder).
* `run_amaranth(op, fmt, a, b, negate_b)`: one operator in Amaranth's simulator, one beat a
  clock (II = 1), the results in order.
* `FloatHarness(fmt)`: the four operators of ``fmt`` side by side behind one stream (a test
  top, so that one Verilator build checks all four; its Verilog from `rtl.float.to_verilog`,
  generated once and cached by a hash of the float sources, `bench_verilog`), in a C++
  harness built once with Verilator (`testbench.fastpath.build_cpp_harness`, the flags of
  `testbench.fastpath`) and fed blocks of operands through a pipe; random input gaps and
  output back-pressure exercise the stream.

`tests/test_rtl_float.py` and `benchmarks/bench_float_ops.py` use these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fastpath import VERILATOR_FLAGS, build_cpp_harness
from .tools import PipeProcess, Simulator as Sim, SimulatorError, cache_dir, digest, require

__all__ = ["reference", "run_amaranth", "FloatHarness", "bench_verilog", "build_harness",
           "OPS"]

OPS = ("add", "mul", "div", "sqrt")
MAGIC = 0x464C4F50                 # "FLOP"


def _arity(op: str) -> int:
    return 1 if op == "sqrt" else 2


def _operands(op, fmt, a, b, negate_b):
    from lns.ieee.fast import word_dtype
    dt = word_dtype(fmt)
    a = np.asarray(a, dtype=dt)
    b = np.zeros_like(a) if b is None else np.asarray(b, dtype=dt)
    neg = np.zeros(a.shape, dtype=bool) if negate_b is None else np.asarray(negate_b, bool)
    if _arity(op) == 1:
        b = np.zeros_like(a)
    if op != "add":
        neg = np.zeros(a.shape, dtype=bool)
    return a, b, neg


def reference(op: str, fmt, a, b=None, negate_b=None) -> np.ndarray:
    """The words `lns.ieee.ops` gives (``add`` with ``negate_b`` set is ``sub``)."""
    from lns.ieee import ops
    a, b, neg = _operands(op, fmt, a, b, negate_b)
    if op == "sqrt":
        return ops.sqrt(fmt, a)
    if op == "add":
        out = ops.add(fmt, a, b)
        if neg.any():
            out = np.where(neg, ops.sub(fmt, a, b), out)
        return out
    return ops.apply(fmt, op, a, b)


def run_amaranth(op: str, fmt, a, b=None, negate_b=None, **options) -> np.ndarray:
    """The operator's outputs for every operand set in Amaranth's simulator: one beat a
    clock with ``out_ready`` high, so the results arrive ``latency`` clocks after their
    beats, in order (the result count is checked)."""
    from amaranth.sim import Simulator
    from rtl.float import operator
    a, b, neg = _operands(op, fmt, a, b, negate_b)
    dut = operator(op, fmt, **options)
    n = len(a)
    out = []

    async def bench(ctx):
        ctx.set(dut.out_ready, 1)
        sent = 0
        while len(out) < n:
            valid = sent < n
            ctx.set(dut.in_valid, valid)
            if valid:
                ctx.set(dut.a, int(a[sent]))
                if _arity(op) == 2:
                    ctx.set(dut.b, int(b[sent]))
                if op == "add":
                    ctx.set(dut.negate_b, int(neg[sent]))
            _, _, ready, ov, y = await ctx.tick().sample(dut.in_ready, dut.out_valid, dut.y)
            if valid and ready:
                sent += 1
            if ov:
                out.append(y)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return np.array(out, dtype=a.dtype)


# ---- the four operators side by side, and their Verilog ------------------------------------
def _bench_class():
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out
    from rtl.float import operator

    class FloatBench(wiring.Component):
        """The four operators of one format behind one input stream (a test top, so that one
        Verilator build checks all four): every beat goes to each operator at once (a beat is
        accepted when all four are ready); each operator's results leave on its own
        ``<op>_valid``/``<op>_y`` under the shared ``out_ready``."""

        def __init__(self, fmt, **options):
            self.fmt = fmt
            self.ops = {op: operator(op, fmt, **(options if op in ("div", "sqrt") else {}))
                        for op in OPS}
            self.latency = {op: dut.latency for op, dut in self.ops.items()}
            self.name = f"float_bench_{fmt.name}"
            n = fmt.total_bits
            ports = {"in_valid": In(1), "in_ready": Out(1), "a": In(n), "b": In(n),
                     "negate_b": In(1), "out_ready": In(1)}
            for op in OPS:
                ports.update({f"{op}_valid": Out(1), f"{op}_y": Out(n)})
            super().__init__(ports)

        def elaborate(self, platform):
            m = Module()
            ready = 1
            for op, dut in self.ops.items():
                m.submodules[op] = dut
                ready = dut.in_ready & ready
            m.d.comb += self.in_ready.eq(ready)
            for op, dut in self.ops.items():
                m.d.comb += [dut.in_valid.eq(self.in_valid & ready), dut.a.eq(self.a),
                             dut.out_ready.eq(self.out_ready),
                             getattr(self, f"{op}_valid").eq(dut.out_valid),
                             getattr(self, f"{op}_y").eq(dut.y)]
                if "b" in dut.operands:
                    m.d.comb += dut.b.eq(self.b)
                if op == "add":
                    m.d.comb += dut.negate_b.eq(self.negate_b)
            return m

    return FloatBench


def _sources_digest() -> str:
    """Hash of every source the operators' Verilog depends on (and of this module)."""
    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "rtl" / "float").glob("*.py")) + [
        root / "rtl" / "_common.py", root / "lns" / "ieee" / "format.py", Path(__file__)]
    items = []
    for f in files:
        items += [str(f.relative_to(root)), f]
    return digest(*items)


def bench_verilog(fmt, **options) -> tuple[Path, dict]:
    """``(path, latencies)``: the Verilog of the four operators of ``fmt`` side by side
    (module ``float_bench_<fmt>``) and each operator's latency, generated once into the
    user's cache, keyed by the format, the options, Amaranth's version and the sources."""
    import json
    import amaranth
    from rtl.cache import cache_dir as root_cache, ensure
    from rtl.float import to_verilog
    opts = json.dumps(options, sort_keys=True)
    key = digest(fmt.name, str(fmt.exp_bits), str(fmt.frac_bits), opts,
                 amaranth.__version__, _sources_digest())
    d = root_cache("designs") / f"float-bench-{fmt.name}-{key}"
    path, meta = d / f"float_bench_{fmt.name}.v", d / "latency.json"

    def populate(tmp):
        top = _bench_class()(fmt, **options)
        (tmp / path.name).write_text(to_verilog(top))
        (tmp / meta.name).write_text(json.dumps(top.latency))
    # a sealed entry (rtl.cache.ensure): built aside, checked on use, rebuilt when damaged
    ensure(d, populate)
    return path, json.loads(meta.read_text())


# ---- the Verilator harness -----------------------------------------------------------------
def _harness_cpp(module: str, latency: dict) -> str:
    """A persistent C++ harness: request ``magic, n, gap, bp, rng, 0, 0, 0`` (uint32) then
    ``n`` words each of ``a``, ``b``, ``negate_b`` (uint64); it resets the bench, sends every
    operand set (``gap`` percent idle input cycles, ``bp`` percent output back-pressure, an
    xorshift from ``rng``), and answers ``status, cycles`` (uint64; status 0 ok, 1 no
    handshake for too long, 2 an extra output beat) then ``n`` result words per operator
    in the order of `OPS`."""
    top = max(latency.values())
    collect = "\n".join(
        f"            if (dut->{op}_valid && ready) {{ if (recv[{k}] < n) res[{k} * n + recv[{k}]] "
        f"= (uint64_t)dut->{op}_y; ++recv[{k}]; }}" for k, op in enumerate(OPS))
    extra = " || ".join(f"dut->{op}_valid" for op in OPS)
    return f"""// Harness of {module} (generated by testbench.float_ops; do not edit).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>
#include "V{module}.h"
#include "verilated.h"

static const long TIMEOUT = 2000 + 4 * {top}, TAIL = {top} + 8;
static const int K = {len(OPS)};

static bool read_all(void* p, size_t n) {{ return std::fread(p, 1, n, stdin) == n; }}

int main(int argc, char** argv) {{
    const std::unique_ptr<VerilatedContext> ctx{{new VerilatedContext}};
    ctx->commandArgs(argc, argv);
    const std::unique_ptr<V{module}> dut{{new V{module}{{ctx.get(), "TOP"}}}};
    std::vector<uint64_t> in, out;
    uint32_t head[8];
    dut->clk = 0; dut->in_valid = 0; dut->out_ready = 0; dut->eval();
    auto tick = [&]() {{
        dut->clk = 0; dut->eval(); ctx->timeInc(5);
        dut->clk = 1; dut->eval(); ctx->timeInc(5);
    }};
    while (read_all(head, sizeof head)) {{
        if (head[0] != 0x{MAGIC:08X}u) {{ std::fprintf(stderr, "bad request\\n"); return 3; }}
        const long n = head[1];
        const uint32_t gap = head[2], bp = head[3];
        uint32_t rng = head[4] ? head[4] : 1u;
        in.resize(3 * n); out.assign(K * n + 2, 0);
        if (n && !read_all(in.data(), sizeof(uint64_t) * 3 * n)) return 3;
        const uint64_t *ia = in.data(), *ib = ia + n, *ineg = ib + n;
        uint64_t* res = out.data() + 2;
        uint64_t status = 0, cycles = 0;
        dut->in_valid = 0; dut->out_ready = 0; dut->rst = 1;
        for (int i = 0; i < 4; ++i) tick();
        dut->rst = 0; tick();
        long sent = 0, idle = 0, recv[K] = {{0}};
        bool valid = false;
        auto done = [&]() {{
            for (int k = 0; k < K; ++k) if (recv[k] < n) return false;
            return true;
        }};
        while (!done()) {{
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            if (!valid && sent < n && !(gap && rng % 100 < gap)) {{
                valid = true;
                dut->a = (decltype(dut->a))ia[sent];
                dut->b = (decltype(dut->b))ib[sent];
                dut->negate_b = (uint8_t)ineg[sent];
            }}
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            const bool ready = !(bp && rng % 100 < bp);
            dut->in_valid = valid; dut->out_ready = ready;
            dut->clk = 0; dut->eval();
            const bool acc = valid && dut->in_ready;
            long before = 0, after = 0;
            for (int k = 0; k < K; ++k) before += recv[k];
{collect}
            for (int k = 0; k < K; ++k) after += recv[k];
            ctx->timeInc(5); dut->clk = 1; dut->eval(); ctx->timeInc(5); ++cycles;
            if (acc) {{ ++sent; valid = false; }}
            if (after > K * n) {{ status = 2; break; }}
            if (acc || after > before) idle = 0;
            else if (++idle > TIMEOUT) {{ status = 1; break; }}
        }}
        dut->in_valid = 0; dut->out_ready = 1;
        for (long i = 0; status == 0 && i < TAIL; ++i) {{
            dut->clk = 0; dut->eval();
            if ({extra}) status = 2;
            ctx->timeInc(5); dut->clk = 1; dut->eval(); ctx->timeInc(5);
        }}
        out[0] = status; out[1] = cycles;
        std::fwrite(out.data(), sizeof(uint64_t), K * n + 2, stdout);
        std::fflush(stdout);
    }}
    return 0;
}}
"""


def build_harness(fmt, **options) -> tuple[Path, float, dict]:
    """Build (or reuse) the Verilator harness of the four operators of ``fmt``;
    ``(executable, seconds spent building (0 when cached), latencies)``."""
    require(Sim.VERILATOR)
    verilog, latency = bench_verilog(fmt, **options)
    module = verilog.stem
    main = _harness_cpp(module, latency)
    key = digest("float-harness", verilog, main, " ".join(VERILATOR_FLAGS))
    exe, seconds = build_cpp_harness(cache_dir("builds", f"{module}-{key}"), verilog, module,
                                     main, exe="Vfloat",
                                     what=f"the {module} harness with Verilator")
    return exe, seconds, latency


class FloatHarness(PipeProcess):
    """One running Verilator harness of the four operators of ``fmt``: `run` sends operand
    sets and returns every operator's results.  A context manager (the process ends with
    it)."""

    def __init__(self, fmt, **options):
        from lns.ieee.format import FloatFormat
        if not isinstance(fmt, FloatFormat):
            from lns.errors import InvalidType
            raise InvalidType(f"fmt must be a lns.ieee.FloatFormat, not {type(fmt).__name__}")
        self.fmt = fmt
        self.exe, self.build_seconds, self.latency = build_harness(fmt, **options)
        self._start(self.exe)

    def run(self, a, b=None, negate_b=None, *, gap: int = 0, bp: int = 0, rng: int = 1):
        """``(status, cycles, {op: results})`` of one block (results in the word dtype;
        status 0 ok, 1 time-out, 2 an extra output beat).  ``sqrt`` reads ``a`` only."""
        a, b, neg = _operands("add", self.fmt, a, b, negate_b)
        n = len(a)
        head = np.array([MAGIC, n, gap, bp, rng & 0xFFFFFFFF or 1, 0, 0, 0], dtype=np.uint32)
        body = np.empty((3, n), dtype=np.uint64)
        body[0], body[1], body[2] = a, b, neg
        try:
            self.proc.stdin.write(head.tobytes())
            self.proc.stdin.write(memoryview(body).cast("B"))
            reply = self._read(8 * (len(OPS) * n + 2))
        except (BrokenPipeError, EOFError):
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise SimulatorError(f"the float harness ended (exit {self.proc.poll()}): "
                                 f"{err[-2000:]}") from None
        words = np.frombuffer(reply, dtype=np.uint64)
        res = words[2:].reshape(len(OPS), n).astype(a.dtype)
        return int(words[0]), int(words[1]), dict(zip(OPS, res))
