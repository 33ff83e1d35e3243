"""The one Amaranth simulator driver of the update arrays, and the ``amaranth`` evaluator.

`drive` runs steps of packed beats through an array (`MadamUpdateArray`, or the Adam / SGD
`AdditiveUpdateArray`: the words are named by role, ``in_<role>`` / ``out_<role>``) with a
valid/ready handshake decided each cycle by a `Handshake` (a producer's gaps and a
consumer's back-pressure).  Every user drives an array through it, so they load the LFSRs,
sample and count cycles the same way: `simulate_update` (the testbench's ``amaranth``
evaluator: one step, seeded random gaps and stalls), `rtl.additive_sim.simulate_additive`
(the same for Adam and SGD) and `sim.cycle.amaranth_engine` (several steps, the memory side
of `sim.cycle.memory`).

Cycle convention (the Verilator harness of `sim.cycle` uses the same): the simulator starts
in the reset state, cycle 0 is its first edge; with stochastic rounding ``lfsr_load`` is
high in cycle 0 only (a load at the edge that accepts a beat loads first, so the first beat
already advances from the seeds).  In each cycle the inputs are set, then an output is
taken if ``out_valid & out_ready`` and an input counted as accepted if ``in_valid &
in_ready`` (both sampled before the edge), then the clock ticks.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .lanes import LFSR_WIDTH, pack_beats, pack_lanes, unpack_beats

__all__ = ["simulate", "Simulated", "simulate_update", "SimResult", "drive", "output_roles", "Drive", "Handshake",
           "RandomHandshake", "PERIOD"]

PERIOD = 1e-8                 # simulated clock period (only VCD times depend on it)


class Handshake:
    """Decides the handshake of each cycle: override `cycle` (and `accept`)."""

    def cycle(self, pending: bool) -> tuple[bool, bool]:
        """``(in_valid, out_ready)`` of this cycle; ``pending``: a beat is waiting."""
        return pending, True

    def accept(self) -> None:
        """Called when the array accepted the beat offered this cycle."""


class RandomHandshake(Handshake):
    """Seeded idle input cycles (probability ``gap``) and ``out_ready`` low (``stall``)."""

    def __init__(self, gap: float = 0.0, stall: float = 0.0, seed: int = 0):
        self.gap, self.stall = gap, stall
        self.rng = random.Random(seed)

    def cycle(self, pending):
        # The order of the draws is part of the seed's meaning: valid first, then ready.
        valid = pending and (self.gap == 0.0 or self.rng.random() >= self.gap)
        ready = self.stall == 0.0 or self.rng.random() >= self.stall
        return valid, ready


@dataclass
class Drive:
    """What `drive` observed."""

    out: list = field(default_factory=list)       # per step: {role: output bus words, beat
                                                  # order}
    cycles: int = 0                               # clock edges simulated
    accepted: int = 0                             # beats accepted
    delivered: int = 0                            # beats delivered (out_valid & out_ready)
    latencies: list = field(default_factory=list)  # per beat: edges from acceptance to the
    seconds: float = 0.0                           # delivering edge; wall time of the run


def output_roles(dut) -> list:
    """The roles of the words an array writes (``out_<role>`` ports): its rule's
    ``output_roles`` (mixed-precision Adam's ``wlow`` too), else w, m, v in that order."""
    cfg = getattr(dut, "cfg", None)
    if cfg is not None and hasattr(cfg, "output_roles"):
        return [k for k in cfg.output_roles if hasattr(dut, f"out_{k}")]
    return [k for k in ("w", "m", "v") if hasattr(dut, f"out_{k}")]


def drive(dut, *, beats: int, steps: int, held, inputs, handshake: Handshake,
          lfsr_state=None, max_cycles: int | None = None, max_idle: int | None = None,
          vcd=None, vcd_cycles: int = 0, progress=None) -> Drive:
    """Run ``steps`` steps of ``beats`` beats each through ``dut`` (an update array).

    Parameters
    ----------
    held : callable(step) -> {port: int}
        The ports held for a whole step (Madam: ``x_bc`` and ``clip``; Adam: ``x_bc1``,
        ``x_bc2``).
    inputs : callable(step, previous) -> {role: packed words}
        The packed input words of a step by role (port ``in_<role>``), one a beat;
        ``previous`` is ``{role: words}`` the step before wrote (``None`` for the first),
        so a step can read what the last wrote.
    handshake : Handshake
    lfsr_state : one start state a lane, required when the array has ``lfsr_seed``.
    max_cycles, max_idle : raise RuntimeError past this many cycles in all / without any
        valid input or output.
    vcd, vcd_cycles : write the first ``vcd_cycles`` cycles as a waveform.
    progress : callable(done_beats, total_beats, cycle), called every 2000 cycles.
    """
    from amaranth.sim import Simulator

    stochastic = hasattr(dut, "lfsr_seed")
    roles = output_roles(dut)
    if stochastic and (lfsr_state is None or len(lfsr_state) != dut.lanes):
        raise ValueError("stochastic rounding needs one lfsr_state a lane")
    r = Drive()

    async def bench(ctx):
        cycle = idle = 0
        inflight = deque()
        if stochastic:
            ctx.set(dut.lfsr_seed, pack_lanes(lfsr_state, LFSR_WIDTH))
        previous = None
        for s in range(steps):
            words = inputs(s, previous)
            got = {k: [] for k in roles}
            for port, value in held(s).items():
                ctx.set(getattr(dut, port), int(value))
            sent = 0
            while len(got["w"]) < beats:
                if max_cycles is not None and cycle > max_cycles:
                    raise RuntimeError(f"no progress after {cycle} cycles "
                                       f"({r.accepted + sent} accepted, "
                                       f"{r.delivered + len(got['w'])} delivered)")
                in_valid, out_ready = handshake.cycle(sent < beats)
                ctx.set(dut.in_valid, in_valid)
                if in_valid:
                    for k, beat_words in words.items():
                        # (a step's written-only words, such as wlow, feed no input)
                        if hasattr(dut, f"in_{k}"):
                            ctx.set(getattr(dut, f"in_{k}"), beat_words[sent])
                ctx.set(dut.out_ready, out_ready)
                if stochastic:
                    ctx.set(dut.lfsr_load, cycle == 0)
                out_valid = ctx.get(dut.out_valid)
                if out_ready and out_valid:
                    for k in roles:
                        got[k].append(ctx.get(getattr(dut, f"out_{k}")))
                    r.latencies.append(cycle - inflight.popleft())
                if in_valid and ctx.get(dut.in_ready):
                    inflight.append(cycle)
                    sent += 1
                    handshake.accept()
                idle = 0 if in_valid or out_valid else idle + 1
                if max_idle is not None and idle > max_idle:
                    raise RuntimeError(f"no progress for {idle} cycles at cycle {cycle}")
                await ctx.tick()
                cycle += 1
                if progress is not None and cycle % 2000 == 0:
                    progress(r.delivered + len(got["w"]), beats * steps, cycle)
            r.accepted += sent
            r.delivered += len(got["w"])
            r.out.append(got)
            previous = got
        r.cycles = cycle

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(bench)
    t0 = time.perf_counter()
    if vcd is not None:
        with sim.write_vcd(str(vcd)):
            sim.run_until(PERIOD * vcd_cycles)
    sim.run()
    r.seconds = time.perf_counter() - t0
    return r


@dataclass
class SimResult:
    w: np.ndarray            # output words, element order
    v: np.ndarray
    cycles: int              # clock cycles simulated
    accepted: int            # beats accepted
    delivered: int           # beats delivered (out_valid & out_ready)
    latencies: list          # per beat: edges from acceptance to the delivering edge


def simulate(cfg, words: dict, t: int = 1, held: dict | None = None, *, lanes: int = 1,
             lfsr_state=None, gap: float = 0.0, stall: float = 0.0, seed: int = 0,
             max_cycles: int | None = None, dut=None) -> "Simulated":
    """Run the elements of ``words`` (``{role: words}`` of ``cfg.WORD_ROLES``, one length)
    through a ``lanes``-wide array of any rule at step ``t`` (the ``amaranth`` evaluator).

    ``held``: the held ports (default ``cfg.held(t)``); ``lfsr_state``: one start state a
    lane, loaded through ``lfsr_seed``/``lfsr_load`` in the first cycle (not advanced in
    place); ``gap``/``stall``: probabilities of an idle input cycle and of ``out_ready``
    low (`RandomHandshake`); ``dut``: an array to drive instead of a new
    `rtl.array.UpdateArray` (a faulty one, say).  Returns the written words by role in
    element order and what the driver observed about the timing."""
    from .array import UpdateArray
    fmts = cfg.word_formats
    arrays = {k: np.asarray(words[k], dtype=np.int64).ravel() for k in cfg.WORD_ROLES}
    n = len(arrays["w"])
    beats = -(-n // lanes)
    packed = {k: pack_beats(arrays[k], fmts[k].total_bits, lanes) for k in cfg.WORD_ROLES}
    held = cfg.held(t) if held is None else held
    dut = dut if dut is not None else UpdateArray(cfg, lanes)
    r = drive(dut, beats=beats, steps=1, held=lambda s: held,
              inputs=lambda s, previous: packed, handshake=RandomHandshake(gap, stall, seed),
              lfsr_state=lfsr_state if cfg.is_stochastic else None,
              max_cycles=max_cycles or (beats * 20 + 200))
    out = {k: unpack_beats(w, fmts[k].total_bits, lanes, n) for k, w in r.out[0].items()}
    return Simulated(out, r.cycles, r.accepted, r.delivered, r.latencies)


@dataclass
class Simulated:
    """What `simulate` returns."""

    out: dict                # role -> output words, element order
    cycles: int              # clock cycles simulated
    accepted: int            # beats accepted
    delivered: int           # beats delivered (out_valid & out_ready)
    latencies: list          # per beat: edges from acceptance to the delivering edge


def simulate_update(cfg, w, g, v, t: int, *, clip: int | None = None, lanes: int = 1,
                    lfsr_state=None, gap: float = 0.0, stall: float = 0.0, seed: int = 0,
                    max_cycles: int | None = None) -> SimResult:
    """`simulate` of a Madam array with the arguments of `lns.madam_update` (``clip``:
    the clip word, default the weight format's largest); returns a `SimResult`."""
    r = simulate(cfg, {"w": w, "g": g, "v": v}, t, cfg.held(t, clip=clip), lanes=lanes,
                 lfsr_state=lfsr_state, gap=gap, stall=stall, seed=seed,
                 max_cycles=max_cycles or (-(-len(np.ravel(w)) // lanes) * 20 + 100))
    return SimResult(r.out["w"], r.out["v"], r.cycles, r.accepted, r.delivered, r.latencies)
