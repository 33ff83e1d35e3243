"""Run a campaign on Dask: tasks submitted a few at a time, tallied per preset, one summary.

The client (this process) checks the arguments and plans the tasks lazily (`plan.iter_plan`:
constant time and memory for any vector count), warms the caches (the designs and the
simulator builds, so the workers of this machine fetch them instead of building them side
by side), connects to a cluster (a `LocalCluster` of worker processes, one per usable core
by default and at most `cluster.WORKERS_PER_CORE` a core; an existing scheduler by address,
waiting a bounded time for a worker), keeps at most `IN_FLIGHT_PER_THREAD` tasks a worker
thread submitted and tallies each result per preset as it completes (`Tally`: what
`testbench.streaming.merge` gives, kept in constant memory).  A worker on another machine
builds into its own cache (`rtl.cache`: per machine) the first time it sees a design.

Ctrl-C (or an error) at any point ends every process the campaign started within about
`cluster.STOP_SECONDS` (`cluster.Brood`) and closes the cluster.
"""

from __future__ import annotations

import time
import uuid

from lns.errors import InvalidType, InvalidValue

from .cluster import (WAIT_WORKERS, Brood, CampaignError, check_workers, close, connect,
                      hush, interrupted, parse_scheduler, start_local, usable_cores,
                      wait_for_workers)
from .plan import TaskSpec, iter_plan, resolve_presets, resolve_sims, task_count

__all__ = ["run_task", "run_campaign", "warm_up", "strip_timing", "TIMING_KEYS",
           "CampaignError", "Tally", "IN_FLIGHT_PER_THREAD"]

# Keys of a summary that measure time or say where it ran; everything else is the same for
# any number of workers (`strip_timing`).
TIMING_KEYS = frozenset({"seconds", "vectors_per_second", "wall_seconds", "warm_up_seconds",
                         "run_seconds", "run_vectors_per_second", "workers", "threads",
                         "scheduler"})

#: Tasks submitted and not yet done, per worker thread: one running and one waiting keeps
#: a worker busy while the client hears of a result and submits the next; the client's
#: memory does not grow with the campaign.
IN_FLIGHT_PER_THREAD = 2
# Seconds between the client's looks at the cluster while it waits for a result (a
# scheduler whose workers have all gone is reported after `WAIT_WORKERS`).
_POLL_S = 1.0


class _Interrupted(Exception):
    """A task that a worker of the local cluster did not start after Ctrl-C."""


def run_task(spec: TaskSpec) -> dict:
    """One chunk on a worker: `testbench.streaming.run_chunk` of ``spec``, as a dictionary
    (`ChunkResult.to_dict`) with the spec's preset name.  The design and the simulator
    builds come from this machine's content-keyed cache (built there the first time)."""
    from testbench import streaming
    if interrupted():
        raise _Interrupted("interrupted")
    result = streaming.run_chunk(spec.cfg(), spec.sims, seed=spec.seed,
                                 first_block=spec.first_block, blocks=spec.blocks,
                                 total=spec.total, lanes=spec.lanes,
                                 max_errors=spec.max_errors)
    return {"preset": spec.preset, "chunk": result.to_dict()}


def _block_lengths(spec: TaskSpec, block: int) -> set:
    """The lengths of the blocks of ``spec`` (whole beats of its lanes, as
    `testbench.streaming` makes them): the Icarus build depends on them.  Every block but
    the last of the preset is whole; found without a loop over the blocks."""
    def beats(n):
        return -(-n // spec.lanes) * spec.lanes
    last = -(-spec.total // block) - 1
    end = spec.first_block + spec.blocks          # one past the spec's last block
    out = set()
    if spec.first_block < min(end, last):
        out.add(beats(block))
    if spec.first_block <= last < end:
        out.add(beats(spec.total - last * block))
    return out


def warm_up(specs, progress=None) -> float:
    """Build, in this process, what the tasks of ``specs`` fetch from the cache: the design
    of each (config, lanes) (`rtl.design`), the Verilator streaming harness and the Icarus
    testbench of each block length (`testbench.fastpath`).  The workers of this machine
    then find them built instead of building the same thing side by side.  Returns the
    seconds it took (next to nothing when everything was cached)."""
    from testbench import fastpath, streaming
    from testbench.design import generate
    from testbench.tools import Simulator
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    todo: dict = {}
    for s in specs:
        key = (s.preset, s.lanes)
        entry = todo.setdefault(key, (s, set(), set()))
        entry[1].update(x for x in Simulator.parse_all(s.sims) if x.is_hdl)
        entry[2].update(_block_lengths(s, streaming.BLOCK))
    for (name, lanes), (spec, sims, lengths) in todo.items():
        if not sims:
            continue
        say(f"design and simulator builds of {name} x{lanes}")
        design = generate(spec.cfg(), lanes)
        if Simulator.VERILATOR in sims:
            fastpath.build_stream(design)
        if Simulator.ICARUS in sims:
            for n in sorted(lengths):
                fastpath.build(Simulator.ICARUS, design, max(n, 1))
    return time.perf_counter() - t0


class Tally:
    """One preset's chunk results merged as they come, in any order, in constant memory:
    what `testbench.streaming.merge` gives for the same chunks (the failing cases and the
    protocol lines in block order, at most ``max_errors`` of each)."""

    def __init__(self, max_errors: int):
        self.max_errors = max_errors
        self.config = None
        self.chunks = self.blocks = self.vectors = self.mismatches = 0
        self.seconds = 0.0
        self.evaluators: dict = {}
        self.protocol_seen = False
        self._failures: list = []        # (first block of its chunk, index in it, case)
        self._protocol: list = []

    def add(self, r) -> None:
        """Tally a `testbench.streaming.ChunkResult`."""
        self.config = self.config or r.config
        self.chunks += 1
        self.blocks += r.blocks
        self.vectors += r.vectors
        self.mismatches += r.mismatches
        self.seconds += r.seconds
        for k, s in r.evaluators.items():
            e = self.evaluators.setdefault(k, {"vectors": 0, "mismatches": 0, "seconds": 0.0})
            e["vectors"] += int(s["vectors"])
            e["mismatches"] += int(s["mismatches"])
            e["seconds"] += float(s["seconds"])
        self.protocol_seen = self.protocol_seen or bool(r.protocol)
        self._failures = self._first(self._failures, r.first_block, r.failures)
        self._protocol = self._first(self._protocol, r.first_block, r.protocol)

    def _first(self, kept: list, first_block: int, items: list) -> list:
        kept = kept + [(first_block, i, x) for i, x in enumerate(items)]
        kept.sort(key=lambda t: t[:2])
        return kept[:self.max_errors]

    def merged(self) -> dict:
        """The dictionary of `testbench.streaming.merge`."""
        return {"config": self.config, "blocks": self.blocks, "vectors": self.vectors,
                "mismatches": self.mismatches,
                "ok": not self.mismatches and not self.protocol_seen,
                "evaluators": self.evaluators,
                "failures": [x for _, _, x in self._failures],
                "protocol": [x for _, _, x in self._protocol], "seconds": self.seconds}


def _rate(vectors, seconds):
    return round(vectors / seconds, 1) if seconds and seconds > 0 else None


def _evaluators(evals: dict) -> dict:
    """Per evaluator: vectors, mismatches, seconds (summed over the chunks) and vectors
    per second of that evaluator's own time."""
    out = {}
    for name, e in evals.items():
        secs = float(e.get("seconds", 0.0))
        out[name] = {"vectors": int(e["vectors"]), "mismatches": int(e["mismatches"]),
                     "seconds": secs, "vectors_per_second": _rate(e["vectors"], secs)}
    return out


def _preset_summary(merged: dict, chunks: int, max_errors: int, failures_dir) -> dict:
    """One preset's part of the summary from `streaming.merge`'s dict: the failing cases
    (at most ``max_errors``, in block order) by where they are, saved in ``failures_dir``
    when given."""
    from testbench.compare import write_case
    failures = merged["failures"][:max_errors]
    out = {"config": merged["config"], "vectors": int(merged["vectors"]),
           "mismatches": int(merged["mismatches"]), "blocks": int(merged["blocks"]),
           "chunks": chunks, "ok": bool(merged["ok"]),
           "evaluators": _evaluators(merged["evaluators"]),
           "protocol": list(merged.get("protocol", [])),
           "failures": [dict(f.get("origin", {})) for f in failures]}
    if failures_dir:
        for entry, f in zip(out["failures"], failures):
            entry["saved"] = str(write_case(f, failures_dir))
    return out


def _totals(per_preset: dict) -> dict:
    evals: dict = {}
    for p in per_preset.values():
        for name, e in p["evaluators"].items():
            t = evals.setdefault(name, {"vectors": 0, "mismatches": 0, "seconds": 0.0})
            t["vectors"] += e["vectors"]
            t["mismatches"] += e["mismatches"]
            t["seconds"] += e["seconds"]
    for t in evals.values():
        t["vectors_per_second"] = _rate(t["vectors"], t["seconds"])
    return {"vectors": sum(p["vectors"] for p in per_preset.values()),
            "mismatches": sum(p["mismatches"] for p in per_preset.values()),
            "evaluators": evals}


def strip_timing(summary):
    """``summary`` without its timing and placement keys (`TIMING_KEYS`): the part that
    is identical for any number of workers and any cluster."""
    if isinstance(summary, dict):
        return {k: strip_timing(v) for k, v in summary.items() if k not in TIMING_KEYS}
    if isinstance(summary, list):
        return [strip_timing(v) for v in summary]
    return summary


def _check_wait(seconds) -> float:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise InvalidType(f"wait_workers must be a number of seconds, not {seconds!r}")
    if not 0 < seconds <= 86400:
        raise InvalidValue(f"wait_workers must be above 0 and at most a day (86400 s), "
                           f"not {seconds!r}")
    return float(seconds)


def _first(exc) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _task_error(exc: BaseException, spec: TaskSpec) -> BaseException:
    """What the client raises for a task that failed on a worker with ``exc``: a
    KeyboardInterrupt when the worker saw Ctrl-C, else a one-line CampaignError naming the
    chunk, with the worker's exception as its ``task_error``."""
    if isinstance(exc, _Interrupted):
        return KeyboardInterrupt()
    what = _first(exc)
    return CampaignError(f"{spec.label} failed: {type(exc).__name__}"
                         f"{': ' + what if what else ''}", task_error=exc)


class _Runner:
    """Submit the specs a few at a time (`IN_FLIGHT_PER_THREAD` a worker thread), hand each
    result to ``on_result`` as it completes, and watch for a cluster that has lost its
    workers."""

    def __init__(self, client, address: str | None, wait_workers: float):
        self.client, self.address, self.wait_workers = client, address, wait_workers
        self.pending: dict = {}           # future -> its spec
        self._token = uuid.uuid4().hex[:8]
        self._no_workers_since = None
        self._threads, self._threads_at = 1, None

    def run(self, specs, on_result) -> None:
        from distributed import wait
        from distributed.client import FIRST_COMPLETED
        numbered = enumerate(specs)
        self._fill(numbered)
        while self.pending:
            try:
                with self.client.as_current():        # `wait` asks for the current client
                    done = wait(list(self.pending), timeout=_POLL_S,
                                return_when=FIRST_COMPLETED).done
            except TimeoutError:
                self._check_workers()
                continue
            except Exception as exc:                  # the scheduler cancelled or went away
                raise CampaignError(f"{self._where()} stopped running the tasks: "
                                    f"{type(exc).__name__}: {_first(exc)}") from exc
            for fut in done:
                spec = self.pending.pop(fut)
                try:
                    res = fut.result()
                except Exception as exc:
                    raise _task_error(exc, spec) from exc
                fut.release()
                on_result(res)
            self._fill(numbered)

    def _limit(self) -> int:
        """`IN_FLIGHT_PER_THREAD` x the cluster's threads (asked at most once a poll: a
        scheduler's workers may come and go)."""
        now = time.monotonic()
        if self._threads_at is None or now - self._threads_at >= _POLL_S:
            self._threads = max(1, sum(self.client.nthreads().values()))
            self._threads_at = now
        return IN_FLIGHT_PER_THREAD * self._threads

    def _fill(self, numbered) -> None:
        limit = self._limit()
        while len(self.pending) < limit:
            item = next(numbered, None)
            if item is None:
                return
            i, spec = item
            key = f"lnsmadam-campaign-{self._token}-{i}"
            fut = self.client.submit(run_task, spec, key=key, pure=False)
            self.pending[fut] = spec

    def _check_workers(self) -> None:
        """CampaignError when the cluster has had no worker for ``wait_workers`` s."""
        if self.client.nthreads():
            self._no_workers_since = None
            return
        now = time.monotonic()
        if self._no_workers_since is None:
            self._no_workers_since = now
        if now - self._no_workers_since >= self.wait_workers:
            raise CampaignError(f"{self._where()} has no workers after "
                                f"{self.wait_workers:g} s")

    def _where(self) -> str:
        return f"the scheduler at {self.address}" if self.address else "the local cluster"


def run_campaign(presets, sims, vectors: int, *, seed: int = 1, lanes: int = 1,
                 workers: int | None = None, scheduler: str | None = None,
                 max_errors: int = 10, chunk_blocks: int | None = None,
                 failures_dir=None, progress=None, note=None,
                 wait_workers: float = WAIT_WORKERS) -> dict:
    """Every preset x ``sims`` over ``vectors`` vectors each, as Dask tasks; the summary.

    The local cluster's workers are spawned processes: a script that calls this must do so
    under ``if __name__ == "__main__":`` (the ``lnsmadam`` command does).

    Parameters
    ----------
    presets : list of str or configs (any rule's), or "a,b"
    sims : list of str, or "icarus,verilator"
        HDL simulators (and ``amaranth``); ``numba`` and ``python`` always run.
    vectors : int
        Vectors per preset, at most `plan.VECTORS_MAX`; the tasks are planned and submitted
        a few at a time, so neither time nor memory before the first task grows with it.
    seed, lanes : int
        The seed from 0 to 2**32 - 1; lanes at most `rtl.design.MAX_LANES`.
    workers : int, optional
        Worker processes of the local cluster (default one per usable core; at most
        `cluster.WORKERS_PER_CORE` a usable core, `cluster.max_workers`).  Not with
        ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``): its workers run the
        tasks, each building into its own machine's cache.
    max_errors : int
        Failing cases kept per chunk (`run_chunk`'s ``max_errors``).
    chunk_blocks : int, optional
        Blocks a task (`plan`).
    failures_dir : path, optional
        Save the failing cases kept (at most ``max_errors`` a preset) there as JSON
        (`testbench.compare.write_case`; replayable).
    progress : callable, optional
        ``progress(done, total, note)`` with vectors done as chunks complete
        (`testbench.progress.Progress.update`).
    note : callable, optional
        ``note(msg)`` at each stage (warm-up, cluster start, waiting for workers).
    wait_workers : float
        Seconds the cluster may be without a worker before CampaignError: an existing
        scheduler before the first task, any cluster in the middle of the run.

    Returns
    -------
    dict
        ``presets``: per preset its vectors, mismatches, per evaluator vectors, mismatches,
        seconds and vectors per second, protocol errors (the first ``max_errors``), and its
        failing cases (where they are, and the saved file); ``totals``; ``ok``; the run's
        shape (seed, lanes, block, chunks); and ``wall_seconds``, ``workers``, ``threads``,
        ``scheduler``.  Without its timing keys (`strip_timing`) it is identical whatever
        the number of workers.

    Raises
    ------
    ValueError, TypeError
        A bad argument (`lns.errors.InputError`), before any work.
    testbench.tools.MissingSimulator
        A simulator is not installed here.
    CampaignError
        The scheduler cannot be reached or has no workers, or a task failed.
    KeyboardInterrupt
        After ending every process the campaign started and closing the cluster (within
        about `cluster.STOP_SECONDS`).
    """
    from testbench import tools

    say = note or (lambda msg: None)
    wait_workers = _check_wait(wait_workers)
    if scheduler is not None:
        scheduler = parse_scheduler(scheduler)
        if workers is not None:
            raise InvalidValue("workers must not be given with scheduler (the cluster's "
                               f"own workers run the tasks), not workers={workers}")
    n_workers = check_workers(usable_cores() if workers is None else workers)
    named = resolve_presets(presets)
    sims = resolve_sims(sims)
    args = ([cfg if name == cfg.name else name for name, cfg in named], sims, vectors, seed,
            lanes, chunk_blocks)
    specs = iter_plan(*args, max_errors=max_errors)          # checks every argument
    n_tasks = task_count(args[0], vectors, chunk_blocks)
    for s in sims:
        tools.require(s)

    t0 = time.perf_counter()
    brood = Brood()
    client = cluster = runner = None
    tallies = {name: Tally(max_errors) for name, _ in named}
    total = vectors * len(named)
    try:
        # an existing cluster first (an unreachable one, or one without workers, fails
        # before the warm-up); a local one after it (its workers would only wait)
        if scheduler:
            client = _remote(scheduler, wait_workers, say)
        warm_s = warm_up(_whole(args, max_errors), progress=say)
        if not scheduler:
            say(f"starting a local cluster of {n_workers} workers")
            client, cluster = start_local(n_workers)
        threads = client.nthreads()
        runner = _Runner(client, scheduler, wait_workers)
        t_run = time.perf_counter()
        if progress:
            progress(0, total, f"{n_tasks} tasks on {len(threads)} workers")
        runner.run(specs, _on_result(tallies, total, progress, t_run))
        run_s = time.perf_counter() - t_run
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            hush()
        brood.end(client, cluster, list(runner.pending) if runner else ())
        raise
    close(client, cluster)
    wall = time.perf_counter() - t0
    return _summary(tallies, named, sims, vectors, seed, lanes, n_tasks, max_errors,
                    failures_dir, threads, scheduler,
                    {"wall": wall, "warm": warm_s, "run": run_s})


def _on_result(tallies: dict, total: int, progress, t_run: float):
    """What to do with a task's result: tally it under its preset, and say how far the
    campaign is."""
    from testbench import streaming
    done = [0, 0]                                     # vectors, mismatches

    def on_result(res):
        chunk = streaming.ChunkResult.from_dict(res["chunk"])
        tallies[res["preset"]].add(chunk)
        done[0] += chunk.vectors
        done[1] += chunk.mismatches
        if progress:
            rate = done[0] / max(time.perf_counter() - t_run, 1e-9)
            progress(done[0], total, f"{rate:,.0f} vectors/s, {done[1]} mismatches")
    return on_result


def _remote(scheduler: str, wait_workers: float, say):
    """A client of the scheduler at ``scheduler`` with at least one worker."""
    say(f"connecting to {scheduler}")
    client = connect(scheduler)
    try:
        if not client.nthreads():
            say(f"waiting up to {wait_workers:g} s for a worker of {scheduler}")
        wait_for_workers(client, scheduler, wait_workers)
    except BaseException:
        close(client, None)
        raise
    return client


def _whole(args, max_errors) -> list:
    """One spec a preset covering all its blocks: what `warm_up` needs to know (the
    designs, the simulators and the block lengths) without planning every task."""
    from testbench.streaming import BLOCK
    from testbench.vectors import config_dict
    presets, sims, vectors, seed, lanes, _ = args
    names = tuple(str(s) for s in sims)
    return [TaskSpec(name, config_dict(cfg), names, seed, lanes, 0, -(-vectors // BLOCK),
                     vectors, max_errors) for name, cfg in resolve_presets(presets)]


def _summary(tallies, named, sims, vectors, seed, lanes, n_tasks, max_errors, failures_dir,
             threads, scheduler, seconds) -> dict:
    """The summary of `run_campaign` from the tallies and the run's shape."""
    from testbench import streaming
    per_preset = {name: _preset_summary(tallies[name].merged(), tallies[name].chunks,
                                        max_errors, failures_dir)
                  for name, _ in named}
    totals = _totals(per_preset)
    for part in [*per_preset.values(), totals]:       # rates from the unrounded seconds
        for e in part["evaluators"].values():
            e["seconds"] = round(e["seconds"], 4)
    return {
        "presets": per_preset,
        "totals": totals,
        "ok": all(p["ok"] for p in per_preset.values()),
        "vectors_per_preset": vectors,
        "sims": [str(s) for s in sims],
        "seed": seed,
        "lanes": lanes,
        "block": streaming.BLOCK,
        "chunks": n_tasks,
        "wall_seconds": round(seconds["wall"], 3),
        "warm_up_seconds": round(seconds["warm"], 3),
        "vectors_per_second": _rate(totals["vectors"], seconds["wall"]),
        "run_seconds": round(seconds["run"], 3),
        "run_vectors_per_second": _rate(totals["vectors"], seconds["run"]),
        "workers": len(threads),
        "threads": sum(threads.values()),
        "scheduler": scheduler or "local",
    }
