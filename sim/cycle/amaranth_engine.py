"""The ``amaranth`` engine: `rtl.MadamUpdateArray` in Amaranth's simulator through the one
driver `rtl.sim.drive`, its handshake decided by the memory side of `sim.cycle.memory` (the
same loop as the Verilator harness).

Slow (a few thousand cycles a second): small runs and debugging.  The Amaranth simulator
starts in the reset state, so there is no reset edge; cycle 0 is its first edge, as in the
harness.
"""

from __future__ import annotations

import numpy as np

from .memory import MemorySide, MemoryState

__all__ = ["run_amaranth"]


def run_amaranth(cfg, lanes: int, memory: MemorySide, *, x_bc, lfsr_seeds, w0, v0, g,
                 clip: int, vcd=None, vcd_cycles: int = 0, progress=None):
    """Same contract as `sim.cycle.verilator_engine.run_harness` (build seconds are 0).

    ``progress``: called as ``progress(done_beats, total_beats, cycle)`` now and then.
    """
    from rtl import MadamUpdateArray
    from rtl.lanes import pack_beats, unpack_beats
    from rtl.sim import Handshake, drive

    steps, P = g.shape
    beats = P // lanes
    ww, wg, wv = cfg.weight.total_bits, cfg.grad.total_bits, cfg.moment.total_bits
    mem = MemoryState(memory)

    class MemoryHandshake(Handshake):
        def cycle(self, pending):
            stall, in_valid = mem.cycle(pending)
            return in_valid, not stall

        def accept(self):
            mem.accept()

    def inputs(s, previous):
        # Step s + 1 reads what step s wrote (the array's own output words, still packed).
        if previous is None:
            previous = {"w": pack_beats(w0, ww, lanes), "v": pack_beats(v0, wv, lanes)}
        return {"w": previous["w"], "g": pack_beats(g[s], wg, lanes), "v": previous["v"]}

    r = drive(MadamUpdateArray(cfg, lanes), beats=beats, steps=steps,
              held=lambda s: {"x_bc": x_bc[s], "clip": clip},
              inputs=inputs, handshake=MemoryHandshake(),
              lfsr_state=lfsr_seeds if cfg.is_stochastic else None,
              max_idle=1_000_000, vcd=vcd, vcd_cycles=vcd_cycles, progress=progress)
    out = np.zeros((steps, 2, P), dtype=np.int64)
    for s in range(steps):
        out[s, 0] = unpack_beats(r.out[s]["w"], ww, lanes)
        out[s, 1] = unpack_beats(r.out[s]["v"], wv, lanes)
    # The harness's latency is one less than the driver's (edges from acceptance to the
    # delivering edge): the pipeline's register stages between input and output.
    lat = [x - 1 for x in r.latencies]
    timing = dict(cycles=r.cycles, accepted=r.accepted, delivered=r.delivered,
                  stall_cycles=mem.stalls, bandwidth_wait_cycles=mem.bandwidth_waits,
                  latency_min=min(lat, default=1 << 62), latency_max=max(lat, default=0))
    return out, timing, r.seconds, 0.0
