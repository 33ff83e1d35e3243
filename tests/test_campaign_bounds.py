"""`lnsmadam campaign` under hostile input and interrupts (issue 21): the workers bounded by
the usable cores, the counts bounded with their reasons, planning lazy and the tasks in
flight bounded, the scheduler's address checked and its workers waited for with a timeout,
a worker's error as one line, and Ctrl-C ending every process of the campaign within 2 s.

The fast tests never start a worker process: a local cluster would be a bug there
(`no_local_cluster`).  The slow ones run the command in a process of its own and interrupt
it (tests/conftest.py names them).
"""

import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from lns.errors import InvalidValue
from sim.cli import main
from testbench import streaming

BLOCK = streaming.BLOCK
LNSMADAM = str(Path(sys.executable).with_name("lnsmadam"))
TINY = ["campaign", "--presets", "tiny", "--sims", "icarus", "--vectors", "10", "--failures", ""]


@pytest.fixture
def no_local_cluster(monkeypatch):
    """Starting a local cluster fails the test: what is refused must be refused before."""
    import dask.distributed
    import distributed

    class Refused:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a local cluster was started")
    monkeypatch.setattr(dask.distributed, "LocalCluster", Refused)
    monkeypatch.setattr(distributed, "LocalCluster", Refused)


@pytest.fixture
def no_planning(monkeypatch):
    """Planning a task fails the test: what is refused must be refused before (a campaign
    of 10**14 vectors would otherwise plan 1.5 billion tasks in memory)."""
    plan = importlib.import_module("sim.campaign.plan")       # the module, not `plan`

    class Refused(plan.TaskSpec):
        def __init__(self, *args, **kwargs):
            raise AssertionError("a task was planned")
    monkeypatch.setattr(plan, "TaskSpec", Refused)


@pytest.fixture
def cores(monkeypatch):
    """Pretend this process may run on ``n`` cores (its CPU affinity)."""
    def pretend(n):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)))
    return pretend


@pytest.fixture
def empty_scheduler():
    """A real Dask scheduler without a worker (threads of this process)."""
    from dask.distributed import LocalCluster
    cluster = LocalCluster(n_workers=0, processes=False, protocol="tcp://",
                           host="127.0.0.1", dashboard_address="127.0.0.1:0",
                           silence_logs=logging.ERROR)
    yield cluster.scheduler_address
    cluster.close()


def _error(capsys) -> str:
    """stderr, which must be one line ``lnsmadam: error: ...``; its text after the prefix."""
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("lnsmadam: error: "), err
    return err[len("lnsmadam: error: "):].rstrip("\n")


# ---- the workers: at most 4 a usable core, refused before any worker starts ------------------
@pytest.mark.parametrize("n_cores, limit, words", [
    (2, 8, "4 x the 2 cores this machine has = 8"),
    (1, 4, "4 x the 1 core this machine has = 4"),
])
def test_too_many_workers_are_refused_before_any_worker_starts(n_cores, limit, words, cores,
                                                                no_local_cluster, no_planning,
                                                                capsys):
    cores(n_cores)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    assert main([*TINY, "--workers", "1000"]) == 2
    assert _error(capsys) == f"--workers must be at most {words}, not 1,000"
    assert main([*TINY, "--workers", str(limit + 1)]) == 2
    assert _error(capsys) == f"--workers must be at most {words}, not {limit + 1}"
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def test_help_states_the_workers_bound(cores, capsys):
    cores(3)
    with pytest.raises(SystemExit):
        main(["campaign", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ("worker processes of the local cluster (default one per usable core, 3 here; at "
            "most 4 a core, 12 here)") in text
    assert "vectors per preset, at most 100,000,000,000,000" in text
    assert "--wait-workers SECONDS" in text


def test_the_api_refuses_too_many_workers_before_any_work(cores, no_local_cluster,
                                                          no_planning):
    from sim.campaign import run_campaign
    cores(2)
    with pytest.raises(InvalidValue, match=r"^workers must be at most 4 x the 2 cores this "
                                           r"machine has = 8, not 9$"):
        run_campaign(["tiny"], ["icarus"], 10, workers=9)


# ---- counts, seeds and addresses: one line, exit 2, before any work -------------------------
@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "argument --seed: -1 is not a seed: a seed is a whole number from 0 "
                       "to 4294967295"),
    (["--seed", "4294967296"], "argument --seed: 4294967296 is not a seed: a seed is a whole "
                               "number from 0 to 4294967295"),
    (["--vectors", "100000000000001"], "--vectors must be at most 100,000,000,000,000 (the "
                                       "summary's totals over every preset stay exact in "
                                       "JSON), not 100,000,000,000,001"),
    (["--lanes", "65"], "--lanes must be at most 64 (rtl.design.MAX_LANES: generation grows "
                        "with the lanes), not 65"),
    (["--max-errors", "1001"], "--max-errors must be at most 1,000 (each failing case kept is "
                               "held in memory and saved as a file), not 1,001"),
    (["--chunk-blocks", "1025"], "--chunk-blocks must be at most 1,024 (a task reports only "
                                 "when all its blocks are done), not 1,025"),
    (["--wait-workers", "0"], "argument --wait-workers: 0 is not a wait: seconds above 0 and "
                              "at most 86400"),
    (["--wait-workers", "nan"], "argument --wait-workers: nan is not a wait: seconds above 0 "
                                "and at most 86400"),
    (["--scheduler", "notanaddress"], "--scheduler must be an address such as "
                                      "tcp://host:8786, not 'notanaddress' (no port number)"),
    (["--scheduler", "tcp://h:99999"], "--scheduler must be an address such as "
                                       "tcp://host:8786, not 'tcp://h:99999' (the port must "
                                       "be from 1 to 65535, not 99999)"),
    (["--scheduler", "tcp://h:port"], "--scheduler must be an address such as "
                                      "tcp://host:8786, not 'tcp://h:port' (no port number)"),
    (["--scheduler", "foo://h:1"], "--scheduler must be an address such as tcp://host:8786, "
                                   "not 'foo://h:1' (the scheme must be one of tcp, tls, ws, "
                                   "wss, not 'foo')"),
    (["--scheduler", "tcp://:8786"], "--scheduler must be an address such as "
                                     "tcp://host:8786, not 'tcp://:8786' (no host name)"),
])
def test_bad_values_are_one_line_before_any_work(argv, message, no_local_cluster, no_planning,
                                                 capsys):
    assert main([*TINY, *argv]) == 2
    assert _error(capsys) == message


def test_the_api_checks_the_seed_and_the_counts_before_planning():
    from sim.campaign import VECTORS_MAX, iter_plan, plan
    with pytest.raises(InvalidValue, match=r"^seed must be a whole number from 0 to "
                                           r"4294967295, not -1$"):
        plan(["tiny"], ["icarus"], 10, seed=-1)
    with pytest.raises(InvalidValue, match=r"^vectors must be at most 100,000,000,000,000 "):
        iter_plan(["tiny"], ["icarus"], VECTORS_MAX + 1)        # at the call, not at next()


def test_an_unreachable_scheduler_is_one_line_within_the_connect_timeout(monkeypatch,
                                                                         capsys):
    from sim.campaign import cluster
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as s:                # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.monotonic()
    assert main([*TINY, "--scheduler", address]) == 2
    assert time.monotonic() - t0 < 10
    _, err = capsys.readouterr()
    *notes, last = err.splitlines()
    assert last.startswith(f"lnsmadam: error: cannot reach the Dask scheduler at {address} "
                           f"within 1 s: "), err
    assert notes == [f"campaign: connecting to {address}"]


# ---- a scheduler without workers: one line after --wait-workers -----------------------------
def test_a_scheduler_without_workers_is_reported_after_the_wait(empty_scheduler, capsys):
    t0 = time.monotonic()
    assert main([*TINY, "--scheduler", empty_scheduler, "--wait-workers", "1.5"]) == 2
    elapsed = time.monotonic() - t0
    assert 1.5 <= elapsed < 15
    _, err = capsys.readouterr()
    assert err.splitlines() == [       # checked before the warm-up builds anything
        f"campaign: connecting to {empty_scheduler}",
        f"campaign: waiting up to 1.5 s for a worker of {empty_scheduler}",
        f"lnsmadam: error: the scheduler at {empty_scheduler} has no workers after 1.5 s"]


def test_the_api_reports_a_scheduler_without_workers(empty_scheduler):
    from sim.campaign import CampaignError, run_campaign
    with pytest.raises(CampaignError, match=rf"^the scheduler at {empty_scheduler} has no "
                                            rf"workers after 0.5 s$"):
        run_campaign(["tiny"], ["icarus"], 10, scheduler=empty_scheduler, wait_workers=0.5)


class _NoWorkers:
    def nthreads(self):
        return {}


def test_workers_gone_in_the_middle_of_a_run_are_reported_after_the_wait(monkeypatch):
    from sim.campaign import CampaignError, run
    clock = [100.0]
    monkeypatch.setattr(run.time, "monotonic", lambda: clock[0])
    runner = run._Runner(_NoWorkers(), "tcp://h:8786", 30.0)
    runner._check_workers()                       # the first look without a worker
    clock[0] += 29.9
    runner._check_workers()
    clock[0] += 0.1
    with pytest.raises(CampaignError, match=r"^the scheduler at tcp://h:8786 has no workers "
                                            r"after 30 s$"):
        runner._check_workers()
    local = run._Runner(_NoWorkers(), None, 5.0)
    local._check_workers()
    clock[0] += 5
    with pytest.raises(CampaignError, match=r"^the local cluster has no workers after 5 s$"):
        local._check_workers()


# ---- planning in constant time and memory, a bounded number of tasks in flight --------------
def test_planning_a_huge_campaign_is_lazy():
    import tracemalloc
    from sim.campaign import TaskSpec, iter_plan, plan, task_count
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        specs = iter_plan(["lns12", "tiny"], ["verilator"], 10**12, seed=3)
        first = [next(specs) for _ in range(3)]
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 5 and peak < 20 * 2**20
    assert [(s.preset, s.first_block, s.blocks, s.total) for s in first] == [
        ("lns12", 0, 1, 10**12), ("lns12", 1, 1, 10**12), ("lns12", 2, 1, 10**12)]
    assert isinstance(first[0], TaskSpec) and first[0].seed == 3
    assert task_count(["lns12", "tiny"], 10**12) == 2 * 15_258_790
    assert task_count(["tiny"], 2 * BLOCK + 5, 2) == 2
    small = plan(["tiny", "lns12"], ["icarus"], 3 * BLOCK, chunk_blocks=2)
    assert small == list(iter_plan(["tiny", "lns12"], ["icarus"], 3 * BLOCK, chunk_blocks=2))
    assert len(small) == task_count(["tiny", "lns12"], 3 * BLOCK, 2) == 4


def _block_lengths_by_loop(first, blocks, total, lanes):
    return {-(-min(BLOCK, total - i * BLOCK) // lanes) * lanes
            for i in range(first, first + blocks)}


@pytest.mark.parametrize("total", [1, 7, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK - 3, 5 * BLOCK])
@pytest.mark.parametrize("lanes", [1, 3, 4])
def test_block_lengths_without_a_loop_match_the_loop(total, lanes):
    from sim.campaign.plan import TaskSpec
    from sim.campaign.run import _block_lengths
    n = -(-total // BLOCK)
    for first in range(n):
        for blocks in range(1, n - first + 1):
            spec = TaskSpec("tiny", {}, ("icarus",), 1, lanes, first, blocks, total)
            assert _block_lengths(spec, BLOCK) == _block_lengths_by_loop(first, blocks,
                                                                         total, lanes)


def _chunk(first, failures=(), protocol=(), mismatches=0):
    return streaming.ChunkResult(
        "tiny", first, 1, 100, mismatches,
        {"numba": {"vectors": 100, "mismatches": 0, "seconds": 0.5},
         "icarus": {"vectors": 100, "mismatches": mismatches, "seconds": 1.0 + first}},
        [{"origin": {"block": first, "vector": first * BLOCK + i}} for i in failures],
        0.25, list(protocol), max_errors=3)


def test_the_tally_gives_what_merge_gives_in_any_order():
    from sim.campaign.run import Tally
    chunks = [_chunk(0), _chunk(1, failures=[5, 9], mismatches=2), _chunk(2),
              _chunk(3, failures=[1, 2], protocol=["TIMEOUT"], mismatches=2),
              _chunk(4, failures=[0], mismatches=1)]
    want = streaming.merge(chunks)
    for order in ([4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [0, 1, 2, 3, 4]):
        tally = Tally(3)
        for i in order:
            tally.add(chunks[i])
        assert tally.merged() == want
        assert tally.chunks == 5
    assert [f["origin"]["vector"] for f in want["failures"]] == [BLOCK + 5, BLOCK + 9,
                                                                 3 * BLOCK + 1]
    assert want["ok"] is False and want["protocol"] == ["TIMEOUT"]


@pytest.fixture
def thread_cluster():
    """A scheduler with one worker of two threads in this process (the tasks it runs see
    this process's monkeypatches)."""
    from dask.distributed import LocalCluster
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           protocol="tcp://", host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    yield cluster.scheduler_address
    cluster.close()


def test_tasks_in_flight_stay_bounded_and_every_result_is_tallied(thread_cluster,
                                                                  monkeypatch):
    from sim.campaign import run
    taken, done = [0], [0]
    in_flight = []

    def counted(*args, **kwargs):
        for spec in run_iter_plan(*args, **kwargs):
            taken[0] += 1
            in_flight.append(taken[0] - done[0])          # with this one submitted
            yield spec

    def fake_task(spec):
        r = _chunk(spec.first_block)
        r.vectors = min(BLOCK, spec.total - spec.first_block * BLOCK)
        return {"preset": spec.preset, "chunk": r.to_dict()}

    def progress(vectors, total, note):
        done[0] = -(-vectors // BLOCK)

    run_iter_plan = run.iter_plan
    monkeypatch.setattr(run, "iter_plan", counted)
    monkeypatch.setattr(run, "run_task", fake_task)
    monkeypatch.setattr(run, "warm_up", lambda specs, progress=None: 0.0)
    s = run.run_campaign(["tiny"], ["icarus"], 40 * BLOCK - 7, scheduler=thread_cluster,
                         progress=progress)
    assert taken[0] == 40 and s["chunks"] == 40 and s["presets"]["tiny"]["chunks"] == 40
    assert s["totals"]["vectors"] == 40 * BLOCK - 7
    assert max(in_flight) == run.IN_FLIGHT_PER_THREAD * 2       # 2 threads, never more
    assert s["presets"]["tiny"]["evaluators"]["numba"]["vectors"] == 40 * 100


def test_a_task_failing_on_bad_input_is_one_line_and_a_bug_is_an_internal_error(
        thread_cluster, monkeypatch, capsys):
    from sim.campaign import run

    def bad_input(spec):
        raise InvalidValue("lanes must be a positive int, not 0")
    monkeypatch.setattr(run, "warm_up", lambda specs, progress=None: 0.0)
    monkeypatch.setattr(run, "run_task", bad_input)
    assert main([*TINY, "--scheduler", thread_cluster]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == ("lnsmadam: error: tiny blocks 0..0 failed: InvalidValue: "
                                    "lanes must be a positive int, not 0")
    assert "Traceback" not in err

    def bug(spec):
        return 1 / 0
    monkeypatch.setattr(run, "run_task", bug)
    assert main([*TINY, "--scheduler", thread_cluster]) == 70
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("lnsmadam: internal error (a bug in lnsmadam, "
                                           "please report it): ZeroDivisionError: ")


# ---- Ctrl-C at any phase: exit 130 within 2 s, no process left ------------------------------
def _tagged_processes(tag: str) -> list:
    """Processes still running (not zombies) whose environment carries ``tag``: the
    campaign's and every process it started, wherever they were reparented."""
    out = []
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and \
                    proc.environ().get("LNSMADAM_TEST_TAG") == tag:
                out.append(proc)
        except psutil.Error:
            pass
    return out


class _Campaign:
    """``lnsmadam campaign ARGS`` in a session of its own, stderr read by a thread."""

    def __init__(self, *args):
        self.tag = uuid.uuid4().hex
        self.lines: list = []
        self.proc = subprocess.Popen(
            [LNSMADAM, "campaign", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
            env={**os.environ, "LNSMADAM_TEST_TAG": self.tag})
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self.lines.append(None)                   # end of stream
            self._seen.notify_all()

    def wait_for(self, text: str, timeout: float) -> str:
        with self._seen:
            found = self._seen.wait_for(lambda: any(x is None or text in x
                                                    for x in self.lines), timeout)
            match = [x for x in self.lines if x is not None and text in x]
        assert found and match, "".join(x for x in self.lines if x)
        return match[0]

    def wait_for_harnesses(self, n: int, timeout: float) -> None:
        """Until ``n`` Verilator harnesses (one a task) have run under the campaign (the
        log shows no progress before 10 % of the vectors)."""
        seen: set = set()
        deadline = time.monotonic() + timeout
        while len(seen) < n and time.monotonic() < deadline:
            try:
                tree = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for proc in tree:
                try:
                    if proc.name().startswith("Vstream"):
                        seen.add((proc.pid, proc.create_time()))
                except psutil.Error:
                    pass
            time.sleep(0.05)                  # a harness lives for a whole task
        assert len(seen) >= n, f"{len(seen)} harnesses: {self.stderr()}"

    def interrupt(self, group: bool, times: int = 1) -> float:
        """SIGINT (to the process alone, or to its group as a terminal's Ctrl-C), ``times``
        times 0.2 s apart (an impatient user); the seconds from the first until it
        exited."""
        t0 = time.monotonic()
        for i in range(times):
            if i:
                time.sleep(0.2)
            if self.proc.poll() is not None:
                break
            if group:
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                os.kill(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        finally:
            self.end()
        return time.monotonic() - t0

    def end(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reader.join(10)
        for proc in _tagged_processes(self.tag):
            proc.kill()

    def stderr(self) -> str:
        return "".join(x for x in self.lines if x)


def _assert_stopped(c: _Campaign, seconds: float, twice: bool = False):
    err = c.stderr()
    # a second SIGINT that lands in the interpreter's own exit, after the command has
    # returned 130, ends it by the signal: a shell shows that as 130 too
    assert c.proc.returncode in ((130, -signal.SIGINT) if twice else (130,)), err
    assert seconds < 2.0, f"stopped after {seconds:.2f} s"
    assert err.rstrip().endswith("lnsmadam: interrupted"), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert c.proc.stdout.read() == ""
    deadline = time.monotonic() + 2          # the kernel reaps what was killed
    while _tagged_processes(c.tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p.name() for p in _tagged_processes(c.tag)] == []


def test_a_huge_campaign_starts_at_once_in_bounded_memory_and_stops_on_sigint():
    """10**12 vectors a preset (15 million tasks): the tasks start within seconds of the
    cluster, the client's memory stays that of a small campaign, and SIGINT to the client
    alone (no Ctrl-C reaching the workers) stops everything within 2 s."""
    c = _Campaign("--presets", "tiny", "--sims", "verilator", "--vectors", str(10**12),
                  "--workers", "2", "--failures", "")
    try:
        line = c.wait_for("tasks on 2 workers", timeout=300)
        assert "0/1,000,000,000,000 vectors" in line or "0/1000000000000 vectors" in line
        assert "15258790 tasks on 2 workers" in line
        c.wait_for_harnesses(4, timeout=300)                  # two tasks done at least
        rss = psutil.Process(c.proc.pid).memory_info().rss
        assert rss < 500 * 2**20, f"client RSS {rss / 2**20:.0f} MB"
        seconds = c.interrupt(group=False)
    finally:
        c.end()
    _assert_stopped(c, seconds)


@pytest.mark.parametrize("phase, marker, delay, group, times", [
    # early in the start, while the workers spawn: the exit once left a half-built cluster
    # to Dask's exit hook (a traceback) and its semaphores to the resource tracker (a warning)
    ("cluster start, spawning", "starting a local cluster of 4 workers", 0.03, True, 1),
    ("cluster start, spawning later", "starting a local cluster of 4 workers", 0.05, True, 1),
    ("cluster start", "starting a local cluster of 4 workers", 0.2, True, 1),
    ("cluster start, client alone", "starting a local cluster of 4 workers", 0.6, False, 1),
    ("tasks running", "tasks on 4 workers", 2.0, True, 1),
    ("tasks running, Ctrl-C twice", "tasks on 4 workers", 2.0, True, 2),
])
def test_sigint_at_any_phase_stops_within_2_s_and_leaves_no_process(phase, marker, delay,
                                                                     group, times):
    c = _Campaign("--presets", "tiny", "--sims", "icarus", "--vectors", str(40 * BLOCK),
                  "--workers", "4", "--failures", "")
    try:
        c.wait_for(marker, timeout=300)
        time.sleep(delay)                     # into the phase (there is no event for it)
        seconds = c.interrupt(group=group, times=times)
    finally:
        c.end()
    _assert_stopped(c, seconds, twice=times > 1)
