"""`lnsmadam demo`: the main job on a built-in default, in well under a minute.

Runs the bit-exact update of the default preset on a seeded tensor, checks the Numba
kernel against the scalar reference on it, and prints how every preset tracks base-2 float
Madam (python_ref) on the same gradients.
"""

from __future__ import annotations

import json
import sys
import time

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
    import numpy as np

    import lns
    from lns import presets
    from sim.analysis.tracking import track
    from .presets import describe

    if args.steps < 1 or args.weights < 1:
        raise ValueError(f"--steps and --weights must be positive, not {args.steps} and {args.weights}")
    cfg = presets.get(args.preset)
    rng = np.random.default_rng(args.seed)
    n = 100_000
    w = lns.encode(cfg.weight, rng.normal(0, 0.05, n))
    g = lns.encode(cfg.grad, rng.normal(0, 1e-3, n))
    v = np.zeros(n, dtype=np.int64)
    clip = cfg.clip_code(lns.decode(cfg.weight, w))
    seeds = (lambda: lns.lane_seeds(args.seed, 1)) if cfg.rounding == "stochastic" else (lambda: None)
    lns.madam_update(cfg, w[:10], g[:10], v[:10], 1, clip=clip, lfsr_state=seeds())  # compile
    t0 = time.perf_counter()
    w1, v1 = lns.madam_update(cfg, w, g, v, 1, clip=clip, lfsr_state=seeds())
    dt = time.perf_counter() - t0
    k = 2000
    w_ref, v_ref = lns.madam_update(cfg, w[:k], g[:k], v[:k], 1, clip=clip, lfsr_state=seeds(),
                                    evaluator="python")
    agree = int(np.sum((w_ref == w1[:k]) & (v_ref == v1[:k])))

    rows = []
    names = [p for p in presets.names() if p != "tiny"]      # tiny is for exhaustive checks
    for i, name in enumerate(names):
        print(f"\r  tracking float Madam: {name} ({i + 1}/{len(names)})", end="", file=sys.stderr)
        rows.append(track(presets.get(name), steps=args.steps, weights=args.weights,
                          seed=args.seed).to_dict())
    print("\r" + " " * 60 + "\r", end="", file=sys.stderr)

    result = {"preset": describe(cfg), "tensor": {"weights": n, "updates_per_s": n / dt,
                                                   "python_agrees": agree, "python_checked": k},
              "tracking": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if agree == k else 1
    d = result["preset"]
    print(f"preset {cfg.name}: weight {d['weight']['format']} ({d['weight']['bits']} bits, "
          f"{d['weight']['min']:.3g}..{d['weight']['max']:.3g}), grad {d['grad']['format']}, "
          f"moment {d['moment']['format']}; {cfg.normaliser}, {cfg.rounding}, "
          f"sb table {cfg.table} {d['sb_table_bits']} bits, 2^frac table {d['exp2_table_bits']} bits")
    print(f"one step of {n:,} weights: {n / dt / 1e6:.1f} M updates/s (Numba); "
          f"scalar reference agrees on {agree}/{k}")
    print()
    print(f"tracking base-2 float Madam, {args.steps} steps x {args.weights} weights "
          f"(errors in weight LSBs of log2|w|):")
    head = f"{'preset':<10} {'weight':<16} {'step rms':>9} {'step max':>9} " \
           f"{'final rms':>10} {'final max':>10} {'drift':>7} {'rel err':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        fmt = presets.get(r["preset"]).weight.name
        print(f"{r['preset']:<10} {fmt:<16} {r['step_rms_lsb']:>9.3f} {r['step_max_lsb']:>9.3f} "
              f"{r['final_rms_lsb']:>10.2f} {r['final_max_lsb']:>10.2f} "
              f"{r['mean_drift_lsb']:>7.2f} {r['final_rel_err']:>8.2%}")
    print(f"(a random walk of per-step rounding predicts final rms ~ sqrt(steps/12) = "
          f"{(args.steps / 12) ** 0.5:.1f} LSBs)")
    return 0 if agree == k else 1
