"""cocotb test module of the stream path (run by `testbench.stream` through cocotb's Python
runner; not a pytest module).

A driver sends the vectors with random gaps in ``in_valid`` and keeps each beat until it is
accepted; ``out_ready`` has random back-pressure; a monitor collects every output beat;
the scoreboard compares them in order with the Numba model run over the same stream (the
lanes' LFSRs from the set's seeds).  ``x_bc``/``clip`` change between groups only once the
pipeline is drained.  Writes happen after a falling edge; handshakes are sampled in the
ReadOnly phase that follows the writes, i.e. on the values the next rising edge sees.

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
    ww, wg, wv = c.weight.total_bits, c.grad.total_bits, c.moment.total_bits
    wx = len(dut.x_bc)
    # The scoreboard's reference: the Numba model over the whole stream, in order.
    exp_w, exp_v = expected_outputs(c, vs.t, vs.clip, vs.w, vs.g, vs.v, lanes=L,
                                    lfsr_seed=vs.lfsr_seed)
    x_bc = vs.x_bc()
    n, nbeats = len(vs), len(vs) // L
    stochastic = vs.stochastic

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for name in ("in_valid", "in_w", "in_g", "in_v", "out_ready", "x_bc", "clip"):
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

    got_w, got_v, details, protocol = [], [], [], []
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
            key = (int(x_bc[i]), int(vs.clip[i]))
            if key != cur:
                if sent == recv:
                    cur = key
                    dut.x_bc.value = key[0] & ((1 << wx) - 1)
                    dut.clip.value = key[1]
                    hold = 2
            elif hold > 0:
                hold -= 1
            elif rng.random() >= gap:
                valid = True
                dut.in_w.value = pack_lanes(vs.w[i:i + L], ww)
                dut.in_g.value = pack_lanes(vs.g[i:i + L], wg)
                dut.in_v.value = pack_lanes(vs.v[i:i + L], wv)
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
            ow, ov = _value(dut.out_w), _value(dut.out_v)
            if recv >= nbeats:
                protocol.append(f"EXTRA output beat {recv} after the last")
            else:
                lw = unpack_lanes(ow, ww, L) if ow >= 0 else [-1] * L
                lv = unpack_lanes(ov, wv, L) if ov >= 0 else [-1] * L
                got_w += lw
                got_v += lv
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
    for i in range(min(len(got_w), n)):
        if got_w[i] != exp_w[i] or got_v[i] != exp_v[i]:
            mismatches += 1
            if len(details) < maxerr:
                details.append([i, got_w[i], int(exp_w[i]), got_v[i], int(exp_v[i])])
    mismatches += max(0, n - len(got_w)) + L * sum(p.startswith("EXTRA") for p in protocol)
    result = {"vectors": n, "mismatches": mismatches, "received": min(len(got_w), n),
              "details": details, "protocol": protocol}
    with open(env["LNSMADAM_STREAM_RESULT"], "w") as f:
        json.dump(result, f)
    assert mismatches == 0 and not protocol, f"{mismatches} mismatches, protocol {protocol}"
