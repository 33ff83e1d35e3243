"""`lnsmadam testbench`: run the generated Verilog on real simulators against the model."""

from __future__ import annotations

import json
import sys

from . import UsageError, add_config_arguments, load_config

NAME = "testbench"
HELP = "check the generated Verilog on Icarus/Verilator (and Amaranth) against the model"
ORDER = 40

SIM_CHOICES = ("icarus", "verilator", "amaranth", "all")


def add_arguments(parser):
    add_config_arguments(parser)
    parser.add_argument("--sim", default="all", choices=SIM_CHOICES,
                        help="which simulator(s) to run (default all)")
    parser.add_argument("--vectors", type=int, default=100_000, metavar="N",
                        help="number of edge + random vectors (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the vectors (default 1)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="every (w, g, v) word triple instead (small formats, e.g. tiny)")
    parser.add_argument("--lanes", type=int, default=1, help="lanes of the unit (default 1)")
    parser.add_argument("--gap", type=int, default=10, metavar="PCT",
                        help="percent of input cycles without valid (default 10)")
    parser.add_argument("--backpressure", type=int, default=20, metavar="PCT",
                        help="percent of output cycles without ready (default 20)")
    parser.add_argument("--max-report", type=int, default=10, metavar="N",
                        help="stop reporting after N mismatching cases (default 10)")
    parser.add_argument("--write-vectors", metavar="FILE",
                        help="also write the vectors in the hex line format")
    parser.add_argument("--failures", metavar="DIR", default=None,
                        help="save failing cases as JSON here (default the 'failures' folder "
                             "of the lnsmadam cache directory, $LNSMADAM_CACHE to move it; "
                             "'' to not save); copy one into tests/failures/ to replay it "
                             "in the test suite")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from testbench import evaluate, tools, vectors
    from testbench.progress import say
    from testbench.design import RTLMissing

    if args.vectors < 1:
        raise UsageError(f"--vectors must be a positive number, not {args.vectors}")
    if args.lanes < 1:
        raise UsageError(f"--lanes must be a positive number, not {args.lanes}")
    for name in ("gap", "backpressure"):
        value = getattr(args, name)
        if not 0 <= value <= 90:
            raise UsageError(f"--{name} must be between 0 and 90, not {value}")
    cfg = load_config(args)
    sims = ("icarus", "verilator", "amaranth") if args.sim == "all" else (args.sim,)
    try:
        for sim in sims:
            tools.require(sim)
    except tools.MissingSimulator as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return 2

    def progress(msg):                    # one line a stage (kept clear of a build's bar)
        say(f"testbench: {msg}")

    progress(f"{'exhaustive' if args.exhaustive else args.vectors} vectors for {cfg.name}")
    vs = vectors.exhaustive(cfg, lanes=args.lanes, seed=args.seed) if args.exhaustive \
        else vectors.generate(cfg, args.vectors, args.seed, lanes=args.lanes)
    if args.write_vectors:
        vs.write(args.write_vectors)
    report = sys.stderr if args.json else sys.stdout
    failures = args.failures
    if failures is None:                  # never a path relative to the current directory
        from rtl.cache import cache_dir
        failures = cache_dir("failures")
    try:
        result = evaluate.evaluate(vs, sims, gap=args.gap, bp=args.backpressure,
                                   rng_seed=args.seed, max_report=args.max_report,
                                   out=report, failures_dir=failures or None,
                                   progress=progress)
    except (RTLMissing, tools.SimulatorError) as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result["evaluators"], indent=2))
        for path in result["saved"]:
            print(f"saved failing case {path}", file=sys.stderr)
    else:
        print(f"{'evaluator':<10} {'vectors':>9} {'mismatches':>10}")
        for name, s in result["evaluators"].items():
            print(f"{name:<10} {s['vectors']:>9} {s['mismatches']:>10}")
        for path in result["saved"]:
            print(f"saved failing case {path}")
        print("all agree" if result["ok"] else "MISMATCH")
    return 0 if result["ok"] else 1
