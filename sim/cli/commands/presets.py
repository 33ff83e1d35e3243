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
    from lns.optimizers import describe as describe_additive
    rows = [{**describe(presets.get(n)), "optimizer": "madam"} for n in presets.names()]
    extra = [describe_additive(presets.get_any(n)) for n in presets.optimizer_names()]
    from lns.ieee.adam import FLOAT_ADAM_PRESETS
    floats = [describe_additive(presets.get_any(n)) for n in FLOAT_ADAM_PRESETS]
    if args.json:
        print(json.dumps(rows + extra + floats, indent=2))
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
    # the additive rules (model only so far: not in PRESETS, which the hardware commands use)
    head = f"\n{'optimizer':<9} {'preset':<11} {'weight':<16} {'grad':<14} {'m':<16} " \
           f"{'v':<18} {'rounding':<13} {'Fa':>3} {'eta':>9}"
    print(head)
    print("-" * (len(head) - 1))
    for r in extra:
        v = r.get("second_moment", {}).get("format", "-")
        m = (r.get("first_moment") or r.get("momentum"))["format"]
        print(f"{r['optimizer']:<9} {r['name']:<11} {r['weight']['format']:<16} "
              f"{r['grad']['format']:<14} {m:<16} {v:<18} {r['rounding']:<13} "
              f"{r['step_frac_bits']:>3} {r['eta']:>9.3g}")
    # the IEEE float Adam units (the baseline): format and each constant's word and value
    head = (f"\n{'optimizer':<11} {'preset':<10} {'format':<7} "
            + " ".join(f"{k:<19}" for k in ("b1", "c1", "b2", "c2", "lr", "eps"))).rstrip()
    print(head)
    print("-" * (len(head) - 1))
    for r in floats:
        c = r["constants"]
        consts = " ".join(f"{c[k]['word'] + ' ' + format(c[k]['value'], '.4g'):<19}"
                          for k in ("b1", "c1", "b2", "c2", "lr", "eps"))
        print(f"{r['optimizer']:<11} {r['name']:<10} {r['format']['name']:<7} {consts}".rstrip())
    return 0
