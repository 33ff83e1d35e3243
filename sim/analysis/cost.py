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

__all__ = ["cost_report", "unit_row", "ratio", "ratios"]


def cost_report(cfg, lanes: int = 1, *, pnr: bool = True, progress=None,
                target: str = "ice40", seeds: int = 1) -> dict:
    """``{"config", "label", "lanes", "target", "optimizer", "ops", "synthesis",
    "energy"}`` for one configuration of any rule.

    ``ops`` holds ``unit`` (the unit's counts, `sim.analysis.ops.operation_counts`) and
    ``baselines`` (the float32 counts it is set beside, `sim.analysis.ops.baselines`);
    ``synthesis`` is `rtl.cost.synthesis_report` on ``target`` (``ice40``, ``ecp5`` or
    ``sky130``) with nextpnr seeds 1..``seeds`` (its ``fmax``: median, min, max);
    ``energy`` is `sim.analysis.energy.energy_estimate`."""
    from rtl.cost import synthesis_report

    from .energy import energy_estimate
    from .ops import baselines, operation_counts

    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress, target=target,
                             seeds=seeds)
    ops = operation_counts(cfg)
    return {"config": cfg.name, "label": ops["label"], "lanes": lanes,
            "target": synth["target"], "optimizer": ops["optimizer"],
            "ops": {"unit": ops, "baselines": baselines()},
            "synthesis": synth, "energy": energy_estimate(cfg)}


def ratio(a, b):
    """``a / b`` to 4 places; None where either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 4)


def ratios(row: dict, base: dict, fields) -> dict:
    """``{field: ratio(row[field], base[field])}`` (None where either lacks it)."""
    return {k: ratio(row.get(k), base.get(k)) for k in fields}


def unit_row(cfg, *, target: str = "ice40", lanes: int = 1, pnr: bool = True,
             progress=None, dsp_lut4_equiv: int | None = None) -> dict:
    """One unit of a table: ``cfg``'s unit synthesised on ``target`` (`rtl.cost`), its
    area, rates, words moved and energy.

    Keys: ``config``, ``label`` (the registry's), ``optimizer``, ``system`` (the number
    system: ``lns``, ``ieee``), ``reference`` (the float algorithm, the registry's),
    ``bits`` (of the weight word), ``status`` (``ok`` or ``does not fit``), ``fits``,
    ``luts``, ``carries``, ``ffs``, ``dsps``, ``brams``, ``rom_bits``, ``lut4_equiv`` (LUT4
    equivalents, `rtl.cost.lut4_equivalents`, DSP blocks at ``dsp_lut4_equiv`` each when
    given), ``lut4_equiv_logic`` (DSP blocks free), ``fmax_mhz``, ``latency``,
    ``updates_per_s`` (``Fmax x lanes``: every unit accepts one element a clock, II = 1),
    ``updates_per_s_per_k_lut4`` and ``updates_per_s_per_k_lut4_logic`` (per 1,000 LUT4
    equivalents), ``words_read``, ``words_written``, ``words_moved``, ``bits_moved``,
    ``bytes_moved``, ``energy_pj``, ``energy_compute_pj``, ``energy_memory_pj``,
    ``wrapped``, ``wrapper_ffs``, ``pnr_message``, ``cached``, ``caveats`` (the rule
    contract's `lns.rule.Rule.caveats`: what a config that opts into a degenerate constant
    really holds, such as bf16's beta2 of 1.0)."""
    from lns.registry import entry
    from rtl.cost import device_counts, lut4_equivalents, synthesis_report

    from .energy import energy_estimate

    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress, target=target)
    dev = device_counts(synth)
    energy = energy_estimate(cfg)["unit"]
    pnr_r = synth["pnr"]
    fits = None if pnr_r is None else bool(pnr_r["fits"])
    fmax = pnr_r["fmax_mhz"] if pnr_r and pnr_r["fits"] else None
    logic = lut4_equivalents(dev, target)
    equiv = lut4_equivalents(dev, target, dsp_lut4_equiv)
    ups = fmax * 1e6 * lanes if fmax else None
    read, write = cfg.update_words
    read_bits, write_bits = cfg.update_bits
    e = entry(cfg)
    return {
        "config": cfg.name, "label": e.label, "optimizer": str(cfg.optimizer),
        "system": e.number_system, "reference": e.reference, "bits": cfg.word_bits["w"],
        "status": "ok" if fits is not False else "does not fit", "fits": fits,
        "luts": int(dev["luts"]), "carries": int(dev["carries"]), "ffs": int(dev["ffs"]),
        "dsps": int(dev.get("dsps", 0)), "brams": int(dev["brams"]),
        "rom_bits": synth["rom_bits"]["total"], "lut4_equiv": equiv,
        "lut4_equiv_logic": logic, "fmax_mhz": fmax, "latency": synth["latency"],
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
