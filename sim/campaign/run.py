"""Run a campaign on Dask: one task per chunk, merged per preset, one summary.

The client (this process) plans the tasks, warms the caches (the designs and the simulator
builds, so the workers of this machine fetch them instead of building them side by side),
connects to a cluster (a `LocalCluster` of worker processes, one per core, by default; an
existing scheduler by address), submits one task per chunk and merges the chunk results
per preset with `testbench.streaming.merge` as they complete.  A worker on another machine
builds into its own cache (`rtl.cache`: per machine) the first time it sees a design.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid

from distributed.diagnostics.plugin import WorkerPlugin

from .plan import TaskSpec, plan, resolve_presets, resolve_sims

__all__ = ["run_task", "run_campaign", "warm_up", "strip_timing", "TIMING_KEYS",
           "CampaignError"]

# Keys of a summary that measure time or say where it ran; everything else is the same for
# any number of workers (`strip_timing`).
TIMING_KEYS = frozenset({"seconds", "vectors_per_second", "wall_seconds", "warm_up_seconds",
                         "run_seconds", "run_vectors_per_second", "workers", "threads",
                         "scheduler"})


class CampaignError(RuntimeError):
    """A task failed on a worker, or the cluster cannot run the tasks (one-line message;
    the worker's exception is the cause)."""


def run_task(spec: TaskSpec) -> dict:
    """One chunk on a worker: `testbench.streaming.run_chunk` of ``spec``, as a dictionary
    (`ChunkResult.to_dict`) with the spec's preset name.  The design and the simulator
    builds come from this machine's content-keyed cache (built there the first time)."""
    from testbench import streaming
    if _INTERRUPTED.is_set():
        raise _Interrupted("interrupted")
    result = streaming.run_chunk(spec.cfg(), spec.sims, seed=spec.seed,
                                 first_block=spec.first_block, blocks=spec.blocks,
                                 total=spec.total, lanes=spec.lanes,
                                 max_errors=spec.max_errors)
    return {"preset": spec.preset, "chunk": result.to_dict()}


def _block_lengths(spec: TaskSpec, block: int) -> set:
    """The lengths of the blocks of ``spec`` (whole beats of its lanes, as
    `testbench.streaming` makes them): the Icarus build depends on them."""
    out = set()
    for i in range(spec.first_block, spec.first_block + spec.blocks):
        n = min(block, spec.total - i * block)
        out.add(-(-n // spec.lanes) * spec.lanes)
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


def _connect(workers, scheduler):
    """``(client, cluster or None)``: a new local cluster, or the scheduler at an address."""
    from dask.distributed import Client, LocalCluster
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        return client, None
    # Ctrl-C on a terminal reaches every process of the foreground group: the worker
    # processes would each print a KeyboardInterrupt traceback.  They start with SIGINT
    # ignored (a disposition a spawned process inherits, and Python and asyncio keep), then
    # `_QuietSigint` swaps that for a handler that only stops the worker's tasks, so the
    # simulators they start (which get the default back at exec) still stop on Ctrl-C.
    # The client alone reports it: it cancels the tasks and closes the cluster.  A Ctrl-C
    # in the few seconds of the start is ignored.
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, processes=True,
                               threads_per_worker=1, dashboard_address="127.0.0.1:0",
                               silence_logs=logging.ERROR)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    try:
        client = Client(cluster)
        client.register_plugin(_QuietSigint(), name="lnsmadam-quiet-sigint")
        return client, cluster
    except BaseException:
        cluster.close()
        raise


_INTERRUPTED = threading.Event()      # a worker of the local cluster saw Ctrl-C


class _Interrupted(Exception):
    """A task that a worker of the local cluster did not start after Ctrl-C."""


def _reap_children():
    """Kill, until this worker process ends, every process it has started: a simulator
    started after the Ctrl-C (by a task already running) would otherwise outlive it."""
    import psutil
    me = psutil.Process()
    while True:
        for child in me.children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass
        time.sleep(0.1)


def _hush():
    """No more log lines from Dask in this process: after Ctrl-C, the workers going away
    is expected, not news (the one line the user sees is the command's)."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _on_sigint(signum, frame):
    """Ctrl-C in a worker of the local cluster: no new task starts, and every simulator
    the worker runs or starts from now on is killed (the running task then fails; the
    client is already cancelling the tasks and closing the cluster)."""
    if not _INTERRUPTED.is_set():
        _INTERRUPTED.set()
        _hush()
        threading.Thread(target=_reap_children, name="lnsmadam-reaper", daemon=True).start()


class _QuietSigint(WorkerPlugin):
    """A Dask worker plugin for the workers of the local cluster only: SIGINT raises
    nothing in the worker process (the client handles Ctrl-C) but stops its work
    (`_on_sigint`); and it is not inherited as ignored by the simulators the worker starts
    (a Python handler is reset at exec, SIG_IGN is not), so a running one stops with the
    Ctrl-C."""

    def setup(self, worker):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)


def _close(client, cluster):
    for thing in (client, cluster):
        if thing is None:
            continue
        try:
            thing.close()
        except Exception:           # shutting down after an error or Ctrl-C: say nothing
            pass


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


def run_campaign(presets, sims, vectors: int, *, seed: int = 1, lanes: int = 1,
                 workers: int | None = None, scheduler: str | None = None,
                 max_errors: int = 10, chunk_blocks: int | None = None,
                 failures_dir=None, progress=None, note=None) -> dict:
    """Every preset x ``sims`` over ``vectors`` vectors each, as Dask tasks; the summary.

    The local cluster's workers are spawned processes: a script that calls this must do so
    under ``if __name__ == "__main__":`` (the ``lnsmadam`` command does).

    Parameters
    ----------
    presets : list of str or configs (any rule's), or "a,b"
    sims : list of str, or "icarus,verilator"
        HDL simulators (and ``amaranth``); ``numba`` and ``python`` always run.
    vectors : int
        Vectors per preset.
    seed, lanes : int
    workers : int, optional
        Worker processes of the local cluster (default one per core).  Not with
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
        ``note(msg)`` at each stage (warm-up, cluster start).

    Returns
    -------
    dict
        ``presets``: per preset its vectors, mismatches, per evaluator vectors, mismatches,
        seconds and vectors per second, protocol errors, and its failing cases (where they
        are, and the saved file); ``totals``; ``ok``; the run's
        shape (seed, lanes, block, chunks); and ``wall_seconds``, ``workers``, ``threads``,
        ``scheduler``.  Without its timing keys (`strip_timing`) it is identical whatever
        the number of workers.

    Raises
    ------
    ValueError, TypeError
        A bad argument.
    testbench.tools.MissingSimulator
        A simulator is not installed here.
    KeyboardInterrupt
        After cancelling the tasks and closing the cluster.
    """
    from dask.distributed import as_completed
    from testbench import streaming, tools

    say = note or (lambda msg: None)
    if workers is not None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be a positive int, not {workers!r}")
        if scheduler:
            raise ValueError("workers must not be given with scheduler (the cluster's own "
                             f"workers run the tasks), not workers={workers}")
    named = resolve_presets(presets)
    sims = resolve_sims(sims)
    specs = plan([cfg if name == cfg.name else name for name, cfg in named], sims, vectors,
                 seed, lanes, chunk_blocks, max_errors=max_errors)
    for s in sims:
        tools.require(s)

    t0 = time.perf_counter()
    client = cluster = None
    futures = []
    results: dict = {name: [] for name, _ in named}
    total = vectors * len(named)
    try:
        # an existing cluster first (an unreachable one fails before the warm-up); a local
        # one after it (its workers would only wait)
        if scheduler:
            say(f"connecting to {scheduler}")
            client, cluster = _connect(workers, scheduler)
        warm_s = warm_up(specs, progress=say)
        if not scheduler:
            say(f"starting a local cluster of {workers or os.cpu_count() or 1} workers")
            client, cluster = _connect(workers, scheduler)
        if scheduler:
            try:
                client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise CampaignError(f"the Dask scheduler at {scheduler} has no workers "
                                    "(waited 60 s)") from None
        threads = client.nthreads()
        token = uuid.uuid4().hex[:8]
        t_run = time.perf_counter()
        futures = [client.submit(run_task, s, key=f"lnsmadam-campaign-{token}-{i}",
                                 pure=False)
                   for i, s in enumerate(specs)]
        spec_of = {f.key: s for f, s in zip(futures, specs)}
        done = bad = 0
        if progress:
            progress(0, total, f"{len(specs)} tasks on {len(threads)} workers")
        for fut in as_completed(futures):
            try:
                res = fut.result()
            except Exception as exc:
                what = str(exc).strip().splitlines()
                raise CampaignError(f"{spec_of[fut.key].label} failed: {type(exc).__name__}"
                                    f"{': ' + what[0] if what else ''}") from exc
            chunk = streaming.ChunkResult.from_dict(res["chunk"])
            results[res["preset"]].append(chunk)
            done += chunk.vectors
            bad += chunk.mismatches
            if progress:
                rate = done / max(time.perf_counter() - t_run, 1e-9)
                progress(done, total, f"{rate:,.0f} vectors/s, {bad} mismatches")
        run_s = time.perf_counter() - t_run
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            _hush()
        if client is not None and futures:
            try:
                client.cancel(futures)
            except Exception:
                pass
        _close(client, cluster)
        raise
    _close(client, cluster)
    wall = time.perf_counter() - t0

    per_preset = {name: _preset_summary(streaming.merge(results[name]), len(results[name]),
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
        "chunks": len(specs),
        "wall_seconds": round(wall, 3),
        "warm_up_seconds": round(warm_s, 3),
        "vectors_per_second": _rate(totals["vectors"], wall),
        "run_seconds": round(run_s, 3),
        "run_vectors_per_second": _rate(totals["vectors"], run_s),
        "workers": len(threads),
        "threads": sum(threads.values()),
        "scheduler": scheduler or "local",
    }
