"""The ``model`` engine: a cycle-accurate performance model of the update array.

It simulates no gates, only what decides the timing: the memory side of `sim.cycle.memory`
(stall PRNG, token bucket, source, sink) and the array's valid shift register with its one
enable ``en = ~out_valid | out_ready`` (`rtl.unit.MadamUpdateArray`: every stage register,
valids included, loads when ``en`` is high; ``in_ready = en``).  The data never changes
the timing, so the cycle count, the stall counts and the latencies are exactly the RTL's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import (SPLITMIX_GAMMA, SPLITMIX_MUL1, SPLITMIX_MUL2, SPLITMIX_SHIFTS,
                     STALL_SHIFT, MemorySide)

__all__ = ["model_cycles", "TIMING_KEYS"]

TIMING_KEYS = ("cycles", "accepted", "delivered", "stall_cycles", "bandwidth_wait_cycles",
               "latency_min", "latency_max")

_G = np.uint64(SPLITMIX_GAMMA)
_M1 = np.uint64(SPLITMIX_MUL1)
_M2 = np.uint64(SPLITMIX_MUL2)
_S1, _S2, _S3 = (np.uint64(s) for s in SPLITMIX_SHIFTS)
_SS = np.uint64(STALL_SHIFT)


@njit(cache=True)
def _timing(beats, steps, stages, thr, seed, rate, cap, cost, out):
    state = np.uint64(seed)
    threshold = np.uint64(thr)
    top = stages - 1
    mask = (1 << stages) - 1
    pipe = 0                      # bit i: valid of stage register i; out_valid = bit top
    credit = 0
    cycle = 0
    stalls = 0
    bw_wait = 0
    accepted = 0
    delivered = 0
    lat_min = 1 << 62
    lat_max = 0
    ring = np.zeros(256, dtype=np.int64)       # acceptance cycles of the beats in flight
    head = 0
    tail = 0
    for _ in range(steps):
        sent = 0
        got = 0
        while got < beats:
            state += _G
            z = state
            z = (z ^ (z >> _S1)) * _M1
            z = (z ^ (z >> _S2)) * _M2
            z = z ^ (z >> _S3)
            stall = (z >> _SS) < threshold
            stalls += stall
            if rate > 0:
                credit = min(credit + rate, cap)
            pending = sent < beats
            short = rate > 0 and credit < cost
            in_valid = pending and not stall and not short
            bw_wait += pending and not stall and short
            out_valid = (pipe >> top) & 1
            out_ready = not stall
            en = out_valid == 0 or out_ready
            if out_valid == 1 and out_ready:
                lat = cycle - ring[head & 255] - 1
                head += 1
                lat_min = min(lat_min, lat)
                lat_max = max(lat_max, lat)
                got += 1
            if en:
                if in_valid:
                    ring[tail & 255] = cycle
                    tail += 1
                    sent += 1
                    credit -= cost
                pipe = ((pipe << 1) | (1 if in_valid else 0)) & mask
            cycle += 1
        accepted += sent
        delivered += got
    out[0] = cycle
    out[1] = accepted
    out[2] = delivered
    out[3] = stalls
    out[4] = bw_wait
    out[5] = lat_min
    out[6] = lat_max


@njit(cache=True)
def _timing_no_stall(beats, steps, stages, rate, cap, cost, out):
    # Without random stalls out_ready is always high, so en is too: the pipeline never
    # holds, every latency is stages - 1, and only the bucket decides when beats enter.
    # One iteration a beat instead of a cycle: a beat short of credit waits the cycles the
    # bucket needs (the cap never binds before the credit reaches cost <= cap).
    credit = 0
    cycle = 0                     # the next cycle to run
    bw_wait = 0
    for _ in range(steps):
        for _ in range(beats):
            credit = min(credit + rate, cap)
            if credit < cost:
                k = (cost - credit + rate - 1) // rate
                bw_wait += k
                cycle += k
                credit = min(credit + k * rate, cap)
            credit -= cost        # accepted in `cycle`
            cycle += 1
        # the last beat, accepted in cycle - 1, is delivered in cycle - 1 + stages; the
        # drain cycles in between add credit but wait for nothing
        credit = min(credit + stages * rate, cap)
        cycle += stages
    out[0] = cycle
    out[4] = bw_wait


def model_cycles(beats: int, steps: int, stages: int, memory: MemorySide, *,
                 cycle_by_cycle: bool = False) -> dict:
    """The timing of ``steps`` passes of ``beats`` beats through a pipeline of ``stages``
    register stages (latency ``stages - 1``) fed by ``memory``.

    Returns a dict with `TIMING_KEYS`: ``latency_min``/``latency_max`` count edges from the
    one that accepted a beat to the one after which it is on ``out_valid`` (the unit's
    latency without stalls; more when a stalled sink holds the pipeline).
    ``cycle_by_cycle`` turns off the shortcuts taken without random stalls (closed form
    without a bandwidth limit, one iteration a beat with one); the tests check they agree.
    """
    if beats < 1 or steps < 1 or stages < 1:
        raise ValueError("beats, steps and stages must be positive")
    if memory.threshold == 0 and memory.rate_bits == 0 and not cycle_by_cycle:
        # Nothing ever waits: each step is `beats` accepting cycles plus the drain.
        return {"cycles": steps * (beats + stages), "accepted": steps * beats,
                "delivered": steps * beats, "stall_cycles": 0, "bandwidth_wait_cycles": 0,
                "latency_min": stages - 1, "latency_max": stages - 1}
    out = np.zeros(7, dtype=np.int64)
    if memory.threshold == 0 and not cycle_by_cycle:
        _timing_no_stall(beats, steps, stages, memory.rate_bits, memory.cap_bits,
                         memory.beat_bits, out)
        out[1:3] = steps * beats
        out[5:7] = stages - 1
        return dict(zip(TIMING_KEYS, (int(x) for x in out)))
    _timing(beats, steps, stages, np.uint64(memory.threshold), np.uint64(memory.seed64), memory.rate_bits,
            memory.cap_bits, memory.beat_bits, out)
    return dict(zip(TIMING_KEYS, (int(x) for x in out)))
