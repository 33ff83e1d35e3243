"""The streaming testbench (`testbench.streaming`): blocks made from their own seeds, a
result that does not depend on the chunk size, a chunk that replays alone, memory that
does not grow with the vector count, `--max-errors` on a fault-injected design and the
saved cases replayed."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lns import presets
from testbench import compare, design, evaluate, fastpath, faults, streaming as S

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


@pytest.mark.parametrize("preset,lanes", [("lns12", 1), ("lns8", 2)])
def test_block_is_made_from_its_own_seed(preset, lanes):
    cfg = presets.get(preset)
    total = 3 * S.BLOCK + 1000
    a, _ = S.make_block(cfg, 7, 2, total, lanes)
    b, _ = S.make_block(cfg, 7, 2, total, lanes)
    last, _ = S.make_block(cfg, 7, 3, total, lanes)
    assert len(a) == S.BLOCK and len(last) == 1000
    for x, y in zip((a.w, a.g, a.v, a.exp_w, a.exp_v), (b.w, b.g, b.v, b.exp_w, b.exp_v)):
        assert np.array_equal(x, y)
    # narrow words on the model side
    assert a.w.dtype == np.uint16 and a.exp_v.dtype == np.uint32
    # the model's outputs over the block, lanes restarted from the block's seed
    vs = a.vector_set(cfg, lanes)
    ew, ev = S.V.expected_outputs(cfg, vs.t, vs.clip, vs.w, vs.g, vs.v, lanes=lanes,
                                  lfsr_seed=vs.lfsr_seed)
    assert np.array_equal(ew, vs.exp_w) and np.array_equal(ev, vs.exp_v)


def test_result_does_not_depend_on_chunk_size_and_a_chunk_replays_alone():
    cfg = presets.get("lns8")           # stochastic: the lanes restart every block
    total = 3 * S.BLOCK + 999
    one = S.stream(cfg, ["verilator"], total, seed=3, lanes=2, chunk_blocks=1)
    three = S.stream(cfg, ["verilator"], total, seed=3, lanes=2, chunk_blocks=3)
    assert one["ok"] and one["vectors"] == total + 1       # 999 padded to whole beats
    assert _no_time(one) == _no_time(three)
    parts = [S.run_chunk(cfg, ["verilator"], seed=3, first_block=b, blocks=1, total=total,
                         lanes=2) for b in (3, 1, 0, 2)]
    assert _no_time(S.merge(parts)) == _no_time(S.merge([S.run_chunk(
        cfg, ["verilator"], seed=3, first_block=0, blocks=4, total=total, lanes=2)]))
    r = S.ChunkResult.from_dict(json.loads(json.dumps(parts[0].to_dict())))
    assert r == parts[0]
    assert r.first_block == 3 and r.vectors == 1000 and r.mismatches == 0
    assert r.evaluators["numba"]["vectors"] == 1000
    assert r.evaluators["python"]["vectors"] == S.PYTHON_PER_BLOCK


def test_icarus_and_verilator_agree_on_a_stochastic_block():
    cfg = presets.get("lns8_sign")
    r = S.run_chunk(cfg, ["icarus", "verilator"], seed=5, first_block=0, blocks=1,
                    total=4000, lanes=2)
    assert r.mismatches == 0 and r.failures == []
    assert r.evaluators["icarus"]["vectors"] == r.evaluators["verilator"]["vectors"] == 4000


_PEAK = """
import resource, sys
from lns import presets
from testbench import streaming
r = streaming.stream(presets.get("lns12"), ["verilator"], int(sys.argv[1]), seed=1)
assert r["ok"], r
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_peak_memory_does_not_grow_with_the_vector_count():
    cfg = presets.get("lns12")
    fastpath.build_stream(design.generate(cfg))             # built outside the measure
    peaks = []
    for n in (200_000, 2_000_000):
        out = subprocess.run([sys.executable, "-c", _PEAK, str(n)], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout
        peaks.append(int(out.split()[-1]))
    assert peaks[1] <= 1.2 * peaks[0], peaks


@pytest.fixture(scope="module")
def rounding_fault(tmp_path_factory):
    cfg = presets.get("lns12")
    d = design.generate(cfg)
    m = next(m for m in faults.mutants(Path(d.verilog).read_text(), d)
             if m.kind == "rounding")
    path = tmp_path_factory.mktemp("fault") / "dut.v"
    path.write_text(m.text)
    return cfg, d, path


def test_max_errors_stops_and_saves_cases_that_replay(rounding_fault, tmp_path):
    cfg, d, verilog = rounding_fault
    total = 20 * S.BLOCK
    r = S.stream(cfg, ["verilator"], total, seed=1, chunk_blocks=1, max_errors=3,
                 failures_dir=tmp_path, design=d, verilog=verilog)
    assert not r["ok"] and r["stopped"]
    assert r["mismatches"] >= 3 and r["vectors"] < total
    assert len(r["saved"]) == 3 and len(r["failures"]) == 3
    for path, case in zip(r["saved"], r["failures"]):
        data = json.loads(Path(path).read_text())
        assert data == json.loads(json.dumps(case))
        assert data["observed"]["verilator"] != data["observed"]["numba"]
        # the correct design agrees with the model on the saved case ...
        assert evaluate.replay_file(path, sims=("verilator",))["ok"]
        # ... and the faulty one gets it wrong again
        vs = compare.load_case(path)
        assert [int(vs.exp_w[0]), int(vs.exp_v[0])] == data["observed"]["numba"]
        hdl = fastpath.run_vectors("icarus", d, vs, verilog=verilog)
        assert hdl.mismatches == 1


def test_cli_max_errors_and_report(rounding_fault, tmp_path, capsys, monkeypatch):
    from sim.cli import main
    cfg, d, verilog = rounding_fault
    # the faulty Verilog in place of the design's (the CLI takes the design from the cache)
    monkeypatch.setattr(S, "run_chunk", _with_verilog(S.run_chunk, verilog))
    rc = main(["testbench", "--preset", "lns12", "--sim", "verilator", "--vectors",
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


@pytest.mark.parametrize("preset", ["lns12", "lns8"])
def test_model_writes_narrow_outputs(preset):
    import lns
    cfg = presets.get(preset)
    b, _ = S.make_block(cfg, 1, 9, 10 * S.BLOCK)
    state = lns.lane_seeds(1, 1) if cfg.is_stochastic else None
    ref = lns.madam_update(cfg, b.w.astype(np.int64), b.g.astype(np.int64),
                           b.v.astype(np.int64), b.t, clip=b.clip,
                           lfsr_state=None if state is None else state.copy())
    assert ref[0].dtype == np.int64                       # the default return is unchanged
    for evaluator in ("numba", "python"):
        m = 500 if evaluator == "python" else len(b)
        out = (np.empty(m, dtype=np.uint16), np.empty(m, dtype=np.uint32))
        got = lns.madam_update(cfg, b.w[:m], b.g[:m], b.v[:m], b.t, clip=b.clip,
                               lfsr_state=None if state is None else state.copy(),
                               evaluator=evaluator, out=out)
        assert got is out
        assert np.array_equal(out[0], ref[0][:m]) and np.array_equal(out[1], ref[1][:m])
    with pytest.raises(ValueError, match="out_v must hold 17-bit words, not uint16"):
        lns.madam_update(cfg, b.w, b.g, b.v, b.t, clip=b.clip, lfsr_state=state,
                         out=(np.empty(len(b), np.uint16), np.empty(len(b), np.uint16)))


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


def test_failures_do_not_depend_on_the_split(rounding_fault):
    cfg, d, verilog = rounding_fault
    total = 3 * S.BLOCK
    kw = dict(seed=2, total=total, max_errors=4, design=d, verilog=verilog)
    whole = S.merge([S.run_chunk(cfg, ["verilator"], first_block=0, blocks=3, **kw)])
    parts = S.merge([S.run_chunk(cfg, ["verilator"], first_block=b, blocks=1, **kw)
                     for b in (2, 0, 1)])
    assert whole["mismatches"] > 4 and len(whole["failures"]) == 4
    assert _no_time(whole) == _no_time(parts)
