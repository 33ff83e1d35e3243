"""`lnsmadam campaign`: presets x simulators x N vectors as one job on Dask (`sim.campaign`)."""

from __future__ import annotations

import json
import sys

from . import UsageError

NAME = "campaign"
HELP = ("presets x simulators x N vectors as one job on Dask (a local cluster, or an existing "
        "one by address), with a summary")
ORDER = 45


def add_arguments(parser):
    from lns import presets
    parser.add_argument("--presets", default=presets.DEFAULT, metavar="P,Q",
                        help=f"presets of any rule, comma-separated (of "
                             f"{', '.join(presets.names())}; default {presets.DEFAULT})")
    parser.add_argument("--sims", default="icarus,verilator", metavar="S,T",
                        help="simulators, comma-separated (of icarus, verilator, amaranth; "
                             "default icarus,verilator); numba and python always run")
    parser.add_argument("--vectors", type=int, default=200_000, metavar="N",
                        help="vectors per preset (default 200000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the vectors (default 1)")
    parser.add_argument("--lanes", type=int, default=1, help="lanes of the unit (default 1)")
    parser.add_argument("--workers", type=int, default=None, metavar="W",
                        help="worker processes of the local cluster (default one per core)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on an existing Dask cluster (tcp://host:8786) instead of a "
                             "local one")
    parser.add_argument("--max-errors", type=int, default=10, metavar="K",
                        help="failing cases kept per chunk (default 10)")
    parser.add_argument("--chunk-blocks", type=int, default=None, metavar="B",
                        help="vector blocks a task (default about 50000 vectors)")
    parser.add_argument("--failures", metavar="DIR", default=None,
                        help="save failing cases as JSON here (default the 'failures' folder "
                             "of the lnsmadam cache directory; '' to not save)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _names(text: str, option: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise UsageError(f"{option} must name at least one, not {text!r}")
    if len(set(names)) != len(names):
        raise UsageError(f"{option} must not repeat a name, not {text!r}")
    return names


def run(args) -> int:
    from lns import presets
    from sim.campaign import CampaignError, run_campaign
    from testbench import tools
    from testbench.progress import Progress, say
    from testbench.tools import Simulator

    names = _names(args.presets, "--presets")
    for p in names:
        if p not in presets.names():
            raise UsageError(f"--presets must be names from {', '.join(presets.names())}, "
                             f"not {p!r}")
    sims = _names(args.sims, "--sims")
    for s in sims:
        if s not in tuple(Simulator):
            raise UsageError(f"--sims must be names from {', '.join(Simulator)}, not {s!r}")
    sims = Simulator.parse_all(sims)
    for opt in ("vectors", "lanes", "max_errors"):
        value = getattr(args, opt)
        if value < 1:
            raise UsageError(f"--{opt.replace('_', '-')} must be a positive number, not {value}")
    for opt in ("workers", "chunk_blocks"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            raise UsageError(f"--{opt.replace('_', '-')} must be a positive number, not {value}")
    if args.scheduler is not None and not args.scheduler.strip():
        raise UsageError("--scheduler must be an address such as tcp://host:8786, not ''")
    if args.scheduler and args.workers is not None:
        raise UsageError("--workers must not be given with --scheduler (the cluster's own "
                         "workers run the tasks)")
    try:
        for s in sims:
            tools.require(s)
    except tools.MissingSimulator as exc:
        raise UsageError(str(exc)) from None

    failures = args.failures
    if failures is None:                  # never a path relative to the current directory
        from rtl.cache import cache_dir
        failures = cache_dir("failures")
    with Progress("campaign", total=args.vectors * len(names), unit="vector") as bar:
        try:
            summary = run_campaign(names, sims, args.vectors, seed=args.seed,
                                   lanes=args.lanes, workers=args.workers,
                                   scheduler=args.scheduler, max_errors=args.max_errors,
                                   chunk_blocks=args.chunk_blocks,
                                   failures_dir=failures or None, progress=bar.update,
                                   note=lambda msg: say(f"campaign: {msg}"))
        except (CampaignError, tools.SimulatorError) as exc:
            print(f"lnsmadam: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
            return 2
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0 if summary["ok"] else 1


def _num(x, fmt="{:,.0f}"):
    return "-" if x is None else fmt.format(x)


def format_summary(s: dict) -> str:
    """The summary of `sim.campaign.run_campaign` as a table."""
    head = (f"{'preset':<12} {'evaluator':<10} {'vectors':>10} {'mismatches':>10} "
            f"{'seconds':>9} {'vectors/s':>11}")
    lines = [f"campaign: {s['vectors_per_preset']:,} vectors per preset, seed {s['seed']}, "
             f"{s['lanes']} lane(s), {s['chunks']} tasks", head, "-" * len(head)]
    rows = [(name, p) for name, p in s["presets"].items()] + [("total", s["totals"])]
    for name, p in rows:
        for i, (ev, e) in enumerate(p["evaluators"].items()):
            lines.append(f"{name if i == 0 else '':<12} {ev:<10} {e['vectors']:>10,} {e['mismatches']:>10,} "
                         f"{e['seconds']:>9.2f} {_num(e['vectors_per_second']):>11}")
    lines.append(f"wall {s['wall_seconds']:.1f} s on {s['workers']} workers "
                 f"({s['scheduler']}): {_num(s['vectors_per_second'])} vectors/s; the tasks "
                 f"alone {s['run_seconds']:.1f} s, {_num(s['run_vectors_per_second'])} "
                 f"vectors/s (warm-up {s['warm_up_seconds']:.1f} s)")
    for name, p in s["presets"].items():
        for line in p["protocol"]:
            lines.append(f"{name}: {line}")
        for f in p["failures"]:
            lines.append(f"{name}: failing case {f.get('vector', '?')} (block "
                         f"{f.get('block', '?')})" + (f", saved {f['saved']}" if "saved" in f
                                                      else ""))
    lines.append("all agree" if s["ok"] else f"MISMATCH: {s['totals']['mismatches']} mismatches")
    return "\n".join(lines)
