"""The ``model`` engine: a cycle-accurate performance model of the update array.

It simulates no gates, only what decides the timing: the memory side of `sim.cycle.memory`
(stall PRNG, token bucket, source, sink) and the array's valid shift register with its one
enable ``en = ~out_valid | out_ready`` (`rtl.array.UpdateArray`: every stage register,
valids included, loads when ``en`` is high; ``in_ready = en``), or with ``skid`` the
registered ready of `rtl._common.stream_handshake` (``en = ~hold``; the skid buffer fills
when the pipeline advances past an output that is not taken, and empties when it is).  The
data never changes the timing, so the cycle count, the stall counts and the latencies are
exactly the RTL's.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numba import njit

from .memory import (SPLITMIX_GAMMA, SPLITMIX_MUL1, SPLITMIX_MUL2, SPLITMIX_SHIFTS,
                     STALL_SHIFT, MemorySide)

__all__ = ["model_cycles", "model_method", "Method", "TIMING_KEYS", "SLICE"]

TIMING_KEYS = ("cycles", "accepted", "delivered", "stall_cycles", "bandwidth_wait_cycles",
               "latency_min", "latency_max")

_G = np.uint64(SPLITMIX_GAMMA)
_M1 = np.uint64(SPLITMIX_MUL1)
_M2 = np.uint64(SPLITMIX_MUL2)
_S1, _S2, _S3 = (np.uint64(s) for s in SPLITMIX_SHIFTS)
_SS = np.uint64(STALL_SHIFT)


# The loops run in slices of at most `SLICE` cycles (beats for the per-beat loop) and
# return to Python between them, so a long run can be interrupted (Ctrl-C: Numba code does
# not see signals) and can show its progress.  Their whole state lives in arrays and is
# carried from slice to slice: the result does not depend on the slice length.
SLICE = 1 << 24           # ~0.1 s of the cycle loop on this machine
# The cycle-by-cycle loop keeps the stage registers' valid bits, and the acceptance cycles of
# the beats in flight (at most stages + 1 with the skid buffer), in rings of RING entries;
# the closed-form and per-beat shortcuts model no register.
RING = 1024
PER_CYCLE_STAGES_MAX = RING - 2

# indices into the int64 state array of `_timing`
_CYCLE, _ACC, _DEL, _STALLS, _BW, _LMIN, _LMAX, _PIPE, _CREDIT, _HEAD, _TAIL, _STEP, \
    _SENT, _GOT, _HOLD = range(15)
_NSTATE = 15


@njit(cache=True)
def _timing(beats, steps, stages, thr, rate, cap, cost, st, rng, ring, valid, budget, skid):
    # Runs at most `budget` cycles from the state (st, rng, ring, valid); True when all
    # steps are done.  The stage registers shift together (one enable), so their valid bits
    # are a FIFO: `valid[k % RING]` is the bit the k-th enabled cycle took in, and the last
    # stage holds the one taken in `stages` enabled cycles before.
    state = rng[0]
    threshold = np.uint64(thr)
    wrap = RING - 1
    cycle = st[_CYCLE]
    accepted = st[_ACC]
    delivered = st[_DEL]
    stalls = st[_STALLS]
    bw_wait = st[_BW]
    lat_min = st[_LMIN]
    lat_max = st[_LMAX]
    pipe = st[_PIPE]              # enabled cycles so far: the next slot of `valid`
    credit = st[_CREDIT]
    head = st[_HEAD]              # ring: acceptance cycles of the beats in flight
    tail = st[_TAIL]
    s = st[_STEP]
    sent = st[_SENT]
    got = st[_GOT]
    hold = st[_HOLD]              # skid: the skid buffer holds the output beat
    end = cycle + budget
    done = False
    while True:
        if got >= beats:          # step s complete
            accepted += sent
            delivered += got
            s += 1
            sent = 0
            got = 0
        if s >= steps:
            done = True
            break
        if cycle >= end:
            break
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
        top_valid = valid[(pipe - stages) & wrap]
        out_ready = not stall
        if skid:
            out_valid = hold | top_valid
            en = hold == 0
            hold = (1 - out_ready) if hold else (top_valid & (1 - out_ready))
        else:
            out_valid = top_valid
            en = out_valid == 0 or out_ready
        if out_valid == 1 and out_ready:
            lat = cycle - ring[head & wrap] - 1
            head += 1
            lat_min = min(lat_min, lat)
            lat_max = max(lat_max, lat)
            got += 1
        if en:
            if in_valid:
                ring[tail & wrap] = cycle
                tail += 1
                sent += 1
                credit -= cost
            valid[pipe & wrap] = 1 if in_valid else 0
            pipe += 1
        cycle += 1
    rng[0] = state
    st[_CYCLE] = cycle
    st[_ACC] = accepted
    st[_DEL] = delivered
    st[_STALLS] = stalls
    st[_BW] = bw_wait
    st[_LMIN] = lat_min
    st[_LMAX] = lat_max
    st[_PIPE] = pipe
    st[_HOLD] = hold
    st[_CREDIT] = credit
    st[_HEAD] = head
    st[_TAIL] = tail
    st[_STEP] = s
    st[_SENT] = sent
    st[_GOT] = got
    return done


@njit(cache=True)
def _timing_no_stall(beats, steps, stages, rate, cap, cost, st, budget):
    # Without random stalls out_ready is always high, so en is too: the pipeline never
    # holds, every latency is stages - 1, and only the bucket decides when beats enter.
    # One iteration a beat instead of a cycle: a beat short of credit waits the cycles the
    # bucket needs (the cap never binds before the credit reaches cost <= cap).
    # State: st = [cycle (the next to run), bandwidth waits, credit, step, beat of the
    # step]; runs at most `budget` beats, True when all steps are done.
    cycle = st[0]
    bw_wait = st[1]
    credit = st[2]
    s = st[3]
    b = st[4]
    n = 0
    while s < steps and n < budget:
        todo = min(beats - b, budget - n)
        for _ in range(todo):
            credit = min(credit + rate, cap)
            if credit < cost:
                k = (cost - credit + rate - 1) // rate
                bw_wait += k
                cycle += k
                credit = min(credit + k * rate, cap)
            credit -= cost        # accepted in `cycle`
            cycle += 1
        n += todo
        b += todo
        if b == beats:
            # the last beat, accepted in cycle - 1, is delivered in cycle - 1 + stages;
            # the drain cycles in between add credit but wait for nothing
            credit = min(credit + stages * rate, cap)
            cycle += stages
            b = 0
            s += 1
    st[0] = cycle
    st[1] = bw_wait
    st[2] = credit
    st[3] = s
    st[4] = b
    return s >= steps


class Method(StrEnum):
    """How a timing is computed: with no loop at all (no stalls, no bandwidth limit), one
    iteration a beat (no stalls), or cycle by cycle (every RTL engine; the model with
    random stalls)."""

    CLOSED_FORM = "closed form"
    PER_BEAT = "per beat"
    PER_CYCLE = "per cycle"

    @property
    def timed(self) -> bool:
        """Whether a loop runs, so that a rate (cycles or weights a second) means something."""
        return self is not Method.CLOSED_FORM


def model_method(memory: MemorySide, cycle_by_cycle: bool = False) -> Method:
    """How `model_cycles` computes the timing for ``memory`` (`Method`)."""
    if memory.threshold == 0 and not cycle_by_cycle:
        return Method.CLOSED_FORM if memory.rate_bits == 0 else Method.PER_BEAT
    return Method.PER_CYCLE


def _closed_form(beats, steps, stages, memory, total, slice_len, progress) -> dict:
    # Nothing ever waits: each step is `beats` accepting cycles plus the drain.
    return {"cycles": steps * (beats + stages), "accepted": total,
            "delivered": total, "stall_cycles": 0, "bandwidth_wait_cycles": 0,
            "latency_min": stages - 1, "latency_max": stages - 1}


def _per_beat(beats, steps, stages, memory, total, slice_len, progress) -> dict:
    st = np.zeros(5, dtype=np.int64)
    while not _timing_no_stall(beats, steps, stages, memory.rate_bits, memory.cap_bits,
                               memory.beat_bits, st, slice_len):
        if progress is not None:
            progress(int(st[3]) * beats + int(st[4]), total, int(st[0]))
    return {"cycles": int(st[0]), "accepted": total, "delivered": total,
            "stall_cycles": 0, "bandwidth_wait_cycles": int(st[1]),
            "latency_min": stages - 1, "latency_max": stages - 1}


# The timings without a cycle loop (`Method.PER_CYCLE` runs the loop of `model_cycles`).
_SHORTCUTS = {Method.CLOSED_FORM: _closed_form, Method.PER_BEAT: _per_beat}


def model_cycles(beats: int, steps: int, stages: int, memory: MemorySide, *,
                 cycle_by_cycle: bool = False, progress=None, slice_len: int = SLICE,
                 skid: bool = False) -> dict:
    """The timing of ``steps`` passes of ``beats`` beats through a pipeline of ``stages``
    register stages (latency ``stages - 1``) fed by ``memory``.

    Returns a dict with `TIMING_KEYS`: ``latency_min``/``latency_max`` count edges from the
    one that accepted a beat to the one after which it is on ``out_valid`` (the unit's
    latency without stalls; more when a stalled sink holds the pipeline).
    ``cycle_by_cycle`` turns off the shortcuts taken without random stalls (closed form
    without a bandwidth limit, one iteration a beat with one); the tests check they agree.
    ``skid``: the array's registered ready (the module docstring; without stalls the skid
    buffer never fills, so the shortcuts hold for it too).
    The loops run in slices of ``slice_len`` cycles (beats), returning to Python between
    them: Ctrl-C stops a long run (KeyboardInterrupt), and ``progress`` (if given) is called
    as ``progress(done_beats, total_beats, cycle)`` after each slice.
    """
    if beats < 1 or steps < 1 or stages < 1:
        raise ValueError("beats, steps and stages must be positive")
    slice_len = int(slice_len)
    if slice_len < 1:
        raise ValueError(f"slice_len must be positive, not {slice_len}")
    total = beats * steps
    shortcut = _SHORTCUTS.get(model_method(memory, cycle_by_cycle))
    if shortcut is not None:                  # no stage register modelled: any depth
        return shortcut(beats, steps, stages, memory, total, slice_len, progress)
    if not 1 <= stages <= PER_CYCLE_STAGES_MAX:
        raise ValueError(f"the model holds at most {PER_CYCLE_STAGES_MAX} pipeline stages "
                         f"cycle by cycle, not {stages}")
    st = np.zeros(_NSTATE, dtype=np.int64)
    st[_LMIN] = 1 << 62
    rng = np.array([memory.seed64], dtype=np.uint64)
    ring = np.zeros(RING, dtype=np.int64)
    valid = np.zeros(RING, dtype=np.int64)
    while not _timing(beats, steps, stages, np.uint64(memory.threshold), memory.rate_bits,
                      memory.cap_bits, memory.beat_bits, st, rng, ring, valid, slice_len,
                      bool(skid)):
        if progress is not None:
            progress(int(st[_DEL] + st[_GOT]), total, int(st[_CYCLE]))
    return dict(zip(TIMING_KEYS, (int(st[i]) for i in (_CYCLE, _ACC, _DEL, _STALLS, _BW,
                                                        _LMIN, _LMAX))))
