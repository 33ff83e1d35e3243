"""The ``amaranth`` engine: `rtl.MadamUpdateArray` in Amaranth's simulator, driven by the
memory side of `sim.cycle.memory` (the same loop as the Verilator harness, in Python).

Slow (a few thousand cycles a second): small runs and debugging.  The Amaranth simulator
starts in the reset state, so there is no reset edge; cycle 0 is its first edge, as in the
harness.
"""

from __future__ import annotations

import time

import numpy as np

from .memory import MemorySide, MemoryState

__all__ = ["run_amaranth"]

_PERIOD = 1e-8


def run_amaranth(cfg, lanes: int, memory: MemorySide, *, x_bc, lfsr_seeds, w0, v0, g,
                 clip: int, vcd=None, vcd_cycles: int = 0, progress=None):
    """Same contract as `sim.cycle.verilator_engine.run_harness` (build seconds are 0).

    ``progress``: called as ``progress(done_beats, total_beats, cycle)`` now and then.
    """
    from amaranth.sim import Simulator
    from rtl import MadamUpdateArray

    dut = MadamUpdateArray(cfg, lanes)
    steps, P = g.shape
    beats = P // lanes
    widths = (cfg.weight.total_bits, cfg.grad.total_bits, cfg.moment.total_bits)

    def pack(arr, width):          # [beats*lanes] -> one int a beat
        a = np.asarray(arr, dtype=object).reshape(beats, lanes)
        return [sum(int(x) << (k * width) for k, x in enumerate(row)) for row in a]

    out = np.zeros((steps, 2, P), dtype=np.int64)
    timing = {}
    stochastic = cfg.rounding == "stochastic"

    async def bench(ctx):
        mem = MemoryState(memory)
        cycle = accepted = delivered = idle = 0
        lat_min, lat_max = 1 << 62, 0
        inflight = []
        ctx.set(dut.clip, clip)
        if stochastic:
            ctx.set(dut.lfsr_seed, sum(int(s) << (32 * k) for k, s in enumerate(lfsr_seeds)))
        cw, cv = w0, v0
        for s in range(steps):
            in_w, in_g, in_v = pack(cw, widths[0]), pack(g[s], widths[1]), pack(cv, widths[2])
            ow, ov = [], []
            ctx.set(dut.x_bc, int(x_bc[s]))
            sent = got = 0
            while got < beats:
                stall, in_valid = mem.cycle(sent < beats)
                ctx.set(dut.in_valid, in_valid)
                if in_valid:
                    ctx.set(dut.in_w, in_w[sent])
                    ctx.set(dut.in_g, in_g[sent])
                    ctx.set(dut.in_v, in_v[sent])
                ctx.set(dut.out_ready, not stall)
                if stochastic:
                    ctx.set(dut.lfsr_load, cycle == 0)
                if ctx.get(dut.out_valid) and not stall:
                    ow.append(ctx.get(dut.out_w))
                    ov.append(ctx.get(dut.out_v))
                    lat = cycle - inflight.pop(0) - 1
                    lat_min, lat_max = min(lat_min, lat), max(lat_max, lat)
                    got += 1
                if in_valid and ctx.get(dut.in_ready):
                    inflight.append(cycle)
                    sent += 1
                    mem.accept()
                idle = 0 if in_valid or ctx.get(dut.out_valid) else idle + 1
                if idle > 1_000_000:
                    raise RuntimeError(f"no progress for {idle} cycles at cycle {cycle}")
                await ctx.tick()
                cycle += 1
                if progress is not None and cycle % 2000 == 0:
                    progress(delivered + got, beats * steps, cycle)
            accepted += sent
            delivered += got
            for i, (words, width) in enumerate(((ow, widths[0]), (ov, widths[2]))):
                mask = (1 << width) - 1
                out[s, i] = [(wd >> (k * width)) & mask for wd in words for k in range(lanes)]
            cw, cv = out[s, 0], out[s, 1]
        timing.update(cycles=cycle, accepted=accepted, delivered=delivered,
                      stall_cycles=mem.stalls, bandwidth_wait_cycles=mem.bandwidth_waits,
                      latency_min=lat_min, latency_max=lat_max)

    sim = Simulator(dut)
    sim.add_clock(_PERIOD)
    sim.add_testbench(bench)
    t0 = time.perf_counter()
    if vcd is not None:
        with sim.write_vcd(str(vcd)):
            sim.run_until(_PERIOD * vcd_cycles)
    sim.run()
    seconds = time.perf_counter() - t0
    return out, timing, seconds, 0.0
