"""The `lnsmadam` command line.

Each sub-command is a module in `sim.cli.commands` with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``.

Exit statuses and what reaches stderr:

* 0 success; 1 a check ran and found a mismatch (testbench, sim, report, demo);
* 2 bad input, one line ``lnsmadam: error: ...``: an `lns.errors.InputError` (every
  validation raises one: `UsageError` of the options, the errors of `lns.LNSFormat`,
  `lns.MadamConfig`, `lns.encode` ... on the values a user gave), an `OSError` (a path that
  cannot be read or written), a missing simulator;
* 70 (``EX_SOFTWARE`` of sysexits.h) any other exception, which is a bug: one line saying
  so, with the command to rerun for the traceback (``LNSMADAM_TRACEBACK=1`` in the
  environment, or ``lnsmadam --traceback ...``, re-raises it);
* 130 interrupted;
* 141 (128 + SIGPIPE, what a shell reports for any writer whose reader left) stdout was a
  pipe that its reader closed (``lnsmadam presets | head -1``): nothing on stderr, the way
  a command line tool ends when its output is no longer read.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import select
import shlex
import signal
import sys
import threading

from lns.errors import InputError

from . import commands
from .commands import UsageError

__all__ = ["main", "build_parser", "EXIT_USAGE", "EXIT_BUG", "EXIT_PIPE"]

EXIT_USAGE = 2
EXIT_BUG = 70                  # EX_SOFTWARE: an internal error
EXIT_PIPE = 128 + 13           # as if SIGPIPE had ended the process (Python ignores it)
TRACEBACK_ENV = "LNSMADAM_TRACEBACK"


class _Parser(argparse.ArgumentParser):
    def error(self, message):                     # one line, exit 2, like every other error
        raise UsageError(message)


def _command_modules():
    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "NAME"):
            mods.append(mod)
    return sorted(mods, key=lambda m: getattr(m, "ORDER", 50))


def build_parser():
    parser = _Parser(prog="lnsmadam",
                     description="Design LNS hardware for the Madam optimizer: bit-exact model, "
                                 "Verilog generation, simulator cross-checks, reports.")
    parser.add_argument("--traceback", action="store_true",
                        help=f"show the traceback of an internal error (or set "
                             f"{TRACEBACK_ENV}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _is_missing_simulator(exc) -> bool:
    tools = sys.modules.get("testbench.tools")      # loaded by whoever raised it
    return tools is not None and isinstance(exc, tools.MissingSimulator)


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"cannot use {exc.filename}: {exc.strerror}"
    return str(exc)


def _stdout_closed() -> bool:
    """True when stdout is a pipe whose reader has gone (poll reports POLLERR on the write
    end then), so a BrokenPipeError of a pipe to a simulator is not taken for it."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):        # captured, or already closed
        return False
    poller = select.poll()
    poller.register(fd, 0)                               # POLLERR is reported regardless
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _quiet_stdout():
    """Point stdout at /dev/null, so the interpreter's last flush of what is still buffered
    cannot fail again (it would print "Exception ignored ... BrokenPipeError")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv=None) -> int:
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            names = ", ".join(m.NAME for m in _command_modules())
            raise UsageError(f"a command is needed, one of: {names} (lnsmadam --help says "
                             "what each does)")
        code = int(args._run(args) or 0)
        if sys.stdout is not None:        # None when started with stdout closed (>&-)
            sys.stdout.flush()            # a closed pipe shows here, not at the exit
        return code
    except BrokenPipeError as exc:
        if not _stdout_closed():          # some other pipe: a path-like error as before
            print(f"lnsmadam: error: {_os_message(exc)}", file=sys.stderr)
            return EXIT_USAGE
        _quiet_stdout()
        return EXIT_PIPE
    except InputError as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"lnsmadam: error: {_os_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lnsmadam: interrupted", file=sys.stderr)
        if argv is None and threading.current_thread() is threading.main_thread():
            # the command line's own run (not a caller's): a second Ctrl-C while the
            # interpreter shuts down would print a traceback
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        return 130
    except Exception as exc:
        if _is_missing_simulator(exc):
            print(f"lnsmadam: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if os.environ.get(TRACEBACK_ENV, "") not in ("", "0") or \
                getattr(args, "traceback", False):
            raise
        words = sys.argv[1:] if argv is None else list(argv)
        rerun = shlex.join(["lnsmadam", "--traceback", *[w for w in words if w != "--traceback"]])
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"lnsmadam: internal error (a bug in lnsmadam, please report it): "
              f"{type(exc).__name__}{': ' + first if first else ''}; for the traceback "
              f"run again as: {rerun}", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
