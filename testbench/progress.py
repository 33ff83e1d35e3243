"""Progress of long work on stderr, built on tqdm (DESIGN.md section 8).

Two modes, chosen by whether the stream is a terminal:

* a terminal: a tqdm bar with ETA for counted work (`Progress` with a total), a status line
  with the elapsed time for uncounted work, both redrawn in place;
* anything else (a log file, a pipe, CI): plain lines, one per stage or step, never ``\\r``.

This is the lowest layer that shows progress (testbench's simulator builds); `rtl` and
`sim.analysis` take plain callbacks, and the command line passes them a `Progress`'s
methods.  Results go to stdout and are not touched here.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from contextlib import contextmanager

__all__ = ["Progress", "stage", "say", "is_terminal"]

_REFRESH_S = 0.5          # how often a terminal line redraws its elapsed time
_LOG_PERCENT_STEP = 10    # log mode: one line each time counted work passes another 10 %


def is_terminal(file) -> bool:
    """True when ``file`` is an interactive terminal (a bar is drawn there)."""
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):          # no isatty, or closed
        return False


def _columns(file) -> int:
    """The terminal's width in columns (0 when it reports none, -1 when not a terminal)."""
    import os
    try:
        return os.get_terminal_size(file.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return -1


def _fmt_s(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def say(msg: str, file=None) -> None:
    """One line on ``file`` (default stderr) that does not break a bar being drawn there."""
    file = sys.stderr if file is None else file
    if is_terminal(file):
        from tqdm import tqdm
        tqdm.write(msg, file=file)
    else:
        print(msg, file=file, flush=True)


class Progress:
    """Progress of one job, on ``file`` (default: stderr at creation).

    Parameters
    ----------
    desc : str
        What runs, the prefix of every line ("sweep", "report").
    total : int, optional
        Steps when the work is counted: a bar with ETA on a terminal, ``(i/n)`` in the log
        lines.  None: a status line with the elapsed time.
    file : text stream, optional
    enabled : bool
        False prints nothing (the methods still accept every call).
    unit : str
        What a step is, for the terminal's rate ("row", "section", "beat").

    The methods fit the callbacks of the library:

    * `item` ``(i, n, label)``: step ``i`` (from 0) of ``n`` starts (sweeps, training);
    * `update` ``(done, total, note)``: ``done`` of ``total`` finished (cycle simulation);
    * `note` ``(msg)``: a new stage of the job (synthesis, verification).

    Use it as a context manager, or call `close`: a job that ends without an error shows
    as complete, with its time.
    """

    def __init__(self, desc: str, total: int | None = None, *, file=None,
                 enabled: bool = True, unit: str = "step"):
        self.desc, self.total, self.unit = desc, total, unit
        self.file = sys.stderr if file is None else file
        self.enabled = bool(enabled)
        self.tty = self.enabled and is_terminal(self.file)
        self.t0 = time.perf_counter()
        self._bar = None
        self._stop = None
        self._logged_pct = -1
        self._closed = False
        self._shown = False           # anything reported yet (else the end shows nothing)
        if self.tty:
            self._open_bar()

    # -- terminal -----------------------------------------------------------------------
    def _open_bar(self):
        from tqdm import tqdm
        fmt = None if self.total is not None else "{desc}{postfix} [{elapsed}]"
        # follow the terminal's size; one that reports none (a bare pty: 0 x 0, on which
        # tqdm would draw nothing) gets 80 x 24
        sized = _columns(self.file) > 0
        self._bar = tqdm(total=self.total, desc=self.desc, file=self.file, unit=self.unit,
                         bar_format=fmt, dynamic_ncols=sized, ncols=None if sized else 80,
                         nrows=None if sized else 24, mininterval=0.1, leave=True)
        # tqdm redraws only when told: a small thread keeps the elapsed time moving while
        # one long step (a synthesis, a Verilator build) runs.
        self._stop = threading.Event()
        bar, stop = self._bar, self._stop

        def tick():
            while not stop.wait(_REFRESH_S):
                try:
                    bar.refresh()
                except Exception:          # a closed stream: nothing left to draw on
                    return
        threading.Thread(target=tick, name=f"progress-{self.desc}", daemon=True).start()

    def _set_total(self, n):
        if n is not None and self._bar.total != n:
            self._bar.total = n
            self._bar.bar_format = None           # now a bar with ETA

    # -- the callbacks ------------------------------------------------------------------
    def item(self, i: int, n: int | None = None, label: str = "") -> None:
        """Step ``i`` (0-based) of ``n`` starts; ``label`` says what it is."""
        if not self.enabled or self._closed:
            return
        if n is not None:
            self.total = n
        self._shown = True
        if self.tty:
            self._set_total(n)
            self._bar.n = i
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.refresh()
        else:
            count = f" ({i + 1}/{self.total})" if self.total else ""
            print(f"{self.desc}: {label}{count}", file=self.file, flush=True)

    def update(self, done: int, total: int | None = None, note: str = "") -> None:
        """``done`` of ``total`` steps finished (absolute, not an increment)."""
        if not self.enabled or self._closed:
            return
        if total is not None:
            self.total = total
        self._shown = True
        if self.tty:
            self._set_total(total)
            self._bar.n = done
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.refresh()
            return
        if not self.total:
            return
        pct = min(100, int(100 * done / self.total))
        step = pct - pct % _LOG_PERCENT_STEP
        if step > self._logged_pct:               # log mode: every 10 %, not every call
            self._logged_pct = step
            tail = f", {note}" if note else ""
            print(f"{self.desc}: {done}/{self.total} {self.unit}s ({pct}%{tail})",
                  file=self.file, flush=True)

    def note(self, msg: str) -> None:
        """A new stage of the job."""
        if not self.enabled or self._closed:
            return
        self._shown = True
        if self.tty:
            self._bar.set_postfix_str(msg, refresh=False)
            self._bar.refresh()
        else:
            print(f"{self.desc}: {msg}", file=self.file, flush=True)

    # -- the end --------------------------------------------------------------------------
    def close(self, ok: bool = True) -> None:
        """End the job: complete (``ok``) or stopped where it was.

        A job that reported nothing (all of it cached) leaves nothing behind; one that
        failed adds no line of its own in a log (its error says what happened).
        """
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if self.tty:
            self._stop.set()
            if ok and self.total is not None:
                self._bar.n = self.total
            self._bar.leave = self._shown
            self._bar.set_postfix_str("done" if ok else "stopped", refresh=False)
            self._bar.close()
        elif ok and self._shown:
            print(f"{self.desc}: done in {_fmt_s(time.perf_counter() - self.t0)}",
                  file=self.file, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(ok=exc_type is None)
        return False


@contextmanager
def stage(desc: str, *, file=None, enabled: bool = True):
    """One timed stage of uncounted work (a build, a synthesis run).

    Log mode: a line ``"<desc> ..."`` when it starts and ``"<desc>: done in 12.3 s"`` when it
    ends (nothing more when it fails: the error says so).  Terminal: a status line with the
    elapsed time, left in place.
    """
    file = sys.stderr if file is None else file
    if enabled and not is_terminal(file):
        print(f"{desc} ...", file=file, flush=True)
        t0 = time.perf_counter()
        yield None
        print(f"{desc}: done in {_fmt_s(time.perf_counter() - t0)}", file=file, flush=True)
        return
    with Progress(desc, file=file, enabled=enabled) as p:
        p._shown = True                   # the stage itself is the news: keep its line
        yield p
