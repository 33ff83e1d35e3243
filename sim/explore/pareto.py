"""Pareto fronts of test error against cost, their plot and their table.

A row (`sim.explore.run.aggregate`) is on the front of a cost when no other row of its task
and model costs no more and has no higher mean test error, one of the two strictly
(minimising both).  Fronts are taken per (task, model) and per cost axis of `AXES` over the
rows that have that cost (a float baseline without an operation count has no energy; a
unit whose synthesis is not cached has no LUT4 or area).
"""

from __future__ import annotations

__all__ = ["AXES", "front", "fronts", "plot_axes", "plot_task", "front_table", "MARKERS"]

#: cost key -> (axis label, unit)
AXES = {"bytes": ("bytes per update", "B"),
        "energy_pj": ("energy per update (Horowitz 45 nm model)", "pJ"),
        "lut4_ecp5": ("ECP5 LUT4 equivalents (one lane)", "LUT4"),
        "area_um2_sky130": ("sky130 cell area (one lane)", "um2")}
#: one marker per rule (the float twins share their rule's marker, hollow)
MARKERS = {"madam": "o", "adam": "s", "sgd": "^", "lion": "D", "adam8bit": "P",
           "adam_bf16grad": "X"}


def front(rows: list[dict], axis: str) -> list[dict]:
    """The rows of ``rows`` (one task and model) on the Pareto front of ``axis`` against
    the mean test error, in increasing cost."""
    pts = [r for r in rows if r.get(axis) is not None]
    pts.sort(key=lambda r: (r[axis], r["err"]["mean"]))
    out, best = [], float("inf")
    for r in pts:
        if r["err"]["mean"] < best:
            out.append(r)
            best = r["err"]["mean"]
    return out


def fronts(rows: list[dict]) -> dict:
    """``{"task/model": {axis: [row label, ...]}}`` for every axis with at least one
    costed row."""
    out: dict = {}
    for tm in sorted({(r["task"], r["model"]) for r in rows}):
        mine = [r for r in rows if (r["task"], r["model"]) == tm]
        out["/".join(tm)] = {ax: [r["label"] for r in front(mine, ax)] for ax in AXES
                             if any(r.get(ax) is not None for r in mine)}
    return out


def plot_axes(rows: list[dict]) -> list[str]:
    """The cost axes `plot_task` draws a panel for: those at least two rows have (a
    plot is drawn only when there is one)."""
    return [a for a in AXES if sum(r.get(a) is not None for r in rows) >= 2]


def plot_task(rows: list[dict], path, title: str) -> str:
    """One panel per costed axis (`plot_axes`): mean test error (its 95 % interval as an
    error bar) against cost (log scale), a marker per rule (filled: LNS, hollow: float),
    the front as a step line.  Writes ``path``; returns it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    axes = plot_axes(rows)
    fig, axs = plt.subplots(1, len(axes), figsize=(5.2 * len(axes), 4.4), squeeze=False)
    colours = {}
    for ax, key in zip(axs[0], axes):
        seen = set()
        for r in rows:
            if r.get(key) is None:
                continue
            rule = r["rule"]
            c = colours.setdefault(r["bits"], f"C{len(colours) % 10}")
            e = r["err"]
            yerr = None if e["ci_lo"] is None else [[e["mean"] - e["ci_lo"]],
                                                    [e["ci_hi"] - e["mean"]]]
            lns = r["system"] == "lns"
            name = (f"{rule} LNS" if lns else r["label"])
            ax.errorbar([r[key]], [e["mean"]], yerr=yerr, fmt=MARKERS.get(rule, "*"),
                        color=c if lns else "k", mfc=c if lns else "none", ms=5, lw=0.8,
                        capsize=2, alpha=0.85 if r["rounding"] != "stochastic" else 0.55,
                        label=None if name in seen else name)
            seen.add(name)
        f = front(rows, key)
        if f:
            xs, ys = [], []
            for r in f:
                xs += [r[key], r[key]]
                ys += [ys[-1] if ys else r["err"]["mean"], r["err"]["mean"]]
            ax.plot(xs, ys, "-", color="red", lw=1.2, alpha=0.7, label="Pareto front")
        ax.set_xscale("log")
        ax.set_ylim(0, 100)             # an interval past 0 or 100 % says "few seeds" enough
        ax.set_xlabel(f"{AXES[key][0]} ({AXES[key][1]})")
        ax.set_ylabel("final test error (%), mean and 95 % CI over seeds")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title + "  (LNS: filled, colour = weight bits, faded = stochastic "
                 "rounding; float: hollow black)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def _num(x, fmt):
    return "-" if x is None else fmt.format(x)


def front_table(rows: list[dict], title: str) -> str:
    """The fronts of one task and model as markdown: per axis, each front row's label,
    error (mean and 95 % CI) and every cost."""
    lines = [f"## {title}", ""]
    for key in AXES:
        f = front(rows, key)
        if not f:
            continue
        lines += [f"### Front: test error against {AXES[key][0]}", "",
                  "| configuration | eta | test error % | 95 % CI | bytes | energy pJ | "
                  "LUT4 ECP5 | sky130 um2 |", "|---|---|---|---|---|---|---|---|"]
        for r in f:
            e = r["err"]
            ci = "-" if e["ci_lo"] is None else f"[{e['ci_lo']:.2f}, {e['ci_hi']:.2f}]"
            lines.append(f"| {r['label']} | 2^{r['eta_log2']} | {e['mean']:.2f} | {ci} | "
                         f"{_num(r.get('bytes'), '{:.3g}')} | "
                         f"{_num(r.get('energy_pj'), '{:.3g}')} | "
                         f"{_num(r.get('lut4_ecp5'), '{:,}')} | "
                         f"{_num(r.get('area_um2_sky130'), '{:,.0f}')} |")
        lines.append("")
    return "\n".join(lines)
