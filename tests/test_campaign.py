"""`sim.campaign` and `lnsmadam campaign`: every rule's presets, the plan, one task per chunk
on Dask, the same summary for 1 and 2 workers, the command's errors and Ctrl-C."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lns import presets
from sim.campaign import TaskSpec, plan, run_campaign, strip_timing
from sim.cli import main
from testbench import streaming

BLOCK = streaming.BLOCK


@pytest.fixture(scope="module")
def cluster2():
    """A local cluster of two worker processes (what `run_campaign` starts by default),
    reached by address like an existing cluster."""
    import logging
    from dask.distributed import LocalCluster
    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    yield cluster.scheduler_address
    cluster.close()


# ---- the plan ------------------------------------------------------------------------------
def test_plan_one_spec_per_chunk_per_preset_and_specs_pickle():
    specs = plan(["lns12", "lns8_sign"], "icarus,verilator", 2 * BLOCK + 5, seed=3, lanes=2,
                 chunk_blocks=2)
    assert [(s.preset, s.first_block, s.blocks) for s in specs] == [
        ("lns12", 0, 2), ("lns12", 2, 1), ("lns8_sign", 0, 2), ("lns8_sign", 2, 1)]
    for s in specs:
        assert s.sims == ("icarus", "verilator") and s.seed == 3 and s.lanes == 2
        assert s.total == 2 * BLOCK + 5
        back = pickle.loads(pickle.dumps(s))
        assert back == s and isinstance(back, TaskSpec)
        assert back.cfg() == presets.get(s.preset)
    # the default: one block a task, whatever the workers
    assert [s.blocks for s in plan(["tiny"], ["icarus"], 3 * BLOCK)] == [1, 1, 1]


@pytest.mark.parametrize("name", presets.names())
def test_plan_takes_every_rule(name):
    (spec,) = plan([name], ["verilator"], 100)
    back = pickle.loads(pickle.dumps(spec))
    assert back.cfg() == presets.get(name) and back.config["optimizer"] == \
        str(presets.get(name).optimizer)


@pytest.mark.parametrize("args, message", [
    ((["nope"], ["icarus"], 10), "preset must be one of"),
    ((["lns12", "lns12"], ["icarus"], 10), "presets must not repeat a name, not 'lns12' twice"),
    (([], ["icarus"], 10), "presets must name at least one preset"),
    ((["lns12"], ["modelsim"], 10), "sim must be one of icarus, verilator, amaranth, not 'modelsim'"),
    ((["lns12"], [], 10), "sims must name at least one simulator"),
    ((["lns12"], ["icarus"], 0), "vectors must be a positive int, not 0"),
])
def test_plan_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        plan(*args)


# ---- 1 and 2 workers -------------------------------------------------------------------------
def _single_process(name, sims, vectors, seed=1):
    """What `streaming.stream` finds in one process, per evaluator (counts only)."""
    r = streaming.stream(presets.get(name), sims, vectors, seed=seed)
    return r["vectors"], r["mismatches"], {k: (e["vectors"], e["mismatches"])
                                           for k, e in r["evaluators"].items()}


RULES = ["lns12", "lns8_sign", "lns12_adam", "lns12_sgd", "lns12_lion", "bf16_adam"]


@pytest.mark.slow
def test_one_and_two_workers_give_the_same_summary(cluster2):
    kw = dict(seed=5, max_errors=4)
    one = run_campaign(RULES, ["icarus", "verilator"], 3000, workers=1, **kw)
    two = run_campaign(RULES, ["icarus", "verilator"], 3000, scheduler=cluster2, **kw)
    assert (one["workers"], two["workers"]) == (1, 2)
    assert two["scheduler"] == cluster2 and one["scheduler"] == "local"
    assert strip_timing(one) == strip_timing(two)
    assert one["ok"] and one["totals"]["mismatches"] == 0
    assert one["totals"]["vectors"] == 3000 * len(RULES) and one["chunks"] == len(RULES)
    for name in RULES:
        p = one["presets"][name]
        ref = presets.get(name).reference_evaluator
        assert p["vectors"] == 3000 and p["mismatches"] == 0 and p["failures"] == []
        assert set(p["evaluators"]) == {ref, "python", "icarus", "verilator"}
        assert p["evaluators"]["icarus"]["vectors"] == 3000
        assert p["evaluators"]["python"]["vectors"] == streaming.PYTHON_PER_BLOCK
        for e in p["evaluators"].values():
            assert e["seconds"] >= 0 and (e["vectors_per_second"] or 0) >= 0
    t = one["totals"]["evaluators"]
    assert t["icarus"]["vectors"] == t["verilator"]["vectors"] == 3000 * len(RULES)
    assert t["numba"]["vectors"] + t["numpy"]["vectors"] == 3000 * len(RULES)


@pytest.mark.slow
def test_chunks_of_many_blocks_merge_to_the_single_process_result(cluster2):
    total = 2 * BLOCK + 500                           # three blocks, the last one short
    s = run_campaign(["lns8_sign"], ["verilator"], total, seed=2, chunk_blocks=1,
                     scheduler=cluster2)
    p = s["presets"]["lns8_sign"]
    assert (p["blocks"], p["chunks"], s["chunks"]) == (3, 3, 3)
    assert (p["vectors"], p["mismatches"]) == (total, 0)
    vectors, mismatches, evals = _single_process("lns8_sign", ("verilator",), total, seed=2)
    assert {k: (e["vectors"], e["mismatches"]) for k, e in p["evaluators"].items()} == evals
    assert p["evaluators"]["python"]["vectors"] == 3 * streaming.PYTHON_PER_BLOCK


# ---- the command -----------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_json_on_an_existing_cluster(cluster2, capsys, tmp_path):
    rc = main(["campaign", "--presets", "lns8_sign,bf16_adam", "--sims", "verilator",
               "--vectors", "1500", "--seed", "4", "--scheduler", cluster2, "--failures",
               str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    data = json.loads(out)
    assert data["ok"] and data["workers"] == 2 and data["scheduler"] == cluster2
    assert data["totals"]["vectors"] == 3000 and data["totals"]["mismatches"] == 0
    assert data["sims"] == ["verilator"]
    assert data["presets"]["lns8_sign"]["evaluators"]["verilator"]["vectors"] == 1500
    assert data["presets"]["bf16_adam"]["evaluators"]["numpy"]["vectors"] == 1500
    assert "campaign" in err                                   # progress on stderr
    assert list(tmp_path.iterdir()) == []                      # nothing failed, nothing saved


@pytest.mark.slow
def test_cli_table(cluster2, capsys):
    rc = main(["campaign", "--presets", "tiny", "--sims", "verilator", "--vectors", "500",
               "--scheduler", cluster2, "--failures", ""])
    out = capsys.readouterr().out
    assert rc == 0
    assert "tiny" in out and "verilator" in out and "vectors/s" in out
    assert out.rstrip().endswith("all agree")


@pytest.mark.parametrize("argv, message", [
    (["--presets", "lns12,nope"], "--presets must be names from tiny, lns8_sign, lns8, lns12, "
                                  "lns16, lns8_adam, lns12_adam, lns16_adam, lns12_sgd, "
                                  "lns12_lion, lns8_lion, fp32_adam, bf16_adam, fp32_adam_fast, "
                                  "fp32_adam_fast_ftz, mp_adam, fp12_adam, fp32_madam, "
                                  "fp12_madam, not 'nope'"),
    (["--presets", ","], "--presets must name at least one, not ','"),
    (["--presets", "lns12,lns12"], "--presets must not repeat a name, not 'lns12,lns12'"),
    (["--sims", "icarus,modelsim"], "--sims must be names from icarus, verilator, amaranth, "
                                    "not 'modelsim'"),
    (["--vectors", "0"], "--vectors must be a positive number, not 0"),
    (["--lanes", "0"], "--lanes must be a positive number, not 0"),
    (["--workers", "0"], "--workers must be a positive number, not 0"),
    (["--max-errors", "0"], "--max-errors must be a positive number, not 0"),
    (["--chunk-blocks", "-1"], "--chunk-blocks must be a positive number, not -1"),
    (["--scheduler", " "], "--scheduler must be an address such as tcp://host:8786, not ''"),
    (["--scheduler", "tcp://h:8786", "--workers", "2"], "--workers must not be given with "
                                                        "--scheduler"),
    (["--vectors", "many"], "argument --vectors: invalid int value: 'many'"),
])
def test_cli_errors_are_one_line(argv, message, capsys):
    assert main(["campaign", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("lnsmadam: error: ")


def test_cli_missing_simulator(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["campaign", "--presets", "tiny", "--sims", "icarus", "--vectors", "10"]) == 2
    err = capsys.readouterr().err
    assert "simulator icarus is not available" in err and err.count("\n") == 1


@pytest.mark.slow
def test_ctrl_c_cancels_closes_and_says_one_line():
    """SIGINT to the whole process group (what a terminal's Ctrl-C does): one line, exit
    130, no traceback from the client or the worker processes, no process left."""
    exe = Path(sys.executable).with_name("lnsmadam")
    proc = subprocess.Popen([str(exe), "campaign", "--presets", "lns12", "--sims", "icarus",
                             "--vectors", str(8 * BLOCK), "--workers", "2", "--failures", ""],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:            # wait until the tasks run
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "tasks on 2 workers" in line:
                break
        assert any("tasks on 2 workers" in x for x in lines), "".join(lines)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = "".join(lines) + err
    assert proc.returncode == 130, err
    assert err.rstrip().endswith("lnsmadam: interrupted")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out == ""
    deadline = time.monotonic() + 15                  # the workers and simulators end too
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes of the campaign outlived it")
