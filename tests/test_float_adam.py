"""The IEEE float Adam unit (`rtl.float_adam`, issue 11): the multi-way compare on both
presets (numpy, the exact path, Amaranth, Icarus, Verilator, through the one verification
path), an independent float32 oracle, the sidecar, latency and II = 1, the cycle
simulation and the command line.  (Its vector recipe and fault injection are tested with
every rule's: tests/test_testbench_recipes.py, tests/test_testbench_faults.py.)"""

import json
from pathlib import Path

import numpy as np
import pytest

from lns import presets
from lns.errors import InvalidType, InvalidValue
from lns.rules.ieee_adam import FloatAdamConfig
from lns.optimizers import (Optimizer, config_from_dict, optimizer_of,
                            output_roles, update_words)
from sim.cli import main
from testbench.recipes import float_adam as fa

NAMES = ("bf16_adam", "fp32_adam")


# ---- the rule and its presets ---------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_presets_and_rule(name):
    cfg = presets.get(name)
    assert isinstance(cfg, FloatAdamConfig)
    assert optimizer_of(cfg) is Optimizer.FLOAT_ADAM
    assert output_roles(cfg) == ("w", "m", "v")
    assert cfg.held(1) == dict(zip(("k1", "k2"), cfg.bias_correction_words(1)))
    assert config_from_dict(json.loads(cfg.to_json())) == cfg
    n = cfg.fmt.total_bits
    assert cfg.update_bits == (4 * n, 3 * n)


def test_config_errors():
    with pytest.raises(InvalidValue, match="format must be one of"):
        FloatAdamConfig.from_dict({"format": "fp99"})
    with pytest.raises(InvalidValue, match="unknown float Adam config field"):
        FloatAdamConfig.from_dict({"format": "bf16", "beta3": 0.5})
    with pytest.raises(InvalidValue, match="evaluator must be one of"):
        update_words(presets.get("bf16_adam"), {k: [0] for k in "wgmv"}, 1,
                     evaluator="gpu")


def test_update_words_paths_agree_and_use_t():
    """The exact and numpy paths agree; t enters through k1, k2 (t = 1 and 2 differ)."""
    cfg = presets.get("bf16_adam")
    rng = np.random.default_rng(3)
    words = fa.adam_like_words(cfg, 200, rng)
    a = update_words(cfg, words, 2, evaluator="python")
    b = update_words(cfg, words, 2, evaluator="numpy")
    assert all(np.array_equal(a[k], b[k]) for k in "wmv")
    c = update_words(cfg, words, 1)
    assert not np.array_equal(c["w"], b["w"])
    assert np.array_equal(c["m"], b["m"])          # m' does not depend on t


@pytest.mark.slow
def test_independent_float32_oracle():
    """fp32 on Verilator against the sequence written directly in numpy float32 (each
    operation correctly rounded by the FPU, nothing of lns.ieee): Adam-like words at
    t = 3."""
    from testbench.design import generate
    from testbench.fastpath import StreamHarness
    cfg = presets.get("fp32_adam")
    rng = np.random.default_rng(11)
    words = fa.adam_like_words(cfg, 2000, rng)
    f = {k: words[k].astype(np.uint32).view(np.float32) for k in "wgmv"}
    t = 3
    b1, b2 = np.float32(0.9), np.float32(0.999)
    c1, c2 = np.float32(1 - 0.9), np.float32(1 - 0.999)
    k1 = np.float32(1 / (1 - 0.9 ** t))
    k2 = np.float32(1 / (1 - 0.999 ** t))
    lr, eps = np.float32(1e-3), np.float32(1e-8)
    with np.errstate(all="ignore"):
        m1 = b1 * f["m"] + c1 * f["g"]
        v1 = b2 * f["v"] + c2 * (f["g"] * f["g"])
        w1 = f["w"] - (lr * (m1 * k1)) / (np.sqrt(v1 * k2) + eps)
    exp = {k: a.view(np.uint32).astype(np.int64) for k, a in zip("wmv", (w1, m1, v1))}
    with StreamHarness(generate(cfg, 1)) as harness:
        status, _, out = harness.run(cfg.held(t), words, gap=10, bp=20, rng=3)
    assert status == 0
    for k in "wmv":
        assert np.array_equal(out[k], exp[k]), k


# ---- the multi-way compare ---------------------------------------------------------------------
def test_cli_bf16_all_evaluators_agree(capsys):
    rc = main(["testbench", "--preset", "bf16_adam", "--sim", "all", "--vectors", "3000",
               "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err[-3000:]
    data = json.loads(out)
    assert data["ok"] is True
    for ev in ("numpy", "icarus", "verilator"):
        assert data[ev] == {"vectors": 3000, "mismatches": 0}
    assert data["python"] == {"vectors": 32, "mismatches": 0}
    assert data["amaranth"] == {"vectors": 64, "mismatches": 0}


@pytest.mark.slow
def test_fp32_all_evaluators_agree():
    """fp32: Verilator on every vector, the exact path on a sample of every block (the
    streaming testbench), Amaranth on a sample of every group of an in-memory set."""
    from testbench import evaluate, streaming, vectors
    cfg = presets.get("fp32_adam")
    r = streaming.stream(cfg, ("verilator",), 4000, seed=4)
    assert r["ok"] and r["evaluators"]["verilator"]["vectors"] == 4000
    assert r["evaluators"]["verilator"]["mismatches"] == 0
    py = r["evaluators"]["python"]
    assert (py["vectors"], py["mismatches"]) == (streaming.PYTHON_PER_BLOCK, 0)
    vs = vectors.generate(cfg, 600, seed=5)
    got = evaluate.run_amaranth(vs, 20)
    known = got.words["w"] >= 0
    assert got.vectors == known.sum() >= 20
    for k in "wmv":
        assert np.array_equal(got.words[k][known], vs.expected[k][known]), k


# ---- the design flow -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_sidecar(name, tmp_path):
    from rtl.design import Design, design
    from rtl.float_adam import float_adam_stages, schedule
    cfg = presets.get(name)
    d = design(presets.get(name))              # the bare FloatAdamConfig works too
    assert d.verilog == design(cfg).verilog
    meta = json.loads(d.sidecar.read_text())
    assert meta["module"] == f"floatadam_{name}_x1"
    assert meta["latency"] == float_adam_stages(cfg) - 1 == d.latency
    assert meta["format"]["exp_bits"] == cfg.fmt.exp_bits
    assert meta["optimizer"] == "float_adam"
    words = {k: int(v["word"], 16) for k, v in meta["constants"].items()}
    assert words == cfg.constants
    if name == "fp32_adam":                              # IEEE float32 itself, independently
        for k, x in (("b1", 0.9), ("b2", 0.999), ("lr", 1e-3), ("eps", 1e-8)):
            assert words[k] == int(np.float32(x).view(np.uint32)), k
        assert words["c1"] == int(np.float32(0.1).view(np.uint32))
    n = cfg.fmt.total_bits
    for port, width in (("in_w", n), ("in_v", n), ("k1", n), ("k2", n), ("out_m", n)):
        assert meta["ports"][port]["width"] == width
    sched = meta["schedule"]
    assert [s["result"] for s in sched] == [r for r, *_ in schedule(cfg)]
    assert max(s["done"] for s in sched) + 1 == meta["latency"]     # + input, output regs
    done = {s["result"]: s["done"] for s in sched}
    for s in sched:                   # every reader starts op_gap after its operands
        assert s["start"] == max([done[a] + meta["op_gap"] for a in s["operands"]
                                  if a in done] or [0])
    loaded = Design.load(d.sidecar)
    assert loaded.cfg == cfg and loaded.latency == d.latency


def test_latency_and_ii_one():
    """In Amaranth with no gaps and no back-pressure: every beat's latency is the design's
    and n beats take n + latency cycles (a new beat every clock)."""
    from rtl.float_adam import FloatAdamArray
    from rtl.lanes import pack_beats
    from rtl.sim import RandomHandshake, drive
    cfg = presets.get("bf16_adam")
    dut = FloatAdamArray(cfg, 1)
    words = fa.adam_like_words(cfg, 40, np.random.default_rng(2))
    packed = {k: pack_beats(words[k], 16, 1) for k in "wgmv"}
    held = dict(zip(("k1", "k2"), cfg.bias_correction_words(1)))
    r = drive(dut, beats=40, steps=1, held=lambda s: held, inputs=lambda s, p: packed,
              handshake=RandomHandshake(0.0, 0.0, 0))
    assert set(r.latencies) == {dut.latency + 1}
    assert r.cycles <= 40 + dut.latency + 3


def test_errors():
    from rtl.design import design
    from rtl.float_adam import FloatAdamArray, FloatAdamUnit
    with pytest.raises(InvalidType, match="FloatAdamConfig"):
        FloatAdamUnit(presets.get("lns12"))
    with pytest.raises(InvalidValue, match="lanes"):
        FloatAdamArray(presets.get("bf16_adam"), 0)
    with pytest.raises(InvalidValue, match="lanes"):
        design(presets.get("bf16_adam"), 0)


# ---- cycle simulation ---------------------------------------------------------------------------
def test_cycle_sim_three_engines():
    """bf16, 2 lanes, 3 steps with random stalls: the three engines count the same cycles,
    the RTL engines' words are bit-exact against the reference, and k1, k2 follow t."""
    from sim.cycle.simulate import Tensor, simulate
    from sim.cycle.stream import stream_of
    cfg = presets.get("bf16_adam")
    st = stream_of(cfg)
    assert st.held_ports == ("k1", "k2") and st.state_roles == ("w", "m", "v")
    assert st.held(1, None) != st.held(2, None)
    rng = np.random.default_rng(3)
    n, lanes, steps = 101, 2, 3
    scale = 1e-3 * np.exp(rng.normal(0, 1, n))

    def pad(a):
        return np.concatenate([a, np.zeros(1, dtype=np.int64)])
    state0 = {"w": pad(st.encode("w", rng.normal(0, 0.05, n))),
              "m": pad(st.encode("m", scale * rng.normal(0, 1, n))),
              "v": pad(st.encode("v", (scale * rng.normal(0, 1, n)) ** 2))}
    g = np.stack([pad(st.encode("g", scale * rng.normal(0, 1, n))) for _ in range(steps)])
    tensor = Tensor(n, lanes, state0, g)
    runs = {e: simulate(cfg, n, lanes, e, steps=steps, stall_prob=0.2, tensor=tensor)
            for e in ("amaranth", "verilator", "model")}
    assert len({r["cycles"] for r in runs.values()}) == 1
    for e in ("amaranth", "verilator"):
        assert runs[e]["checked"] and runs[e]["mismatches"] == 0, runs[e]["first_mismatch"]
    assert runs["model"]["bytes_per_update"] > 0
    # the engines agree on every beat's latency; with the skid buffer of the IEEE units
    # (registered ready) every beat of this seed's stalls waits at least once
    assert runs["model"]["latency_min"] == runs["verilator"]["latency_min"] \
        >= runs["model"]["pipeline_latency"]
    assert runs["model"]["latency_max"] == runs["verilator"]["latency_max"]


def test_cli_sim_model(capsys):
    assert main(["sim", "--preset", "bf16_adam", "--weights", "1000", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["bytes_per_beat"] == 14.0               # 4 words read, 3 written, 16 bits each
    assert r["cycles"] == 1000 + r["pipeline_latency"] + 1


# ---- command line ----------------------------------------------------------------------------
def test_cli_verilog_and_presets(tmp_path, capsys):
    assert main(["verilog", "--preset", "fp32_adam", "--out", str(tmp_path), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["module"] == "floatadam_fp32_adam_x1"
    text = (tmp_path / "floatadam_fp32_adam_x1.v").read_text()
    assert "module floatadam_fp32_adam_x1" in text
    assert main(["presets", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["bf16_adam"]["constants"]["b2"]["word"] == "0x3f80"     # 0.999 -> 1.0
    assert rows["fp32_adam"]["format"]["name"] == "fp32"
    assert main(["presets"]) == 0
    assert "bf16_adam" in capsys.readouterr().out
    assert main(["testbench", "--preset", "bf16_adam", "--exhaustive"]) == 2
    assert "--exhaustive is not supported" in capsys.readouterr().err


def test_cli_config_override(tmp_path, capsys):
    """--config lays fields over a float preset: the unit's constants follow (rounded once
    by lns), a bad value is one line."""
    from lns.rules.ieee_adam import FloatAdamConfig
    from lns.ieee.format import FLOAT_FORMATS
    (tmp_path / "fast.toml").write_text("lr = 0.01\nbeta1 = 0.8\n")
    out = tmp_path / "out"
    assert main(["verilog", "--preset", "bf16_adam", "--config", str(tmp_path / "fast.toml"),
                 "--out", str(out), "--json"]) == 0
    meta = json.loads(Path(json.loads(capsys.readouterr().out)["sidecar"]).read_text())
    want = FloatAdamConfig(FLOAT_FORMATS["bf16"], lr=0.01, beta1=0.8,
                           allow_degenerate=True).constants
    assert {k: int(v["word"], 16) for k, v in meta["constants"].items()} == want
    assert want["lr"] != presets.get("bf16_adam").constants["lr"]
    (tmp_path / "bad.toml").write_text("lr = -1\n")
    assert main(["verilog", "--preset", "bf16_adam", "--config", str(tmp_path / "bad.toml"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "lr must be a positive finite number" in err and len(err.strip().splitlines()) == 1
