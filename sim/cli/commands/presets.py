"""`lnsmadam presets`: the named configurations with their bits and ranges."""

from __future__ import annotations

import json

NAME = "presets"
HELP = "list the named configurations with their word widths and ranges"
ORDER = 10


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from lns import presets
    from sim.analysis.demo import describe
    rows = [describe(presets.get(n)) for n in presets.names()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = f"{'preset':<10} {'weight':<16} {'range':<19} {'grad':<14} {'moment':<18} " \
           f"{'norm':<5} {'rounding':<13} {'eta':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        w = r["weight"]
        rng = f"{w['min']:.2e}..{w['max']:.3g}"
        print(f"{r['name']:<10} {w['format']:<16} {rng:<19} {r['grad']['format']:<14} "
              f"{r['moment']['format']:<18} {r['normaliser']:<5} {r['rounding']:<13} "
              f"{r['eta']:>9.3g}")
    return 0
