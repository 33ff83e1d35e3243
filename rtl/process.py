"""Child processes that end with the work that started them.

The programs the project starts (Icarus's ``iverilog`` and ``vvp``, Verilator's perl script
with the ``make`` and ``g++`` under it, the compiled harnesses, YoWASP's Yosys and nextpnr)
go through `Child` or `run` (`testbench.tools.run` and `PipeProcess`, the cycle
simulation's harness).  The child starts in its own process group, so the group
holds it and everything it starts in turn; when the caller stops waiting for it because of
an exception (Ctrl-C's ``KeyboardInterrupt``, a time-out, an error), `end_group` sends the
group SIGTERM, gives it `GRACE_S` seconds to clean up (a compiler removes its temporary
files) and then SIGKILL, all before the exception goes on.  No simulator or compiler
outlives an interrupted command.

In its own group a child does not see a terminal's Ctrl-C itself: this process, which does,
ends it (a Dask worker's reaper ends the children of a worker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

__all__ = ["Child", "run", "end_group", "GRACE_S"]

GRACE_S = 1.0          # from SIGTERM to SIGKILL: a Ctrl-C still ends a command within 2 s


def _signal_group(pgid: int, sig) -> bool:
    """Send ``sig`` to process group ``pgid``; False when the group has no process left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:               # a member changed its user: nothing we may end
        return False
    return True


def _group_running(pgid: int) -> bool:
    """Whether process group ``pgid`` has a process that has not ended.  An ended process
    stays a member (a zombie) until its new parent, init, reaps it, which some containers'
    init does late; on Linux /proc tells them apart."""
    if not _signal_group(pgid, 0):
        return False
    try:
        pids = [n for n in os.listdir("/proc") if n.isdigit()]
    except OSError:                       # no /proc: zombies count (the grace bounds it)
        return True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:                   # it ended meanwhile
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
        state, _, pgrp = stat[stat.rfind(b")") + 2:].split()[:3]
        if int(pgrp) == pgid and state != b"Z":
            return True
    return False


def end_group(proc: subprocess.Popen, grace: float = GRACE_S) -> None:
    """End ``proc`` (started in its own process group) and every process of its group:
    SIGTERM, up to ``grace`` seconds for the group to empty, then SIGKILL; ``proc`` is
    reaped.  Safe to call when it has ended already."""
    pgid = proc.pid
    if proc.poll() is not None and not _signal_group(pgid, 0):
        return                            # it and everything it started are gone
    deadline = time.monotonic() + grace
    try:
        _signal_group(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # The rest of the group are not our children: no event says when they are gone,
        # so look a few times a second until the grace is over.
        while _group_running(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:                              # also when a second Ctrl-C cuts the wait short
        _signal_group(pgid, signal.SIGKILL)
        proc.wait()


class Child(subprocess.Popen):
    """`subprocess.Popen` started in its own process group (stdin from ``/dev/null``
    unless given), whose ``with`` block ends the whole group (`end_group`) when it is left
    by an exception, before the exception goes on; `end` does the same at any time."""

    def __init__(self, args, **kwargs):
        kwargs.setdefault("process_group", 0)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        super().__init__(args, **kwargs)
        # Popen waits 0.25 s after a Ctrl-C for a child that saw it too; ours did not.
        self._sigint_wait_secs = 0

    def end(self, grace: float = GRACE_S) -> None:
        end_group(self, grace)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.end()
        return super().__exit__(exc_type, exc, tb)


def run(args, *, input=None, capture_output: bool = False, timeout: float | None = None,
        check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """`subprocess.run` through `Child`: the same arguments and result (``TimeoutExpired``,
    ``CalledProcessError``), the child and everything it started ended on a time-out, an
    error or Ctrl-C before the exception goes on."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    with Child(args, **kwargs) as proc:
        stdout, stderr = proc.communicate(input, timeout=timeout)
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, args, stdout, stderr)
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
