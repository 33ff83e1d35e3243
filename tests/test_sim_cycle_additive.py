"""sim.cycle on the Adam and SGD arrays: the three engines agree on every cycle count, the
RTL engines' words of every step are bit-exact against lns.adam_update / lns.sgd_update
(run here directly, not through sim.cycle), a corrupted word is reported, and the bytes a
beat moves are the sum of the design's port widths."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lns
from sim.cli import main
from sim.cycle import expected_outputs, make_tensor, simulate
from sim.cycle.model_engine import TIMING_KEYS

ADAM, SGD = lns.presets.get("lns12_adam"), lns.presets.get("lns12_sgd")
# Builds kept to two (Verilator, cached): lns12_adam x 2 lanes, lns12_sgd x 3 lanes.
ADAM_LANES, SGD_LANES = 2, 3


def _timing(r):
    return {k: r[k] for k in TIMING_KEYS}


def _role_bits(cfg):
    """``(read, written)`` bits of one element, from the formats named by the rule's own
    fields (not through the config's word tables)."""
    if hasattr(cfg, "first_moment"):
        fmts = {"w": cfg.weight, "g": cfg.grad, "m": cfg.first_moment,
                "v": cfg.second_moment}
    else:
        fmts = {"w": cfg.weight, "g": cfg.grad, "m": cfg.momentum}
    bits = {k: f.int_bits + f.frac_bits + int(f.signed) for k, f in fmts.items()}
    return sum(bits.values()), sum(b for k, b in bits.items() if k != "g")


def test_presets_under_test():
    # lns12_adam is the stochastic-rounding case (LFSRs loaded, carried over the steps)
    assert ADAM.is_stochastic and not SGD.is_stochastic


# (preset, lanes, N, T, stall p, B bytes/cycle): padding, T = 3 (Adam's codes change with t),
# stalls and a bandwidth limit together and apart, and the plain closed-form case
CASES = [
    (ADAM, ADAM_LANES, 37, 3, 0.2, 6),
    (ADAM, ADAM_LANES, 40, 1, 0.0, None),
    (SGD, SGD_LANES, 50, 2, 0.15, None),
    (SGD, SGD_LANES, 31, 2, 0.0, 4.5),
]


@pytest.mark.parametrize("cfg,lanes,n,steps,p,b", CASES,
                         ids=[f"{c[0].name}-x{c[1]}-n{c[2]}-T{c[3]}-p{c[4]}-B{c[5]}"
                              for c in CASES])
def test_engines_agree_and_are_bit_exact(cfg, lanes, n, steps, p, b):
    kw = dict(steps=steps, stall_prob=p, bytes_per_cycle=b, seed=7)
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
    read, written = _role_bits(cfg)
    assert r["memory"]["read_bits_per_beat"] == lanes * read
    assert r["memory"]["write_bits_per_beat"] == lanes * written
    assert r["bytes_per_update"] == beats * lanes * (read + written) / 8 / n
    if p == 0:
        assert r["stall_cycles"] == 0 and r["latency_max"] == r["pipeline_latency"]
    else:
        assert r["stall_cycles"] > 0 and r["latency_max"] > r["pipeline_latency"]
    if b is None:
        assert r["bandwidth_wait_cycles"] == 0
    else:
        assert r["bandwidth_wait_cycles"] > 0
    if p == 0 and b is None:
        assert r["cycles"] == steps * (beats + r["pipeline_latency"] + 1)


@pytest.mark.parametrize("cfg", [lns.presets.get("lns8_adam"),
                                 SGD.replace(rounding="stochastic", name="lns12_sgd_sr")],
                         ids=["lns8_adam", "lns12_sgd_stochastic"])
def test_stochastic_on_amaranth(cfg):
    """The 8-bit stochastic Adam preset, and SGD with stochastic rounding, through
    Amaranth's simulator (no Verilator build): bit-exact over three steps with stalls and
    padding (the lane LFSRs carried over the steps), timing equal to the model's."""
    assert cfg.is_stochastic
    kw = dict(steps=3, stall_prob=0.25, bytes_per_cycle=5, seed=3)
    a = simulate(cfg, 21, 2, "amaranth", **kw)
    assert a["mismatches"] == 0, a["first_mismatch"]
    assert _timing(a) == _timing(simulate(cfg, 21, 2, "model", **kw))


def _reference(cfg, t, seed):
    """The model run directly: lns.adam_update / lns.sgd_update step by step, ``[T][R][P]``
    with the rows w, m[, v]."""
    state = lns.lane_seeds(seed, t.lanes) if cfg.is_stochastic else None
    w, m = t.w0, t.m0
    v = t.v0 if "v" in t.state0 else None
    rows = []
    for s in range(t.g.shape[0]):
        if v is not None:
            w, m, v = lns.adam_update(cfg, w, t.g[s], m, v, s + 1, lfsr_state=state)
            rows.append([w, m, v])
        else:
            w, m = lns.sgd_update(cfg, w, t.g[s], m, lfsr_state=state)
            rows.append([w, m])
    return np.array(rows)


@pytest.mark.parametrize("cfg", [ADAM, SGD], ids=["adam", "sgd"])
def test_expected_outputs_follow_the_steps(cfg):
    t = make_tensor(cfg, 30, 4, 3, seed=2)
    exp = expected_outputs(cfg, t, 2)
    assert np.array_equal(exp, _reference(cfg, t, 2))
    assert np.all(t.w0[30:] == 0) and np.all(exp[:, :, 30:] == 0)     # padding stays zero
    assert np.any(exp[0, 0] != t.w0) and np.any(exp[2, 0] != exp[1, 0])  # the steps move w


def test_adam_check_depends_on_t_and_carried_lfsr_states():
    """The check is sensitive to what the engines must get right: Adam's bias-correction
    codes of step t (step 2 run with t = 1 gives other words) and the lane LFSR states
    carried from step to step (restarted from the seeds, other words)."""
    t = make_tensor(ADAM, 64, 2, 2, seed=5)
    exp = expected_outputs(ADAM, t, 5)
    words = {k: exp[0, i] for i, k in enumerate(("w", "m", "v"))}
    state = lns.lane_seeds(5, 2)
    lns.adam_update(ADAM, t.w0, t.g[0], t.m0, t.v0, 1, lfsr_state=state)     # after step 1
    wrong_t = lns.adam_update(ADAM, words["w"], t.g[1], words["m"], words["v"], 1,
                              lfsr_state=state.copy())
    fresh = lns.adam_update(ADAM, words["w"], t.g[1], words["m"], words["v"], 2,
                            lfsr_state=lns.lane_seeds(5, 2))
    right = lns.adam_update(ADAM, words["w"], t.g[1], words["m"], words["v"], 2,
                            lfsr_state=state.copy())
    assert all(np.array_equal(a, b) for a, b in zip(right, exp[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(wrong_t, exp[1]))
    assert not np.array_equal(fresh[0], exp[1, 0])


@pytest.mark.parametrize("engine,role", [("verilator", "w"), ("verilator", "m"),
                                         ("verilator", "v"), ("amaranth", "m")])
def test_a_corrupted_word_is_reported(monkeypatch, engine, role):
    """One bit flipped in one word the engine returned (step 2, element 5) is exactly one
    mismatch, named by step, role and element; the command line exits 1."""
    import sim.cycle.amaranth_engine as am
    import sim.cycle.verilator_engine as ve
    module, name = (ve, "run_harness") if engine == "verilator" else (am, "run_amaranth")
    real = getattr(module, name)
    row = ("w", "m", "v").index(role)

    def corrupted(*args, **kwargs):
        out, timing, sim_s, build_s = real(*args, **kwargs)
        out = out.copy()
        out[1, row, 5] ^= 1
        return out, timing, sim_s, build_s

    monkeypatch.setattr(module, name, corrupted)
    r = simulate(ADAM, 20, ADAM_LANES, engine, steps=2, seed=4)
    exp = expected_outputs(ADAM, make_tensor(ADAM, 20, ADAM_LANES, 2, 4), 4)
    assert r["mismatches"] == 1
    assert r["first_mismatch"] == {"step": 2, "word": role, "element": 5,
                                   "got": int(exp[1, row, 5] ^ 1),
                                   "expected": int(exp[1, row, 5])}
    if engine == "amaranth":
        code = main(["sim", "--preset", "lns12_adam", "--weights", "20", "--lanes", "2",
                     "--steps", "2", "--seed", "4", "--engine", "amaranth"])
        assert code == 1


def test_one_amaranth_driver_for_testbench_and_engine():
    """The testbench's amaranth evaluator of the additive units
    (`rtl.additive_sim.simulate_additive`) and the engine go through the one driver: on one
    step without gaps or stalls they give the same words and the same cycle count."""
    from rtl.additive_sim import simulate_additive
    from sim.cycle.amaranth_engine import run_amaranth
    from sim.cycle.memory import MemorySide
    from sim.cycle.stream import stream_of
    n, lanes = 11, ADAM_LANES
    t = make_tensor(ADAM, n, lanes, 1, seed=8)
    seeds = lns.lane_seeds(8, lanes)
    out, timing, _, _ = run_amaranth(
        ADAM, lanes, MemorySide(beat_bits=8), held=stream_of(ADAM).held_table(1, None),
        lfsr_seeds=seeds, state0=t.state0, g=t.g)
    r = simulate_additive(ADAM, {"w": t.w0[:n], "g": t.g[0, :n], "m": t.m0[:n],
                                 "v": t.v0[:n]}, 1, lanes=lanes, lfsr_state=seeds)
    for i, k in enumerate(("w", "m", "v")):
        assert np.array_equal(out[0, i, :n], r.out[k])
    assert timing["cycles"] == r.cycles


@pytest.mark.parametrize("cfg,lanes", [(ADAM, ADAM_LANES), (SGD, SGD_LANES)],
                         ids=["adam", "sgd"])
def test_beat_bits_are_the_sidecars_port_widths(cfg, lanes):
    """Bits a beat moves = the widths the sidecar gives the word ports (in_* read, out_*
    written), and = lanes x the formats' bits."""
    from rtl.design import design
    ports = json.loads(design(cfg, lanes).sidecar.read_text())["ports"]
    words = [p for p in ports if p.split("_", 1)[0] in ("in", "out")
             and p not in ("in_valid", "in_ready", "out_valid", "out_ready")]
    assert sorted(words) == sorted([f"in_{k}" for k in cfg.WORD_ROLES]
                                   + [f"out_{k}" for k in cfg.WORD_ROLES if k != "g"])
    r = simulate(cfg, 10, lanes, "model")
    mem = r["memory"]
    assert mem["read_bits_per_beat"] == sum(ports[p]["width"] for p in words
                                            if p.startswith("in_"))
    assert mem["write_bits_per_beat"] == sum(ports[p]["width"] for p in words
                                             if p.startswith("out_"))
    read, written = _role_bits(cfg)
    assert r["bytes_per_beat"] == lanes * (read + written) / 8


def test_cli_json_verilator(capsys):
    argv = ["sim", "--preset", "lns12_adam", "--weights", "101", "--lanes", str(ADAM_LANES),
            "--steps", "2", "--stall-prob", "0.1", "--mem-bytes-per-cycle", "8", "--json"]
    assert main(argv + ["--engine", "verilator"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert main(argv + ["--engine", "model"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert main(["sim", "--weights", "101", "--json"]) == 0           # a Madam run's keys
    madam = json.loads(capsys.readouterr().out)
    assert set(r) == set(m) == set(madam) and set(r["memory"]) == set(madam["memory"])
    assert r["preset"] == "lns12_adam" and r["engine"] == "verilator"
    assert r["checked"] is True and r["mismatches"] == 0 and r["first_mismatch"] is None
    assert _timing(r) == _timing(m)
    read, written = _role_bits(ADAM)                    # (12+11+13+17, 12+13+17)
    assert (read, written) == (53, 42)
    assert r["bytes_per_beat"] == ADAM_LANES * (read + written) / 8 == 23.75
    assert r["beats_per_step"] == 51 and r["padding"] == 1 and r["updates"] == 202
    assert r["accepted"] == r["delivered"] == 102
    assert r["bytes_moved"] == 102 * 23.75
    assert r["bytes_per_update"] == 102 * 23.75 / 202
    assert r["updates_per_cycle"] == 202 / r["cycles"]
    assert r["utilisation"] == 102 / r["cycles"]
    assert r["memory"]["rate_bits"] == 64 and r["bandwidth_wait_cycles"] > 0
    # 8 B/cycle against 23.75 B a beat: at most 8 / 23.75 beats a cycle
    assert r["utilisation"] <= 8 / 23.75
    from rtl.design import design
    assert r["pipeline_latency"] == r["latency_min"] == design(ADAM, ADAM_LANES).latency


def test_cli_text_and_vcd_amaranth(capsys, tmp_path):
    path = tmp_path / "sgd.vcd"
    code = main(["sim", "--preset", "lns12_sgd", "--weights", "7", "--lanes", "2",
                 "--engine", "amaranth", "--steps", "2", "--stall-prob", "0.2",
                 "--vcd", str(path), "--vcd-cycles", "40"])
    out = capsys.readouterr().out
    assert code == 0
    assert "bit-exact against lns.sgd_update" in out
    head = path.read_text().split("$enddefinitions", 1)[0]
    for port in ("in_w", "in_g", "in_m", "out_w", "out_m", "out_valid"):
        assert f" {port} " in head, port
    assert " in_v " not in head and " x_bc " not in head


def test_vcd_holds_the_codes_of_each_step(capsys, tmp_path):
    """`--vcd` of lns12_adam (amaranth; the Verilator trace is the same harness code as
    Madam's, tests/test_waveforms.py): a reader takes every name, the moment words are
    there, and x_bc1/x_bc2 hold the codes of step 1, then of step 2
    (`AdamConfig.bias_correction_codes`), while the beats of each step are sent."""
    from test_waveforms import _port, read_vcd      # pyvcd's reader, never skipped
    path = tmp_path / "adam.vcd"
    assert main(["sim", "--preset", "lns12_adam", "--lanes", str(ADAM_LANES), "--weights",
                 "7", "--steps", "2", "--engine", "amaranth", "--vcd", str(path),
                 "--vcd-cycles", "100", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mismatches"] == 0 and r["cycles"] < 100
    timescale, names, changes = read_vcd(path)
    assert timescale == (1, "fs") and not [n for n in names if n.startswith("$")]
    for port in ("in_m", "in_v", "out_m", "out_v", "lfsr_load"):
        assert port in names, port
    from rtl.design import design
    ports = design(ADAM, ADAM_LANES).ports
    for i, port in enumerate(("x_bc1", "x_bc2")):
        seen = [int(v, 2) if isinstance(v, str) else int(v)
                for _, v in _port(names, changes, port)]
        codes = [ADAM.bias_correction_codes(t)[i] for t in (1, 2)]
        assert codes[0] != codes[1] and ports[port]["signed"]
        # the VCD holds two's complement in the port's width; 0 is the value before step 1
        width = ports[port]["width"]
        assert [x for x in seen if x] == [c % (1 << width) for c in codes]


def test_cli_config_override_and_errors(capsys, tmp_path):
    cfg_file = tmp_path / "eta.toml"
    cfg_file.write_text("eta_log2 = -6\n")
    assert main(["sim", "--preset", "lns12_sgd", "--config", str(cfg_file), "--weights", "9",
                 "--engine", "amaranth", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["preset"] == "lns12_sgd_eta" and r["mismatches"] == 0
    cfg_file.write_text("mu = 2.0\n")
    assert main(["sim", "--preset", "lns12_sgd", "--config", str(cfg_file),
                 "--weights", "9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lnsmadam: error: config {cfg_file}: ") and err.count("\n") == 1


def test_rtl_run_bigger_than_memory_counts_the_words(monkeypatch):
    """Adam holds four words an element where Madam holds three: the estimate grows by 4/3
    (Madam's 10**7 x 2 steps: 1.6 GiB)."""
    import importlib
    sim_mod = importlib.import_module("sim.cycle.simulate")
    monkeypatch.setattr(sim_mod, "_available_memory", lambda: 2**30)
    with pytest.raises(ValueError, match=r"^a verilator run of 10,000,000 elements x 2 steps "
                                         r"needs about 2\.1 GiB of memory for its data"):
        simulate(ADAM, 10**7, 1, "verilator", steps=2)
    with pytest.raises(ValueError, match=r"needs about 1\.6 GiB"):
        simulate(SGD, 10**7, 1, "verilator", steps=2)


def test_not_a_config():
    with pytest.raises(TypeError, match=r"^cfg must be a MadamConfig, AdamConfig or "
                                        r"SGDConfig, not int$"):
        simulate(3, 10)
