"""What a worker runs: one training point (`run_point`) and one configuration's hardware cost
(`cost_point`).  Both take plain dicts (JSON values), so a task is its configuration and the
store's key is a hash of it (`sim.explore.store`).

A training point's configuration::

    {"task": "mnist1d", "model": "mlp", "method": "lns_adam" | "adam8bit" | ...,
     "bits": 8 | None (float), "rounding": "nearest_even" | "stochastic" | None (float),
     "seed": int, "epochs": int, "batch": int, "hidden": int, "eta_log2": int,
     "momentum": float | None, "split": "test" | "validation"}

Its result is the run dict of `sim.analysis.training.runs` (test and train error and loss
after the last epoch, the per-epoch curves, ``eta``, ``seconds``, ``cpu_seconds``).  A run
is deterministic by its configuration (the seed fixes the initial weights, the batch order
and the LFSR seeds of stochastic rounding; BLAS runs on one thread), so any worker, any
number of workers and any rerun give the same numbers but the times.
"""

from __future__ import annotations

__all__ = ["run_point", "lns_config", "cost_point", "FLOAT_BYTES_NOTE", "FLOAT_UNITS"]

FLOAT_BYTES_NOTE = ("float rows are trained in float64 and priced as their float32 "
                    "hardware (the baselines of sim.analysis.ops)")


def lns_config(method: str, bits: int, rounding: str | None, eta_log2: int | None = None):
    """The LNS configuration of a point (`lns.presets.for_bits` of the method's rule at
    ``bits`` with ``rounding``; ``eta_log2`` when given).  The configuration's own
    validation error (ValueError) when it cannot be built."""
    from sim.analysis.training.methods import Method
    m = Method.parse(method)
    over = {} if rounding is None else {"rounding": rounding}
    if eta_log2 is not None:
        over["eta_log2"] = int(eta_log2)
    return m.config(bits, **over)


def run_point(config: dict) -> dict:
    """Train one point (see the module docstring) and return its run dict."""
    from sim.analysis.training.methods import Method
    from sim.analysis.training.runs import timed_single_thread, train_run
    from sim.analysis.training.tasks import task, task_data

    t = task(config["task"])
    method = Method.parse(config["method"])
    cfg = (lns_config(config["method"], config["bits"], config["rounding"],
                      config["eta_log2"]) if method.is_lns else None)
    data = task_data(t.name, config["split"])
    mu = config.get("momentum")
    import numpy as np
    # a diverged run's training loss is log(0) = -inf: its result says so (strict JSON
    # keeps it), no warning line for each
    with np.errstate(divide="ignore"):
        run = _train(train_run, timed_single_thread, config, method, data, cfg, mu, t)
    run.pop("test_err_curve", None)            # = curves["test_err"]
    return run


def _train(train_run, timed, config, method, data, cfg, mu, t):
    common = dict(epochs=int(config["epochs"]), data=data, cfg=cfg,
                  lr=2.0 ** int(config["eta_log2"]),
                  momentum=0.9 if mu is None else float(mu), batch=int(config["batch"]))
    if config["model"] == "cnn":          # the task's network (sim.jaxlns.cnn.ARCHS)
        return timed(train_run)("cnn", method, int(config["seed"]), task=t.name, **common)
    return timed(train_run)(config["model"], method, int(config["seed"]),
                            hidden=int(config["hidden"]), classes=t.classes, **common)


#: The IEEE FP32 unit of a float method, as a hardware engineer would build it: the efficient
#: Adam (per-step scalars, lerp moments) and float Madam.  SGD and Lion have no IEEE unit;
#: mixed-precision Adam's unit (`mp_adam`) also writes a BF16 weight copy, which the
#: bf16-gradient method's bytes do not count, so it is not that method's unit.
FLOAT_UNITS = {"adam": "fp32_adam_fast", "madam": "fp32_madam"}


def _float_cost(key: str) -> dict:
    """Bytes and energy of a float method: a rule's float twin as its float32 baseline
    (`sim.analysis.ops.baselines`, priced by `sim.analysis.energy.price`); 8-bit Adam by
    `sim.analysis.roofline.blockwise8_adam_bytes` (no operation count: energy None); Adam
    with a bf16 gradient as FP32 Adam's traffic with the gradient at 16 bits (energy
    None)."""
    from sim.analysis.energy import price
    from sim.analysis.ops import baselines
    from sim.analysis.roofline import blockwise8_adam_bytes
    base = baselines()
    if key == "adam8bit":
        b = blockwise8_adam_bytes(4)
        return {"bytes": b["bytes"], "energy_pj": None, "cost_source":
                "roofline.blockwise8_adam_bytes (FP32 weights); no operation count, no "
                "energy"}
    if key == "adam_bf16grad":
        a = base["float32_adam"]["memory"]
        bits = sum(a["word_bits"][r] for r in a["words"]["read"]) + \
            sum(a["word_bits"][r] for r in a["words"]["write"]) - (32 - 16)
        return {"bytes": bits / 8, "energy_pj": None, "cost_source":
                "float32 Adam's words with a bf16 gradient; no operation count, no energy"}
    name = {"adam": "float32_adam", "sgd": "float32_sgd", "madam": "float32_madam",
            "lion": "float32_lion"}[key]
    p = price(base[name])
    return {"bytes": (p["read_bits"] + p["write_bits"]) / 8, "energy_pj": p["total_pj"],
            "cost_source": f"sim.analysis.ops.baselines()['{name}'] priced by "
                           f"sim.analysis.energy.price; {FLOAT_BYTES_NOTE}"}


class _NotCached(Exception):
    pass


def _not_cached(message):
    raise _NotCached(message)


def _area(cfg, synthesis: bool) -> dict:
    """``{"lut4_ecp5", "area_um2_sky130", "area_source"}`` of ``cfg``'s unit: from the
    synthesis cache only (a synthesis the cache lacks is not run: ``None``), or synthesised
    when ``synthesis`` (`rtl.cost.synthesis_report`, no place and route)."""
    from rtl.cost import device_counts, lut4_equivalents, synthesis_report
    out = {"lut4_ecp5": None, "area_um2_sky130": None}
    progress = None if synthesis else _not_cached
    try:
        dev = device_counts(synthesis_report(cfg, pnr=False, target="ecp5",
                                             progress=progress))
        out["lut4_ecp5"] = lut4_equivalents(dev, "ecp5")
    except _NotCached:
        pass
    try:
        dev = device_counts(synthesis_report(cfg, pnr=False, target="sky130",
                                             progress=progress))
        out["area_um2_sky130"] = dev["area_um2"]
    except _NotCached:
        pass
    out["area_source"] = ("rtl.cost.synthesis_report (" +
                          ("synthesised where not cached" if synthesis else "cache only") +
                          "): ECP5 LUT4 equivalents, DSP blocks free; sky130 area-only")
    return out


def cost_point(spec: dict) -> dict:
    """The hardware cost of a configuration ``{"method", "bits", "rounding", "eta_log2",
    "area": "cache" | "synthesis" | "none"}``: ``bytes`` per update (exact: the rule
    contract's words, `lns.rule.Rule.update_bits`), ``energy_pj`` (`sim.analysis.energy`),
    ``lut4_ecp5`` and ``area_um2_sky130`` (`_area`; None when not looked up or not cached)
    and where each came from."""
    from sim.analysis.energy import energy_estimate
    from sim.analysis.training.methods import Method
    m = Method.parse(spec["method"])
    area_mode = spec.get("area", "cache")
    if m.is_lns:
        cfg = lns_config(spec["method"], spec["bits"], spec["rounding"], spec["eta_log2"])
        rb, wb = cfg.update_bits
        out = {"bytes": (rb + wb) / 8, "energy_pj": energy_estimate(cfg)["unit"]["total_pj"],
               "unit": cfg.name, "cost_source": "lns.rule.Rule.update_bits; "
                                                "sim.analysis.energy.energy_estimate"}
    else:
        out = dict(_float_cost(m.key), unit=None)
        cfg = None
        if m.key in FLOAT_UNITS:
            from lns import presets
            cfg = presets.get(FLOAT_UNITS[m.key])
            out["unit"] = cfg.name
    out.update({"lut4_ecp5": None, "area_um2_sky130": None, "area_source": None})
    if cfg is not None and area_mode != "none":
        out.update(_area(cfg, area_mode == "synthesis"))
    return out
