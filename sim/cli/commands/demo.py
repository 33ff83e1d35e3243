"""`lnsmadam demo`: the main job on a built-in default, in well under a minute.

Prints `sim.analysis.demo.quick_look`: the bit-exact update of the default preset on a
seeded tensor, the Numba kernel checked against the scalar reference on it, and how every
preset tracks base-2 float Madam (python_ref) on the same gradients.
"""

from __future__ import annotations

from ..jsonout import dumps
from ..options import check_tracked_work, seed, tracked_weights
from . import UsageError

NAME = "demo"
HELP = "run the bit-exact model on a default preset and print a short precision table"
ORDER = 5


def add_arguments(parser):
    from lns import presets
    parser.add_argument("--preset", default=presets.DEFAULT,
                        help=f"preset for the tensor run (default {presets.DEFAULT})")
    parser.add_argument("--steps", type=int, default=300, help="steps of the tracking runs")
    parser.add_argument("--weights", type=tracked_weights, default=2000,
                        help="weights of the tracking runs (default 2000)")
    parser.add_argument("--seed", type=seed, default=0, help="seed, 0 to 2**32-1 (default 0)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def describe_line(cfg) -> str:
    """One line of any rule's configuration: its words' formats (the weight's range), its
    rounding, and the tables it holds (`lns.rule.Rule.rom_tables`)."""
    from lns.registry import entry
    words = ", ".join(f"{k} {f.name}" + (f" ({f.total_bits} bits, {f.min_value:.3g}.."
                                          f"{f.max_value:.3g})" if k == "w" else "")
                      for k, f in cfg.word_formats.items())
    modes = [str(m) for m in (cfg.describe().get("normaliser"), cfg.rounding) if m]
    tables = ", ".join(f"{k} table {t['bits']} bits" for k, t in cfg.rom_tables().items())
    return (f"preset {cfg.name} ({entry(cfg).label}): {words}; {', '.join(modes)}"
            + (f", {tables}" if tables else ""))


def run(args) -> int:
    from lns import presets
    from sim.analysis.demo import quick_look
    from testbench.progress import Progress

    if args.steps < 1 or args.weights < 1:
        raise UsageError(f"--steps and --weights must be positive, not {args.steps} and "
                         f"{args.weights}")
    check_tracked_work(args.weights, args.steps)
    cfg = presets.get(args.preset)
    with Progress("tracking float Madam", unit="preset") as bar:
        result = quick_look(cfg, steps=args.steps, weights=args.weights, seed=args.seed,
                            progress=bar.item)
    agree, k = result["tensor"]["python_agrees"], result["tensor"]["python_checked"]
    if args.json:
        print(dumps(result))
        return 0 if agree == k else 1
    print(describe_line(cfg))
    tensor = result["tensor"]
    print(f"one step of {tensor['weights']:,} weights: {tensor['updates_per_s'] / 1e6:.1f} "
          f"M updates/s ({cfg.reference_evaluator}); "
          f"scalar reference agrees on {agree}/{k}")
    print()
    print(f"tracking base-2 float Madam, {args.steps} steps x {args.weights} weights "
          f"(errors in weight LSBs of log2|w|):")
    head = f"{'preset':<10} {'weight':<16} {'step rms':>9} {'step max':>9} " \
           f"{'final rms':>10} {'final max':>10} {'drift':>7} {'rel err':>8}"
    print(head)
    print("-" * len(head))
    for r in result["tracking"]:
        fmt = presets.get(r["preset"]).weight.name
        print(f"{r['preset']:<10} {fmt:<16} {r['step_rms_lsb']:>9.3f} {r['step_max_lsb']:>9.3f} "
              f"{r['final_rms_lsb']:>10.2f} {r['final_max_lsb']:>10.2f} "
              f"{r['mean_drift_lsb']:>7.2f} {r['final_rel_err']:>8.2%}")
    print(f"(a random walk of per-step rounding predicts final rms ~ sqrt(steps/12) = "
          f"{(args.steps / 12) ** 0.5:.1f} LSBs)")
    return 0 if agree == k else 1
