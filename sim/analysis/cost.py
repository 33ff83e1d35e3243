"""The one cost path of a configuration, any rule: its operations per update, synthesis
results and energy estimate in one record (`cost_report`, what `lnsmadam cost` prints), and
the one row every table of units is built from (`unit_row`: the headline's rows,
`sim.analysis.headline`, and the optimizers table's, `sim.analysis.optimizers`).

Nothing here asks which rule it holds: the counts come through the registry
(`sim.analysis.ops.operation_counts`), the energy from the one pricing
(`sim.analysis.energy`), the synthesis from the one flow (`rtl.cost.synthesis_report`), the
area from the one LUT4 measure (`rtl.cost.lut4_equivalents`) and the words moved from the
rule contract (`lns.rule.Rule.update_words`).
"""

from __future__ import annotations

__all__ = ["cost_report", "unit_row", "ratio", "ratios", "BLOCK_FREE_FLAGS", "PRICES",
           "hard_block_prices"]


def cost_report(cfg, lanes: int = 1, *, pnr: bool = True, progress=None,
                target: str = "ice40", seeds: int = 1, measure_blocks: bool = False) -> dict:
    """``{"config", "label", "lanes", "target", "optimizer", "ops", "synthesis",
    "energy"}`` for one configuration of any rule.

    ``ops`` holds ``unit`` (the unit's counts, `sim.analysis.ops.operation_counts`) and
    ``baselines`` (the float32 counts it is set beside, `sim.analysis.ops.baselines`);
    ``synthesis`` is `rtl.cost.synthesis_report` on ``target`` (``ice40``, ``ecp5`` or
    ``sky130``) with nextpnr seeds 1..``seeds`` (its ``fmax``: median, min, max);
    ``energy`` is `sim.analysis.energy.energy_estimate`; ``hard_blocks`` (FPGA targets; None
    on sky130) the unit's LUT4 equivalents with its hard blocks priced three ways, as the
    headline prices them (`hard_block_prices`), ``measured`` None unless
    ``measure_blocks``."""
    from rtl.cost import synthesis_report

    from .energy import energy_estimate
    from .ops import baselines, operation_counts

    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress, target=target,
                             seeds=seeds)
    ops = operation_counts(cfg)
    blocks = hard_block_prices(cfg, target, lanes, synth, progress=progress,
                               measure=measure_blocks) if isinstance(target, str) and \
        target in BLOCK_FREE_FLAGS else None
    return {"config": cfg.name, "label": ops["label"], "lanes": lanes,
            "target": synth["target"], "optimizer": ops["optimizer"],
            "ops": {"unit": ops, "baselines": baselines()},
            "synthesis": synth, "hard_blocks": blocks, "energy": energy_estimate(cfg)}


def hard_block_prices(cfg, target: str, lanes: int, synth: dict, *, progress=None,
                      measure: bool = True) -> dict:
    """``cfg``'s unit (its `rtl.cost.synthesis_report` ``synth`` on the FPGA ``target``) in
    LUT4 equivalents with its hard blocks priced three ways: ``measured`` (the unit built
    again without them, `_block_free`; None unless ``measure``), ``share`` (the logic plus
    each block at its share of the device, `sim.analysis.roofline.block_share`) and
    ``free`` (the logic alone); with ``block_share`` and ``block_free`` (the measured
    build's counts, or None)."""
    from rtl.cost import device_counts, lut4_equivalents

    from .roofline import FPGA_BUDGETS, block_share
    dev = device_counts(synth)
    logic = lut4_equivalents(dev, target)
    share = block_share(FPGA_BUDGETS[target])
    free = _block_free(cfg, target, lanes, progress, dev) if measure else None
    return {"measured": free["lut4_equiv"] if free else None,
            "share": logic + sum(int(dev.get(k, 0)) * share.get(k, 0)
                                 for k in ("dsps", "brams")),
            "free": logic, "block_share": share, "block_free": free}


def ratio(a, b):
    """``a / b`` to 4 places; None where either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 4)


def ratios(row: dict, base: dict, fields) -> dict:
    """``{field: ratio(row[field], base[field])}`` (None where either lacks it)."""
    return {k: ratio(row.get(k), base.get(k)) for k in fields}


# The synth script's options that keep the hard blocks out (`unit_row`'s ``prices``): on the
# ECP5 no MULT18X18D (-nodsp), no DP16KD (-nobram) and no distributed LUT RAM (-nolutram: a
# ROM refused block RAM would otherwise become TRELLIS_DPR16X4 cells, which the LUT4 count
# leaves out), so a multiplier is LUT4s and CCU2Cs and a ROM is logic; on the iCE40 no
# SB_RAM40_4K (the HX8K has no DSP blocks).
BLOCK_FREE_FLAGS = {"ecp5": " -nodsp -nobram -nolutram", "ice40": " -nobram"}
PRICES = ("measured", "share", "free")


def _block_free(cfg, target: str, lanes: int, progress, counts: dict) -> dict:
    """The unit synthesised again without hard blocks (`BLOCK_FREE_FLAGS`; no place and
    route; cached like every synthesis): ``luts``, ``carries``, ``ffs``, ``lut4_equiv``
    (its LUT4 + the target's LUT4 per carry cell), ``flags``, ``synthesised`` and
    ``cached``.  A unit without blocks is its own block-free build (``synthesised``
    False: nothing is re-run).  RuntimeError if the build still holds a block."""
    import dataclasses

    from rtl.cost import TARGETS, device_counts, lut4_equivalents, synthesis_report
    flags = BLOCK_FREE_FLAGS[target]
    if not counts.get("dsps") and not counts.get("brams"):
        return {"luts": int(counts["luts"]), "carries": int(counts["carries"]),
                "ffs": int(counts["ffs"]), "lut4_equiv": lut4_equivalents(counts, target),
                "flags": flags.strip(), "synthesised": False, "cached": True}
    base = TARGETS[target]
    tgt = dataclasses.replace(base, synth_flags=base.synth_flags + flags)
    note = (lambda m: progress(f"without hard blocks ({flags.strip()}): {m}")) \
        if progress else None
    synth = synthesis_report(cfg, lanes, pnr=False, progress=note, target=tgt)
    dev = device_counts(synth)
    if int(dev.get("dsps", 0)) or int(dev.get("brams", 0)):
        raise RuntimeError(f"{cfg.name} still holds hard blocks with{flags}: "
                           f"{dev.get('dsps', 0)} DSP, {dev.get('brams', 0)} block RAM")
    return {"luts": int(dev["luts"]), "carries": int(dev["carries"]), "ffs": int(dev["ffs"]),
            "lut4_equiv": lut4_equivalents(dev, tgt), "flags": flags.strip(),
            "synthesised": True, "cached": bool(synth["cached"])}


def unit_row(cfg, *, target: str = "ice40", lanes: int = 1, pnr: bool = True,
             progress=None, dsp_lut4_equiv: int | None = None, seeds: int = 1,
             prices: bool = False, sky130: bool = False) -> dict:
    """One unit of a table: ``cfg``'s unit synthesised on ``target`` (`rtl.cost`), its
    area, rates, words moved and energy.

    Keys: ``config``, ``label`` (the registry's), ``optimizer``, ``system`` (the number
    system: ``lns``, ``ieee``), ``reference`` (the float algorithm, the registry's),
    ``bits`` (of the weight word), ``status`` (``ok`` or ``does not fit``), ``fits``,
    ``luts``, ``carries``, ``ffs``, ``dsps``, ``brams``, ``rom_bits``, ``lut4_equiv`` (LUT4
    equivalents, `rtl.cost.lut4_equivalents`, DSP blocks at ``dsp_lut4_equiv`` each when
    given), ``lut4_equiv_logic`` (DSP blocks free), ``lut4_sites`` (the logic's LUT4 sites:
    the same as ``lut4_equiv_logic``), ``fmax_mhz`` (the median over nextpnr seeds
    1..``seeds``; seed 1's with one seed), ``fmax`` (`rtl.cost.synthesis_report`'s summary:
    ``median_mhz``, ``min_mhz``, ``max_mhz``, ``seeds``, ``per_seed``; None without place
    and route), ``fmax_min_mhz``, ``fmax_max_mhz``, ``seeds``, ``latency``,
    ``updates_per_s`` (``Fmax x lanes``: every unit accepts one element a clock, II = 1),
    ``updates_per_s_per_k_lut4`` and ``updates_per_s_per_k_lut4_logic`` (per 1,000 LUT4
    equivalents), ``words_read``, ``words_written``, ``words_moved``, ``bits_moved``,
    ``bytes_moved``, ``energy_pj``, ``energy_compute_pj``, ``energy_memory_pj``,
    ``wrapped``, ``wrapper_ffs``, ``pnr_message``, ``cached``, ``caveats`` (the rule
    contract's `lns.rule.Rule.caveats`: what a config that opts into a degenerate constant
    really holds, such as bf16's beta2 of 1.0).

    ``prices`` (an FPGA target): the hard blocks priced three ways, ``lut4_prices``
    ``{"measured", "share", "free"}`` in LUT4 equivalents and ``density`` (updates/s per
    1,000 LUT4 equivalents under each, None without Fmax): *measured*, the unit synthesised
    again with the blocks kept out (`BLOCK_FREE_FLAGS`, no place and route, cached), its
    LUT4 + LUT4 per carry cell (``block_free``: its counts); *share*, the logic plus each
    block at its share of the device (`sim.analysis.roofline.block_share`: ``block_share``);
    *free*, the logic alone.  ``sky130``: the unit mapped to sky130 cells too (area only),
    ``sky130`` (``cells``, ``area_um2``, ``ffs``, ``ff_area_share``) and ``area_um2``;
    without it both are None."""
    from lns.errors import InvalidValue
    from lns.registry import entry
    from rtl.cost import device_counts, lut4_equivalents, synthesis_report

    from .energy import energy_estimate
    from .roofline import FPGA_BUDGETS
    if prices and (not isinstance(target, str) or target not in FPGA_BUDGETS):
        raise InvalidValue(f"prices need an FPGA target ({', '.join(FPGA_BUDGETS)}), "
                           f"not {target!r}")
    # seeds go to the synthesis only when more than one is asked for (its default is one)
    more = {"seeds": seeds} if seeds != 1 else {}
    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress, target=target, **more)
    dev = device_counts(synth)
    energy = energy_estimate(cfg)["unit"]
    pnr_r = synth["pnr"]
    fits = None if pnr_r is None else bool(pnr_r["fits"])
    summary = synth.get("fmax") if pnr_r else None
    if fits and summary:
        fmax, lo, hi = summary["median_mhz"], summary["min_mhz"], summary["max_mhz"]
    elif fits:
        fmax = lo = hi = pnr_r["fmax_mhz"]
    else:
        fmax = lo = hi = None
    logic = lut4_equivalents(dev, target)
    equiv = lut4_equivalents(dev, target, dsp_lut4_equiv)
    ups = fmax * 1e6 * lanes if fmax else None
    read, write = cfg.update_words
    read_bits, write_bits = cfg.update_bits
    e = entry(cfg)
    row = {
        "config": cfg.name, "label": e.label, "optimizer": str(cfg.optimizer),
        "system": e.number_system, "reference": e.reference, "bits": cfg.word_bits["w"],
        "status": "ok" if fits is not False else "does not fit", "fits": fits,
        "luts": int(dev["luts"]), "carries": int(dev["carries"]), "ffs": int(dev["ffs"]),
        "dsps": int(dev.get("dsps", 0)), "brams": int(dev["brams"]),
        "rom_bits": synth["rom_bits"]["total"], "lut4_equiv": equiv,
        "lut4_equiv_logic": logic, "lut4_sites": logic, "fmax_mhz": fmax,
        "fmax": summary, "fmax_min_mhz": lo, "fmax_max_mhz": hi,
        "seeds": seeds if pnr_r else None, "latency": synth["latency"],
        "updates_per_s": ups,
        "updates_per_s_per_k_lut4": ups / (equiv / 1000) if ups and equiv else None,
        "updates_per_s_per_k_lut4_logic": ups / (logic / 1000) if ups and logic else None,
        "words_read": list(read), "words_written": list(write),
        "words_moved": len(read) + len(write), "bits_moved": read_bits + write_bits,
        "bytes_moved": (read_bits + write_bits) / 8,
        "energy_pj": energy["total_pj"], "energy_compute_pj": energy["compute_pj"],
        "energy_memory_pj": energy["memory_pj"], "wrapped": synth["ports"]["wrapped"],
        "wrapper_ffs": (synth["ports"].get("wrapper") or {}).get("ff_bits"),
        "pnr_message": pnr_r["message"] if pnr_r else None, "cached": synth["cached"],
        "caveats": list(cfg.caveats())}
    if prices:
        priced = hard_block_prices(cfg, target, lanes, synth, progress=progress)
        row["block_free"], row["block_share"] = priced["block_free"], priced["block_share"]
        row["lut4_prices"] = {k: priced[k] for k in PRICES}
        row["density"] = {k: ups / (v / 1000) if ups and v else None
                          for k, v in row["lut4_prices"].items()}
    row["sky130"] = row["area_um2"] = None
    if sky130:
        asic = device_counts(synthesis_report(cfg, lanes, pnr=False, progress=progress,
                                              target="sky130"))
        row["sky130"] = {"cells": int(asic["cells"]), "area_um2": asic["area_um2"],
                         "ffs": int(asic["ffs"]),
                         "ff_area_share": asic["ff_share"]["area"]}
        row["area_um2"] = asic["area_um2"]
    return row
