"""The ``amaranth`` engine: the update array (`rtl.MadamUpdateArray`, or
`rtl.AdditiveUpdateArray` for Adam and SGD) in Amaranth's simulator through the one driver
`rtl.sim.drive`, its handshake decided by the memory side of `sim.cycle.memory` (the same
loop as the Verilator harness), its words by role as `sim.cycle.stream` says.

Slow (a few thousand cycles a second): small runs and debugging.  The Amaranth simulator
starts in the reset state, so there is no reset edge; cycle 0 is its first edge, as in the
harness.
"""

from __future__ import annotations

import numpy as np

from .memory import MemorySide, MemoryState, beat_bits
from .stream import check_moved_bits, stream_of

__all__ = ["run_amaranth"]


def run_amaranth(cfg, lanes: int, memory: MemorySide, *, lfsr_seeds, g, held, state0,
                 vcd=None, vcd_cycles: int = 0, progress=None):
    """Same contract as `sim.cycle.verilator_engine.run_harness` (build seconds are 0).

    ``held``: ``[T][H]``, the ports held each step (`sim.cycle.stream.Stream.held_table`);
    ``state0``: ``{role: [P]}``, the words of step 1; ``g``: ``[T][P]``.
    ``progress``: called as ``progress(done_beats, total_beats, cycle)`` now and then.
    """
    from amaranth.hdl import Shape
    from rtl.lanes import pack_beats, unpack_beats
    from rtl.sim import Handshake, drive

    stream = stream_of(cfg)
    steps, P = g.shape
    beats = P // lanes
    width = stream.widths
    dut = stream.array(lanes)
    check_moved_bits(cfg, lambda port: Shape.cast(dut.signature.members[port].shape).width,
                     *beat_bits(cfg, lanes))
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
            previous = {k: pack_beats(state0[k], width[k], lanes) for k in stream.state_roles}
        return {**previous, "g": pack_beats(g[s], width["g"], lanes)}

    r = drive(dut, beats=beats, steps=steps,
              held=lambda s: dict(zip(stream.held_ports, (int(x) for x in held[s]))),
              inputs=inputs, handshake=MemoryHandshake(),
              lfsr_state=lfsr_seeds if cfg.is_stochastic else None,
              max_idle=1_000_000, vcd=vcd, vcd_cycles=vcd_cycles, progress=progress)
    out = np.zeros((steps, len(stream.state_roles), P), dtype=np.int64)
    for s in range(steps):
        for i, k in enumerate(stream.state_roles):
            out[s, i] = unpack_beats(r.out[s][k], width[k], lanes)
    # The harness's latency is one less than the driver's (edges from acceptance to the
    # delivering edge): the pipeline's register stages between input and output.
    lat = [x - 1 for x in r.latencies]
    timing = dict(cycles=r.cycles, accepted=r.accepted, delivered=r.delivered,
                  stall_cycles=mem.stalls, bandwidth_wait_cycles=mem.bandwidth_waits,
                  latency_min=min(lat, default=1 << 62), latency_max=max(lat, default=0))
    return out, timing, r.seconds, 0.0
