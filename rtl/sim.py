"""The ``amaranth`` evaluator: tensors through `MadamUpdateArray` in Amaranth's simulator.

`simulate_update` drives the handshake like a real producer and consumer (optional random
gaps in ``in_valid`` and random ``out_ready`` backpressure, both seeded) and returns the
outputs in element order, the same shape as `lns.madam_update`'s, plus what it observed
about the timing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from .unit import MadamUpdateArray

__all__ = ["simulate_update", "SimResult"]


@dataclass
class SimResult:
    w: np.ndarray            # output words, element order
    v: np.ndarray
    cycles: int              # clock cycles simulated
    accepted: int            # beats accepted
    delivered: int           # beats delivered (out_valid & out_ready)
    latencies: list          # per beat: edges from acceptance to the delivering edge


def simulate_update(cfg, w, g, v, t: int, *, clip: int | None = None, lanes: int = 1,
                    lfsr_state=None, gap: float = 0.0, stall: float = 0.0, seed: int = 0,
                    max_cycles: int | None = None) -> SimResult:
    """Run ``len(w)`` elements through a ``lanes``-wide array.

    Parameters mirror `lns.madam_update` (``lfsr_state``: one start state a lane, loaded
    through ``lfsr_seed``/``lfsr_load`` before the first beat; it is not advanced in
    place).  ``gap`` and ``stall`` are the probabilities of an idle input cycle and of
    ``out_ready`` low.
    """
    w, g, v = (np.asarray(a, dtype=np.int64).ravel() for a in (w, g, v))
    n = len(w)
    beats = -(-n // lanes)
    pad = beats * lanes - n
    w, g, v = (np.concatenate([a, np.zeros(pad, np.int64)]) for a in (w, g, v))
    W = cfg.weight
    clip = W.e_max if clip is None else int(clip)
    dut = MadamUpdateArray(cfg, lanes)
    ww, wg, wv = W.total_bits, cfg.grad.total_bits, cfg.moment.total_bits

    def pack(arr, width, b):
        word = 0
        for k in range(lanes):
            word |= int(arr[b * lanes + k]) << (k * width)
        return word

    in_w = [pack(w, ww, b) for b in range(beats)]
    in_g = [pack(g, wg, b) for b in range(beats)]
    in_v = [pack(v, wv, b) for b in range(beats)]
    rng = random.Random(seed)
    out_w, out_v, acc_cycle, latencies = [], [], [], []
    counters = {"cycles": 0}
    limit = max_cycles or (beats * 20 + 100)
    stochastic = cfg.rounding == "stochastic"

    async def bench(ctx):
        ctx.set(dut.x_bc, cfg.bias_correction_code(t))
        ctx.set(dut.clip, clip)
        cycle = 0
        if stochastic:
            if lfsr_state is None or len(lfsr_state) != lanes:
                raise ValueError("stochastic rounding needs one lfsr_state a lane")
            ctx.set(dut.lfsr_seed, sum(int(s) << (32 * k) for k, s in enumerate(lfsr_state)))
            ctx.set(dut.lfsr_load, 1)
            await ctx.tick()
            ctx.set(dut.lfsr_load, 0)
            cycle += 1
        beat = 0
        while len(out_w) < beats:
            if cycle > limit:
                raise RuntimeError(f"no progress after {cycle} cycles "
                                   f"({beat} accepted, {len(out_w)} delivered)")
            valid = beat < beats and (gap == 0.0 or rng.random() >= gap)
            ready = stall == 0.0 or rng.random() >= stall
            ctx.set(dut.in_valid, valid)
            if valid:
                ctx.set(dut.in_w, in_w[beat])
                ctx.set(dut.in_g, in_g[beat])
                ctx.set(dut.in_v, in_v[beat])
            ctx.set(dut.out_ready, ready)
            if ready and ctx.get(dut.out_valid):
                out_w.append(ctx.get(dut.out_w))
                out_v.append(ctx.get(dut.out_v))
                latencies.append(cycle - acc_cycle[len(out_w) - 1])
            if valid and ctx.get(dut.in_ready):
                acc_cycle.append(cycle)
                beat += 1
            await ctx.tick()
            cycle += 1
        counters["cycles"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()

    def unpack(words, width):
        mask = (1 << width) - 1
        flat = [(word >> (k * width)) & mask for word in words for k in range(lanes)]
        return np.array(flat[:n], dtype=np.int64)

    return SimResult(unpack(out_w, ww), unpack(out_v, wv), counters["cycles"],
                     len(acc_cycle), len(out_w), latencies)
