"""`lnsmadam campaign`: presets x simulators x N vectors as one job on Dask (`sim.campaign`).

Every option is checked before any work starts (a build, a cluster, a connection): the
counts against the bounds of `sim.campaign` (each message says why the bound exists), the
workers against the cores this process may use, the scheduler's address, the folder of
the failing cases.  A task that fails on a worker is one line (exit 2) when the cause is
the environment (a simulator, a file, the cluster) and an internal error (exit 70) when it
is a bug.
"""

from __future__ import annotations

import math

from ..jsonout import dumps
from ..options import seed
from ..outputs import check_folder
from . import UsageError

NAME = "campaign"
HELP = ("presets x simulators x N vectors as one job on Dask (a local cluster, or an existing "
        "one by address), with a summary")
ORDER = 45

#: The longest ``--wait-workers``: a day.
WAIT_MAX = 86400.0


def _seconds(text: str) -> float:
    """``--wait-workers``: seconds, above 0 and at most `WAIT_MAX`."""
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= WAIT_MAX):
        raise argparse.ArgumentTypeError(f"{text} is not a wait: seconds above 0 and at most "
                                         f"{WAIT_MAX:g}")
    return value


_seconds.__name__ = "seconds"                 # argparse names the type in its message


def add_arguments(parser):
    from lns import presets
    from rtl.design import MAX_LANES
    from sim.campaign import cluster
    from sim.campaign.plan import CHUNK_BLOCKS, CHUNK_BLOCKS_MAX, MAX_ERRORS_MAX, VECTORS_MAX
    parser.add_argument("--presets", default=presets.DEFAULT, metavar="P,Q",
                        help=f"presets of any rule, comma-separated (of "
                             f"{', '.join(presets.names())}; default {presets.DEFAULT})")
    parser.add_argument("--sims", default="icarus,verilator", metavar="S,T",
                        help="simulators, comma-separated (of icarus, verilator, amaranth; "
                             "default icarus,verilator); numba and python always run")
    parser.add_argument("--vectors", type=int, default=200_000, metavar="N",
                        help=f"vectors per preset, at most {VECTORS_MAX:,} "
                             f"(default 200000)")
    parser.add_argument("--seed", type=seed, default=1,
                        help="seed of the vectors, 0 to 2**32-1 (default 1)")
    parser.add_argument("--lanes", type=int, default=1,
                        help=f"lanes of the unit, 1 to {MAX_LANES} (default 1)")
    parser.add_argument("--workers", type=int, default=None, metavar="W",
                        help=f"worker processes of the local cluster (default one per usable "
                             f"core, {cluster.usable_cores()} here; at most "
                             f"{cluster.WORKERS_PER_CORE} a core, {cluster.max_workers()} "
                             f"here)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on an existing Dask cluster (tcp://host:8786) instead of a "
                             "local one")
    parser.add_argument("--wait-workers", type=_seconds, default=cluster.WAIT_WORKERS,
                        metavar="SECONDS",
                        help=f"how long the cluster may be without a worker (an existing "
                             f"one at the start, any later) before the campaign stops with "
                             f"an error (default {cluster.WAIT_WORKERS:g}); an existing "
                             f"scheduler must answer within {cluster.CONNECT_TIMEOUT:g} s")
    parser.add_argument("--max-errors", type=int, default=10, metavar="K",
                        help=f"failing cases kept per chunk, 1 to {MAX_ERRORS_MAX} "
                             f"(default 10)")
    parser.add_argument("--chunk-blocks", type=int, default=None, metavar="B",
                        help=f"vector blocks of 65536 a task, 1 to {CHUNK_BLOCKS_MAX} "
                             f"(default {CHUNK_BLOCKS})")
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


def _count(args, option: str, largest: int | None = None, why: str = "") -> None:
    """UsageError unless ``--option`` (when given) is from 1 to ``largest``."""
    value = getattr(args, option.replace("-", "_"))
    if value is None:
        return
    if value < 1:
        raise UsageError(f"--{option} must be a positive number, not {value}")
    if largest is not None and value > largest:
        raise UsageError(f"--{option} must be at most {largest:,}{f' ({why})' if why else ''}"
                         f", not {value:,}")


def _check(args):
    """Every option checked, before anything is built or started: ``(presets, sims,
    scheduler, failures folder)``."""
    from lns import presets
    from rtl.design import MAX_LANES
    from sim.campaign import cluster
    from sim.campaign.plan import (CHUNK_BLOCKS_MAX, CHUNK_BLOCKS_WHY, MAX_ERRORS_MAX,
                                   MAX_ERRORS_WHY, VECTORS_MAX, VECTORS_WHY)
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
    _count(args, "vectors", VECTORS_MAX, VECTORS_WHY)
    _count(args, "lanes", MAX_LANES, "rtl.design.MAX_LANES: generation grows with the lanes")
    _count(args, "max-errors", MAX_ERRORS_MAX, MAX_ERRORS_WHY)
    _count(args, "chunk-blocks", CHUNK_BLOCKS_MAX, CHUNK_BLOCKS_WHY)
    _count(args, "workers")
    if args.workers is not None and args.workers > cluster.max_workers():
        raise UsageError(f"--workers must be at most {cluster.workers_why()} = "
                         f"{cluster.max_workers()}, not {args.workers:,}")
    scheduler = None
    if args.scheduler is not None:
        try:
            scheduler = cluster.parse_scheduler(args.scheduler)
        except ValueError as exc:
            raise UsageError(f"--{exc}") from None
        if args.workers is not None:
            raise UsageError("--workers must not be given with --scheduler (the cluster's "
                             "own workers run the tasks)")
    failures = args.failures
    if failures is None:                  # never a path relative to the current directory
        from rtl.cache import cache_dir
        failures = cache_dir("failures")
    if failures:
        check_folder(failures, "--failures")
    return names, Simulator.parse_all(sims), scheduler, failures or None


def _is_bug(exc) -> bool:
    """True for a worker's exception that is a bug in lnsmadam: not bad input, not the
    environment (a simulator, a file), not Dask's (a worker that died, a lost connection)."""
    from lns.errors import InputError
    from testbench import tools
    if exc is None or isinstance(exc, (InputError, OSError, tools.SimulatorError,
                                       tools.MissingSimulator)):
        return False
    return type(exc).__module__.split(".")[0] not in ("distributed", "dask", "tornado")


def run(args) -> int:
    from sim.campaign import CampaignError, run_campaign
    from testbench import tools
    from testbench.progress import Progress, say

    names, sims, scheduler, failures = _check(args)
    try:
        for s in sims:
            tools.require(s)
    except tools.MissingSimulator as exc:
        raise UsageError(str(exc)) from None
    with Progress("campaign", total=args.vectors * len(names), unit="vector") as bar:
        try:
            summary = run_campaign(names, sims, args.vectors, seed=args.seed,
                                   lanes=args.lanes, workers=args.workers,
                                   scheduler=scheduler, max_errors=args.max_errors,
                                   chunk_blocks=args.chunk_blocks, failures_dir=failures,
                                   progress=bar.update, wait_workers=args.wait_workers,
                                   note=lambda msg: say(f"campaign: {msg}"))
        except CampaignError as exc:
            if _is_bug(exc.task_error):
                raise exc.task_error from None        # exit 70, its traceback on request
            raise UsageError(_first_line(exc)) from None
        except tools.SimulatorError as exc:
            raise UsageError(_first_line(exc)) from None
    print(dumps(summary) if args.json else format_summary(summary))
    return 0 if summary["ok"] else 1


def _first_line(exc) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


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
            lines.append(f"{name if i == 0 else '':<12} {ev:<10} {e['vectors']:>10,} "
                         f"{e['mismatches']:>10,} {e['seconds']:>9.2f} "
                         f"{_num(e['vectors_per_second']):>11}")
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
