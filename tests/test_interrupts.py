"""No child process outlives the work that started it (`rtl.process`): a time-out, an error
or Ctrl-C ends the child and everything it started (a compiler under make under Verilator's
perl script) before the exception goes on; a command interrupted while a simulator builds
or runs exits 130 within 2 s and leaves no process behind.

Processes are found by a token in their environment, which every descendant inherits
(`testbench.tools.sim_env` copies it), wherever it was reparented."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest


def _token_env(**extra):
    token = uuid.uuid4().hex
    return token, {**os.environ, "LNSMADAM_TEST_TOKEN": token, **extra}


def _running(token, but=()):
    """The processes (not yet ended) whose environment holds ``token``: [(pid, name)]."""
    found = []
    for p in psutil.process_iter(["pid", "name", "status"]):
        try:
            if p.info["pid"] in but or p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if p.environ().get("LNSMADAM_TEST_TOKEN") == token:
                found.append((p.info["pid"], p.info["name"]))
        except psutil.Error:          # ended meanwhile, or not ours to read
            pass
    return found


def _wait_for(token, name, proc, seconds=240):
    """Until a process called ``name`` with ``token`` runs (no event tells a process
    started elsewhere in the tree: look every 50 ms); fails if ``proc`` ends first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(n == name for _, n in _running(token)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail(f"no {name} process started within {seconds} s")


# ---- rtl.process ----------------------------------------------------------------------------
def test_run_ends_the_whole_tree_on_a_time_out():
    from rtl.process import run
    token, env = _token_env()
    t0 = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run(["sh", "-c", "sleep 30 & sleep 30"], env=env, capture_output=True, timeout=0.5)
    assert time.monotonic() - t0 < 2.5
    assert _running(token) == []


def test_leaving_a_child_by_ctrl_c_ends_its_group_first():
    from rtl.process import Child
    token, env = _token_env()
    with pytest.raises(KeyboardInterrupt):
        with Child(["sh", "-c", "sleep 30 & sleep 30 & echo ready; wait"], env=env,
                   stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout.readline() == "ready\n"
            assert len(_running(token)) == 3                  # sh and its two sleeps
            raise KeyboardInterrupt
    assert _running(token) == [] and proc.returncode == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace():
    from rtl.process import GRACE_S, Child
    token, env = _token_env()
    t0 = None
    with pytest.raises(RuntimeError):
        with Child(["sh", "-c", "trap '' TERM; echo ready; sleep 30"], env=env,
                   stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout.readline() == "ready\n"
            t0 = time.monotonic()
            raise RuntimeError("an error while it runs")
    assert GRACE_S <= time.monotonic() - t0 < GRACE_S + 1
    assert _running(token) == [] and proc.returncode == -signal.SIGKILL


def test_a_successful_run_is_subprocess_runs():
    from rtl.process import run
    proc = run(["sh", "-c", "cat; echo err >&2; exit 3"], input="in\n", capture_output=True,
               text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "in\n", "err\n")
    with pytest.raises(subprocess.CalledProcessError):
        run(["false"], check=True)


def test_the_testbench_run_ends_what_it_started_on_a_time_out():
    from testbench.tools import run
    token, env = _token_env()
    os.environ["LNSMADAM_TEST_TOKEN"] = token          # sim_env copies the environment
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5)
    finally:
        del os.environ["LNSMADAM_TEST_TOKEN"]
    assert _running(token) == []


def test_a_pipe_harness_left_by_an_exception_ends_its_group(tmp_path, monkeypatch):
    from testbench.tools import PipeProcess
    token, _ = _token_env()
    monkeypatch.setenv("LNSMADAM_TEST_TOKEN", token)
    exe = tmp_path / "harness"
    exe.write_text("#!/bin/sh\nsleep 30 &\necho ready\nexec cat\n")
    exe.chmod(0o755)
    h = PipeProcess()
    with pytest.raises(ValueError):
        with h:
            h._start(exe)
            assert h._read(6) == b"ready\n"
            raise ValueError("a reply it did not expect")
    assert _running(token) == []


# ---- the command line: Ctrl-C while a simulator builds or runs ------------------------------
CASES = {
    # the vector testbench running on Icarus
    "testbench-icarus": (["testbench", "--preset", "lns12", "--sim", "icarus",
                          "--vectors", str(10 ** 7), "--failures", ""], "vvp"),
    # Verilator's C++ compile of the streaming harness (cold cache)
    "testbench-verilator": (["testbench", "--preset", "lns12", "--sim", "verilator",
                             "--vectors", "1000", "--failures", ""], "cc1plus"),
    # the cycle simulation's harness running (after its build): about 100 M cycles
    "sim-verilator": (["sim", "--preset", "lns12", "--weights", "10000", "--steps", "100",
                       "--engine", "verilator", "--stall-prob", "0.99"], "Vsim"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_c_ends_the_command_and_every_process_it_started(case, tmp_path):
    argv, child = CASES[case]
    token, env = _token_env(LNSMADAM_CACHE=str(tmp_path / "cache"))
    exe = Path(sys.executable).with_name("lnsmadam")
    proc = subprocess.Popen([str(exe), *argv], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(token, child, proc)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)       # to lnsmadam alone: it must end the rest
        out, err = proc.communicate(timeout=30)
        seconds = time.monotonic() - t0
        left = _running(token)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid, _ in _running(token):        # a failing run cleans up after itself
            psutil.Process(pid).kill()
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "lnsmadam: interrupted", err
    assert "Traceback" not in err
    assert left == [], left
    assert seconds < 2, seconds
    # no half build, no file or folder of the run
    assert [p for p in (tmp_path / "cache").rglob("*")
            if ".tmp" in p.name or p.parent.name == "runs"] == []
