"""`lnsmadam presets`: the named configurations with their bits and ranges."""

from __future__ import annotations

import json

NAME = "presets"
HELP = "list the named configurations with their word widths and ranges"
ORDER = 10


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def describe(cfg) -> dict:
    out = {"name": cfg.name, "normaliser": cfg.normaliser, "rounding": cfg.rounding,
           "table": cfg.table, "eta": cfg.eta, "beta": cfg.beta, "g_bound": cfg.g_bound,
           "sb_table_bits": cfg.sb_table.bits if cfg.normaliser == "rms" else 0,
           "exp2_table_bits": cfg.exp_table_bits}
    for role in ("weight", "grad", "moment"):
        f = getattr(cfg, role)
        out[role] = {"format": f.name, "bits": f.total_bits, "int_bits": f.int_bits,
                     "frac_bits": f.frac_bits, "bias": f.bias,
                     "min": f.min_value, "max": f.max_value}
    return out


def run(args) -> int:
    from lns import presets
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
