"""`lnsmadam demo`: the main job on a built-in default, in well under a minute.

Prints `sim.analysis.demo.quick_look`: the bit-exact update of the default preset on a
seeded tensor, the Numba kernel checked against the scalar reference on it, and how every
preset tracks base-2 float Madam (python_ref) on the same gradients.
"""

from __future__ import annotations

import json

from . import UsageError

NAME = "demo"
HELP = "run the bit-exact model on a default preset and print a short precision table"
ORDER = 5


def add_arguments(parser):
    from lns import presets
    parser.add_argument("--preset", default=presets.DEFAULT,
                        help=f"preset for the tensor run (default {presets.DEFAULT})")
    parser.add_argument("--steps", type=int, default=300, help="steps of the tracking runs")
    parser.add_argument("--weights", type=int, default=2000, help="weights of the tracking runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from lns import presets
    from sim.analysis.demo import quick_look
    from testbench.progress import Progress

    if args.steps < 1 or args.weights < 1:
        raise UsageError(f"--steps and --weights must be positive, not {args.steps} and {args.weights}")
    cfg = presets.get(args.preset)
    with Progress("tracking float Madam", unit="preset") as bar:
        result = quick_look(cfg, steps=args.steps, weights=args.weights, seed=args.seed,
                            progress=bar.item)
    agree, k = result["tensor"]["python_agrees"], result["tensor"]["python_checked"]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if agree == k else 1
    d = result["preset"]
    print(f"preset {cfg.name}: weight {d['weight']['format']} ({d['weight']['bits']} bits, "
          f"{d['weight']['min']:.3g}..{d['weight']['max']:.3g}), grad {d['grad']['format']}, "
          f"moment {d['moment']['format']}; {cfg.normaliser}, {cfg.rounding}, "
          f"sb table {cfg.table} {d['sb_table_bits']} bits, 2^frac table {d['exp2_table_bits']} bits")
    tensor = result["tensor"]
    print(f"one step of {tensor['weights']:,} weights: {tensor['updates_per_s'] / 1e6:.1f} "
          f"M updates/s (Numba); "
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
