"""Operations per update, synthesis results and the energy estimate of one configuration,
in one record (what `lnsmadam cost` prints)."""

from __future__ import annotations

__all__ = ["cost_report"]


def cost_report(cfg, lanes: int = 1, *, pnr: bool = True, progress=None,
                target: str = "ice40") -> dict:
    """``{"config", "lanes", "target", "optimizer", "ops", "synthesis", "energy"}`` for one
    configuration (LNS Madam, Adam or SGD with momentum; or an IEEE float Adam unit, whose
    ``ops`` and ``energy`` hold ``float``: its operations by kind and
    `sim.analysis.energy.float_adam_energy`).

    ``ops`` holds ``lns`` (the unit's counts, `sim.analysis.ops.operation_counts`) beside
    ``float32_madam``, ``float32_adam`` and ``float32_sgd``; ``synthesis`` is
    `rtl.cost.synthesis_report` on ``target`` (``ice40`` or ``ecp5``); ``energy`` is
    `sim.analysis.energy.energy_estimate`."""
    from rtl.cost import synthesis_report

    from .energy import energy_estimate
    from .ops import adam_ops, float_madam_ops, float_sgd_ops, operation_counts

    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress, target=target)
    from lns.registry import entry
    if entry(cfg).number_system == "ieee":
        # IEEE float Adam: its 14 operations by kind, priced at the format's width
        from .energy import float_adam_energy
        energy = float_adam_energy(cfg)
        return {"config": cfg.name, "lanes": lanes, "target": synth["target"],
                "optimizer": "float_adam",
                "ops": {"float": {"optimizer": "float_adam", "counts": energy["counts"]},
                        "float32_madam": float_madam_ops(), "float32_adam": adam_ops(),
                        "float32_sgd": float_sgd_ops()},
                "synthesis": synth, "energy": {"float": energy}}
    ops = operation_counts(cfg)
    return {"config": cfg.name, "lanes": lanes, "target": synth["target"],
            "optimizer": ops["optimizer"],
            "ops": {"lns": ops, "float32_madam": float_madam_ops(),
                    "float32_adam": adam_ops(), "float32_sgd": float_sgd_ops()},
            "synthesis": synth, "energy": energy_estimate(cfg)}
