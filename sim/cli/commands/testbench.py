"""`lnsmadam testbench`: run the generated Verilog on real simulators against the model."""

from __future__ import annotations

import json
import sys

from . import UsageError, add_config_arguments, load_config

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
    parser.add_argument("--seed", type=int, default=1, help="seed of the vectors (default 1)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="every input word combination instead, where the rule's recipe "
                             "offers it (Madam on small formats, e.g. tiny)")
    parser.add_argument("--lanes", type=int, default=1, help="lanes of the unit (default 1)")
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


def run(args) -> int:
    """One path for every rule: the rule's vectors (its recipe) streamed block by block
    (`testbench.streaming`), or its exhaustive set (`testbench.evaluate`), on the
    reference evaluator, ``python`` and ``--sim``'s simulators, one compare."""
    from testbench import tools
    from testbench.design import RTLMissing
    from testbench.progress import say
    from testbench.tools import Simulator

    if args.vectors < 1:
        raise UsageError(f"--vectors must be a positive number, not {args.vectors}")
    if args.lanes < 1:
        raise UsageError(f"--lanes must be a positive number, not {args.lanes}")
    if args.max_report < 0:
        raise UsageError(f"--max-report must be a non-negative number, not {args.max_report}")
    if args.max_errors < 1:
        raise UsageError(f"--max-errors must be a positive number, not {args.max_errors}")
    if args.chunk_blocks is not None and args.chunk_blocks < 1:
        raise UsageError(f"--chunk-blocks must be a positive number, not {args.chunk_blocks}")
    if args.write_vectors and not args.exhaustive:
        raise UsageError("--write-vectors needs --exhaustive (streamed vectors are made block "
                         "by block: replay a block with testbench.streaming.make_block)")
    for name in ("gap", "backpressure"):
        value = getattr(args, name)
        if not 0 <= value <= 90:
            raise UsageError(f"--{name} must be between 0 and 90, not {value}")
    cfg = load_config(args)
    sims = tuple(Simulator) if args.sim == SIM_ALL else (Simulator.parse(args.sim),)
    vs = None
    if args.exhaustive:
        from testbench import vectors
        try:
            vs = vectors.exhaustive(cfg, lanes=args.lanes, seed=args.seed)
        except vectors.NoExhaustiveSet:
            raise UsageError(f"--exhaustive is not supported for {cfg.name} (the "
                             f"{cfg.optimizer} recipe offers no exhaustive vector set)") \
                from None
    try:
        for sim in sims:
            tools.require(sim)
    except tools.MissingSimulator as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return 2

    def progress(msg):                    # one line a stage (kept clear of a build's bar)
        say(f"testbench: {msg}")

    report = sys.stderr if args.json else sys.stdout
    failures = args.failures
    if failures is None:                  # never a path relative to the current directory
        from rtl.cache import cache_dir
        failures = cache_dir("failures")
    try:
        if vs is not None:
            result = _exhaustive(args, vs, sims, report, failures, progress)
        else:
            result = _streamed(args, cfg, sims, report, failures, progress)
    except (RTLMissing, tools.SimulatorError) as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = dict(result["evaluators"])
        data["ok"] = bool(result["ok"])
        data["vectors_per_second"] = round(result["vectors_per_second"], 1)
        print(json.dumps(data, indent=2))
        for path in result["saved"]:
            print(f"saved failing case {path}", file=sys.stderr)
    else:
        print(f"{'evaluator':<10} {'vectors':>11} {'mismatches':>10}")
        for name, s in result["evaluators"].items():
            print(f"{name:<10} {s['vectors']:>11} {s['mismatches']:>10}")
        for path in result["saved"]:
            print(f"saved failing case {path}")
        print(f"{result['vectors_per_second']:,.0f} vectors/s")
        if result.get("stopped"):
            print(f"stopped after {result['mismatches']} mismatches (--max-errors "
                  f"{args.max_errors})")
        print("all agree" if result["ok"] else "MISMATCH")
    return 0 if result["ok"] else 1


def _exhaustive(args, vs, sims, report, failures, progress):
    import time
    from testbench import evaluate
    progress(f"exhaustive vectors for {vs.cfg.name}: {len(vs)}")
    t0 = time.perf_counter()
    if args.write_vectors:
        vs.write(args.write_vectors)
    result = evaluate.evaluate(vs, sims, gap=args.gap, bp=args.backpressure,
                               rng_seed=args.seed, max_report=args.max_report,
                               out=report, failures_dir=failures or None,
                               progress=progress)
    result["vectors_per_second"] = len(vs) / max(time.perf_counter() - t0, 1e-9)
    return result


def _streamed(args, cfg, sims, report, failures, progress):
    from testbench import streaming
    from testbench.progress import Progress
    progress(f"{args.vectors} vectors for {cfg.name} in blocks of {streaming.BLOCK}")
    kw = {} if args.chunk_blocks is None else {"chunk_blocks": args.chunk_blocks}
    with Progress("testbench", total=args.vectors, unit="vector") as bar:
        result = streaming.stream(cfg, sims, args.vectors, seed=args.seed, lanes=args.lanes,
                                  max_errors=args.max_errors, failures_dir=failures or None,
                                  progress=bar, gap=args.gap, bp=args.backpressure, **kw)
    for line in result["protocol"][:args.max_report]:
        print(line, file=report)
    for case in result["failures"][:args.max_report]:
        print(streaming.case_report(case), file=report)
    more = result["mismatches"] - min(len(result["failures"]), args.max_report)
    if result["mismatches"] and more > 0:
        print(f"... and {more} more mismatches", file=report)
    result["evaluators"] = {k: {"vectors": s["vectors"], "mismatches": s["mismatches"]}
                            for k, s in result["evaluators"].items()}
    return result
