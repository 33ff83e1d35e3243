"""The plain Verilog vector testbench: its text, its C++ main for Verilator, and the packed
memory file it reads.

Memory file (``$readmemh``): one case a line, the fields of the `vectors` line format with
``t`` replaced by ``x_bc`` (two's complement) and no separators; every field padded to
whole hex digits, most significant field first::

    x_bc clip w g v w_out v_out

The testbench (``lnsmadam_vtb``, one ``always @(posedge clk)`` block, race-free: it drives
with non-blocking assignments and samples the DUT's pre-edge outputs):

* holds ``x_bc``/``clip`` per group: before the first case of a new ``(x_bc, clip)`` it
  stops sending, waits until every accepted beat has come out, changes them, idles two
  cycles, then sends;
* drives ``in_valid`` with ``+gap=P`` percent idle cycles and ``out_ready`` with ``+bp=P``
  percent back-pressure (an xorshift seeded by ``+rng=S``); keeps a beat stable until it
  is accepted;
* compares every output beat in order against the expected words; prints the first
  ``+maxerr=N`` mismatches as ``MISMATCH <case> <w got> <w exp> <v got> <v exp>`` (hex);
* checks the protocol: an output beat beyond the last (``EXTRA``), no handshake for too
  long (``TIMEOUT``, e.g. a dropped ready or a stuck-low valid); after the last beat it
  watches ``latency + 8`` more cycles for duplicates;
* prints ``SUMMARY vectors=<n> mismatches=<m> received=<r> cycles=<c>`` and ends with
  ``$fatal`` if ``m > 0``, ``$finish`` otherwise.
"""

from __future__ import annotations

from rtl.lanes import lane_bits

from .design import Design
from .vectors import VectorSet, hex_columns

__all__ = ["layout", "memory_lines", "testbench_text", "icarus_top_text", "verilator_main_text",
           "raw_main_text", "stream_main_text", "STREAM_MAGIC", "TB_MODULE"]

TB_MODULE = "lnsmadam_vtb"


def _digits(bits):
    return max(1, (bits + 3) // 4)


def layout(design: Design):
    """``[(field, bits, offset), ...]`` of the packed word, and its total width."""
    c, L = design.cfg, design.lanes
    fields = [("x_bc", design.width("x_bc")), ("clip", design.width("clip")),
              ("w", c.weight.total_bits), ("g", c.grad.total_bits), ("v", c.moment.total_bits),
              ("w_out", c.weight.total_bits), ("v_out", c.moment.total_bits)]
    for port, bits in (("in_w", c.weight.total_bits), ("in_g", c.grad.total_bits),
                       ("in_v", c.moment.total_bits), ("out_w", c.weight.total_bits),
                       ("out_v", c.moment.total_bits)):
        if design.width(port) != L * bits:
            raise ValueError(f"port {port} must be {L} x {bits} bits wide, "
                             f"not {design.width(port)}")
    out, offset = [], 0
    for name, bits in reversed(fields):
        out.append((name, bits, offset))
        offset += 4 * _digits(bits)
    return list(reversed(out)), offset


def memory_lines(design: Design, vs: VectorSet) -> bytes:
    """The packed memory file of ``vs`` for ``design``."""
    fields, _ = layout(design)
    wx = design.width("x_bc")
    x_bc = vs.x_bc()
    lo, hi = -(1 << (wx - 1)), (1 << (wx - 1)) - 1
    if x_bc.size and (x_bc.min() < lo or x_bc.max() > hi):
        raise ValueError(f"x_bc must fit the {wx}-bit port, not {int(x_bc.min())}")
    cols = [x_bc & ((1 << wx) - 1), vs.clip, vs.w, vs.g, vs.v, vs.exp_w, vs.exp_v]
    return hex_columns(cols, [_digits(b) for _, b, _ in fields], sep=b"")


def testbench_text(design: Design) -> str:
    c, L = design.cfg, design.lanes
    (fx, fc, fw, fg, fv, few, fev), pw = layout(design)
    ww, wg, wv = c.weight.total_bits, c.grad.total_bits, c.moment.total_bits
    stoch = design.stochastic
    lfsr_decl = (f"  reg lfsr_load = 1'b0;\n  reg [{L * 32 - 1}:0] lfsr_seed = 0;\n"
                 if stoch else "")
    lfsr_ports = ",\n    .lfsr_seed(lfsr_seed), .lfsr_load(lfsr_load)" if stoch else ""
    lfsr_args = ('    if (!$value$plusargs("lfsr_seed=%h", lfsr_seed)) begin\n'
                 '      $display("ERROR: +lfsr_seed=<hex> is required"); $fatal(1);\n'
                 '    end\n') if stoch else ""
    lfsr_load = "      lfsr_load <= (cyc == 5);\n" if stoch else ""
    timeout = 2000 + 4 * design.latency
    # One block a lane, its bus slices from rtl.lanes (the one definition of the layout).
    compare_lanes = "".join(f"""          idx = recv * L + {k};
          e = mem[idx];
          if (out_w[{ow} +: WW] !== e[{few[2]} +: WW] || out_v[{ov} +: WV] !== e[{fev[2]} +: WV]) begin
            errors = errors + 1;
            if (shown < maxerr) begin
              shown = shown + 1;
              $display("MISMATCH %0d %h %h %h %h", idx, out_w[{ow} +: WW], e[{few[2]} +: WW],
                       out_v[{ov} +: WV], e[{fev[2]} +: WV]);
            end
          end
""" for k, ow, ov in ((k, lane_bits(k, ww)[0], lane_bits(k, wv)[0]) for k in range(L)))
    drive_lanes = "".join(f"""          e = mem[sent * L + {k}];
          in_w[{lane_bits(k, ww)[0]} +: WW] <= e[{fw[2]} +: WW];
          in_g[{lane_bits(k, wg)[0]} +: WG] <= e[{fg[2]} +: WG];
          in_v[{lane_bits(k, wv)[0]} +: WV] <= e[{fv[2]} +: WV];
""" for k in range(L))
    return f"""// Vector testbench of {design.module} (generated by testbench.hdl_tb; do not edit).
`timescale 1ns/1ps
module {TB_MODULE} #(parameter integer DEPTH = 1024) (input wire clk);
  localparam integer L = {L};
  localparam integer WW = {ww}, WG = {wg}, WV = {wv};
  localparam integer WX = {fx[1]}, WC = {fc[1]};
  localparam integer PW = {pw};
  localparam integer LAT = {design.latency};
  localparam integer TIMEOUT = {timeout};
  reg [PW-1:0] mem [0:DEPTH-1];

  reg rst = 1'b1;
  reg in_valid = 1'b0;
  reg [L*WW-1:0] in_w = 0;
  reg [L*WG-1:0] in_g = 0;
  reg [L*WV-1:0] in_v = 0;
  reg out_ready = 1'b0;
  reg [WX-1:0] x_bc = 0;
  reg [WC-1:0] clip = 0;
{lfsr_decl}  wire in_ready, out_valid;
  wire [L*WW-1:0] out_w;
  wire [L*WV-1:0] out_v;

  {design.module} dut (
    .clk(clk), .rst(rst),
    .in_valid(in_valid), .in_ready(in_ready), .in_w(in_w), .in_g(in_g), .in_v(in_v),
    .out_valid(out_valid), .out_ready(out_ready), .out_w(out_w), .out_v(out_v),
    .x_bc(x_bc), .clip(clip){lfsr_ports});

  integer n, nbeats, maxerr, gap, bp;
  integer cyc, sent, recv, errors, shown, idle, hold, tail, k, idx;
  reg finishing, have_cur;
  reg [31:0] rng;
  reg [PW-1:0] e;
  reg [WX-1:0] cur_x;
  reg [WC-1:0] cur_c;
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
    finishing = 1'b0; have_cur = 1'b0; cur_x = 0; cur_c = 0;
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
          $display("EXTRA output beat %0d after the last (w %h v %h)", recv, out_w, out_v);
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
        if (!have_cur || e[{fx[2]} +: WX] != cur_x || e[{fc[2]} +: WC] != cur_c) begin
          in_valid <= 1'b0;
          if (sent == recv && !(in_valid && in_ready)) begin
            cur_x = e[{fx[2]} +: WX]; cur_c = e[{fc[2]} +: WC]; have_cur = 1'b1;
            x_bc <= cur_x; clip <= cur_c; hold = 2;
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
    mod = design.module
    stoch = "    dut->lfsr_load = 0;\n" if design.stochastic else ""
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
        dut->in_w = x; dut->in_g = x >> 7; dut->in_v = x >> 3;
        dut->clk = 0; dut->eval();
        dut->clk = 1; dut->eval();
        outs += dut->out_valid;
        sink ^= (uint32_t)dut->out_w;
    }}
    std::printf("RAW cycles=%ld outputs=%ld sink=%u\\n", cycles, outs, sink);
    return 0;
}}
"""


def read_mismatch_lines(text: str):
    """``[(case, w_got, w_exp, v_got, v_exp), ...]`` from the testbench's MISMATCH lines
    (``x`` bits read as -1)."""
    out = []
    for line in text.splitlines():
        if line.startswith("MISMATCH "):
            parts = line.split()
            vals = []
            for p in parts[2:6]:
                try:
                    vals.append(int(p, 16))
                except ValueError:
                    vals.append(-1)
            out.append((int(parts[1]), *vals))
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


def stream_main_text(design: Design) -> str:
    """A persistent C++ harness that drives the bare DUT block after block, fed binary words
    on stdin and answering with the output words on stdout (`testbench.streaming`).

    Request (little-endian uint32): ``magic, beats, x_bc, clip, gap, bp, rng, 0``, then the
    ``lanes`` LFSR seeds, then ``beats * lanes`` words each of ``w``, ``g``, ``v``.
    Each block resets the DUT (4 cycles), sets ``x_bc``/``clip``, loads the LFSR seeds
    (stochastic designs: ``lfsr_load`` for one cycle), idles two cycles, then sends every beat
    with ``gap`` percent idle input cycles and ``bp`` percent output back-pressure (an
    xorshift from ``rng``); a beat is held until accepted.  After the last output beat it
    watches ``latency + 8`` cycles for an extra beat.
    Reply: ``status, cycles`` (status 0 ok, 1 no handshake for too long, 2 an extra output
    beat), then ``beats * lanes`` words of ``w'`` and of ``v'`` (received beats; the rest 0).
    """
    c, L, mod = design.cfg, design.lanes, design.module
    ww, wg, wv = c.weight.total_bits, c.grad.total_bits, c.moment.total_bits
    stoch = design.stochastic
    timeout = 2000 + 4 * design.latency
    lfsr_set = ("            for (int k = 0; k < L; ++k) put(dut->lfsr_seed, 32 * k, 32, seeds[k]);\n"
                "            dut->lfsr_load = 1; tick(dut.get(), ctx.get());\n"
                "            dut->lfsr_load = 0;\n") if stoch else ""
    lfsr_zero = "    dut->lfsr_load = 0;\n" if stoch else ""
    return f"""// Streaming harness of {mod} (generated by testbench.hdl_tb; do not edit).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>
#include "V{mod}.h"
#include "verilated.h"

static const int L = {L}, WW = {ww}, WG = {wg}, WV = {wv};
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
    uint32_t head[8], seeds[L > 0 ? L : 1];
    dut->clk = 0; dut->in_valid = 0; dut->out_ready = 0;
{lfsr_zero}    dut->eval();
    while (read_all(head, sizeof head)) {{
        if (head[0] != 0x{STREAM_MAGIC:08X}u) {{ std::fprintf(stderr, "bad request\\n"); return 3; }}
        const long beats = head[1], n = beats * L;
        const uint32_t gap = head[4], bp = head[5];
        uint32_t rng = head[6] ? head[6] : 1u;
        if (!read_all(seeds, sizeof(uint32_t) * L)) return 3;
        in.resize(3 * n); out.assign(2 * n, 0);
        if (n && !read_all(in.data(), sizeof(uint32_t) * 3 * n)) return 3;
        const uint32_t *iw = in.data(), *ig = iw + n, *iv = ig + n;
        uint32_t *ow = out.data(), *ov = ow + n;
        uint32_t status = 0, cycles = 0;
        dut->in_valid = 0; dut->out_ready = 0; dut->rst = 1;
        for (int i = 0; i < 4; ++i) tick(dut.get(), ctx.get());
        dut->rst = 0;
        put(dut->x_bc, 0, {design.width("x_bc")}, head[2]);
        put(dut->clip, 0, {design.width("clip")}, head[3]);
{lfsr_set}        tick(dut.get(), ctx.get()); tick(dut.get(), ctx.get());
        long sent = 0, recv = 0, idle = 0;
        bool valid = false;
        while (recv < beats) {{
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            if (!valid && sent < beats && !(gap && rng % 100 < gap)) {{
                valid = true;
                for (int k = 0; k < L; ++k) {{
                    put(dut->in_w, k * WW, WW, iw[sent * L + k]);
                    put(dut->in_g, k * WG, WG, ig[sent * L + k]);
                    put(dut->in_v, k * WV, WV, iv[sent * L + k]);
                }}
            }}
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            const bool ready = !(bp && rng % 100 < bp);
            dut->in_valid = valid; dut->out_ready = ready;
            dut->clk = 0; dut->eval();
            const bool acc = valid && dut->in_ready, got = dut->out_valid && ready;
            if (got) {{
                for (int k = 0; k < L; ++k) {{
                    ow[recv * L + k] = get(dut->out_w, k * WW, WW);
                    ov[recv * L + k] = get(dut->out_v, k * WV, WV);
                }}
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
        uint32_t reply[2] = {{status, cycles}};
        std::fwrite(reply, sizeof reply, 1, stdout);
        if (n) std::fwrite(out.data(), sizeof(uint32_t), 2 * n, stdout);
        std::fflush(stdout);
    }}
    dut->final();
    return 0;
}}
"""
