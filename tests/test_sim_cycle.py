"""sim.cycle: the three engines agree on every cycle count, the RTL engines' outputs are
bit-exact against lns.madam_update, and the memory side is the one sim.cycle.memory defines."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import lns
from sim.cycle import memory
from sim.cycle import expected_outputs, make_tensor, simulate
from sim.cycle.model_engine import TIMING_KEYS, model_cycles
from sim.cycle.memory import MemorySide, MemoryState, beat_bits, cpp_constants

TIMING = TIMING_KEYS


def _timing(r):
    return {k: r[k] for k in TIMING}


# (preset, lanes, N, T, stall p, B bytes/cycle): lanes 1/2/4, padding, T = 2, stalls, limits
CASES = [
    ("lns12", 1, 40, 1, 0.0, None),
    ("lns12", 1, 57, 2, 0.3, None),
    ("lns12", 4, 53, 2, 0.2, 10),
    ("lns12", 4, 64, 1, 0.0, 3),
    ("lns8", 2, 31, 2, 0.25, 4),          # stochastic rounding: LFSR seeds, padding lane
]


@pytest.mark.parametrize("preset,lanes,n,steps,p,b", CASES)
def test_engines_agree(preset, lanes, n, steps, p, b):
    cfg = lns.presets.get(preset)
    kw = dict(steps=steps, stall_prob=p, bytes_per_cycle=b, seed=11)
    runs = {e: simulate(cfg, n, lanes, e, **kw) for e in ("model", "verilator", "amaranth")}
    assert _timing(runs["model"]) == _timing(runs["verilator"]) == _timing(runs["amaranth"])
    for e in ("verilator", "amaranth"):
        assert runs[e]["checked"] is True
        assert runs[e]["mismatches"] == 0, runs[e]["first_mismatch"]
    r = runs["model"]
    beats = -(-n // lanes)
    assert r["accepted"] == r["delivered"] == beats * steps
    assert r["padding"] == beats * lanes - n
    assert r["latency_min"] == r["pipeline_latency"]
    if p == 0:
        assert r["stall_cycles"] == 0 and r["latency_max"] == r["pipeline_latency"]
    else:
        assert r["stall_cycles"] > 0
    if b is None:
        assert r["bandwidth_wait_cycles"] == 0
    if p == 0 and b is None:
        assert r["cycles"] == steps * (beats + r["pipeline_latency"] + 1)


def test_verilator_large_bit_exact_and_model_cycles():
    cfg = lns.presets.get("lns12")
    kw = dict(steps=2, stall_prob=0.1, bytes_per_cycle=16, seed=5)
    v = simulate(cfg, 20_001, 4, "verilator", **kw)
    m = simulate(cfg, 20_001, 4, "model", **kw)
    assert v["mismatches"] == 0
    assert _timing(v) == _timing(m)
    # 4 lanes at 16 B/cycle: a beat moves 4 x (12+11+17+12+17) bits = 34.5 bytes
    assert v["bytes_per_beat"] == 34.5
    assert v["updates_per_cycle"] < 16 / 34.5 * 4


def test_expected_outputs_follow_the_steps():
    """Step t + 1 of the check runs on step t's outputs; x_bc follows t."""
    cfg = lns.presets.get("lns12")
    t = make_tensor(cfg, 10, 4, 3, seed=2)
    out = expected_outputs(cfg, t)
    w, v = t.w0, t.v0
    for s in range(3):
        w, v = lns.madam_update(cfg, w, t.g[s], v, s + 1, clip=t.clip)
        assert np.array_equal(out[s, 0], w) and np.array_equal(out[s, 1], v)
    assert np.all(t.w0[10:] == 0) and np.all(out[:, 0, 10:] == 0)      # padding stays zero


def test_stochastic_uses_the_loaded_lane_seeds():
    cfg = lns.presets.get("lns8")
    t = make_tensor(cfg, 6, 2, 1, seed=9)
    out = expected_outputs(cfg, t, seed=9)
    w, _ = lns.madam_update(cfg, t.w0, t.g[0], t.v0, 1, clip=t.clip,
                            lfsr_state=lns.lane_seeds(9, 2))
    assert np.array_equal(out[0, 0], w)


# ---- the model against itself and the reference memory --------------------------------
@pytest.mark.parametrize("beats,steps,stages", [(1, 1, 2), (7, 3, 16), (100, 2, 5)])
def test_model_shortcuts_equal_the_cycle_loop(beats, steps, stages):
    for p, b, cost in itertools.product((0.0, 0.3), (None, 0.5, 3, 9, 30), (69, 17)):
        m = MemorySide(stall_prob=p, seed=5, bytes_per_cycle=b, beat_bits=cost)
        assert model_cycles(beats, steps, stages, m) == \
            model_cycles(beats, steps, stages, m, cycle_by_cycle=True)


@pytest.mark.parametrize("p,b", [(0.3, None), (0.1, 2.5), (0.0, 3), (0.0, None)])
def test_model_slices_change_nothing(p, b):
    """The loops run in slices (so Ctrl-C and progress reach Python between them); the
    counts do not depend on the slice length, and progress counts up to the total."""
    m = MemorySide(stall_prob=p, seed=11, bytes_per_cycle=b, beat_bits=69)
    whole = model_cycles(97, 3, 9, m)
    seen = []
    for n in (1, 2, 7, 96, 97, 1000):
        assert model_cycles(97, 3, 9, m, slice_len=n,
                            progress=lambda *a: seen.append(a)) == whole
    if p or b:                       # a loop ran: progress rose to the end, never past it
        assert seen and all(0 <= d <= t == 3 * 97 for d, t, _ in seen)
        assert max(c for _, _, c in seen) < whole["cycles"]
    else:                            # the closed form runs no loop
        assert seen == []


def test_model_is_interruptible():
    """A KeyboardInterrupt raised between slices (as Ctrl-C does) stops a run at once."""
    m = MemorySide(stall_prob=0.05, seed=1, beat_bits=69)
    calls = []

    def progress(done, total, cycle):
        calls.append(cycle)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model_cycles(10**12, 1, 16, m, progress=progress)
    assert calls == [1 << 24]


def test_model_against_python_memory_reference():
    """A Python cycle loop over MemoryState and a list-pipeline gives the model's counts."""
    for p, b in ((0.4, None), (0.2, 2.5), (0.0, 1)):
        mem = MemorySide(stall_prob=p, seed=3, bytes_per_cycle=b, beat_bits=40)
        beats, steps, stages = 23, 2, 4
        ms = MemoryState(mem)
        pipe = [False] * stages
        cycle = 0
        for _ in range(steps):
            sent = got = 0
            while got < beats:
                stall, in_valid = ms.cycle(sent < beats)
                en = not pipe[-1] or not stall
                got += pipe[-1] and not stall
                if en:
                    if in_valid:
                        sent += 1
                        ms.accept()
                    pipe = [in_valid] + pipe[:-1]
                cycle += 1
        r = model_cycles(beats, steps, stages, mem)
        assert (r["cycles"], r["stall_cycles"], r["bandwidth_wait_cycles"]) == \
            (cycle, ms.stalls, ms.bandwidth_waits)
        assert r["stall_cycles"] == int(mem.stalls(cycle).sum())


def test_model_closed_form_and_bandwidth_rate():
    m = MemorySide(beat_bits=69)
    assert model_cycles(1000, 3, 16, m)["cycles"] == 3 * (1000 + 16)
    # 69 bits a beat at 23 bits a cycle: one beat every 3 cycles once the bucket is empty
    r = model_cycles(3000, 1, 16, MemorySide(bytes_per_cycle=23 / 8, beat_bits=69))
    assert r["cycles"] == 3 * 3000 + 16 and r["bandwidth_wait_cycles"] == 2 * 3000


def test_splitmix_reference_values():
    # splitmix64 from seed 0: the published first outputs of Vigna's splitmix64.c
    s, z = memory.splitmix64(0)
    assert z == 0xE220A8397B1DCDAF
    s, z = memory.splitmix64(s)
    assert z == 0x6E789E6AA1B965F4
    assert memory.stall_threshold(0.5) == 1 << 52
    assert memory.stall_threshold(0.0) == 0


def test_cpp_constants_come_from_python():
    text = cpp_constants()
    for c in (memory.SPLITMIX_GAMMA, memory.SPLITMIX_MUL1, memory.SPLITMIX_MUL2):
        assert f"0x{c:016X}ULL" in text
    assert f"STALL_SHIFT = {memory.STALL_SHIFT}" in text


def test_beat_bits_from_word_widths():
    cfg = lns.presets.get("lns12")
    assert beat_bits(cfg, 1) == (12 + 11 + 17, 12 + 17)
    assert beat_bits(lns.presets.get("lns8_sign"), 2) == (2 * (8 + 8), 2 * 8)   # no moment


@pytest.mark.parametrize("kw,msg", [
    (dict(stall_prob=1.0), "stall probability must be in [0, 1), not 1.0"),
    (dict(stall_prob=-0.5), "stall probability must be in [0, 1), not -0.5"),
    (dict(bytes_per_cycle=0), "memory bytes per cycle must be a positive number, not 0"),
    (dict(bytes_per_cycle=0.01),
     "memory bytes per cycle must be at least 0.0625 (one bit a cycle), not 0.01"),
])
def test_memory_errors(kw, msg):
    with pytest.raises(ValueError) as exc:
        MemorySide(beat_bits=8, **kw)
    assert str(exc.value) == msg


def test_simulate_errors(tmp_path):
    cfg = lns.presets.get("lns12")
    with pytest.raises(ValueError, match=r"^weights must be an int >= 1, not 0$"):
        simulate(cfg, 0)
    with pytest.raises(ValueError, match=r"^lanes must be an int >= 1, not 0$"):
        simulate(cfg, 10, 0)
    with pytest.raises(ValueError, match=r"^engine must be one of verilator, amaranth, "
                                         r"model, not 'icarus'$"):
        simulate(cfg, 10, 1, "icarus")
    with pytest.raises(ValueError, match=r"^a VCD needs the verilator or amaranth engine, "
                                         r"not model$"):
        simulate(cfg, 10, 1, "model", vcd=tmp_path / "x.vcd")
    with pytest.raises(ValueError, match=r"^lanes must be at most 64, not 65$"):
        simulate(cfg, 10, 65)
    with pytest.raises(ValueError, match=r"^weights x steps must be at most 2\*\*53 = "
                                         r"9,007,199,254,740,992, not 18,014,398,509,481,984$"):
        simulate(cfg, 2**53, steps=2)


def test_rtl_run_bigger_than_memory(monkeypatch):
    """An RTL run whose data cannot fit says so in one line before allocating anything."""
    import importlib
    sim_mod = importlib.import_module("sim.cycle.simulate")
    monkeypatch.setattr(sim_mod, "_available_memory", lambda: 2**30)
    cfg = lns.presets.get("lns12")
    with pytest.raises(ValueError, match=r"^a verilator run of 10,000,000 elements x 2 steps "
                                         r"needs about 1\.6 GiB of memory for its data, more "
                                         r"than the 1\.0 GiB available$"):
        simulate(cfg, 10**7, 1, "verilator", steps=2)
    assert simulate(cfg, 10**9, 1, "model", steps=2)["cycles"] == 2 * (10**9 + 16)


@pytest.mark.parametrize("preset,lanes", [("lns8", 2), ("lns12", 1)])
def test_one_amaranth_driver_for_testbench_and_engine(preset, lanes):
    """The testbench's amaranth evaluator (`rtl.sim.simulate_update`) and the amaranth
    engine go through the one driver: on one step without gaps or stalls they give the same
    words and the same cycle count (LFSRs loaded in cycle 0 by both)."""
    from rtl.sim import simulate_update
    from sim.cycle.amaranth_engine import run_amaranth
    from sim.cycle.simulate import lfsr_seeds
    from sim.cycle.stream import stream_of
    cfg = lns.presets.get(preset)
    n = 23
    t = make_tensor(cfg, n, lanes, 1, seed=4)
    seeds = lfsr_seeds(cfg, lanes, 4)
    out, timing, _, _ = run_amaranth(cfg, lanes, MemorySide(beat_bits=8),
                                     held=stream_of(cfg).held_table(1, t.clip),
                                     lfsr_seeds=seeds, state0=t.state0, g=t.g)
    r = simulate_update(cfg, t.w0[:n], t.g[0, :n], t.v0[:n], 1, clip=t.clip, lanes=lanes,
                        lfsr_state=seeds)
    assert np.array_equal(out[0, 0, :n], r.w) and np.array_equal(out[0, 1, :n], r.v)
    assert timing["cycles"] == r.cycles
    assert timing["accepted"] == r.accepted == -(-n // lanes)
    assert timing["latency_min"] == min(r.latencies) - 1
    exp = expected_outputs(cfg, t, 4)
    assert np.array_equal(out, exp)
