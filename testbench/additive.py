"""The testbench of the additive units (LNS Adam, SGD with momentum): seeded vectors with
edge tables, evaluated on the numba model (the expectation), the python model, Amaranth's
simulator and the generated Verilog on Icarus and Verilator, compared word for word.

Vectors come in groups, one step ``t`` a group (Adam: ``t`` in `T_VALUES`, its bias
corrections held on ``x_bc1``/``x_bc2``; SGD: one group).  A group holds edge cases (zero
words, exact cancellation of m -- the model's m' is the zero word --, operands one LSB
apart, saturation of m and v, a swamped step, a weight crossing zero and one becoming
exactly zero) mixed at random positions among seeded random words.  Every group starts
from freshly loaded LFSRs (stochastic presets: ``lns.lane_seeds(seed, lanes)``), so a
prefix of whole beats of a group is a self-contained sample: python and Amaranth evaluate
such prefixes.

The HDL testbench (`testbench_text`, module ``lnsadd_vtb``) reads one element a line from
a ``$readmemh`` file (``w g m [v]`` hex fields, no separators), drives whole beats with
seeded valid gaps and ready back-pressure (an xorshift), loads ``lfsr_seed`` in cycle 5,
and writes every output element as ``w m [v]`` hex to a file that Python compares.  It
prints ``SUMMARY vectors=<n> received=<r> extra=<e> timeout=<0|1> cycles=<c>``.

The HDL testbench and the compare are shared with the IEEE float Adam unit
(`testbench.float_adam`): the ports held for a step come from `held_values` (``x_bc1``,
``x_bc2`` here, ``k1``, ``k2`` there), and `compare_groups` takes the name of the
reference evaluator (``numba`` here, ``numpy`` there).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import lns
import lns.rounding
import lns.word
from lns.optimizers import update_words
from rtl.lanes import LFSR_WIDTH, lane_bits, pack_lanes

from .compare import UNKNOWN, _fmt, _groups
from .tools import SimulatorError, cache_dir, run

__all__ = ["T_VALUES", "Group", "make_groups", "model", "evaluate", "testbench_text",
           "run_hdl", "run_amaranth", "run_python", "TB_MODULE", "held_values",
           "compare_groups", "word_text"]

TB_MODULE = "lnsadd_vtb"
T_VALUES = (1, 2, 10, 1000, 1_000_000)
MAX_GROUP = 1 << 16          # vectors a group (one simulator run) at most: the HDL depth


def is_adam(cfg) -> bool:
    return cfg.optimizer == "adam"


def roles(cfg) -> dict:
    """``{"w": fmt, "g": fmt, "m": fmt[, "v": fmt]}`` (the float unit: every word of its
    IEEE format)."""
    return cfg.word_formats


def held_values(cfg, t: int) -> dict:
    """``{port: value}`` held for the beats of step ``t`` (`lns.rule.Rule.held`: LNS Adam's
    bias-correction codes ``x_bc1, x_bc2``, the float unit's words ``k1, k2``; SGD none).
    The HDL testbench declares these ports (signed as the design's sidecar says) and reads
    each from a plusarg named like the port without underscores (``+xbc1=``, ``+k1=``)."""
    return cfg.held(t)


def word_text(fmt, code) -> str:
    """A word and its value for a report (LNS words by `testbench.compare`'s rule, IEEE
    words exactly decoded)."""
    from lns.ieee.format import FloatFormat
    if not isinstance(fmt, FloatFormat):
        return _fmt(fmt, code)
    if code == UNKNOWN or code < 0:
        return "?"
    from lns.ieee import exact
    digits = max(1, (fmt.total_bits + 3) // 4)
    kind = exact.decode(fmt, int(code))[0]
    val = kind if kind in ("nan", "inf") else f"{float(exact.to_fraction(fmt, int(code))):.6g}"
    if kind == "inf" and int(code) >> (fmt.total_bits - 1):
        val = "-inf"
    return f"0x{int(code):0{digits}x} ({val})"


def _describe(fmt, names, values) -> str:
    """Who agrees on which word (`testbench.compare`'s grouping, `word_text`'s words)."""
    groups = _groups(names, values)
    if len(groups) == 1:
        return f"all agree on {word_text(fmt, groups[0][0])}"
    parts = []
    for k, (value, who) in enumerate(groups):
        verb = ("agree on" if len(who) > 1 else "says") if k == 0 else \
            ("say" if len(who) > 1 else "says")
        parts.append(f"{', '.join(who)} {verb} {word_text(fmt, value)}")
    return "; ".join(parts)


def out_keys(cfg) -> tuple:
    return cfg.output_roles


@dataclass
class Group:
    """The vectors of one step ``t``: input words ``{"w", "g", "m"[, "v"]}`` (int64 arrays of
    one length, a multiple of the lanes)."""

    t: int
    words: dict
    seeds: np.ndarray | None = None      # stochastic: the lanes' LFSR seeds at the start

    def __len__(self):
        return len(self.words["w"])

    def take(self, k: int) -> dict:
        return {key: a[:k] for key, a in self.words.items()}


# ---- the model ------------------------------------------------------------------------
def model(cfg, words: dict, t: int, seeds=None, evaluator: str = "numba") -> dict:
    """``{"w", "m"[, "v"]}`` of the model on ``words`` at step ``t`` (fresh LFSRs
    ``seeds``): `lns.optimizers.update_words`."""
    st = None if seeds is None else np.array(seeds, dtype=np.int64)
    return update_words(cfg, words, t, lfsr_state=st, evaluator=evaluator)


# ---- vectors ---------------------------------------------------------------------------
def _word(fp, sign, x):
    x = int(min(max(x, fp.x_min), fp.x_max))
    return ((int(sign) & fp.signed) << fp.log_bits) | (x + fp.offset)


def _random_words(cfg, n, rng):
    """Half fully random words, half near typical magnitudes (so the sums read every part of
    the tables)."""
    out = {}
    for k, f in roles(cfg).items():
        p = f.params
        full = rng.integers(0, 1 << f.total_bits, n)
        x = rng.integers(max(p.x_min, -(12 << p.frac_bits)),
                         min(p.x_max, 2 << p.frac_bits) + 1, n)
        typical = ((rng.integers(0, 2, n) & p.signed) << p.log_bits) | (x + p.offset)
        out[k] = np.where(rng.random(n) < 0.5, full, typical).astype(np.int64)
    return out


def _step_code(cfg, words, t, seeds):
    """The step's ``(sign, L, zero)`` of each element, from the model's m', v' (used only
    to build weights that hit, or cross, the step exactly): the config's own rule."""
    if seeds is None and cfg.is_stochastic:
        seeds = lns.lane_seeds(0, 1)
    out = model(cfg, {**words, "w": np.zeros_like(words["g"])}, t, seeds)
    return cfg.step_log(out["m"], out.get("v"), t)


def edge_words(cfg, t, rng, seeds=None) -> dict:
    """The edge table of step ``t`` (see the module's doc)."""
    p = cfg.params
    adam = is_adam(cfg)
    keys = "wgmv" if adam else "wgm"
    c_m, c_g = (p.c_beta1, p.c_one_minus_beta1) if adam else (p.c_mu, 0)
    pv = p.v if adam else None
    v_typ = _word(pv, 0, -8 << pv.frac_bits) if adam else 0
    v_max = _word(pv, 0, pv.x_max) if adam else 0
    rows = []

    def row(w, g, m, v=v_typ):
        rows.append((w, g, m, v))

    # zero words in every combination, and beside typical ones
    wt, gt = _word(p.w, 0, -2 << p.w.frac_bits), _word(p.g, 1, -4 << p.g.frac_bits)
    mt = _word(p.m, 0, -5 << p.m.frac_bits)
    for mask in range(16 if adam else 8):
        vals = [(wt, gt, mt, v_typ)[i] if mask >> i & 1 else 0 for i in range(4)]
        row(*vals)
    # m's two terms: X_m + c_m and (X_g << g_shift) + c_g; equal codes cancel exactly,
    # codes one LSB apart nearly
    for xg in (-5 << p.g.frac_bits, -1, 0, 3 << p.g.frac_bits, p.g.x_min + 7, p.g.x_max - 3,
               int(rng.integers(p.g.x_min, p.g.x_max + 1))):
        tg = (xg << p.g_shift) + c_g
        for d in (0, 1, -1, 2, -2):
            xm = tg - c_m + d
            if not p.m.x_min <= xm <= p.m.x_max:
                continue
            for sg, sm in ((0, 1), (1, 0), (0, 0), (1, 1)):
                row(_word(p.w, 0, -2 << p.w.frac_bits), _word(p.g, sg, xg), _word(p.m, sm, xm))
    # saturation (max words) of m and v, their flush by the decay, extreme weights
    for sw, sg, sm in ((1, 0, 0), (0, 1, 1), (0, 0, 1), (1, 1, 0)):
        row(_word(p.w, sw, 0), _word(p.g, sg, p.g.x_max), _word(p.m, sm, p.m.x_max), v_max)
        row(_word(p.w, sw, p.w.x_max), _word(p.g, sg, p.g.x_max), _word(p.m, sm, p.m.x_max),
            _word(pv, 0, pv.x_min) if adam else 0)
    row(_word(p.w, 0, 5), 0, _word(p.m, 1, p.m.x_min), _word(pv, 0, pv.x_min) if adam else 0)
    row(_word(p.w, 0, p.w.x_max), _word(p.g, 0, -1), 0, 0)
    row(_word(p.w, 1, p.w.x_min), _word(p.g, 0, p.g.x_min), _word(p.m, 1, p.m.x_min), 0)
    row(_word(p.w, 0, p.w.x_min), _word(p.g, 1, p.g.x_max), _word(p.m, 0, p.m.x_max), v_max)
    # a swamped step: a large weight, a tiny momentum
    for s in (0, 1):
        row(_word(p.w, s, p.w.x_max), _word(p.g, s, p.g.x_min + 1),
            _word(p.m, s, p.m.x_min + 1), _word(pv, 0, 0) if adam else 0)
        row(_word(p.w, s, p.w.x_max - 1), _word(p.g, 1 - s, p.g.x_min),
            _word(p.m, s, p.m.x_min), v_max)
    base = np.array(rows, dtype=np.int64)
    # exact cancellation found with the model: random g, m = the cancelling code +- noise
    n = 600
    cand = _random_words(cfg, n, rng)
    _, xg, zg = lns.word.unpack_all(p.g, cand["g"])
    sg = (cand["g"] >> p.g.log_bits) & 1
    xm = (xg << p.g_shift) + c_g - c_m
    ok = (~zg) & (xm >= p.m.x_min) & (xm <= p.m.x_max)
    cm = np.array([_word(p.m, 1 - int(s), int(x)) for s, x in zip(sg, xm)], dtype=np.int64)
    cand_c = {k: a[ok] for k, a in cand.items()}
    cand_c["m"] = cm[ok]
    if len(cand_c["w"]):
        out = model(cfg, cand_c, t, seeds if seeds is None else seeds[:1])
        zero = lns.word.unpack_all(p.m, out["m"])[2]
        cancel = np.stack([cand_c[k][zero][:24] for k in keys], axis=1)
    else:
        cancel = np.zeros((0, len(keys)), dtype=np.int64)
    if not adam:
        cancel = np.concatenate([cancel, np.zeros((len(cancel), 1), dtype=np.int64)], axis=1)
    # weights at the step (exactly zero), beside it and below it (crossing zero)
    s, L, z = _step_code(cfg, cand, t, None if seeds is None else seeds[:1])
    extra = []
    g_ = cfg.guard_bits
    for i in range(n):
        if z[i] or len(extra) >= 48:
            continue
        ds = ((0, 1 << g_, -(1 << g_), 3 << (g_ + p.w.frac_bits))
              if L[i] % (1 << g_) == 0 else (3 << (g_ + p.w.frac_bits),))
        for d in ds:
            xw = (int(L[i]) - d) >> g_
            if p.w.x_min <= xw <= p.w.x_max:
                extra.append((_word(p.w, int(s[i]), xw), cand["g"][i], cand["m"][i],
                              cand["v"][i] if adam else 0))
    allrows = np.concatenate([base, cancel, np.array(extra, dtype=np.int64).reshape(-1, 4)])
    return {k: allrows[:, i] for i, k in enumerate(keys)}


def near_words(cfg, n, t, rng) -> dict:
    """Random words pushed into the adders' near regions: m beside the cancellation of
    ``beta1 m`` and ``(1 - beta1) g`` (``mu m`` and ``g``), and the weight beside the step,
    with random signs (sums and differences)."""
    p = cfg.params
    adam = is_adam(cfg)
    c_m, c_g = (p.c_beta1, p.c_one_minus_beta1) if adam else (p.c_mu, 0)
    w = _random_words(cfg, n, rng)
    _, xg, zg = lns.word.unpack_all(p.g, w["g"])
    d = rng.integers(-160, 161, n)
    xm = np.clip((xg << p.g_shift) + c_g - c_m + d, p.m.x_min, p.m.x_max)
    sm = rng.integers(0, 2, n) & p.m.signed
    near_m = (~zg) & (rng.random(n) < 0.6)
    w["m"] = np.where(near_m, (sm << p.m.log_bits) | (xm + p.m.offset), w["m"])
    s, L, z = _step_code(cfg, w, t, None)
    g_ = cfg.guard_bits
    R = max(8, 1100 >> g_)
    xw = np.clip((L >> g_) + rng.integers(-R, R + 1, n), p.w.x_min, p.w.x_max)
    sw = np.where(rng.random(n) < 0.7, s, rng.integers(0, 2, n)) & p.w.signed
    w["w"] = np.where(z, w["w"], (sw << p.w.log_bits) | (xw + p.w.offset))
    return w


def make_groups(cfg, n: int, *, seed: int = 1, lanes: int = 1) -> list[Group]:
    """About ``n`` vectors (each group padded to whole beats) in groups of one ``t`` (the
    `T_VALUES` in turn, at most `MAX_GROUP` vectors a group)."""
    rng = np.random.default_rng([seed, 0xADD])
    ts = T_VALUES if is_adam(cfg) else (1,)
    seeds = lns.lane_seeds(seed, lanes) if cfg.is_stochastic else None
    count = max(len(ts), -(-n // MAX_GROUP))
    groups = []
    for j in range(count):
        t = ts[j % len(ts)]
        size = n // count + (1 if j < n % count else 0)
        size = -(-max(size, 1) // lanes) * lanes
        edges = edge_words(cfg, t, rng, seeds)
        k_edge = min(len(edges["w"]), size // 2 if size >= 64 else size)
        pick = rng.permutation(len(edges["w"]))[:k_edge]
        k_rand = size - k_edge
        k_near = k_rand // 2
        a, b = _random_words(cfg, k_rand - k_near, rng), near_words(cfg, k_near, t, rng)
        rand = {k: np.concatenate([a[k], b[k]]) for k in a}
        words = {k: np.concatenate([edges[k][pick], rand[k]]) for k in edges}
        order = rng.permutation(size)
        groups.append(Group(t, {k: a[order] for k, a in words.items()},
                            None if seeds is None else np.array(seeds, dtype=np.int64)))
    return groups


# ---- evaluators ------------------------------------------------------------------------
def _prefix(g: Group, k: int, lanes: int) -> int:
    return min(len(g), max(lanes, -(-k // lanes) * lanes))


def run_python(cfg, groups, k: int = 300, lanes: int = 1):
    """The python model on a prefix of whole beats of each group: ``[{key: words}]``."""
    per = -(-k // len(groups))
    return [model(cfg, g.take(_prefix(g, per, lanes)), g.t, g.seeds, "python") for g in groups]


def run_amaranth(cfg, groups, k: int = 300, lanes: int = 1, *, gap: float = 0.2,
                 stall: float = 0.3, seed: int = 1):
    """`rtl.additive_sim.simulate_additive` on a prefix of each group, with gaps and
    back-pressure."""
    from rtl.additive_sim import simulate_additive
    per = -(-k // len(groups))
    out = []
    for j, g in enumerate(groups):
        r = simulate_additive(cfg, g.take(_prefix(g, per, lanes)), g.t, lanes=lanes,
                              lfsr_state=g.seeds, gap=gap, stall=stall, seed=seed + j)
        out.append({kk: np.asarray(a, dtype=np.int64) for kk, a in r.out.items()})
    return out


# ---- the HDL testbench -----------------------------------------------------------------
def _digits(bits):
    return max(1, (bits + 3) // 4)


def _layout(cfg):
    """``[(key, bits, offset)]`` of a memory line (most significant first) and its width."""
    fields = [(k, f.total_bits) for k, f in roles(cfg).items()]
    out, off = [], 0
    for k, b in reversed(fields):
        out.append((k, b, off))
        off += 4 * _digits(b)
    return list(reversed(out)), off


def memory_text(cfg, words: dict) -> str:
    fields, _ = _layout(cfg)
    cols = [np.char.zfill(np.char.mod("%x", words[k].astype(np.int64)), _digits(b))
            for k, b, _ in fields]
    lines = cols[0]
    for c in cols[1:]:
        lines = np.char.add(lines, c)
    return "\n".join(lines.tolist()) + "\n"


def testbench_text(design) -> str:
    cfg, L = design.cfg, design.lanes
    fields, pw = _layout(cfg)
    f = {k: (b, off) for k, b, off in fields}
    held = list(held_values(cfg, 1))
    ins = list(f)
    outs = list(out_keys(cfg))
    for k in ins:
        if design.width(f"in_{k}") != L * f[k][0]:
            raise ValueError(f"port in_{k} must be {L} x {f[k][0]} bits wide")
    stoch = design.stochastic
    decl = "".join(f"  reg [{L * f[k][0] - 1}:0] in_{k} = 0;\n" for k in ins)
    decl += "".join(f"  wire [{L * f[k][0] - 1}:0] out_{k};\n" for k in outs)
    for h in held:
        sign = "signed " if design.ports[h].get("signed") else ""
        decl += f"  reg {sign}[{design.width(h) - 1}:0] {h} = 0;\n"
    if stoch:
        decl += f"  reg lfsr_load = 1'b0;\n  reg [{L * LFSR_WIDTH - 1}:0] lfsr_seed = 0;\n"
    ports = ", ".join(f".in_{k}(in_{k})" for k in ins) + ", " + \
        ", ".join(f".out_{k}(out_{k})" for k in outs)
    if held:
        ports += ", " + ", ".join(f".{h}({h})" for h in held)
    if stoch:
        ports += ", .lfsr_seed(lfsr_seed), .lfsr_load(lfsr_load)"
    args = ""
    for h in held:
        args += f'    if (!$value$plusargs("{h.replace("_", "")}=%h", {h})) {h} = 0;\n'
    if stoch:
        args += ('    if (!$value$plusargs("lfsr_seed=%h", lfsr_seed)) begin\n'
                 '      $display("ERROR: +lfsr_seed=<hex> is required"); $fatal(1);\n'
                 '    end\n')
    fmt = " ".join("%h" for _ in outs)
    write = "".join(
        f"          $fwrite(fd, \"{fmt}\\n\", "
        + ", ".join(f"out_{k}[{lane_bits(lane, f[k][0])[0]} +: {f[k][0]}]" for k in outs)
        + ");\n" for lane in range(L))
    drive = "".join(f"          e = mem[sent * L + {lane}];\n" + "".join(
        f"          in_{k}[{lane_bits(lane, f[k][0])[0]} +: {f[k][0]}] <= e[{f[k][1]} +: {f[k][0]}];\n"
        for k in ins) for lane in range(L))
    timeout = 2000 + 4 * design.latency
    return f"""// Vector testbench of {design.module} (generated by testbench.additive; do not edit).
`timescale 1ns/1ps
module {TB_MODULE} #(parameter integer DEPTH = 4096) (input wire clk);
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
    {ports});

  integer n, nbeats, gap, bp, fd;
  integer cyc, sent, recv, idle, tail, extra;
  reg finishing;
  reg [31:0] rng;
  reg [PW-1:0] e;
  string file, ofile;

  initial begin
    if (!$value$plusargs("vectors=%s", file)) begin
      $display("ERROR: +vectors=<file> is required"); $fatal(1);
    end
    if (!$value$plusargs("out=%s", ofile)) begin
      $display("ERROR: +out=<file> is required"); $fatal(1);
    end
    if (!$value$plusargs("n=%d", n)) n = 0;
    if (!$value$plusargs("gap=%d", gap)) gap = 0;
    if (!$value$plusargs("bp=%d", bp)) bp = 0;
    if (!$value$plusargs("rng=%d", rng)) rng = 1;
    if (rng == 0) rng = 1;
{args}    if (n > DEPTH || n % L != 0) begin
      $display("ERROR: n=%0d must be a multiple of %0d and at most DEPTH=%0d", n, L, DEPTH);
      $fatal(1);
    end
    if (n > 0) $readmemh(file, mem, 0, n - 1);
    fd = $fopen(ofile, "w");
    nbeats = n / L;
    cyc = 0; sent = 0; recv = 0; idle = 0; tail = 0; extra = 0; finishing = 1'b0;
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
{"    lfsr_load <= (cyc == 5);" + chr(10) if stoch else ""}    if (cyc >= 8) begin
      idle = idle + 1;
      if (in_valid && in_ready) begin
        sent = sent + 1; idle = 0;
      end
      if (out_valid && out_ready) begin
        idle = 0;
        if (recv >= nbeats) begin
          extra = extra + 1;
          $display("EXTRA output beat %0d after the last", recv);
        end else begin
{write}        end
        recv = recv + 1;
      end
      rng = xorshift(rng);
      if (in_valid && !in_ready) begin
        // hold the beat until it is accepted
      end else if (sent < nbeats && !(gap > 0 && (rng % 100) < gap)) begin
        in_valid <= 1'b1;
{drive}      end else begin
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
          $display("SUMMARY vectors=%0d received=%0d extra=%0d timeout=0 cycles=%0d", n,
                   (recv < nbeats ? recv : nbeats) * L, extra, cyc);
          $fclose(fd);
          $finish;
        end
      end else if (idle > TIMEOUT) begin
        $display("TIMEOUT no handshake for %0d cycles: sent %0d, received %0d of %0d beats",
                 idle, sent, recv, nbeats);
        $display("SUMMARY vectors=%0d received=%0d extra=%0d timeout=1 cycles=%0d", n,
                 recv * L, extra, cyc);
        $fclose(fd);
        $finish;
      end
    end
  end
endmodule
"""


def build(sim: str, design, depth: int, *, verilog=None):
    """Build (or reuse) the vector testbench of ``design`` on ``sim`` through the one
    builder, `testbench.fastpath.build_vector_testbench`: (executable, build seconds)."""
    from .fastpath import build_vector_testbench
    return build_vector_testbench(sim, design, testbench_text(design), TB_MODULE, depth,
                                  verilog=verilog)


@dataclass
class HdlResult:
    out: list                       # per group {key: words} (UNKNOWN for x / missing)
    protocol: list = field(default_factory=list)
    cycles: int = 0
    build_seconds: float = 0.0


def _parse_out(path: Path, keys, n: int) -> dict:
    out = {k: np.full(n, UNKNOWN, dtype=np.int64) for k in keys}
    lines = path.read_text().split("\n") if path.exists() else []
    for i, line in enumerate(lines[:n]):
        parts = line.split()
        for k, s in zip(keys, parts):
            try:
                out[k][i] = int(s, 16)
            except ValueError:
                pass
    return out


def run_hdl(sim: str, design, groups, *, gap: int = 10, bp: int = 20, rng_seed: int = 1,
            verilog=None, timeout: float | None = 600) -> HdlResult:
    """Every group through the Verilog on ``sim`` (one simulator run a group)."""
    if sim not in ("icarus", "verilator"):
        raise ValueError(f"sim must be icarus or verilator, not {sim!r}")
    cfg = design.cfg
    depth = MAX_GROUP                   # one build a design (Verilator: a parameter)
    while depth < max(len(g) for g in groups):
        depth <<= 1
    exe, build_s = build(sim, design, depth, verilog=verilog)
    wd = cache_dir("runs", f"additive-{sim}-{os.getpid()}-{os.urandom(3).hex()}")
    res = HdlResult([], build_seconds=build_s)
    keys = out_keys(cfg)
    try:
        for j, g in enumerate(groups):
            mem, outf = wd / f"g{j}.mem", wd / f"g{j}.out"
            mem.write_text(memory_text(cfg, g.words))
            args = [f"+vectors={mem}", f"+out={outf}", f"+n={len(g)}", f"+gap={gap}",
                    f"+bp={bp}", f"+rng={(rng_seed * 7919 + j) & 0xFFFFFFFF or 1}"]
            for h, value in held_values(cfg, g.t).items():
                args.append(f"+{h.replace('_', '')}={value & ((1 << design.width(h)) - 1):x}")
            if design.stochastic:
                args.append(f"+lfsr_seed={pack_lanes(g.seeds, LFSR_WIDTH):x}")
            cmd = ["vvp", "-n", exe, *args] if sim == "icarus" else [exe, *args]
            proc = run(cmd, cwd=wd, timeout=timeout, check=False)
            text = proc.stdout + proc.stderr
            summary = None
            for line in text.splitlines():
                if line.startswith("SUMMARY "):
                    summary = {k: int(v) for k, v in
                               (item.split("=") for item in line.split()[1:])}
            if summary is None:
                raise SimulatorError(f"{sim} printed no SUMMARY (exit {proc.returncode}):\n"
                                     f"{text[-3000:]}")
            res.protocol += [f"{sim} t={g.t}: {line}" for line in text.splitlines()
                             if line.startswith(("EXTRA", "TIMEOUT", "ERROR"))]
            res.cycles += summary["cycles"]
            res.out.append(_parse_out(outf, keys, len(g)))
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return res


# ---- the whole run ---------------------------------------------------------------------
def _case_report(cfg, g: Group, i: int, names, values, lanes: int = 1) -> str:
    fm = roles(cfg)
    ins = " ".join(f"{k}={word_text(fm[k], int(g.words[k][i]))}" for k in fm)
    lines = [f"case t={g.t} #{i}: lane {i % lanes}", f"  in  {ins}"]
    for k in out_keys(cfg):
        lines.append(f"  {k}'  {_describe(fm[k], names, [v[k] for v in values])}")
    return "\n".join(lines)


def evaluate(cfg, sims, n: int, *, seed: int = 1, lanes: int = 1, gap: int = 10,
             bp: int = 20, sample: int = 300, max_report: int = 10, out=None,
             progress=None, verilog=None, design=None) -> dict:
    """Make the vectors of ``cfg`` and run them on numba, python and ``sims`` (any of
    ``amaranth``, ``icarus``, ``verilator``).  Returns ``{"evaluators": {name: {"vectors",
    "mismatches"}}, "ok", "mismatches", "protocol", "reports", "seconds"}``."""
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    groups = make_groups(cfg, n, seed=seed, lanes=lanes)
    ts = ", ".join(str(g.t) for g in groups)
    say(f"{sum(map(len, groups))} vectors for {cfg.name} (t = {ts})")
    return run_evaluators(cfg, groups, sims, reference="numba",
                          model=lambda g: model(cfg, g.words, g.t, g.seeds),
                          run_python=run_python, run_amaranth=run_amaranth, t0=t0, say=say,
                          lanes=lanes, gap=gap, bp=bp, sample=sample, seed=seed,
                          max_report=max_report, out=out, verilog=verilog, design=design)


def run_evaluators(cfg, groups, sims, *, reference: str, model, run_python, run_amaranth,
                   t0: float, say, lanes: int, gap: int, bp: int, sample: int, seed: int,
                   max_report: int, out, verilog, design) -> dict:
    """Run ``groups`` on the reference (``model(group)`` on every vector), ``python``
    (``run_python``, a sample), ``sims`` (``run_amaranth`` on a sample; Icarus and Verilator
    on all, through `run_hdl`) and compare them (`compare_groups`): the one sequence the LNS
    Adam/SGD and the IEEE float Adam testbenches share.  ``seconds`` counts from ``t0``."""
    results = {reference: [model(g) for g in groups]}
    say("python")
    results["python"] = run_python(cfg, groups, sample, lanes)
    protocol = []
    if "amaranth" in sims:
        say("amaranth")
        results["amaranth"] = run_amaranth(cfg, groups, sample, lanes, gap=gap / 100,
                                           stall=bp / 100, seed=seed)
    hdl = [s for s in ("icarus", "verilator") if s in sims]
    if hdl and design is None:
        from .design import generate
        design = generate(cfg, lanes)
    for s in hdl:
        say(s)
        r = run_hdl(s, design, groups, gap=gap, bp=bp, rng_seed=seed, verilog=verilog)
        results[s] = r.out
        protocol += r.protocol
    res = compare_groups(cfg, groups, results, protocol, reference=reference,
                         max_report=max_report, out=out, lanes=lanes)
    res["seconds"] = time.perf_counter() - t0
    return res


def compare_groups(cfg, groups, results: dict, protocol=(), *, reference: str,
                   max_report: int = 10, out=None, lanes: int = 1) -> dict:
    """The one compare of the grouped evaluators: every evaluator's words (a prefix of
    each group, or all of it) against ``reference``'s; a disagreeing case is reported with
    who agrees on which word (`_describe`).  Returns ``{"evaluators": {name: {"vectors",
    "mismatches"}}, "ok", "mismatches", "protocol", "reports", "vectors"}``."""
    protocol = list(protocol)
    ref = results[reference]
    stats, reports = {}, []
    bad_any = [np.zeros(len(g), dtype=bool) for g in groups]
    for name, res in results.items():
        vec = mis = 0
        for j, (g, o) in enumerate(zip(groups, res)):
            k = len(o["w"])
            bad = np.zeros(k, dtype=bool)
            for key in out_keys(cfg):
                bad |= o[key] != ref[j][key][:k]
            vec += k
            mis += int(bad.sum())
            bad_any[j][:k] |= bad
        stats[name] = {"vectors": vec, "mismatches": mis}
    total = 0
    for j, g in enumerate(groups):
        for i in np.nonzero(bad_any[j])[0]:
            total += 1
            if len(reports) < max_report:
                names = [nm for nm in results if len(results[nm][j]["w"]) > i]
                vals = [{k: int(results[nm][j][k][i]) for k in out_keys(cfg)} for nm in names]
                reports.append(_case_report(cfg, g, int(i), names, vals, lanes))
    if out is not None:
        for line in protocol[:max_report]:
            print(line, file=out)
        for r in reports:
            print(r, file=out)
        if total > len(reports):
            print(f"... and {total - len(reports)} more mismatching cases", file=out)
    ok = total == 0 and not protocol
    return {"evaluators": stats, "ok": ok, "mismatches": total, "protocol": protocol,
            "reports": reports, "vectors": sum(map(len, groups))}
