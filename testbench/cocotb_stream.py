"""cocotb test module of the stream path (run by `testbench.stream` through cocotb's Python
runner; not a pytest module), for any rule's unit.

A driver sends the vectors with random gaps in ``in_valid`` and keeps each beat until it is
accepted; ``out_ready`` has random back-pressure; a monitor collects every output beat;
the scoreboard compares them in order with the model run over the same stream (the
lanes' LFSRs from the set's seeds).  The held ports (``cfg.HELD``) change between groups
only once the pipeline is drained.  Writes happen after a falling edge; handshakes are
sampled in the ReadOnly phase that follows the writes, i.e. on the values the next rising
edge sees.

Environment: ``LNSMADAM_STREAM_VECTORS`` (a vector file), ``LNSMADAM_STREAM_RESULT``
(where the JSON result goes), ``LNSMADAM_STREAM_GAP``/``_BP`` (probabilities),
``LNSMADAM_STREAM_SEED``, ``LNSMADAM_STREAM_LATENCY``, ``LNSMADAM_STREAM_MAXERR``.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from rtl.lanes import LFSR_WIDTH, pack_lanes, unpack_lanes
from testbench.vectors import expected_outputs, read


def _value(handle):
    try:
        return int(handle.value)
    except ValueError:          # x or z bits
        return -1


@cocotb.test()
async def stream(dut):
    env = os.environ
    vs = read(env["LNSMADAM_STREAM_VECTORS"])
    gap, bp = float(env.get("LNSMADAM_STREAM_GAP", "0.2")), float(env.get("LNSMADAM_STREAM_BP", "0.3"))
    rng = random.Random(int(env.get("LNSMADAM_STREAM_SEED", "1")))
    latency = int(env.get("LNSMADAM_STREAM_LATENCY", "8"))
    maxerr = int(env.get("LNSMADAM_STREAM_MAXERR", "10"))
    c, L = vs.cfg, vs.lanes
    bits = {k: f.total_bits for k, f in c.word_formats.items()}
    ins, outs = vs.in_roles, vs.out_roles
    # The scoreboard's reference: the model over the whole stream, in order.
    exp = expected_outputs(c, vs.t, vs.tensor, vs.words, lanes=L, lfsr_seed=vs.lfsr_seed)
    held = vs.held_columns()
    widths = {h: len(getattr(dut, h)) for h in c.HELD}
    n, nbeats = len(vs), len(vs) // L
    stochastic = vs.stochastic

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for name in ("in_valid", "out_ready", *(f"in_{k}" for k in ins), *c.HELD):
        getattr(dut, name).value = 0
    if stochastic:
        dut.lfsr_load.value = 0
        dut.lfsr_seed.value = pack_lanes(vs.lfsr_seed, LFSR_WIDTH)
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
    if stochastic:
        dut.lfsr_load.value = 1
        await FallingEdge(dut.clk)
        dut.lfsr_load.value = 0
        await FallingEdge(dut.clk)

    got = {k: [] for k in outs}
    details, protocol = [], []
    sent = recv = idle = hold = tail = 0
    cur = None
    valid = False
    finishing = False
    timeout = 2000 + 4 * latency
    while True:
        # ---- drive (after the falling edge) ----
        if valid:
            pass                                   # the beat stays until accepted
        elif sent < nbeats:
            i = sent * L
            key = tuple(int(held[h][i]) for h in c.HELD)
            if key != cur:
                if sent == recv:
                    cur = key
                    for h, value in zip(c.HELD, key):
                        getattr(dut, h).value = value & ((1 << widths[h]) - 1)
                    hold = 2
            elif hold > 0:
                hold -= 1
            elif rng.random() >= gap:
                valid = True
                for k in ins:
                    getattr(dut, f"in_{k}").value = pack_lanes(vs.words[k][i:i + L], bits[k])
        dut.in_valid.value = int(valid)
        ready = finishing or rng.random() >= bp
        dut.out_ready.value = int(ready)
        # ---- sample what the next rising edge will see ----
        await ReadOnly()
        idle += 1
        if valid and _value(dut.in_ready) == 1:
            sent += 1
            valid = False
            idle = 0
        if ready and _value(dut.out_valid) == 1:
            idle = 0
            if recv >= nbeats:
                protocol.append(f"EXTRA output beat {recv} after the last")
            else:
                for k in outs:
                    word = _value(getattr(dut, f"out_{k}"))
                    got[k] += unpack_lanes(word, bits[k], L) if word >= 0 else [-1] * L
            recv += 1
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        if recv >= nbeats and not finishing:
            finishing = True
        if finishing:
            tail += 1
            if tail > latency + 8:
                break
        elif idle > timeout:
            protocol.append(f"TIMEOUT no handshake for {idle} cycles: sent {sent}, "
                            f"received {recv} of {nbeats} beats")
            break

    mismatches = 0
    received = min(len(got[outs[0]]), n)
    for i in range(received):
        if any(got[k][i] != exp[k][i] for k in outs):
            mismatches += 1
            if len(details) < maxerr:
                details.append([i, {k: got[k][i] for k in outs},
                                {k: int(exp[k][i]) for k in outs}])
    mismatches += (n - received) + L * sum(p.startswith("EXTRA") for p in protocol)
    result = {"vectors": n, "mismatches": mismatches, "received": received,
              "details": details, "protocol": protocol}
    with open(env["LNSMADAM_STREAM_RESULT"], "w") as f:
        json.dump(result, f)
    assert mismatches == 0 and not protocol, f"{mismatches} mismatches, protocol {protocol}"
