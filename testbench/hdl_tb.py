"""The plain Verilog vector testbench of any rule's unit: its text, its C++ main for
Verilator, the packed memory file it reads, and the persistent Verilator harness the
streaming testbench feeds.  Everything is written from the design's ports and the rule
contract (held ports ``cfg.HELD``, inputs ``cfg.WORD_ROLES``, outputs
``cfg.output_roles``), never from which rule it holds.

Memory file (``$readmemh``): one case a line, the held ports (two's complement, the
port's width), the input words by role and the expected output words by role, no
separators; every field padded to whole hex digits, most significant field first::

    x_bc clip w g v w_out v_out              (Madam)
    x_bc1 x_bc2 w g m v w_out m_out v_out    (LNS Adam)
    w g m w_out m_out                        (SGD, Lion: nothing held)

The testbench (``lnsmadam_vtb``, one ``always @(posedge clk)`` block, race-free: it drives
with non-blocking assignments and samples the DUT's pre-edge outputs):

* holds the held ports per group: before the first case whose held values differ from the
  current ones it stops sending, waits until every accepted beat has come out, changes
  them, idles two cycles, then sends;
* loads the lanes' LFSRs from ``+lfsr_seed=<hex>`` in cycle 5 (stochastic designs);
* drives ``in_valid`` with ``+gap=P`` percent idle cycles and ``out_ready`` with ``+bp=P``
  percent back-pressure (an xorshift seeded by ``+rng=S``); keeps a beat stable until it
  is accepted;
* compares every output beat in order against the expected words; prints the first
  ``+maxerr=N`` mismatches as ``MISMATCH <case> <got> <exp> ...`` (hex, a pair per output
  role);
* checks the protocol: an output beat beyond the last (``EXTRA``), no handshake for too
  long (``TIMEOUT``, e.g. a dropped ready or a stuck-low valid); after the last beat it
  watches ``latency + 8`` more cycles for duplicates;
* prints ``SUMMARY vectors=<n> mismatches=<m> received=<r> cycles=<c>`` and ends with
  ``$fatal`` if ``m > 0``, ``$finish`` otherwise.
"""

from __future__ import annotations

from rtl.lanes import LFSR_WIDTH, lane_bits

from .design import Design
from .vectors import VectorSet, hex_columns

__all__ = ["layout", "memory_lines", "testbench_text", "icarus_top_text", "verilator_main_text",
           "raw_main_text", "stream_main_text", "STREAM_MAGIC", "TB_MODULE",
           "read_mismatch_lines", "read_summary", "protocol_lines", "check_word_ports"]

TB_MODULE = "lnsmadam_vtb"


def _digits(bits):
    return max(1, (bits + 3) // 4)


def check_word_ports(design: Design) -> dict:
    """``{role: bits}`` of every word, after checking the design's ``in_``/``out_`` ports
    are ``lanes`` words of that width."""
    c, L = design.cfg, design.lanes
    bits = {k: f.total_bits for k, f in c.word_formats.items()}
    for port in [f"in_{k}" for k in c.WORD_ROLES] + [f"out_{k}" for k in c.output_roles]:
        b = bits[port.split("_", 1)[1]]
        if port not in design.ports or design.width(port) != L * b:
            raise ValueError(f"port {port} must be {L} x {b} bits wide, not "
                             f"{design.width(port) if port in design.ports else 'missing'}")
    return bits


def layout(design: Design):
    """``[(field, bits, offset), ...]`` of the packed word (held ports, inputs, expected
    outputs ``<role>_out``), most significant first, and its total width."""
    c = design.cfg
    bits = check_word_ports(design)
    fields = [(h, design.width(h)) for h in c.HELD] + \
        [(k, bits[k]) for k in c.WORD_ROLES] + [(f"{k}_out", bits[k]) for k in c.output_roles]
    out, offset = [], 0
    for name, b in reversed(fields):
        out.append((name, b, offset))
        offset += 4 * _digits(b)
    return list(reversed(out)), offset


def memory_lines(design: Design, vs: VectorSet) -> bytes:
    """The packed memory file of ``vs`` for ``design``."""
    fields, _ = layout(design)
    held = vs.held_columns()
    cols = []
    for name, b, _ in fields:
        if name in held:
            col = held[name]
            signed = design.ports[name].get("signed")
            top = (1 << (b - 1)) - 1 if signed else (1 << b) - 1
            bottom = -(1 << (b - 1)) if signed else 0
            if col.size and (col.min() < bottom or col.max() > top):
                raise ValueError(f"{name} must fit the {b}-bit port, not {int(col.min())}"
                                 f"..{int(col.max())}")
            cols.append(col & ((1 << b) - 1))
        elif name.endswith("_out"):
            cols.append(vs.expected[name[:-4]])
        else:
            cols.append(vs.words[name])
    return hex_columns(cols, [_digits(b) for _, b, _ in fields], sep=b"")


def testbench_text(design: Design) -> str:
    c, L = design.cfg, design.lanes
    fields, pw = layout(design)
    f = {name: (b, off) for name, b, off in fields}
    held, ins, outs = list(c.HELD), list(c.WORD_ROLES), list(c.output_roles)
    stoch = design.stochastic
    decl = "".join(f"  reg [{L * f[k][0] - 1}:0] in_{k} = 0;\n" for k in ins)
    # (an output's width is its ``<role>_out`` field's: a role may be written only)
    decl += "".join(f"  wire [{L * f[k + '_out'][0] - 1}:0] out_{k};\n" for k in outs)
    decl += "".join(f"  reg [{f[h][0] - 1}:0] {h} = 0;\n  reg [{f[h][0] - 1}:0] cur_{h};\n"
                    for h in held)
    if stoch:
        decl += f"  reg lfsr_load = 1'b0;\n  reg [{L * LFSR_WIDTH - 1}:0] lfsr_seed = 0;\n"
    ports = [f".in_{k}(in_{k})" for k in ins] + [f".out_{k}(out_{k})" for k in outs] + \
        [f".{h}({h})" for h in held]
    if stoch:
        ports += [".lfsr_seed(lfsr_seed)", ".lfsr_load(lfsr_load)"]
    lfsr_args = ('    if (!$value$plusargs("lfsr_seed=%h", lfsr_seed)) begin\n'
                 '      $display("ERROR: +lfsr_seed=<hex> is required"); $fatal(1);\n'
                 '    end\n') if stoch else ""
    lfsr_load = "      lfsr_load <= (cyc == 5);\n" if stoch else ""
    timeout = 2000 + 4 * design.latency
    changed = " || ".join(["!have_cur"] + [f"e[{f[h][1]} +: {f[h][0]}] != cur_{h}"
                                           for h in held])
    take = "".join(f"            cur_{h} = e[{f[h][1]} +: {f[h][0]}]; {h} <= cur_{h};\n"
                   for h in held)
    fmt = " ".join("%h %h" for _ in outs)

    def got(k, lane):
        b = f[k + "_out"][0]
        return f"out_{k}[{lane_bits(lane, b)[0]} +: {b}]"

    def exp(k):
        return f"e[{f[k + '_out'][1]} +: {f[k + '_out'][0]}]"

    compare_lanes = "".join(f"""          idx = recv * L + {lane};
          e = mem[idx];
          if ({" || ".join(f"{got(k, lane)} !== {exp(k)}" for k in outs)}) begin
            errors = errors + 1;
            if (shown < maxerr) begin
              shown = shown + 1;
              $display("MISMATCH %0d {fmt}", idx, {", ".join(f"{got(k, lane)}, {exp(k)}" for k in outs)});
            end
          end
""" for lane in range(L))
    drive_lanes = "".join(f"          e = mem[sent * L + {lane}];\n" + "".join(
        f"          in_{k}[{lane_bits(lane, f[k][0])[0]} +: {f[k][0]}] <= "
        f"e[{f[k][1]} +: {f[k][0]}];\n" for k in ins) for lane in range(L))
    return f"""// Vector testbench of {design.module} (generated by testbench.hdl_tb; do not edit).
`timescale 1ns/1ps
module {TB_MODULE} #(parameter integer DEPTH = 1024) (input wire clk);
  localparam integer L = {L};
  localparam integer PW = {pw};
  localparam integer LAT = {design.latency};
  localparam integer TIMEOUT = {timeout};
  reg [PW-1:0] mem [0:DEPTH-1];

  reg rst = 1'b1;
  reg in_valid = 1'b0;
  reg out_ready = 1'b0;
{decl}  wire in_ready, out_valid;

  {design.module} dut (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready),
    .out_valid(out_valid), .out_ready(out_ready),
    {", ".join(ports)});

  integer n, nbeats, maxerr, gap, bp;
  integer cyc, sent, recv, errors, shown, idle, hold, tail, k, idx;
  reg finishing, have_cur;
  reg [31:0] rng;
  reg [PW-1:0] e;
  string file;

  initial begin
    if (!$value$plusargs("vectors=%s", file)) begin
      $display("ERROR: +vectors=<file> is required"); $fatal(1);
    end
    if (!$value$plusargs("n=%d", n)) n = 0;
    if (!$value$plusargs("maxerr=%d", maxerr)) maxerr = 10;
    if (!$value$plusargs("gap=%d", gap)) gap = 0;
    if (!$value$plusargs("bp=%d", bp)) bp = 0;
    if (!$value$plusargs("rng=%d", rng)) rng = 1;
    if (rng == 0) rng = 1;
{lfsr_args}    if (n > DEPTH || n % L != 0) begin
      $display("ERROR: n=%0d must be a multiple of %0d and at most DEPTH=%0d", n, L, DEPTH);
      $fatal(1);
    end
    if (n > 0) $readmemh(file, mem, 0, n - 1);
    nbeats = n / L;
    cyc = 0; sent = 0; recv = 0; errors = 0; shown = 0; idle = 0; hold = 0; tail = 0;
    finishing = 1'b0; have_cur = 1'b0;
  end

  function [31:0] xorshift(input [31:0] s);
    reg [31:0] x;
    begin
      x = s ^ (s << 13); x = x ^ (x >> 17); xorshift = x ^ (x << 5);
    end
  endfunction

  always @(posedge clk) begin
    cyc = cyc + 1;
    rst <= (cyc < 4);
{lfsr_load}    if (cyc >= 8) begin
      idle = idle + 1;
      // handshakes of this edge, on the pre-edge values
      if (in_valid && in_ready) begin
        sent = sent + 1; idle = 0;
      end
      if (out_valid && out_ready) begin
        idle = 0;
        if (recv >= nbeats) begin
          errors = errors + L;
          $display("EXTRA output beat %0d after the last", recv);
          recv = recv + 1;
        end else begin
{compare_lanes}          recv = recv + 1;
        end
      end
      rng = xorshift(rng);
      // the next input beat
      if (in_valid && !in_ready) begin
        // hold the beat until it is accepted
      end else if (sent < nbeats) begin
        e = mem[sent * L];
        if ({changed}) begin
          in_valid <= 1'b0;
          if (sent == recv && !(in_valid && in_ready)) begin
{take}            have_cur = 1'b1; hold = 2;
          end
        end else if (hold > 0) begin
          hold = hold - 1; in_valid <= 1'b0;
        end else if (gap > 0 && (rng % 100) < gap) begin
          in_valid <= 1'b0;
        end else begin
          in_valid <= 1'b1;
{drive_lanes}        end
      end else begin
        in_valid <= 1'b0;
      end
      rng = xorshift(rng);
      out_ready <= finishing || !(bp > 0 && (rng % 100) < bp);
      if (recv >= nbeats && !finishing) begin
        finishing = 1'b1; tail = 0;
      end
      if (finishing) begin
        tail = tail + 1;
        if (tail > LAT + 8) begin
          $display("SUMMARY vectors=%0d mismatches=%0d received=%0d cycles=%0d", n, errors,
                   (recv < nbeats ? recv : nbeats) * L, cyc);
          if (errors > 0) $fatal(1, "%0d mismatches", errors);
          $finish;
        end
      end else if (idle > TIMEOUT) begin
        $display("TIMEOUT no handshake for %0d cycles: sent %0d, received %0d of %0d beats",
                 idle, sent, recv, nbeats);
        errors = errors + (nbeats - recv) * L;
        $display("SUMMARY vectors=%0d mismatches=%0d received=%0d cycles=%0d", n, errors,
                 recv * L, cyc);
        $fatal(1, "timeout");
      end
    end
  end
endmodule
"""


def icarus_top_text(depth: int, tb_module: str = TB_MODULE) -> str:
    """The Icarus top of a vector testbench module (``TB_MODULE``, or another unit's)."""
    return f"""`timescale 1ns/1ps
module {tb_module}_top;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  {tb_module} #(.DEPTH({depth})) tb (.clk(clk));
endmodule
"""


def verilator_main_text(tb_module: str = TB_MODULE) -> str:
    """The C++ main of a Verilator vector testbench module."""
    return f"""// C++ main of the Verilator vector testbench: toggles clk until $finish/$fatal.
#include <memory>
#include "V{tb_module}.h"
#include "verilated.h"

int main(int argc, char** argv) {{
    const std::unique_ptr<VerilatedContext> ctx{{new VerilatedContext}};
    ctx->commandArgs(argc, argv);
    ctx->fatalOnError(false);
    const std::unique_ptr<V{tb_module}> top{{new V{tb_module}{{ctx.get(), "TOP"}}}};
    top->clk = 0;
    top->eval();
    while (!ctx->gotFinish()) {{
        ctx->timeInc(5);
        top->clk = !top->clk;
        top->eval();
    }}
    top->final();
    return ctx->gotError() ? 1 : 0;
}}
"""


def raw_main_text(design: Design) -> str:
    """A C++ main that drives the bare DUT (no vectors, no checks) for ``argv[1]`` cycles:
    the speed ceiling the benchmark compares the checking testbench with."""
    mod, c = design.module, design.cfg
    stoch = "    dut->lfsr_load = 0;\n" if design.stochastic else ""
    drive = "".join(f"        dut->in_{k} = x >> {3 * i};\n"
                    for i, k in enumerate(c.WORD_ROLES))
    out = c.output_roles[0]
    return f"""#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <memory>
#include "V{mod}.h"
#include "verilated.h"

int main(int argc, char** argv) {{
    long cycles = argc > 1 ? std::atol(argv[1]) : 1000000;
    const std::unique_ptr<VerilatedContext> ctx{{new VerilatedContext}};
    const std::unique_ptr<V{mod}> dut{{new V{mod}{{ctx.get(), "TOP"}}}};
    uint32_t x = 12345, sink = 0;
    long outs = 0;
    dut->rst = 1; dut->clk = 0; dut->eval(); dut->clk = 1; dut->eval();
    dut->rst = 0;
{stoch}    dut->in_valid = 1; dut->out_ready = 1;
    for (long i = 0; i < cycles; ++i) {{
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
{drive}        dut->clk = 0; dut->eval();
        dut->clk = 1; dut->eval();
        outs += dut->out_valid;
        sink ^= (uint32_t)dut->out_{out};
    }}
    std::printf("RAW cycles=%ld outputs=%ld sink=%u\\n", cycles, outs, sink);
    return 0;
}}
"""


def read_mismatch_lines(text: str, roles=("w", "v")):
    """``[(case, {role: got}, {role: expected}), ...]`` from the testbench's MISMATCH lines
    (a got/expected pair per output role of ``roles``; ``x`` bits read as -1)."""
    out = []
    for line in text.splitlines():
        if line.startswith("MISMATCH "):
            parts = line.split()
            vals = []
            for p in parts[2:2 + 2 * len(roles)]:
                try:
                    vals.append(int(p, 16))
                except ValueError:
                    vals.append(-1)
            got = {k: vals[2 * i] for i, k in enumerate(roles)}
            exp = {k: vals[2 * i + 1] for i, k in enumerate(roles)}
            out.append((int(parts[1]), got, exp))
    return out


def read_summary(text: str) -> dict | None:
    for line in text.splitlines():
        if line.startswith("SUMMARY "):
            return {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
    return None


def protocol_lines(text: str):
    return [line for line in text.splitlines() if line.startswith(("EXTRA", "TIMEOUT", "ERROR"))]


# ---- the streaming harness (Verilator) --------------------------------------------------
STREAM_MAGIC = 0x4C4E5342         # "LNSB": the first word of every block request
HARNESS_WORD_BITS = 32            # a word (and a held value) travels as one uint32


def stream_main_text(design: Design) -> str:
    """A persistent C++ harness that drives the bare DUT block after block, fed binary words
    on stdin and answering with the output words on stdout (`testbench.streaming`).

    Request (little-endian uint32): ``magic, beats, held, gap, bp, rng, 0, 0``, then the
    ``held`` values of the held ports (``cfg.HELD`` order, two's complement in the port's
    width), then the ``lanes`` LFSR seeds, then ``beats * lanes`` words of every input role
    (``cfg.WORD_ROLES`` order).  Each block resets the DUT (4 cycles), sets the held
    ports, loads the LFSR seeds (stochastic designs: ``lfsr_load`` for one cycle), idles two
    cycles, then sends every beat with ``gap`` percent idle input cycles and ``bp`` percent
    output back-pressure (an xorshift from ``rng``); a beat is held until accepted.  After
    the last output beat it watches ``latency + 8`` cycles for an extra beat.
    Reply: ``status, cycles, received, microseconds`` (status 0 ok, 1 no handshake for too
    long, 2 an extra output beat; ``received`` output beats; the block's simulation time),
    then ``beats * lanes`` words of every output role (``cfg.output_roles`` order; received
    beats, the rest 0).
    """
    c, L, mod = design.cfg, design.lanes, design.module
    bits = check_word_ports(design)
    for k, b in bits.items():
        if b > HARNESS_WORD_BITS:
            raise ValueError(f"word {k} must be at most {HARNESS_WORD_BITS} bits for the "
                             f"streaming harness, not {b}")
    held, ins, outs = list(c.HELD), list(c.WORD_ROLES), list(c.output_roles)
    for h in held:
        if design.width(h) > HARNESS_WORD_BITS:
            raise ValueError(f"held port {h} must be at most {HARNESS_WORD_BITS} bits for "
                             f"the streaming harness, not {design.width(h)}")
    stoch = design.stochastic
    timeout = 2000 + 4 * design.latency
    lfsr_set = ("            for (int k = 0; k < L; ++k) put(dut->lfsr_seed, 32 * k, 32, seeds[k]);\n"
                "            dut->lfsr_load = 1; tick(dut.get(), ctx.get());\n"
                "            dut->lfsr_load = 0;\n") if stoch else ""
    lfsr_zero = "    dut->lfsr_load = 0;\n" if stoch else ""
    set_held = "".join(f"        put(dut->{h}, 0, {design.width(h)}, hv[{i}]);\n"
                       for i, h in enumerate(held))
    put_in = "".join(f"                    put(dut->in_{k}, k * {bits[k]}, {bits[k]}, "
                     f"in[{i} * n + sent * L + k]);\n" for i, k in enumerate(ins))
    get_out = "".join(f"                    out[{i} * n + recv * L + k] = get(dut->out_{k}, "
                      f"k * {bits[k]}, {bits[k]});\n" for i, k in enumerate(outs))
    return f"""// Streaming harness of {mod} (generated by testbench.hdl_tb; do not edit).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>
#include "V{mod}.h"
#include "verilated.h"

static const int L = {L}, NH = {len(held)}, NI = {len(ins)}, NO = {len(outs)};
static const long TIMEOUT = {timeout}, TAIL = {design.latency} + 8;

template <class T> static inline void put(T& port, int off, int bits, uint32_t val) {{
    uint64_t m = (bits >= 64 ? ~0ull : ((1ull << bits) - 1)) << off;
    port = (T)((((uint64_t)port) & ~m) | ((((uint64_t)val) << off) & m));
}}
template <std::size_t N> static inline void put(VlWide<N>& port, int off, int bits, uint32_t val) {{
    for (int b = 0; b < bits; ++b) {{
        int i = off + b;
        uint32_t bit = (val >> b) & 1u;
        port[i / 32] = (port[i / 32] & ~(1u << (i % 32))) | (bit << (i % 32));
    }}
}}
template <class T> static inline uint32_t get(const T& port, int off, int bits) {{
    return (uint32_t)((((uint64_t)port) >> off) & ((1ull << bits) - 1));
}}
template <std::size_t N> static inline uint32_t get(const VlWide<N>& port, int off, int bits) {{
    uint32_t v = 0;
    for (int b = 0; b < bits; ++b) {{
        int i = off + b;
        v |= ((port[i / 32] >> (i % 32)) & 1u) << b;
    }}
    return v;
}}

static inline void tick(V{mod}* dut, VerilatedContext* ctx) {{
    dut->clk = 0; dut->eval(); ctx->timeInc(5);
    dut->clk = 1; dut->eval(); ctx->timeInc(5);
}}

static bool read_all(void* p, size_t n) {{
    return std::fread(p, 1, n, stdin) == n;
}}

int main(int argc, char** argv) {{
    const std::unique_ptr<VerilatedContext> ctx{{new VerilatedContext}};
    ctx->commandArgs(argc, argv);
    const std::unique_ptr<V{mod}> dut{{new V{mod}{{ctx.get(), "TOP"}}}};
    std::vector<uint32_t> in, out;
    uint32_t head[8], hv[NH > 0 ? NH : 1], seeds[L > 0 ? L : 1];
    dut->clk = 0; dut->in_valid = 0; dut->out_ready = 0;
{lfsr_zero}    dut->eval();
    while (read_all(head, sizeof head)) {{
        if (head[0] != 0x{STREAM_MAGIC:08X}u || head[2] != (uint32_t)NH) {{
            std::fprintf(stderr, "bad request\\n"); return 3;
        }}
        const long beats = head[1], n = beats * L;
        const uint32_t gap = head[3], bp = head[4];
        uint32_t rng = head[5] ? head[5] : 1u;
        if (NH && !read_all(hv, sizeof(uint32_t) * NH)) return 3;
        if (!read_all(seeds, sizeof(uint32_t) * L)) return 3;
        in.resize(NI * n); out.assign(NO * n, 0);
        if (n && !read_all(in.data(), sizeof(uint32_t) * NI * n)) return 3;
        uint32_t status = 0, cycles = 0;
        const auto start = std::chrono::steady_clock::now();
        dut->in_valid = 0; dut->out_ready = 0; dut->rst = 1;
        for (int i = 0; i < 4; ++i) tick(dut.get(), ctx.get());
        dut->rst = 0;
{set_held}{lfsr_set}        tick(dut.get(), ctx.get()); tick(dut.get(), ctx.get());
        long sent = 0, recv = 0, idle = 0;
        bool valid = false;
        while (recv < beats) {{
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            if (!valid && sent < beats && !(gap && rng % 100 < gap)) {{
                valid = true;
                for (int k = 0; k < L; ++k) {{
{put_in}                }}
            }}
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            const bool ready = !(bp && rng % 100 < bp);
            dut->in_valid = valid; dut->out_ready = ready;
            dut->clk = 0; dut->eval();
            const bool acc = valid && dut->in_ready, got = dut->out_valid && ready;
            if (got) {{
                for (int k = 0; k < L; ++k) {{
{get_out}                }}
                ++recv;
            }}
            ctx->timeInc(5); dut->clk = 1; dut->eval(); ctx->timeInc(5); ++cycles;
            if (acc) {{ ++sent; valid = false; }}
            if (acc || got) idle = 0;
            else if (++idle > TIMEOUT) {{ status = 1; break; }}
        }}
        dut->in_valid = 0; dut->out_ready = 1;
        for (long i = 0; status == 0 && i < TAIL; ++i) {{
            dut->clk = 0; dut->eval();
            if (dut->out_valid) status = 2;
            ctx->timeInc(5); dut->clk = 1; dut->eval(); ctx->timeInc(5); ++cycles;
        }}
        const uint32_t us = (uint32_t)std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start).count();
        uint32_t reply[4] = {{status, cycles, (uint32_t)recv, us}};
        std::fwrite(reply, sizeof reply, 1, stdout);
        if (n) std::fwrite(out.data(), sizeof(uint32_t), NO * n, stdout);
        std::fflush(stdout);
    }}
    dut->final();
    return 0;
}}
"""
