"""The streaming testbench (`testbench.streaming`), one path for every rule: blocks made
from their own seeds, a result that does not depend on the chunk size, a chunk that
replays alone, memory that does not grow with the vector count, `--max-errors` on a
fault-injected design and the saved cases replayed."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lns
from lns import presets
from testbench import compare, design, evaluate, fastpath, faults, vectors
from testbench import streaming as S

ROOT = Path(__file__).resolve().parent.parent


def _no_time(summary):
    """A merged summary without its timings."""
    out = {k: v for k, v in summary.items() if k not in ("seconds", "wall_seconds",
                                                          "vectors_per_second")}
    out["evaluators"] = {k: {"vectors": e["vectors"], "mismatches": e["mismatches"]}
                         for k, e in summary["evaluators"].items()}
    return out


def test_block_seed_is_stable_and_distinct():
    assert S.block_seed(1, 0) == S.block_seed(1, 0)
    seeds = {S.block_seed(s, i) for s in (1, 2) for i in range(50)}
    assert len(seeds) == 100 and 0 not in seeds


@pytest.mark.parametrize("preset,lanes", [("lns12", 1), ("lns8", 2), ("lns12_adam", 2),
                                          ("lns8_lion", 3), ("bf16_adam", 1)])
def test_block_is_made_from_its_own_seed(preset, lanes):
    cfg = presets.get(preset)
    total = 3 * S.BLOCK + 1000
    a, _ = S.make_block(cfg, 7, 2, total, lanes)
    b, _ = S.make_block(cfg, 7, 2, total, lanes)
    last, _ = S.make_block(cfg, 7, 3, total, lanes)
    assert len(a) == -(-S.BLOCK // lanes) * lanes and len(last) == -(-1000 // lanes) * lanes
    assert a.held == cfg.held(a.t, **a.tensor) and set(a.words) == set(cfg.WORD_ROLES)
    for k in cfg.WORD_ROLES:
        assert np.array_equal(a.words[k], b.words[k]), k
        # narrow words on the model side
        assert a.words[k].dtype == (np.uint16 if cfg.word_bits[k] <= 16 else np.uint32)
    # the model's outputs over the block, lanes restarted from the block's seed
    vs = a.vector_set(cfg, lanes)
    exp = vectors.expected_outputs(cfg, vs.t, vs.tensor, vs.words, lanes=lanes,
                               lfsr_seed=vs.lfsr_seed)
    for k in cfg.output_roles:
        assert np.array_equal(exp[k], a.expected[k]) and np.array_equal(exp[k], b.expected[k])
    if cfg.is_stochastic:
        assert np.array_equal(a.lfsr_seed, lns.lane_seeds(S.block_seed(7, 2), lanes))


@pytest.mark.slow
@pytest.mark.parametrize("preset,lanes", [("lns8", 2), ("lns8_lion", 2), ("bf16_adam", 1)])
def test_result_does_not_depend_on_chunk_size_and_a_chunk_replays_alone(preset, lanes):
    cfg = presets.get(preset)     # stochastic ones: the lanes restart every block
    ref = cfg.reference_evaluator
    total = 3 * S.BLOCK + 999
    one = S.stream(cfg, ["verilator"], total, seed=3, lanes=lanes, chunk_blocks=1)
    three = S.stream(cfg, ["verilator"], total, seed=3, lanes=lanes, chunk_blocks=3)
    assert one["ok"] and one["vectors"] == total + (lanes == 2)   # padded to whole beats
    assert _no_time(one) == _no_time(three)
    parts = [S.run_chunk(cfg, ["verilator"], seed=3, first_block=b, blocks=1, total=total,
                         lanes=lanes) for b in (3, 1, 0, 2)]
    assert _no_time(S.merge(parts)) == _no_time(S.merge([S.run_chunk(
        cfg, ["verilator"], seed=3, first_block=0, blocks=4, total=total, lanes=lanes)]))
    r = S.ChunkResult.from_dict(json.loads(json.dumps(parts[0].to_dict())))
    assert r == parts[0]
    assert r.first_block == 3 and r.vectors == 999 + (lanes == 2) and r.mismatches == 0
    assert r.evaluators[ref]["vectors"] == r.vectors
    assert r.evaluators["python"]["vectors"] == S.PYTHON_PER_BLOCK


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["lns8_sign", "lns12_adam"])
def test_icarus_and_verilator_agree_on_a_stochastic_block(preset):
    cfg = presets.get(preset)
    r = S.run_chunk(cfg, ["icarus", "verilator"], seed=5, first_block=0, blocks=1,
                    total=4000, lanes=2)
    assert r.mismatches == 0 and r.failures == []
    assert r.evaluators["icarus"]["vectors"] == r.evaluators["verilator"]["vectors"] == 4000


_PEAK = """
import resource, sys
from lns import presets
from testbench import streaming
r = streaming.stream(presets.get(sys.argv[2]), ["verilator"], int(sys.argv[1]), seed=1)
assert r["ok"], r
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["lns12", "lns12_adam", "lns12_lion", "bf16_adam"])
def test_peak_memory_does_not_grow_with_the_vector_count(preset):
    cfg = presets.get(preset)
    fastpath.build_stream(design.generate(cfg))             # built outside the measure
    peaks = []
    for n in (200_000, 2_000_000):
        out = subprocess.run([sys.executable, "-c", _PEAK, str(n), preset],
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout
        peaks.append(int(out.split()[-1]))
    assert peaks[1] <= 1.2 * peaks[0], peaks


# the final nearest-even rounding of the Madam step, and of the SGD weight
_ROUNDING = {"lns12": "[27:0] > 28'h8000000", "lns12_sgd": "_wr_x[3:0] > 4'h8"}


@pytest.fixture(scope="module", params=sorted(_ROUNDING))
def rounding_fault(request, tmp_path_factory):
    cfg = presets.get(request.param)
    d = design.generate(cfg)
    (m,) = [m for m in faults.mutants(Path(d.verilog).read_text(), d)
            if m.kind == "rounding" and _ROUNDING[request.param] in m.description]
    path = tmp_path_factory.mktemp("fault") / "dut.v"
    path.write_text(m.text)
    return cfg, d, path


@pytest.mark.slow
def test_max_errors_stops_and_saves_cases_that_replay(rounding_fault, tmp_path):
    cfg, d, verilog = rounding_fault
    ref = cfg.reference_evaluator
    total = 20 * S.BLOCK
    r = S.stream(cfg, ["verilator"], total, seed=1, chunk_blocks=1, max_errors=3,
                 failures_dir=tmp_path, design=d, verilog=verilog)
    assert not r["ok"] and r["stopped"]
    assert r["mismatches"] >= 3 and r["vectors"] < total
    assert len(r["saved"]) == 3 and len(r["failures"]) == 3
    for path, case in zip(r["saved"], r["failures"]):
        data = json.loads(Path(path).read_text())
        assert data == json.loads(json.dumps(case))
        assert data["observed"]["verilator"] != data["observed"][ref]
        # the correct design agrees with the model on the saved case ...
        assert evaluate.replay_file(path, sims=("verilator",))["ok"]
        # ... and the faulty one gets it wrong again
        vs = compare.load_case(path)
        assert [int(vs.expected[k][0]) for k in vs.out_roles] == data["observed"][ref]
        hdl = fastpath.run_vectors("icarus", d, vs, verilog=verilog)
        assert hdl.mismatches == 1


@pytest.mark.slow
def test_cli_max_errors_and_report(rounding_fault, tmp_path, capsys, monkeypatch):
    from sim.cli import main
    cfg, d, verilog = rounding_fault
    # the faulty Verilog in place of the design's (the CLI takes the design from the cache)
    monkeypatch.setattr(S, "run_chunk", _with_verilog(S.run_chunk, verilog))
    rc = main(["testbench", "--preset", cfg.name, "--sim", "verilator", "--vectors",
               str(10 * S.BLOCK), "--max-errors", "2", "--max-report", "1", "--failures",
               str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "MISMATCH" in out and "stopped after" in out
    assert out.count("saved failing case") == 2 and len(list(tmp_path.glob("*.json"))) == 2
    assert out.count("\ncase ") + out.startswith("case ") == 1          # --max-report 1


def _with_verilog(fn, verilog):
    def run(*a, **kw):
        kw["verilog"] = verilog
        return fn(*a, **kw)
    return run


@pytest.mark.parametrize("preset", ["lns12", "lns8", "lns8_lion", "fp32_adam"])
def test_model_reads_narrow_words(preset):
    """The block's narrow input words (uint16/uint32) give the model the same outputs as
    int64 words, on the fast and the exact evaluator."""
    cfg = presets.get(preset)
    b, _ = S.make_block(cfg, 1, 9, 10 * S.BLOCK)
    wide = {k: a.astype(np.int64) for k, a in b.words.items()}

    def state():
        return None if b.lfsr_seed is None else b.lfsr_seed.copy()
    ref = cfg.update(wide, b.t, b.held, lfsr_state=state())
    assert all(np.array_equal(ref[k], b.expected[k]) for k in cfg.output_roles)
    m = 200
    exact = cfg.update({k: a[:m] for k, a in b.words.items()}, b.t, b.held,
                       lfsr_state=state(), evaluator="python")
    assert all(np.array_equal(exact[k], ref[k][:m]) for k in cfg.output_roles)


@pytest.mark.slow
def test_ctrl_c_interrupts_a_huge_run(tmp_path):
    """A run of 10**12 vectors starts (no MemoryError), shows progress with an ETA, and
    Ctrl-C ends it with one line and exit status 130, the harness process gone."""
    import os
    import signal
    import time
    exe = Path(sys.executable).parent / "lnsmadam"
    proc = subprocess.Popen([str(exe), "testbench", "--preset", "lns12", "--sim",
                             "verilator", "--vectors", str(10 ** 12), "--failures", ""],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:          # wait for the first progress line
            line = proc.stderr.readline()
            lines.append(line)
            if "ETA" in line:
                break
        assert "ETA" in lines[-1], lines
        os.killpg(proc.pid, signal.SIGINT)          # what a terminal's Ctrl-C does
        rest = proc.stderr.read()
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 130
    assert rest.strip().splitlines()[-1] == "lnsmadam: interrupted"
    assert "Traceback" not in rest


@pytest.mark.slow
def test_failures_do_not_depend_on_the_split(rounding_fault):
    """(the chunks' failures, in block order, are the same whatever the split)"""
    cfg, d, verilog = rounding_fault
    total = 3 * S.BLOCK
    kw = dict(seed=2, total=total, max_errors=4, design=d, verilog=verilog)
    whole = S.merge([S.run_chunk(cfg, ["verilator"], first_block=0, blocks=3, **kw)])
    parts = S.merge([S.run_chunk(cfg, ["verilator"], first_block=b, blocks=1, **kw)
                     for b in (2, 0, 1)])
    assert whole["mismatches"] > 4 and len(whole["failures"]) == 4
    assert _no_time(whole) == _no_time(parts)
