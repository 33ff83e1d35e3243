"""`lnsmadam testbench`: run the generated Verilog on real simulators against the model."""

from __future__ import annotations

import sys
import time

from ..jsonout import dumps
from ..options import seed
from ..outputs import check_folder
from . import UsageError, add_config_arguments, check_out_file, load_config

NAME = "testbench"
HELP = "check the generated Verilog on Icarus/Verilator (and Amaranth) against the model"
ORDER = 40

SIM_ALL = "all"


def _sim_choices():
    from testbench.tools import Simulator
    return (*(str(s) for s in Simulator), SIM_ALL)


def add_arguments(parser):
    add_config_arguments(parser)
    parser.add_argument("--sim", default=SIM_ALL, choices=_sim_choices(),
                        help="which simulator(s) to run (default all)")
    parser.add_argument("--vectors", type=int, default=100_000, metavar="N",
                        help="number of edge + random vectors (default 100000)")
    parser.add_argument("--seed", type=seed, default=1,
                        help="seed of the vectors, 0 to 2**32-1 (default 1)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="every input word combination instead, where the rule's recipe "
                             "offers it (Madam on small formats, e.g. tiny)")
    parser.add_argument("--lanes", type=int, default=1,
                        help="lanes of the unit, 1 to 64 (default 1)")
    parser.add_argument("--gap", type=int, default=10, metavar="PCT",
                        help="percent of input cycles without valid (default 10)")
    parser.add_argument("--backpressure", type=int, default=20, metavar="PCT",
                        help="percent of output cycles without ready (default 20)")
    parser.add_argument("--max-report", type=int, default=10, metavar="N",
                        help="print at most N mismatching cases (default 10)")
    parser.add_argument("--max-errors", type=int, default=10, metavar="K",
                        help="stop after K mismatches, saving each failing case (default 10)")
    parser.add_argument("--chunk-blocks", type=int, default=None, metavar="B",
                        help="blocks of 65536 vectors per processing chunk (memory only; "
                             "the result does not depend on it)")
    parser.add_argument("--write-vectors", metavar="FILE",
                        help="also write the vectors in the hex line format (--exhaustive "
                             "only)")
    parser.add_argument("--failures", metavar="DIR", default=None,
                        help="save failing cases as JSON here (default the 'failures' folder "
                             "of the lnsmadam cache directory, $LNSMADAM_CACHE to move it; "
                             "'' to not save); copy one into tests/failures/ to replay it "
                             "in the test suite")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _check(args):
    """Every option checked before anything is generated or built (paths included: a
    folder that cannot hold a failing case fails now, not when a mismatch is saved)."""
    from rtl.design import MAX_LANES
    if args.vectors < 1:
        raise UsageError(f"--vectors must be a positive number, not {args.vectors}")
    if args.lanes < 1:
        raise UsageError(f"--lanes must be a positive number, not {args.lanes}")
    if args.lanes > MAX_LANES:                # generation grows with the lanes (rtl.design)
        raise UsageError(f"--lanes must be at most {MAX_LANES}, not {args.lanes}")
    if args.max_report < 0:
        raise UsageError(f"--max-report must be a non-negative number, not {args.max_report}")
    if args.max_errors < 1:
        raise UsageError(f"--max-errors must be a positive number, not {args.max_errors}")
    if args.chunk_blocks is not None and args.chunk_blocks < 1:
        raise UsageError(f"--chunk-blocks must be a positive number, not {args.chunk_blocks}")
    # the campaign's bounds: the same streaming testbench runs under both
    from sim.campaign.plan import (CHUNK_BLOCKS_MAX, MAX_ERRORS_MAX, MAX_ERRORS_WHY,
                                   VECTORS_MAX, VECTORS_WHY)
    from testbench.streaming import BLOCK
    chunk_why = f"a chunk holds its blocks of {BLOCK:,} vectors in memory at once"
    for option, value, most, why in (("--vectors", args.vectors, VECTORS_MAX, VECTORS_WHY),
                                     ("--max-errors", args.max_errors, MAX_ERRORS_MAX,
                                      MAX_ERRORS_WHY),
                                     ("--chunk-blocks", args.chunk_blocks, CHUNK_BLOCKS_MAX,
                                      chunk_why)):
        if value is not None and value > most:
            raise UsageError(f"{option} must be at most {most:,} ({why}), not {value:,}")
    if args.write_vectors and not args.exhaustive:
        raise UsageError("--write-vectors needs --exhaustive (streamed vectors are made block "
                         "by block: replay a block with testbench.streaming.make_block)")
    if args.write_vectors:
        check_out_file(args.write_vectors, "--write-vectors")
    for name in ("gap", "backpressure"):
        value = getattr(args, name)
        if not 0 <= value <= 90:
            raise UsageError(f"--{name} must be between 0 and 90, not {value}")
    failures = args.failures
    if failures is None:                  # never a path relative to the current directory
        from rtl.cache import cache_dir
        failures = cache_dir("failures")
    if failures:
        check_folder(failures, "--failures")
    return failures


def run(args) -> int:
    """One path for every rule: the rule's vectors (its recipe) streamed block by block
    (`testbench.streaming`), or its exhaustive set (`testbench.evaluate`), on the
    reference evaluator, ``python`` and ``--sim``'s simulators, one compare.  The design
    and the simulators' testbenches are built first, timed apart: vectors/s is the rate
    of the run alone."""
    from testbench import tools
    from testbench.design import RTLMissing
    from testbench.progress import say
    from testbench.tools import Simulator

    failures = _check(args)
    cfg = load_config(args)
    sims = tuple(Simulator) if args.sim == SIM_ALL else (Simulator.parse(args.sim),)
    vs = _exhaustive_set(args, cfg) if args.exhaustive else None
    try:
        for sim in sims:
            tools.require(sim)
    except tools.MissingSimulator as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return 2

    def progress(msg):                    # one line a stage (kept clear of a build's bar)
        say(f"testbench: {msg}")

    report = sys.stderr if args.json else sys.stdout
    sizes = [len(vs)] if vs is not None else _block_sizes(args.vectors, args.lanes)
    try:
        design, build_s = _build(cfg, sims, args.lanes, sizes, progress)
        if vs is not None:
            result = _exhaustive(args, vs, sims, design, report, failures, progress)
        else:
            result = _streamed(args, cfg, sims, design, report, failures, progress)
    except (RTLMissing, tools.SimulatorError) as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return 2
    result["build_seconds"] = build_s
    _print_result(args, result)
    return 0 if result["ok"] else 1


def _exhaustive_set(args, cfg):
    from testbench import vectors
    try:
        return vectors.exhaustive(cfg, lanes=args.lanes, seed=args.seed)
    except vectors.NoExhaustiveSet:
        raise UsageError(f"--exhaustive is not supported for {cfg.name} (the "
                         f"{cfg.optimizer} recipe offers no exhaustive vector set)") from None


def _block_sizes(total: int, lanes: int) -> list[int]:
    """The vector counts of the streamed run's blocks (all full but the last): an Icarus
    testbench is built for its memory's depth."""
    from testbench import streaming
    last = streaming.block_count(total) - 1
    return sorted({streaming._block_len(0, total, lanes),
                   streaming._block_len(last, total, lanes)})


def _build(cfg, sims, lanes: int, sizes, progress):
    """The design of ``cfg`` and the testbench of every HDL simulator in ``sims`` (Icarus
    one for each vector count in ``sizes``), made or taken from the cache now, before the
    run; returns ``(design or None, seconds)``."""
    from testbench import fastpath
    from testbench.design import generate
    from testbench.tools import Simulator
    hdl = [s for s in sims if s.is_hdl]
    if not hdl:
        return None, 0.0
    t0 = time.perf_counter()
    progress(f"design and testbenches of {cfg.name} x{lanes} for "
             f"{', '.join(str(s) for s in hdl)}")
    design = generate(cfg, lanes)
    for sim in hdl:
        if sim is Simulator.VERILATOR:
            fastpath.build_stream(design)
        else:
            for n in sizes:
                fastpath.build(sim, design, fastpath.depth_of(sim, n))
    return design, time.perf_counter() - t0


def _print_result(args, result):
    if args.json:
        data = dict(result["evaluators"])
        data["ok"] = bool(result["ok"])
        data["vectors_per_second"] = round(result["vectors_per_second"], 1)
        data["simulation_seconds"] = round(result["simulation_seconds"], 3)
        data["build_seconds"] = round(result["build_seconds"], 3)
        print(dumps(data))
        for path in result["saved"]:
            print(f"saved failing case {path}", file=sys.stderr)
        return
    print(f"{'evaluator':<10} {'vectors':>11} {'mismatches':>10}")
    for name, s in result["evaluators"].items():
        print(f"{name:<10} {s['vectors']:>11} {s['mismatches']:>10}")
    for path in result["saved"]:
        print(f"saved failing case {path}")
    print(f"{result['vectors_per_second']:,.0f} vectors/s ({result['simulation_seconds']:.1f} s "
          f"of simulation; build {result['build_seconds']:.1f} s before it)")
    if result.get("stopped"):
        print(f"stopped after {result['mismatches']} mismatches (--max-errors "
              f"{args.max_errors})")
    print("all agree" if result["ok"] else "MISMATCH")


def _exhaustive(args, vs, sims, design, report, failures, progress):
    from testbench import evaluate
    progress(f"exhaustive vectors for {vs.cfg.name}: {len(vs)}")
    if args.write_vectors:
        vs.write(args.write_vectors)
    t0 = time.perf_counter()
    result = evaluate.evaluate(vs, sims, design=design, gap=args.gap, bp=args.backpressure,
                               rng_seed=args.seed, max_report=args.max_report,
                               out=report, failures_dir=failures or None,
                               progress=progress)
    # a build the run still made (none: `_build` made them) is not simulation
    built = sum(r.get("build_seconds", 0.0) for r in result["runs"].values())
    seconds = max(time.perf_counter() - t0 - built, 1e-9)
    result.update(simulation_seconds=seconds, vectors_per_second=len(vs) / seconds)
    return result


def _streamed(args, cfg, sims, design, report, failures, progress):
    from testbench import streaming
    from testbench.progress import Progress
    progress(f"{args.vectors} vectors for {cfg.name} in blocks of {streaming.BLOCK}")
    kw = {} if args.chunk_blocks is None else {"chunk_blocks": args.chunk_blocks}
    with Progress("testbench", total=args.vectors, unit="vector") as bar:
        result = streaming.stream(cfg, sims, args.vectors, seed=args.seed, lanes=args.lanes,
                                  max_errors=args.max_errors, failures_dir=failures or None,
                                  progress=bar, gap=args.gap, bp=args.backpressure,
                                  design=design, **kw)
    for line in result["protocol"][:args.max_report]:
        print(line, file=report)
    for case in result["failures"][:args.max_report]:
        print(streaming.case_report(case), file=report)
    more = result["mismatches"] - min(len(result["failures"]), args.max_report)
    if result["mismatches"] and more > 0:
        print(f"... and {more} more mismatches", file=report)
    result["evaluators"] = {k: {"vectors": s["vectors"], "mismatches": s["mismatches"]}
                            for k, s in result["evaluators"].items()}
    result["simulation_seconds"] = result["wall_seconds"]    # stream's clock starts after
    return result                                             # its (cached) build
