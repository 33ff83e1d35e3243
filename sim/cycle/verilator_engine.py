"""The ``verilator`` engine: the generated Verilog in a compiled C++ harness.

The harness (`harness_text`) implements the memory side of `sim.cycle.memory` cycle by cycle
(its PRNG is `sim.cycle.memory.cpp_constants`), feeds the tensor from a binary file, writes every
step's output words to another and prints its timing on one ``RESULT`` line.  It is built
once per (design, harness, trace) with ``verilator --cc --exe --build`` and cached under
``<cache>/sim/builds`` (`rtl.cache`) keyed by a hash of the Verilog and the harness text.
One text for every rule: the words by role and the held ports are `sim.cycle.stream`'s
(Madam: state ``w, v``, held ``x_bc, clip``; Adam: ``w, m, v``, ``x_bc1, x_bc2``; SGD:
``w, m``, none).

Binary input (little-endian): ``int64 held[T][H]`` (the held ports of each step),
``uint32 lfsr_seed[lanes]``, ``uint32 state0[R][P]`` (the words of step 1 by state role),
``uint32 g[T][P]`` with ``P = beats * lanes``.
Output: ``uint32 [T][R][P]`` (the words each step wrote back, by state role).
Step ``t + 1`` reads what step ``t`` wrote (the harness's own outputs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .memory import MemorySide, cpp_constants
from .stream import stream_of

__all__ = ["design_for", "build", "run_harness", "harness_text", "sim_cache_dir"]

_TIMING_RE = re.compile(r"^RESULT (.*)$", re.M)

# The waveform (``--vcd``) matches the amaranth engine's (`rtl.sim.drive`, Amaranth's
# ``write_vcd``): the same ``$timescale`` (Amaranth writes 1 fs), the same clock period
# (`rtl.sim.PERIOD`, rising edges at ``T/2 + c T``) and names every VCD reader takes.
TRACE_TIMESCALE = "1fs"
# Verilator's default timescale for the design (the generated Verilog has no `timescale):
# time unit 1 ns, precision 1 fs; the VCD's $timescale is the precision.
TRACE_FLAGS = ("--trace", "--timescale", f"1ns/{TRACE_TIMESCALE}")
# Amaranth's Verilog names its anonymous nets with escaped identifiers (``\$1``,
# ``\$auto$verilog_backend.cc:...$1``); traced as they are, about a thousand VCD names
# begin with ``$``, which VCD readers take for a keyword (pyvcd stops at the first).  A
# Verilator control file leaves every signal whose own name begins with ``$`` out of the
# trace (they are copies of named nets or intermediate terms); named signals, ports and
# registers, stay, including those with a ``$`` inside (``accept$19``), which readers take.
TRACE_CONTROL = """`verilator_config
tracing_off -scope "$*"
tracing_off -scope "*.$*"
"""


def _half_period_ticks() -> int:
    """Half of `rtl.sim.PERIOD` in units of `TRACE_TIMESCALE` (5,000,000 fs)."""
    from rtl.sim import PERIOD
    ticks = PERIOD / 2 / 1e-15
    if abs(ticks - round(ticks)) > 1e-6 or round(ticks) < 1:
        raise ValueError(f"half the clock period {PERIOD} s is not a whole number of fs")
    return int(round(ticks))


def sim_cache_dir(*parts: str) -> Path:
    """``<cache>/sim/...`` (`rtl.cache`: the user's cache directory or ``$LNSMADAM_CACHE``),
    created."""
    from rtl.cache import cache_dir
    return cache_dir("sim", *parts)


def design_for(cfg, lanes: int):
    """The generated design (`rtl.design.Design`) of ``cfg`` x ``lanes``: the one design
    flow's, cached by the config, the lanes and the ``rtl/`` and ``lns/`` sources."""
    from rtl.design import design
    return design(cfg, lanes)


def _offsets_name(width: int) -> str:
    return f"LANE_OFF_{width}"


def _offset_tables(widths, lanes: int) -> str:
    """C++ tables of each lane's first bit on a bus of ``width``-bit words, from
    `rtl.lanes.lane_bits` (the one definition of the layout)."""
    from rtl.lanes import lane_bits
    return "\n".join(
        f"static const int {_offsets_name(w)}[{lanes}] = "
        f"{{{', '.join(str(lane_bits(k, w)[0]) for k in range(lanes))}}};"
        for w in sorted(set(widths)))


def _put(port: str, width: int, lanes: int, src: str) -> str:
    total = width * lanes
    off = _offsets_name(width)
    if total <= 64:
        return f"put_narrow(top->{port}, {src}, {lanes}, {off});"
    return f"put_wide(top->{port}.data(), {(total + 31) // 32}, {src}, {lanes}, {width}, {off});"


def _get(port: str, width: int, lanes: int, dst: str) -> str:
    total = width * lanes
    off = _offsets_name(width)
    if total <= 64:
        return f"get_narrow((uint64_t)top->{port}, {dst}, {lanes}, {width}, {off});"
    return f"get_wide(top->{port}.data(), {dst}, {lanes}, {width}, {off});"


def harness_text(design, trace: bool = False) -> str:
    """The C++ main for ``design`` (``trace``: the VCD variant)."""
    cfg, lanes, mod = design.cfg, design.lanes, design.module
    stream = stream_of(cfg)
    width, state, held = stream.widths, stream.state_roles, stream.held_ports
    for port, bits in ([(f"in_{k}", width[k]) for k in stream.in_roles]
                       + [(f"out_{k}", width[k]) for k in state]):
        if design.width(port) != lanes * bits:
            raise ValueError(f"port {port} must be {lanes} x {bits} bits wide, "
                             f"not {design.width(port)}")
    if max(width.values()) > 32:
        raise ValueError(f"word widths must be at most 32 bits, not {max(width.values())}")
    for port in held:
        if design.width(port) > 64:
            raise ValueError(f"port {port} must be at most 64 bits wide, "
                             f"not {design.width(port)}")
    stoch = design.stochastic
    # step s reads the words step s - 1 wrote: c<role> (state0 for the first) and g of s;
    # it writes o<role>
    src = {k: f"c{k} + off" for k in state}
    src["g"] = "gw + off"
    set_in = "\n".join("                " + _put(f"in_{k}", width[k], lanes, src[k])
                       for k in stream.in_roles)
    get_out = "\n".join("                " + _get(f"out_{k}", width[k], lanes, f"o{k} + off")
                        for k in state)
    pointers = "\n".join(f"        const uint32_t* c{k} = prev + (size_t){i} * P;\n"
                         f"        uint32_t* o{k} = cur + (size_t){i} * P;"
                         for i, k in enumerate(state))
    # a held port of w bits takes the low w bits of its int64 (two's complement)
    set_held = "".join(
        f"        top->{p} = ({'uint32_t' if design.width(p) <= 32 else 'uint64_t'})"
        f"((uint64_t)held[(size_t)s * H + {j}] & {(1 << design.width(p)) - 1}ULL);\n"
        for j, p in enumerate(held))
    from rtl.lanes import LFSR_WIDTH
    seed_load = ("    " + _put("lfsr_seed", LFSR_WIDTH, lanes, "seeds.data()") + "\n"
                 if stoch else "")
    offsets = _offset_tables(tuple(width.values()) + ((LFSR_WIDTH,) if stoch else ()), lanes)
    load_line = "        top->lfsr_load = cycle == 0;\n" if stoch else ""
    trace_inc = '#include "verilated_vcd_c.h"\n' if trace else ""
    # VCD time in the precision of TRACE_TIMESCALE (1 fs, as Amaranth's write_vcd): cycle c
    # is [c T, (c + 1) T) with T = rtl.sim.PERIOD, its rising edge at c T + T / 2, as
    # Amaranth's add_clock(PERIOD) places it.
    trace_open = (f"""    VerilatedVcdC* tfp = nullptr;
    if (vcd) {{ tfp = new VerilatedVcdC; top->trace(tfp, 99); tfp->open(vcd); }}
    const uint64_t HALF_PERIOD = {_half_period_ticks()}ULL;   // {TRACE_TIMESCALE} units
    auto dump = [&](long c, int high) {{
        if (tfp) tfp->dump((uint64_t)(2 * c + high) * HALF_PERIOD);
    }};
    auto dump_end = [&]() {{ if (tfp) {{ tfp->close(); delete tfp; tfp = nullptr; }} }};
""" if trace else """    auto dump = [&](long, int) {};
    auto dump_end = [&]() {};
    (void)vcd;
""")
    trace_on = "    ctx->traceEverOn(true);\n" if trace else ""
    return f"""// Cycle-level harness of {mod}: memory side of sim/cycle/memory.py, generated by
// sim/cycle/verilator_engine.py.  argv: in out beats steps threshold seed rate cap cost
// vcd|- vcd_cycles progress
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>
#include "V{mod}.h"
#include "verilated.h"
{trace_inc}
{cpp_constants()}
static const int LANES = {lanes};
static const int R = {len(state)};      // words written back a lane: {", ".join(state)}
static const int H = {len(held)};      // ports held for a step: {", ".join(held) or "none"}
// lane k of a bus of W-bit words starts at bit LANE_OFF_W[k] (rtl/lanes.py)
{offsets}

template <typename T>
static inline void put_narrow(T& port, const uint32_t* src, int lanes, const int* offs) {{
    uint64_t x = 0;
    for (int k = 0; k < lanes; ++k) x |= (uint64_t)src[k] << offs[k];
    port = (T)x;
}}
static inline void put_wide(EData* words, int nwords, const uint32_t* src, int lanes, int width,
                            const int* offs) {{
    for (int i = 0; i < nwords; ++i) words[i] = 0;
    for (int k = 0; k < lanes; ++k) {{
        uint64_t val = src[k];
        int bit = offs[k], wi = bit >> 5, off = bit & 31;
        words[wi] |= (EData)(val << off);
        if (off + width > 32) words[wi + 1] |= (EData)(val >> (32 - off));
    }}
}}
static inline void get_narrow(uint64_t x, uint32_t* dst, int lanes, int width, const int* offs) {{
    const uint64_t mask = (width == 64) ? ~0ULL : ((1ULL << width) - 1);
    for (int k = 0; k < lanes; ++k) dst[k] = (uint32_t)((x >> offs[k]) & mask);
}}
static inline void get_wide(const EData* words, uint32_t* dst, int lanes, int width,
                            const int* offs) {{
    const uint64_t mask = (1ULL << width) - 1;
    for (int k = 0; k < lanes; ++k) {{
        int bit = offs[k], wi = bit >> 5, off = bit & 31;
        uint64_t x = words[wi] >> off;
        if (off + width > 32) x |= (uint64_t)words[wi + 1] << (32 - off);
        dst[k] = (uint32_t)(x & mask);
    }}
}}
static void read_all(FILE* f, void* p, size_t bytes) {{
    if (bytes && fread(p, 1, bytes, f) != bytes) {{ std::fprintf(stderr, "short input file\\n"); std::exit(3); }}
}}

int main(int argc, char** argv) {{
    if (argc < 13) {{ std::fprintf(stderr, "usage: in out beats steps thr seed rate cap cost vcd K progress\\n"); return 2; }}
    const char* in_path = argv[1];
    const char* out_path = argv[2];
    const long beats = std::atol(argv[3]);
    const int steps = std::atoi(argv[4]);
    const uint64_t thr = std::strtoull(argv[5], nullptr, 10);
    uint64_t state = std::strtoull(argv[6], nullptr, 10);
    const long rate = std::atol(argv[7]), cap = std::atol(argv[8]), cost = std::atol(argv[9]);
    const char* vcd = std::strcmp(argv[10], "-") ? argv[10] : nullptr;
    const long vcd_cycles = std::atol(argv[11]);
    const int progress = std::atoi(argv[12]);
    const size_t P = (size_t)beats * LANES;

    std::vector<int64_t> held((size_t)steps * H);
    std::vector<uint32_t> seeds(LANES), state0((size_t)R * P), g((size_t)steps * P),
        out((size_t)steps * R * P);
    FILE* f = std::fopen(in_path, "rb");
    if (!f) {{ std::fprintf(stderr, "cannot open %s\\n", in_path); return 3; }}
    read_all(f, held.data(), 8 * held.size());
    read_all(f, seeds.data(), 4 * seeds.size());
    read_all(f, state0.data(), 4 * state0.size());
    read_all(f, g.data(), 4 * g.size());
    std::fclose(f);

    const std::unique_ptr<VerilatedContext> ctx{{new VerilatedContext}};
{trace_on}    const std::unique_ptr<V{mod}> top{{new V{mod}{{ctx.get(), "TOP"}}}};
{trace_open}
    // one reset edge, not counted and not in the VCD (Amaranth's simulator starts reset)
    top->rst = 1; top->in_valid = 0; top->out_ready = 0; top->clk = 0; top->eval();
    top->clk = 1; top->eval();
    top->rst = 0;
{seed_load}
    long cycle = 0, accepted = 0, delivered = 0, stalls = 0, bw_wait = 0, credit = 0;
    long lat_min = 1L << 62, lat_max = 0;
    long ring[256];
    long head = 0, tail = 0, idle = 0;
    const long total = (long)beats * steps;
    const long tick = 1L << 18;
    for (int s = 0; s < steps; ++s) {{
        const uint32_t* prev = s == 0 ? state0.data() : &out[(size_t)(s - 1) * R * P];
        uint32_t* cur = &out[(size_t)s * R * P];
{pointers}
        const uint32_t* gw = &g[(size_t)s * P];
{set_held}        long sent = 0, got = 0;
        while (got < beats) {{
            const uint64_t z = splitmix64(state);
            const bool stall = (z >> STALL_SHIFT) < thr;
            stalls += stall;
            if (rate > 0) credit = credit + rate < cap ? credit + rate : cap;
            const bool pending = sent < beats;
            const bool short_credit = rate > 0 && credit < cost;
            const bool in_valid = pending && !stall && !short_credit;
            bw_wait += pending && !stall && short_credit;
            top->in_valid = in_valid;
            if (in_valid) {{
                const size_t off = (size_t)sent * LANES;
{set_in}
            }}
            top->out_ready = !stall;
{load_line}            top->clk = 0;
            top->eval();
            if (vcd && cycle < vcd_cycles) dump(cycle, 0);
            if (top->out_valid && !stall) {{
                const size_t off = (size_t)got * LANES;
{get_out}
                const long lat = cycle - ring[head & 255] - 1;
                ++head;
                if (lat < lat_min) lat_min = lat;
                if (lat > lat_max) lat_max = lat;
                ++got;
            }}
            if (in_valid && top->in_ready) {{
                ring[tail & 255] = cycle;
                ++tail;
                ++sent;
                credit -= cost;
            }}
            if (in_valid || top->out_valid) idle = 0;
            else if (++idle > 100000000L) {{
                std::fprintf(stderr, "no progress for %ld cycles at cycle %ld\\n", idle, cycle);
                return 4;
            }}
            top->clk = 1;
            top->eval();
            if (vcd && cycle < vcd_cycles) dump(cycle, 1);
            ++cycle;
            if (vcd && cycle == vcd_cycles) dump_end();
            if (progress && (cycle & (tick - 1)) == 0) {{
                // one line a tick, read by run_harness (testbench.progress draws it)
                std::fprintf(stderr, "PROGRESS %ld %ld %ld\\n", delivered + got, total, cycle);
                std::fflush(stderr);
            }}
        }}
        accepted += sent;
        delivered += got;
    }}
    dump_end();
    if (progress) std::fprintf(stderr, "PROGRESS %ld %ld %ld\\n", total, total, cycle);
    top->final();
    FILE* o = std::fopen(out_path, "wb");
    if (!o || std::fwrite(out.data(), 4, out.size(), o) != out.size()) {{
        std::fprintf(stderr, "cannot write %s\\n", out_path);
        return 3;
    }}
    std::fclose(o);
    std::printf("RESULT cycles=%ld accepted=%ld delivered=%ld stall_cycles=%ld "
                "bandwidth_wait_cycles=%ld latency_min=%ld latency_max=%ld\\n",
                cycle, accepted, delivered, stalls, bw_wait, lat_min, lat_max);
    return 0;
}}
"""


def build(design, trace: bool = False) -> tuple[Path, float]:
    """Build (or reuse) the harness of ``design``; ``(executable, seconds spent building,
    0 when cached)``."""
    from testbench.fastpath import VERILATOR_FLAGS
    from testbench.tools import cached_build, digest, require, run
    require("verilator")
    main = harness_text(design, trace)
    flags = list(VERILATOR_FLAGS) + (list(TRACE_FLAGS) if trace else [])
    control = TRACE_CONTROL if trace else ""
    key = digest("sim-harness", design.verilog, main, " ".join(flags), control)
    d = sim_cache_dir("builds", f"verilator-{design.module}{'-trace' if trace else ''}-{key}")

    def populate(tmp: Path):
        shutil.copy(design.verilog, tmp / "dut.v")
        (tmp / "sim_main.cpp").write_text(main)
        sources = [tmp / "dut.v", tmp / "sim_main.cpp"]
        if control:                       # a control file goes before the sources it governs
            (tmp / "trace.vlt").write_text(control)
            sources.insert(0, tmp / "trace.vlt")
        run(["verilator", "--cc", "--exe", "--build", *flags, "--top-module", design.module,
             "--Mdir", tmp / "obj", "-o", "Vsim", *sources], cwd=tmp)

    return cached_build(d, "obj/Vsim", populate,
                        what=f"the {design.module} cycle harness with Verilator")


def run_harness(design, memory: MemorySide, *, held, lfsr_seeds, state0: dict, g,
                vcd=None, vcd_cycles: int = 0, progress=None):
    """Run the harness; ``(outputs [T][R][P], timing dict, sim seconds, build seconds)``,
    the outputs' rows the state roles of `sim.cycle.stream` (Madam ``w, v``).

    ``held``: ``[T][H]``, each step's held ports (`Stream.held_table`); ``state0``:
    ``{role: [P]}``, the words step 1 reads; ``g``: ``[T][P]``; every array is padded to
    whole beats.  ``progress``: called as ``progress(done_beats, total_beats, cycle)`` now
    and then."""
    from rtl.process import Child
    from testbench.tools import SimulatorError, sim_env
    stream = stream_of(design.cfg)
    exe, build_s = build(design, trace=vcd is not None)
    steps, P = g.shape
    R = len(stream.state_roles)
    held = np.asarray(held, dtype=np.int64).reshape(steps, len(stream.held_ports))
    beats = P // design.lanes
    wd = sim_cache_dir("runs")
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    in_path, out_path = wd / f"in-{tag}.bin", wd / f"out-{tag}.bin"
    try:
        with open(in_path, "wb") as f:
            f.write(np.ascontiguousarray(held, dtype="<i8").tobytes())
            f.write(np.asarray(lfsr_seeds, dtype="<u4").tobytes())
            for a in [state0[k] for k in stream.state_roles] + [g]:
                f.write(np.ascontiguousarray(a, dtype="<u4").tobytes())
        cmd = [exe, in_path, out_path, beats, steps, memory.threshold, memory.seed64,
               memory.rate_bits, memory.cap_bits, memory.beat_bits,
               str(vcd) if vcd is not None else "-", vcd_cycles, int(progress is not None)]
        t0 = time.perf_counter()
        # Child: the harness in its own process group, ended before Ctrl-C or an error
        # goes on (rtl.process)
        with Child([str(c) for c in cmd], env=sim_env(), stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True) as proc:
            errors = []
            for line in proc.stderr:          # stdout is one RESULT line: no deadlock
                parts = line.split()
                if progress is not None and len(parts) == 4 and parts[0] == "PROGRESS":
                    progress(*(int(x) for x in parts[1:]))
                else:
                    errors.append(line)
            stdout = proc.stdout.read()
            returncode = proc.wait()
        seconds = time.perf_counter() - t0
        m = _TIMING_RE.search(stdout)
        if returncode != 0 or m is None:
            tail = stdout + "".join(errors)
            raise SimulatorError(f"the Verilator harness failed (exit {returncode}):\n"
                                 f"{tail[-2000:]}")
        timing = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        out = np.fromfile(out_path, dtype="<u4").astype(np.int64).reshape(steps, R, P)
    finally:
        in_path.unlink(missing_ok=True)
        out_path.unlink(missing_ok=True)
    return out, timing, seconds, build_s


if __name__ == "__main__":      # print the harness of a preset: python -m sim.cycle.verilator_engine lns12 2
    import lns
    print(harness_text(design_for(lns.presets.get(sys.argv[1]), int(sys.argv[2]))))
