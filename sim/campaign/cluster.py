"""The Dask cluster of a campaign: its size, its address, its start and its end.

``usable_cores``, ``max_workers``  the local cluster's bound: `WORKERS_PER_CORE` worker
                                   processes a core this process may run on, at most
``parse_scheduler``                an existing scheduler's address, checked before any work
``start_local``                    a `LocalCluster` of worker processes; Ctrl-C during its
                                   start interrupts the start
``connect``, ``wait_for_workers``  an existing scheduler, each with a timeout
``Brood``                          the processes a campaign started (workers, simulators),
                                   ended on Ctrl-C or an error within `STOP_SECONDS`

Ctrl-C on a terminal sends SIGINT to every process of the foreground group, the workers and
their simulators included.  The client alone reports it (one line, exit 130): the worker
processes start with SIGINT blocked (a blocked signal stays pending instead of raising a
KeyboardInterrupt traceback in a process that is still starting), then `_QuietSigint`
unblocks it with a handler that only stops the worker's work.  The client ends everything
it started itself (`Brood.end`), so a SIGINT sent to the client alone stops the campaign
as fast.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from distributed.diagnostics.plugin import WorkerPlugin

from lns.errors import InvalidType, InvalidValue

__all__ = ["usable_cores", "max_workers", "check_workers", "workers_why", "parse_scheduler",
           "start_local", "connect", "wait_for_workers", "close", "Brood", "hush",
           "interrupted", "WORKERS_PER_CORE", "CONNECT_TIMEOUT", "WAIT_WORKERS",
           "STOP_SECONDS", "CampaignError"]

#: Worker processes a usable core at most.  A worker runs one task at a time, and a task is
#: busy on its core (the model, a simulator); more workers than cores only share them, and
#: each takes about 150 MB.  A few a core keep the cores busy while others start a simulator.
WORKERS_PER_CORE = 4
#: Seconds to reach an existing scheduler.
CONNECT_TIMEOUT = 10.0
#: Seconds to wait for an existing scheduler to have a worker (``--wait-workers``), and for
#: a worker again when they have all gone in the middle of a run.
WAIT_WORKERS = 60.0
#: Seconds the end of an interrupted or failed campaign may take before what it started is
#: killed (the command must stop within 2 s of Ctrl-C).
STOP_SECONDS = 1.0
# A scheduler's address: the schemes of Dask's comms that reach another process.
_SCHEMES = ("tcp", "tls", "ws", "wss")


class CampaignError(RuntimeError):
    """A task failed on a worker, or the cluster cannot run the tasks (one-line message;
    the worker's exception, if any, is the cause and ``task_error``)."""

    def __init__(self, message: str, task_error: BaseException | None = None):
        super().__init__(message)
        self.task_error = task_error


# ---- the size of a local cluster -----------------------------------------------------------
def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or `taskset`
    narrows; `os.cpu_count` counts the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """The most worker processes of a local cluster: `WORKERS_PER_CORE` x `usable_cores`."""
    return WORKERS_PER_CORE * usable_cores()


def workers_why() -> str:
    """The bound on the workers as words: "4 x the 2 cores this machine has"."""
    cores = usable_cores()
    return f"{WORKERS_PER_CORE} x the {cores} core{'s' if cores != 1 else ''} this machine has"


def check_workers(workers) -> int:
    """``workers`` if it is a whole number from 1 to `max_workers`; else InvalidValue
    naming the limit (checked before any worker starts)."""
    if not isinstance(workers, int) or isinstance(workers, bool):
        raise InvalidType(f"workers must be a positive int, not {workers!r}")
    if workers < 1:
        raise InvalidValue(f"workers must be a positive int, not {workers!r}")
    if workers > max_workers():
        raise InvalidValue(f"workers must be at most {workers_why()} = {max_workers()}, "
                           f"not {workers:,}")
    return workers


# ---- an existing scheduler -----------------------------------------------------------------
def _address_problem(text: str) -> str | None:
    """Why ``text`` is not a scheduler's address (None when it is one)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    try:
        scheme, location = parse_address(text, strict=False)
        host, port = parse_host_port(location)
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return "no port number" if "missing port" in first or "int()" in first else first
    if scheme not in _SCHEMES:
        return f"the scheme must be one of {', '.join(_SCHEMES)}, not {scheme!r}"
    if not host or any(c.isspace() for c in host):
        return "no host name"
    if not 1 <= port <= 65535:
        return f"the port must be from 1 to 65535, not {port}"
    return None


def parse_scheduler(address) -> str:
    """``address`` (``tcp://host:8786``; ``host:8786`` means tcp) if it can be an existing
    Dask scheduler's address, else InvalidValue saying why (checked before any work)."""
    if not isinstance(address, str):
        raise InvalidType(f"scheduler must be an address such as tcp://host:8786, not "
                          f"{type(address).__name__}")
    text = address.strip()
    why = _address_problem(text) if text else None
    if not text or why:
        raise InvalidValue(f"scheduler must be an address such as tcp://host:8786, not "
                           f"{text!r}{f' ({why})' if why else ''}")
    return text


def connect(address: str):
    """A `Client` of the scheduler at ``address``; CampaignError when it does not answer
    within `CONNECT_TIMEOUT` seconds."""
    from dask.distributed import Client
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CampaignError(f"cannot reach the Dask scheduler at {address} within "
                            f"{CONNECT_TIMEOUT:g} s: {first}") from None


def wait_for_workers(client, address: str, seconds: float) -> None:
    """Return when the scheduler has a worker; CampaignError after ``seconds``."""
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        raise CampaignError(f"the scheduler at {address} has no workers after "
                            f"{seconds:g} s") from None


# ---- a local cluster -----------------------------------------------------------------------
def start_local(workers: int):
    """``(client, cluster)``: a new `LocalCluster` of ``workers`` worker processes (one
    thread each), its workers quiet on Ctrl-C (`_QuietSigint`).

    The cluster starts in a thread of its own with SIGINT blocked: every thread and worker
    process it starts inherits the mask, so a Ctrl-C during the start waits, pending, in
    the workers (no traceback from a process still starting) while this thread, which
    keeps SIGINT, raises KeyboardInterrupt at once; the start is then abandoned (a cluster
    that still comes up closes itself) and the caller ends the processes (`Brood.end`).
    """
    from dask.distributed import Client
    # multiprocessing's resource tracker unblocks SIGINT in the thread that first starts a
    # process (bpo-33613); started here, before the mask, it leaves the mask alone
    _start_resource_tracker()
    start = _Start(workers)
    main = threading.current_thread() is threading.main_thread()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if main else None
    try:
        threading.Thread(target=start.run, name="lnsmadam-cluster-start", daemon=True).start()
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    try:
        start.done.wait()                     # Ctrl-C raises here, in the caller
    except BaseException:
        start.abandon()
        raise
    if start.error is not None:
        raise start.error
    cluster = start.cluster
    try:
        client = Client(cluster)
        client.register_plugin(_QuietSigint(), name="lnsmadam-quiet-sigint")
        return client, cluster
    except BaseException:
        close(None, cluster)
        raise


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker now (see `start_local`), told to keep its
    "leaked semaphore objects" warning to itself: after a Ctrl-C in the middle of a
    cluster's start, the half-built cluster's semaphores are the tracker's to remove, which
    it does, and the warning would follow "lnsmadam: interrupted" on the terminal."""
    from multiprocessing import resource_tracker
    quiet = "ignore:resource_tracker:UserWarning"
    old = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{old},{quiet}" if old else quiet
    try:
        resource_tracker.ensure_running()
    finally:
        if old is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = old


class _Start:
    """A local cluster's start, run in a thread (`start_local`)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.done = threading.Event()
        self.cluster = self.error = None
        self._abandoned = False
        self._lock = threading.Lock()

    def run(self):
        from dask.distributed import LocalCluster
        try:
            # the workers' own log lines (a task's failure with its traceback) would repeat
            # what the client reports in one line
            cluster = LocalCluster(n_workers=self.workers, processes=True,
                                   threads_per_worker=1, dashboard_address="127.0.0.1:0",
                                   silence_logs=logging.CRITICAL + 1)
        except BaseException as exc:          # raised by the caller's thread
            self.error = exc
        else:
            with self._lock:
                if not self._abandoned:
                    self.cluster, cluster = cluster, None
            if cluster is not None:           # nobody waits for it any more
                close(None, cluster)
        finally:
            self.done.set()

    def abandon(self):
        """Nobody waits for the cluster any more: close it, now or when it is up."""
        with self._lock:
            self._abandoned = True
            cluster, self.cluster = self.cluster, None
        if cluster is not None:
            threading.Thread(target=close, args=(None, cluster), daemon=True).start()


def close(client, cluster) -> None:
    """Close ``client`` and ``cluster`` (either may be None), saying nothing of errors (the
    cluster is going away after an error or Ctrl-C, or has finished)."""
    for thing in (client, cluster):
        if thing is None:
            continue
        try:
            thing.close()
        except Exception:
            pass


# ---- what a worker of the local cluster does on Ctrl-C ------------------------------------
_INTERRUPTED = threading.Event()      # a worker of the local cluster saw Ctrl-C


def interrupted() -> bool:
    """True in a worker of the local cluster after Ctrl-C: it starts no new task."""
    return _INTERRUPTED.is_set()


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


def hush():
    """No more log lines from Dask in this process: after Ctrl-C, the workers going away
    is expected, not news (the one line the user sees is the command's)."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _on_sigint(signum, frame):
    """Ctrl-C in a worker of the local cluster: no new task starts, and every simulator
    the worker runs or starts from now on is killed (the running task then fails; the
    client is already ending the cluster)."""
    if not _INTERRUPTED.is_set():
        _INTERRUPTED.set()
        hush()
        threading.Thread(target=_reap_children, name="lnsmadam-reaper", daemon=True).start()


class _QuietSigint(WorkerPlugin):
    """A Dask worker plugin for the workers of the local cluster only: SIGINT raises
    nothing in the worker process (the client handles Ctrl-C) but stops its work
    (`_on_sigint`).  The worker process started with SIGINT blocked (`start_local`): the
    handler goes in first, then the unblock (a Ctrl-C that came during the start is then
    handled).  The simulators the worker starts later (from threads made after this) get
    SIGINT unblocked and, at exec, its default action: a running one stops with the
    Ctrl-C."""

    def setup(self, worker):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


# ---- the processes a campaign started ------------------------------------------------------
class Brood:
    """The processes this process starts from now on (the local cluster's workers, the
    builds, the simulators the workers start), told from the children it already had.
    `end` kills them (all of them, within `STOP_SECONDS`): the end of an interrupted or
    failed campaign.  (Another thread of this process starting a process meanwhile would
    see it killed too: a campaign is meant to run alone in its process.)"""

    def __init__(self):
        import psutil
        self._me = psutil.Process()
        self._before = {self._key(p) for p in self._me.children()}

    @staticmethod
    def _key(proc):
        try:
            return proc.pid, proc.create_time()
        except Exception:             # gone already
            return proc.pid, None

    def processes(self) -> list:
        """The processes started since, with every descendant of theirs (one look at the
        process table); never multiprocessing's resource tracker (it ends with this
        process, and killed it would be restarted with warnings)."""
        import psutil
        from multiprocessing import resource_tracker
        tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
        kids: dict = {}
        procs: dict = {}
        for proc in psutil.process_iter(["ppid"]):
            kids.setdefault(proc.info["ppid"], []).append(proc.pid)
            procs[proc.pid] = proc
        todo = [pid for pid in kids.get(self._me.pid, [])
                if pid != tracker and self._key(procs[pid]) not in self._before]
        out = []
        while todo:
            pid = todo.pop()
            out.append(procs[pid])
            todo.extend(kids.get(pid, []))
        return out

    def end(self, client=None, cluster=None, futures=()) -> None:
        """Stop every process started since, cancel ``futures`` (the tasks not done, which
        an existing cluster would otherwise run on) and close ``client`` and ``cluster``:
        within about `STOP_SECONDS`, whatever the workers are doing."""
        import sys
        # a second Ctrl-C (an impatient user) must not cut the end short: it takes about
        # a second, and processes left running would outlive the command
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        # this thread gives the GIL up at every read of the process table, and waits for
        # it behind a busy event loop up to the switch interval each time (5 ms)
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)
        try:
            frozen = self._freeze()
            if cluster is not None:
                _closing(cluster)           # so the nannies restart nothing that dies now
            _kill(frozen + self.processes())
            closer = threading.Thread(target=_cancel_and_close,
                                      args=(client, cluster, futures),
                                      name="lnsmadam-cluster-close", daemon=True)
            closer.start()
            closer.join(STOP_SECONDS)
            _end_again_at_exit(self)
        finally:
            sys.setswitchinterval(interval)
            if main and old is not None:
                signal.signal(signal.SIGINT, old)

    def _freeze(self) -> list:
        """SIGSTOP every process started since (a stopped process starts none), then
        every one started meanwhile; all of them."""
        import psutil
        seen: dict = {}
        for _ in range(3):
            new = [p for p in self.processes() if p.pid not in seen]
            if not new:
                break
            for proc in new:
                seen[proc.pid] = proc
                try:
                    proc.suspend()
                except psutil.Error:
                    pass
        return list(seen.values())


def _end_again_at_exit(brood: "Brood") -> None:
    """At this process's exit, once more: start no process, kill what ``brood`` started
    since, and keep Dask's own exit hook from closing the local clusters again.

    A cluster whose start was abandoned (Ctrl-C during `start_local`) goes on building in
    its thread after `Brood.end`: a worker process it spawns then outlives the command, or
    fails to unpickle a semaphore its dying parent has removed and prints a traceback.  And
    `distributed.deploy.spec.close_clusters` (an `atexit` hook) closes every cluster not
    closed yet, with a 10 s time-out: on a half-built cluster whose processes are dead it
    hangs or fails with a traceback (seen in CI as ``UnboundLocalError`` from
    `distributed.utils.sync`).  Hooks run in reverse order of registration, so this one,
    registered after Dask's and multiprocessing's, runs before both.  Only at the exit: a
    caller's process that goes on may still start clusters."""
    import atexit
    global _EXIT_BROOD
    _EXIT_BROOD = brood
    atexit.unregister(_at_exit)
    atexit.register(_at_exit)


_EXIT_BROOD: "Brood | None" = None


def _at_exit() -> None:
    import multiprocessing.process
    from distributed.deploy.spec import SpecCluster

    def refuse(self):
        raise RuntimeError("lnsmadam is exiting: no new process")
    multiprocessing.process.BaseProcess.start = refuse
    if _EXIT_BROOD is not None:
        _kill(_EXIT_BROOD._freeze())
    for cluster in list(SpecCluster._instances):
        SpecCluster._instances.discard(cluster)


def _kill(procs) -> None:
    import psutil
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass


def _cancel_and_close(client, cluster, futures) -> None:
    if client is not None and futures:
        try:
            client.cancel(list(futures))
        except Exception:             # the scheduler is gone: nothing runs them
            pass
    close(client, cluster)


def _closing(cluster) -> None:
    """Mark the nannies of ``cluster`` as closing (on its event loop, waiting at most a
    second for it), so a worker process that dies next is not restarted."""
    done = threading.Event()

    def mark():
        try:
            for nanny in list(cluster.workers.values()):
                close_gracefully = getattr(nanny, "close_gracefully", None)
                if close_gracefully is not None:
                    close_gracefully(reason="lnsmadam-interrupted")
        finally:
            done.set()
    try:
        cluster.loop.add_callback(mark)
    except Exception:                 # no loop any more: nothing to restart either
        return
    done.wait(STOP_SECONDS / 2)
