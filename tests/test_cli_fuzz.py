"""A fuzz test of the `lnsmadam` command line (issue 21, item 5).

Hypothesis draws command lines (every sub-command `sim.cli.build_parser` knows, its options
with valid, boundary and hostile values, paths of every kind) and config files (a preset's
``to_dict()`` mutated: wrong types, out-of-range numbers, nested tables, NaN and infinities,
unknown fields; TOML, JSON, other suffixes, bytes that are not text).  Each runs through
`sim.cli.main`, and only these outcomes pass (`problems`):

* exit 0 (``--json``: stdout is strict JSON, no NaN or Infinity);
* exit 2 with exactly one line ``lnsmadam: error: ...`` on stderr, nothing on stdout and
  nothing written or left in the folder it ran in;
* exit 130 (interrupted);
* the command reached a *gate* (below) with counts a run can hold.

Never a traceback, never exit 70 (an internal error), never exit 1 (a mismatch) on input the
command accepted.

Each example runs in a forked child (`run_forked`): its own process group, a memory limit
and a time limit.  A value that would exhaust the memory or run for hours is then a
finding, not a hung or killed test session: over the time limit the child gets SIGINT, as
from Ctrl-C (`problems` says whether it stopped within 3 s with exit 130), then SIGKILL.
Work the test cannot afford (synthesis, training, Dask campaigns, Verilator builds, long
simulations) is stopped by a gate (`GATES`) where it would start: the command accepted its
input, an allowed outcome, unless a count that reached the gate is one no run can hold or
finish (`_violations`), which had to be refused before any work.  Small valid runs pass the
gates and run for real (the demo, small sweeps, the cycle model, Verilog generation,
Icarus and Amaranth testbenches of a few vectors).

The command lines the issue names (and those without a sub-command) are tests of their own
(`NAMED`), and a few real processes get what only a shell gives: argv bytes that are not
UTF-8, stdout closed or full, a reader that goes away (`SHELL_LINES`).

Examples are derandomized (the same ones every run) and not shrunk (shrinking reruns an
example many times, and one can take up to the time limit): a failing example is reported
as drawn, with the command line to rerun (``lnsmadam --traceback ...`` shows the traceback
of an internal error).  `make test-all` runs this file (tests/conftest.py), about 2 minutes
on one core.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math
import os
import resource
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lns import presets
from rtl.design import MAX_LANES
from sim.cli import build_parser
from sim.cli.options import SEED_MAX

# The runner waits on a pidfd (os.pidfd_open, Linux 5.3+): the project runs on Linux, so a
# missing one fails here rather than skipping the fuzz test.

ERROR_PREFIX = "lnsmadam: error: "
TIME_LIMIT = 60.0                 # s an example may run (2 busy cores shared with others)
SIGINT_GRACE = 3.0                # s a child has to stop after SIGINT (issue: 2 s)
# Data memory of a child (RLIMIT_DATA: not the address space, which the WebAssembly Yosys
# reserves by the gigabyte without using it); the demo, numba and amaranth fit in 1.5 GiB.
MEMORY_LIMIT = 4 << 30
HUGE = 2 ** 48                    # a count of work items no run on a machine can finish
WORKERS_PER_CORE = 32             # generous: more campaign workers a core must be refused
COMMON = settings(deadline=None, derandomize=True, database=None,
                  phases=(Phase.explicit, Phase.generate),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.large_base_example])

# Modules a child would otherwise import on every example; imported once, before forking.
_WARM = ("lns", "rtl.design", "rtl.cost", "sim.cycle", "sim.analysis.demo",
         "sim.analysis.sweep", "sim.analysis.cost", "sim.analysis.headline",
         "sim.analysis.optimizers", "sim.analysis.training", "sim.campaign", "sim.report",
         "testbench.streaming", "testbench.evaluate", "testbench.vectors", "amaranth",
         "matplotlib.backends.backend_agg")


# ---- the gates: where the work a test cannot afford would start --------------------------
class LongWork(BaseException):
    """Raised by a gate: the command accepted its input and would start ``name`` now.  A
    BaseException, so that `sim.cli.main` (which turns an Exception into exit 70) lets it
    through to the runner."""

    def __init__(self, name: str, violations: list[str]):
        super().__init__(name)
        self.name, self.violations = name, violations


class Hazard(BaseException):
    """The command was about to replace or remove a file of /dev, /proc or /sys (as root
    that would break the machine, e.g. ``--vcd /dev/null`` renamed over /dev/null)."""


@dataclasses.dataclass(frozen=True)
class Gate:
    """``target`` ("module:function") runs for real when ``cheap(args)`` (its arguments by
    name) says so, else raises `LongWork`; ``limits`` maps an argument to the largest value
    a run can hold (checked at every call, beside `_universal_violations`)."""

    target: str
    cheap: Callable[[dict], bool] | None = None
    limits: tuple = ()
    huge: int = HUGE


def _no_verilator(a) -> bool:
    return "verilator" not in {str(s) for s in a["sims"]}


def _word_bits(cfg) -> int:
    return sum(f.total_bits for f in cfg.word_formats.values())


def _cheap_simulation(a) -> bool:
    if a["engine"] == "model":           # no stalls and no bandwidth limit: a closed form
        closed = not a["stall_prob"] and a["bytes_per_cycle"] is None
        return closed or a["n"] * a["steps"] <= 10 ** 5
    return a["engine"] == "amaranth" and a["n"] * a["steps"] <= 16 and a["lanes"] <= 4


GATES = (
    Gate("sim.analysis.demo:quick_look", lambda a: a["steps"] * a["weights"] <= 10 ** 6,
         (("weights", 10 ** 8),)),
    Gate("sim.analysis.sweep:precision_sweep",
         lambda a: (a["steps"] * a["weights"] <= 2 * 10 ** 4 and max(a["bits"]) <= 16
                    and (a["variants_at"] or 0) <= 16), (("weights", 10 ** 8),)),
    # the product's own bound: weights x steps at most 2**53 (sim.cycle.MAX_UPDATES), a
    # closed form without stalls
    Gate("sim.cycle:simulate", _cheap_simulation, (("lanes", MAX_LANES),), huge=2 ** 53 + 1),
    Gate("testbench.streaming:stream",
         lambda a: a["total"] <= 64 and a["lanes"] <= 2 and _no_verilator(a),
         (("lanes", MAX_LANES), ("chunk_blocks", 2 ** 16))),
    Gate("testbench.evaluate:evaluate"),
    # Verilator builds (10-35 s each on a cold cache), wherever a command makes them
    Gate("testbench.fastpath:build_stream"),
    Gate("testbench.fastpath:build", lambda a: "verilator" not in str(a["sim"]).lower()),
    Gate("testbench.vectors:exhaustive", lambda a: a["lanes"] <= 4, (("lanes", MAX_LANES),)),
    Gate("rtl.design:design", lambda a: a["lanes"] <= 4 and _word_bits(a["cfg"]) <= 80,
         (("lanes", MAX_LANES),)),
    Gate("rtl.cost:synthesis_report", None, (("lanes", MAX_LANES),)),
    Gate("sim.analysis.cost:cost_report", None, (("lanes", MAX_LANES),)),
    Gate("sim.analysis.headline:compare_number_systems"),
    Gate("sim.analysis.optimizers:compare_optimizers"),
    Gate("sim.analysis.training:run_training"),
    Gate("sim.analysis.training:run_sigma_sweep"),
    Gate("sim.analysis.training:run_schedule"),
    Gate("sim.campaign:run_campaign", None,
         (("workers", WORKERS_PER_CORE * (os.cpu_count() or 1)),)),
    # lnsmadam explore: a Dask cluster training hundreds of runs
    Gate("sim.explore:explore", None,
         (("workers", WORKERS_PER_CORE * (os.cpu_count() or 1)),)),
)


def _ints(value):
    """The whole numbers in an argument: itself, a range's length, inside lists and dicts."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, range):
        yield len(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _ints(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _ints(v)


# Arguments that count something (work items, widths, workers): never negative.
COUNTS = {"n", "total", "steps", "weights", "vectors", "lanes", "workers", "epochs", "seeds",
          "bits", "widths", "chunk_blocks", "max_errors", "vcd_cycles", "variants_at"}


def _universal_violations(args: dict, huge: int) -> list[str]:
    out = []
    for name, value in args.items():
        for n in _ints(value):
            if n < 0 and name in COUNTS:
                out.append(f"{name}={n} is negative")
            elif n >= huge:
                out.append(f"{name}={n} is at least {huge}")
        if "seed" in name and isinstance(value, int) and not 0 <= value <= SEED_MAX:
            out.append(f"{name}={value} is not a seed (0..2**32-1)")
    return out


def _violations(gate: Gate, args: dict) -> list[str]:
    out = _universal_violations(args, gate.huge)
    for name, largest in gate.limits:
        value = args.get(name)
        if isinstance(value, int) and value > largest:
            out.append(f"{name}={value} is above {largest}")
    return out


def _gated(gate: Gate, real):
    signature = inspect.signature(real)

    def gate_call(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        named = dict(bound.arguments)
        violations = _violations(gate, named)
        if violations or gate.cheap is None or not gate.cheap(named):
            raise LongWork(gate.target, violations)
        return real(*args, **kwargs)
    return gate_call


def _install_gates() -> None:
    """Every gate in place: in its module and in every module of the project that imported
    the function by its name (``from sim.analysis.cost import cost_report``)."""
    ours = ("lns", "rtl", "sim", "testbench")
    for gate in GATES:
        module, attr = gate.target.split(":")
        real = getattr(importlib.import_module(module), attr)
        wrapper = _gated(gate, real)
        for mod in list(sys.modules.values()):
            if getattr(mod, "__name__", "").split(".")[0] in ours and \
                    getattr(mod, attr, None) is real:
                setattr(mod, attr, wrapper)


_SYSTEM = ("/dev/", "/proc/", "/sys/")


def _system(path) -> bool:
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False
    path = os.path.abspath(os.fsdecode(path))
    return path == "/" or path.startswith(_SYSTEM)


def _guard_system_files() -> None:
    """In the child, replacing or renaming onto a path of /dev, /proc or /sys, or removing
    one there that exists and is not a plain file, raises `Hazard` (the tests often run as
    root, where ``--vcd /dev/null`` renamed over /dev/null would break the machine).  The
    command's own temporary file beside such a target is removed first, so nothing is left
    there."""
    real_replace, real_rename, real_unlink = os.replace, os.rename, os.unlink
    real_rmdir, real_rmtree = os.rmdir, shutil.rmtree

    def onto(real):
        def call(src, dst, *args, **kwargs):
            if _system(dst):
                if _system(src) and os.path.isfile(src) and not os.path.islink(src):
                    real_unlink(src)
                raise Hazard(f"{real.__name__}({src}, {dst})")
            return real(src, dst, *args, **kwargs)
        return call

    def removing(real, plain_files_too: bool):
        def call(path, *args, **kwargs):
            plain = os.path.isfile(path) and not os.path.islink(path)
            if _system(path) and os.path.lexists(path) and not (plain_files_too and plain):
                raise Hazard(f"{real.__name__}({path})")
            return real(path, *args, **kwargs)
        return call

    os.replace, os.rename = onto(real_replace), onto(real_rename)
    os.unlink = os.remove = removing(real_unlink, True)
    os.rmdir, shutil.rmtree = removing(real_rmdir, False), removing(real_rmtree, False)


# ---- the runner: one example in a forked child --------------------------------------------
@dataclasses.dataclass
class Outcome:
    status: int | None            # exit status (None: it did not exit by itself)
    out: str
    err: str
    long_work: str | None = None   # the gate reached
    violations: tuple = ()         # counts that reached it and had to be refused
    escaped: str | None = None     # a traceback that left sim.cli.main
    hazard: str | None = None      # a system file it was about to replace or remove
    timed_out: bool = False
    stopped: bool = False          # timed out, then exited within the grace of SIGINT
    seconds: float = 0.0


def _child(argv, cwd: Path, io_dir: Path, cache: Path) -> None:
    """In the forked child: limits, folders, output files, gates; then `sim.cli.main`."""
    os.setpgid(0, 0)
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(cwd)
    os.environ.update(LNSMADAM_CACHE=str(cache), MPLBACKEND="Agg")
    os.environ.pop("LNSMADAM_TRACEBACK", None)
    for fd, name, flags in ((0, os.devnull, os.O_RDONLY),
                            (1, io_dir / "out", os.O_WRONLY | os.O_CREAT),
                            (2, io_dir / "err", os.O_WRONLY | os.O_CREAT)):
        os.dup2(os.open(name, flags, 0o644), fd)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    try:
        _install_gates()
        _guard_system_files()
    except Exception:                      # a gate's function moved: the test's own fault
        result = {"setup": traceback.format_exc()}
    else:
        result = _run_main(argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):   # replaced or closed by the command
            pass
    (io_dir / "result.tmp").write_text(json.dumps(result))
    os.replace(io_dir / "result.tmp", io_dir / "result.json")   # whole, or not at all


def _run_main(argv) -> dict:
    from sim.cli import main
    try:
        return {"status": main(list(argv))}
    except SystemExit as exc:              # --help: argparse exits, as the console script
        return {"status": exc.code if isinstance(exc.code, int) else int(bool(exc.code))}
    except LongWork as exc:
        return {"long_work": exc.name, "violations": exc.violations}
    except Hazard as exc:
        return {"hazard": str(exc)}
    except BaseException:                  # noqa: B036 (the point: whatever escapes main)
        return {"escaped": traceback.format_exc()}


def _wait(pidfd: int, timeout: float) -> bool:
    """True when the child exited within ``timeout`` seconds."""
    return bool(select.select([pidfd], [], [], timeout)[0])


def _finish(pid: int) -> int:
    """End what the exited child left running in its group (simulators, workers), then reap
    it (a zombie until then, so neither its pid nor its group id can be reused); its exit
    status."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _stop(pid: int, pidfd: int) -> bool:
    """SIGINT to the child's group, as Ctrl-C; whether it exited within the grace."""
    os.killpg(pid, signal.SIGINT)
    stopped = _wait(pidfd, SIGINT_GRACE)
    _finish(pid)
    return stopped


def run_forked(argv, cwd: Path, cache: Path) -> Outcome:
    """``lnsmadam *argv`` in a forked child in ``cwd``; its `Outcome`."""
    io_dir = Path(tempfile.mkdtemp(prefix="io-", dir=cwd.parent))
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:                           # the child never returns into pytest
        code = 0
        try:
            _child(argv, cwd, io_dir, cache)
        except BaseException:              # noqa: B036
            code = 3
        os._exit(code)
    outcome = Outcome(None, "", "")
    pidfd = os.pidfd_open(pid)
    try:
        if _wait(pidfd, TIME_LIMIT):
            exit_status = _finish(pid)
        else:
            exit_status = None
            outcome.timed_out = True
            outcome.stopped = _stop(pid, pidfd)
    finally:
        os.close(pidfd)
    outcome.seconds = time.monotonic() - start
    return _read_outcome(outcome, io_dir, exit_status)


def _read_outcome(outcome: Outcome, io_dir: Path, exit_status) -> Outcome:
    outcome.out = (io_dir / "out").read_text(errors="backslashreplace")
    outcome.err = (io_dir / "err").read_text(errors="backslashreplace")
    result_file = io_dir / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    shutil.rmtree(io_dir)
    outcome.status = result.get("status", exit_status)   # after SIGINT too, when it stopped
    if outcome.timed_out:
        return outcome
    outcome.long_work = result.get("long_work")
    outcome.violations = tuple(result.get("violations", ()))
    outcome.escaped = result.get("escaped")
    outcome.hazard = result.get("hazard")
    if "setup" in result:
        pytest.fail(f"the child could not put its gates in place:\n{result['setup']}")
    if not result and exit_status is not None:
        outcome.escaped = f"the child ended without a result (exit status {exit_status})"
    return outcome


# ---- the work folder of an example --------------------------------------------------------
GOOD_TOML = "# no field overridden\n"


def make_work_dir(base: Path) -> Path:
    """A fresh folder holding what the path values name: a file, a folder, configs."""
    cwd = Path(tempfile.mkdtemp(prefix="ex-", dir=base)) / "work"
    (cwd / "adir").mkdir(parents=True)
    (cwd / "afile").write_text("a file, not a folder\n")
    (cwd / "good.toml").write_text(GOOD_TOML)
    (cwd / "good.json").write_text("{}\n")
    (cwd / "bad.toml").write_text("= not toml\n")
    return cwd


def snapshot(folder: Path) -> dict:
    """Every path under ``folder``: a file with its size and modification time, a folder
    (whose time changes when a file is made and removed again, which leaves nothing)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            out[str(Path(root, name).relative_to(folder)) + "/"] = None
        for name in files:
            st_ = Path(root, name).lstat()
            out[str(Path(root, name).relative_to(folder))] = (st_.st_size, st_.st_mtime_ns)
    return out


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def problems(argv, outcome: Outcome, before: dict, after: dict) -> list[str]:
    """What in ``outcome`` breaks the rules of the command line (empty: nothing)."""
    if outcome.timed_out:
        stopped = (f"then stopped by SIGINT with exit status {outcome.status}"
                   if outcome.stopped else
                   f"and did not stop within {SIGINT_GRACE:.0f} s of SIGINT")
        return [f"still running after {TIME_LIMIT:.0f} s, {stopped}"]
    if outcome.hazard:
        return [f"about to replace or remove a system file: {outcome.hazard}"]
    if outcome.escaped:
        return [f"a traceback escaped sim.cli.main:\n{outcome.escaped}"]
    if "Traceback (most recent call last)" in outcome.err:
        return ["a traceback on stderr"]
    if outcome.long_work is not None:
        return [f"reached {outcome.long_work} with {v}" for v in outcome.violations]
    return _exit_problems(argv, outcome, before, after)


def _exit_problems(argv, outcome: Outcome, before: dict, after: dict) -> list[str]:
    status, out, err = outcome.status, outcome.out, outcome.err
    if status == 70:
        return [f"exit 70, an internal error: {err.strip()}"]
    if status not in (0, 2, 130):
        return [f"exit {status} (allowed: 0, 2, 130)"]
    found = []
    if status == 2:
        lines = err.splitlines()
        if len(lines) != 1 or not err.startswith(ERROR_PREFIX) or not err.endswith("\n"):
            found.append(f"exit 2 without exactly one line {ERROR_PREFIX!r} on stderr")
        if out:
            found.append("exit 2 with output on stdout")
        if before != after:
            changed = sorted(set(before.items()) ^ set(after.items()))
            found.append(f"exit 2 and the folder changed: {[p for p, _ in changed]}")
    if status == 0 and "--json" in argv and not {"-h", "--help"} & set(argv):
        try:
            _strict_json(out)
        except ValueError as exc:
            found.append(f"--json output is not strict JSON: {exc}")
    return found


def check(argv, base: Path, cache: Path, prepare=None) -> tuple[Outcome, list[str]]:
    """Run ``argv`` in a fresh work folder (``prepare(cwd)`` adds files); its problems."""
    cwd = make_work_dir(base)
    if prepare is not None:
        prepare(cwd)
    before = snapshot(cwd)
    outcome = run_forked(argv, cwd, cache)
    after = snapshot(cwd)
    shutil.rmtree(cwd.parent)
    return outcome, problems(argv, outcome, before, after)


def report(argv, outcome: Outcome, found: list[str], config: str | None = None) -> str:
    text = [f"lnsmadam {shlex.join(argv)}"]
    if config is not None:
        text.append(f"config file:\n{config}")
    text += [f"exit {outcome.status}; {outcome.seconds:.1f} s",
             f"stdout: {outcome.out[:600]!r}", f"stderr: {outcome.err[-1500:]!r}"]
    return "\n".join(text + found)


# ---- values: valid, boundary, hostile -----------------------------------------------------
PRESETS = tuple(presets.names())
MADAM = tuple(presets.names(presets.get("lns12").optimizer))
HOSTILE = ("", " ", "-", "0", "-0", "-1", "-2", "1.5", "1e3", "1e20", "1e308", "-1e-320",
           "nan", "inf", "-inf", "0x10", "1_000", "\u0661\u0662", "\u00b2", "\u00e9", "\u221e",
           "\t", "9" * 5000, "x" * 300, "lns12 ", "LNS12", "lns12,lns12", ",", "1,,2", "4..",
           "..4", "8..6", "6-", "a..b")
HUGE_VALUES = ("1000", "65", "1000000000", str(2 ** 31), str(2 ** 32), str(2 ** 53 + 1),
               str(2 ** 63), "1" + "0" * 30, "-" + str(2 ** 63), "4..1000000000000",
               "4.." + str(2 ** 40), "6,1000000000")
PATHS = ("out", "out/sub", "plot.png", "plot.svg", "plot.pdf", "plot.PNG", "plot.txt", "plot",
         "adir", "adir/", "adir/x.png", "afile", "afile/x.png", "afile/x", "missing/x.png",
         "missing/sub/", "/dev/null", "", ".", "/proc/lnsmadam-fuzz.png", "/proc",
         "/sys/lnsmadam-fuzz", "\u00e9 \u00fc.png", "x" * 300 + ".png", "good.toml",
         "good.json", "bad.toml", "-", "~/x.png", "x.vcd", "vectors.hex")
PATH_DESTS = {"out", "plot", "vcd", "config", "write_vectors", "failures", "convergence_plot",
              "sigma_plot"}


def _names(names, max_size=3):
    return st.lists(st.sampled_from(names), min_size=1, max_size=max_size).map(",".join)


def _bits():
    one = st.integers(4, 22).map(str)
    span = st.tuples(st.integers(4, 16), st.integers(0, 3)).map(lambda t: f"{t[0]}..{t[0] + t[1]}")
    return st.one_of(one, span, st.lists(st.integers(4, 16), min_size=1, max_size=3)
                     .map(lambda b: ",".join(map(str, b))))


def _valid_values():
    from sim.report import SECTIONS
    small = {"steps": (1, 4), "weights": (1, 64), "vectors": (1, 64), "lanes": (1, 3),
             "workers": (1, 2), "epochs": (1, 2), "seeds": (1, 2), "grad_bits": (7, 22),
             "vcd_cycles": (1, 50), "gap": (0, 90), "backpressure": (0, 90),
             "max_report": (0, 5), "max_errors": (1, 5), "chunk_blocks": (1, 2)}
    values = {dest: st.integers(lo, hi).map(str) for dest, (lo, hi) in small.items()}
    values.update(
        preset=st.sampled_from(PRESETS), base=st.sampled_from(MADAM),
        presets=_names(PRESETS), sims=_names(("icarus", "verilator", "amaranth")),
        seed=st.sampled_from(("0", "1", "12345", str(SEED_MAX))),
        bits=_bits(), weight_bits=_bits(),
        variants_at=st.sampled_from(("0", "4", "8", "12", "25")),
        stall_prob=st.sampled_from(("0", "0.25", "0.9", "0.999")),
        mem_bytes_per_cycle=st.sampled_from(("0.0625", "1", "3.5", "64")),
        sections=_names(SECTIONS), scheduler=st.just("tcp://127.0.0.1:9"))
    return values


VALID = _valid_values()


def _valid(action):
    if action.dest in PATH_DESTS:
        return st.sampled_from(PATHS)
    if action.choices:
        return st.sampled_from(sorted(map(str, action.choices)))
    return VALID.get(action.dest, st.integers(0, 4).map(str))


HOSTILE_VALUES = st.one_of(st.sampled_from(HOSTILE), st.sampled_from(HUGE_VALUES),
                           st.text(max_size=6))
# Counts that set how long a valid run takes: given more often, so that valid command
# lines run small for real instead of stopping at a gate with their defaults.  Options
# that refuse most command lines they appear in (--write-vectors without --exhaustive,
# --vcd with the model engine): given less often.
SIZES = {"steps", "weights", "vectors", "epochs", "seeds"}
RARE = {"write_vectors", "failures", "vcd", "scheduler", "convergence_plot", "sigma_plot",
        "exhaustive"}


def _sub_commands() -> dict:
    parser = build_parser()
    return {name: sub for action in parser._subparsers._group_actions
            for name, sub in action.choices.items()}


SUB_COMMANDS = _sub_commands()


@st.composite
def argument_words(draw, command: str) -> list[str]:
    """Some of ``command``'s positional arguments and options (a required one mostly),
    each with a value: valid, or with the chance the example drew, hostile."""
    hostile = draw(st.sampled_from((0, 15, 50)))       # percent of values
    words = []
    for action in SUB_COMMANDS[command]._actions:
        if action.dest == "help":
            continue
        weight = (5 if action.required else 4 if action.dest in SIZES else
                  1 if action.dest in RARE else 2)
        if draw(st.integers(0, 5)) >= weight:
            continue
        value = None if action.nargs == 0 else draw(
            HOSTILE_VALUES if draw(st.integers(0, 99)) < hostile else _valid(action))
        if not action.option_strings:                  # positional: in order
            words.append(value)
            continue
        flag = max(action.option_strings, key=len)
        if value is None:
            words.append(flag)
        else:
            words += [f"{flag}={value}"] if draw(st.booleans()) else [flag, value]
    return words


@st.composite
def command_lines(draw) -> list[str]:
    """A sub-command with arguments; sometimes help, an unknown option or a stray word
    (the command lines without a sub-command are `NAMED`)."""
    kind = draw(st.integers(0, 19))
    command = draw(st.sampled_from(sorted(SUB_COMMANDS)))
    words = [command] + draw(argument_words(command))
    if kind == 1:
        words.append(draw(st.sampled_from(("--help", "-h"))))
    elif kind == 2:
        words.insert(draw(st.integers(1, len(words))),
                     draw(st.sampled_from(("--bogus", "stray", "--json=1", "-"))))
    return words


# ---- config files -------------------------------------------------------------------------
ODD_VALUES = (None, True, False, "", "x", "\u221e", 0, -1, 1, 2, 7, 24, 25, 64, 2 ** 31,
              2 ** 63, 10 ** 30, -2 ** 63, 0.0, -0.0, 5e-324, 1e-300, 0.5, 0.9, 0.999,
              0.9999999, 1.0, 1.0000001, 1.5, 1e300, math.nan, math.inf, -math.inf, [],
              [1, 2], {}, {"x": 1}, "stochastic", "nearest_even", "direct", "interp", "rms",
              "sign", "madam", "adam", "sgd", "lion", "float_adam", "reserved", "flush",
              "none", "bf16", "fp32", "0x3f80")
RAW_FILES = (b"", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"3", b"null", b"= x\n",
             b"a = 1\na = 2\n", b"[[x]]\n", b"[weight]\nint_bits = 30\n", b"{", b"nan",
             b'{"weight": {"int_bits": 1e400}}', b"\xef\xbb\xbfname = 'bom'\n")
SUFFIXES = (".toml", ".json", ".TOML", ".JSON", ".txt", "", ".yaml", ".toml.json")


def _key_paths(data: dict) -> list[tuple]:
    paths = []
    for key, value in data.items():
        paths.append((key,))
        if isinstance(value, dict):
            paths += [(key, sub) for sub in value]
    return paths


def _near(value):
    """Values near a field's own (the edges where rounding makes a constant degenerate)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return st.just(value)
    if isinstance(value, int):
        return st.sampled_from((value - 1, value + 1, 2 * value, -value, 0))
    return st.sampled_from((math.nextafter(value, math.inf), value * 10, value / 10, -value,
                            1 - (1 - value) / 1000, 1 - (1 - value) / 10 ** 9, value / 1e30))


def _odd_value():
    return st.one_of(st.sampled_from(ODD_VALUES), st.integers(), st.floats(),
                     st.text(max_size=8), st.dictionaries(st.text(max_size=4),
                                                           st.integers(), max_size=2))


def _set(data: dict, path: tuple, value) -> None:
    *outer, last = path
    for key in outer:
        if not isinstance(data.get(key), dict):
            data[key] = {}
        data = data[key]
    if value is _DELETE:
        data.pop(last, None)
    else:
        data[last] = value


_DELETE = object()


def _numeric(data: dict, path: tuple) -> bool:
    value = _get(data, path)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


FIELD_NAMES = ("allow_degenerate", "name", "optimizer", "rule", "format", "weight", "eta")


@st.composite
def mutated_config(draw, preset: str) -> dict:
    """The preset's ``to_dict()`` with one to three changes: a field added (unknown, or one
    of another rule), removed, moved just past an edge (a beta a hair below 1, an eps
    below what the format holds), or given a value of the wrong type or range."""
    data = json.loads(json.dumps(presets.get(preset).to_dict()))
    paths = _key_paths(data)
    numeric = [p for p in paths if _numeric(data, p)]
    for _ in range(draw(st.sampled_from((1, 1, 1, 2, 3)))):
        kind = draw(st.integers(0, 5))
        if kind == 0:                                 # a field the rule does not have
            where = draw(st.sampled_from([()] + [p[:1] for p in paths if len(p) == 2]))
            key = draw(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)))
            _set(data, where + (key,), draw(_odd_value()))
        elif kind == 1:
            _set(data, draw(st.sampled_from(paths)), _DELETE)
        elif kind in (2, 3) and numeric:
            path = draw(st.sampled_from(numeric))
            _set(data, path, draw(_near(_get(data, path))))
        else:
            _set(data, draw(st.sampled_from(paths)), draw(_odd_value()))
    return data


def _get(data: dict, path: tuple):
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _toml_string(text: str) -> str:
    # JSON's escapes are TOML's, but TOML also forbids a raw DEL
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    return "{" + ", ".join(f"{_toml_string(str(k))} = {_toml_value(v)}"
                           for k, v in value.items() if v is not None) + "}"


def to_toml(data: dict) -> str:
    """``data`` as a TOML document (tables inline; TOML has no null: None fields left out)."""
    return "".join(f"{_toml_string(str(k))} = {_toml_value(v)}\n"
                   for k, v in data.items() if v is not None)


@st.composite
def config_files(draw) -> tuple[str, str, bytes]:
    """(preset, file name, bytes): a mutated config of the preset as TOML or JSON under
    some suffix, or bytes of every other kind."""
    preset = draw(st.sampled_from(PRESETS))
    suffix = draw(st.sampled_from(SUFFIXES)) if draw(st.integers(0, 3)) == 0 else \
        draw(st.sampled_from((".toml", ".json")))
    name = draw(st.sampled_from(("c", "my-config", "\u00e9 \u00fc", "1x"))) + suffix
    if draw(st.integers(0, 5)) == 0:
        return preset, name, draw(st.one_of(st.sampled_from(RAW_FILES), st.binary(max_size=40)))
    data = draw(mutated_config(preset))
    # mostly what the suffix says; sometimes the other format under it
    as_json = (suffix.lower().endswith(".json")) != (draw(st.integers(0, 5)) == 0)
    text = json.dumps(data, indent=1, ensure_ascii=False) if as_json else to_toml(data)
    return preset, name, text.encode()


CONFIG_COMMANDS = (
    ("verilog", "--out", "o"),
    ("sim", "--weights", "4"),
    ("sim", "--weights", "3", "--steps", "2", "--engine", "amaranth"),
    ("testbench", "--vectors", "8", "--sim", "icarus"),
    ("testbench", "--vectors", "8", "--sim", "amaranth", "--json"),
    ("cost", "--no-pnr"),
)


# ---- the tests ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """(the examples' folder, a private cache shared by the examples); the modules every
    child uses imported once before the first fork."""
    for name in _WARM:
        importlib.import_module(name)
    root = tmp_path_factory.mktemp("cli-fuzz")
    (root / "cache").mkdir()
    return root, root / "cache"


@settings(COMMON, max_examples=350)
@given(argv=command_lines())
def test_any_command_line_is_a_result_or_one_line(places, argv):
    base, cache = places
    if argv[:1] == ["cache"] and "clean" in argv:   # the others keep their designs and builds
        cache = base / "cache-to-clean"
    outcome, found = check(argv, base, cache)
    assert not found, report(argv, outcome, found)


# The command lines the issue names, and the ones without a sub-command (each a test of
# its own, so that one failing does not hide the others): workers far beyond the cores
# (refused or capped before any worker starts), ranges and counts no run can hold or
# finish, a float beyond any bandwidth, a waveform written over /dev/null.
NAMED = {
    "no-command": [],
    "only-help": ["--help"],
    "unknown-command": ["bogus"],
    "option-without-command": ["--json"],
    "unknown-option-first": ["-x", "demo"],
    "campaign-1000-workers": ["campaign", "--workers", "1000", "--presets", "tiny", "--sims",
                              "icarus", "--vectors", "10"],
    "sweep-huge-range": ["sweep", "--weight-bits", "4..1000000000000", "--steps", "1"],
    "train-huge-range": ["train", "--bits", "6..1000000000", "--quick"],
    "demo-1e9-weights": ["demo", "--weights", "1000000000", "--steps", "1"],
    "demo-1e20-steps": ["demo", "--steps", "1" + "0" * 20, "--weights", "1"],
    "testbench-2e63-vectors": ["testbench", "--vectors", str(2 ** 63), "--sim", "icarus"],
    "testbench-1e9-chunk-blocks": ["testbench", "--chunk-blocks", "1000000000", "--vectors",
                                   "8", "--sim", "icarus"],
    "sim-1e308-bytes-per-cycle": ["sim", "--weights", "2", "--mem-bytes-per-cycle", "1e308"],
    "sim-vcd-dev-null": ["sim", "--weights", "3", "--engine", "amaranth", "--vcd",
                         "/dev/null"],
    "demo-seed-minus-1": ["demo", "--seed", "-1", "--steps", "1", "--weights", "1"],
}


@pytest.mark.parametrize("argv", list(NAMED.values()), ids=list(NAMED))
def test_a_named_command_line_is_a_result_or_one_line(places, argv):
    base, cache = places
    outcome, found = check(argv, base, cache)
    assert not found, report(argv, outcome, found)


@settings(COMMON, max_examples=120)
@given(config=config_files(), command=st.sampled_from(CONFIG_COMMANDS))
def test_any_config_file_is_a_result_or_one_line(places, config, command):
    base, cache = places
    preset, name, content = config
    argv = [*command, "--preset", preset, "--config", name]
    outcome, found = check(argv, base, cache, lambda cwd: (cwd / name).write_bytes(content))
    assert not found, report(argv, outcome, found, content.decode(errors="backslashreplace"))


@settings(COMMON, max_examples=30)
@given(preset=st.sampled_from(PRESETS), path=st.sampled_from(PATHS))
def test_a_config_path_of_any_kind_is_a_result_or_one_line(places, preset, path):
    """--config naming a folder, a missing file, a file under a file, /dev/null ..."""
    base, cache = places
    argv = ["sim", "--weights", "2", "--preset", preset, "--config", path]
    outcome, found = check(argv, base, cache)
    assert not found, report(argv, outcome, found)


# ---- a handful of real processes: the console script, bytes and pipes a shell can give ----
SHELL_LINES = {
    "preset-not-utf8": "{lnsmadam} demo --preset $'\\xff'",      # surrogate escapes
    "out-not-utf8": "{lnsmadam} verilog --out $'\\xff\\xfe' --preset nope",
    "config-not-utf8": "{lnsmadam} sim --weights 2 --config $'\\xff.toml'",
    "reader-goes-away": "{lnsmadam} presets --json | head -c 10 >/dev/null",
    "stdout-closed": "{lnsmadam} presets >&-",
    "disk-full": "{lnsmadam} presets > /dev/full",
    "stderr-closed": "{lnsmadam} demo --steps 2 --weights 2 2>&- >/dev/null",
}


def _shell(line: str, cwd: Path, cache: Path) -> tuple[int, str, str]:
    """Run ``line`` in bash in its own session (all of it ended on a timeout); the exit
    status of its first command (PIPESTATUS), the stdout and the stderr of the whole."""
    script = line.format(lnsmadam=shlex.quote(str(Path(sys.executable).with_name("lnsmadam"))))
    env = {**os.environ, "LNSMADAM_CACHE": str(cache)}
    env.pop("LNSMADAM_TRACEBACK", None)
    proc = subprocess.Popen(["bash", "-c", f'{script}; echo "${{PIPESTATUS[0]}}" > status'],
                            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIME_LIMIT)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    code = int((cwd / "status").read_text())
    return code, out.decode(errors="backslashreplace"), err.decode(errors="backslashreplace")


@pytest.mark.parametrize("line", list(SHELL_LINES.values()), ids=list(SHELL_LINES))
def test_what_a_shell_can_pass(places, line):
    """Bytes that are not UTF-8, closed or full output streams, a pipe closed early: exit 0,
    exit 2 with one line, or 141 with nothing on stderr (`sim.cli`: a reader that went
    away); never a traceback or exit 70."""
    base, cache = places
    cwd = make_work_dir(base)
    code, _, err = _shell(line, cwd, cache)
    shutil.rmtree(cwd.parent)
    assert "Traceback" not in err, err
    assert code in (0, 2, 130, 141), (code, err)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith(ERROR_PREFIX), err
    if code == 141:
        assert err == "", err
