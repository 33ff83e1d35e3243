"""Operations per update, synthesis results and the energy estimate of one configuration,
in one record (what `lnsmadam cost` prints)."""

from __future__ import annotations

__all__ = ["cost_report"]


def cost_report(cfg, lanes: int = 1, *, pnr: bool = True, progress=None) -> dict:
    """``{"ops": {...}, "synthesis": {...}, "energy": {...}}`` for one configuration."""
    from rtl.cost import synthesis_report

    from .energy import energy_estimate
    from .ops import adam_ops, float_madam_ops, operation_counts

    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress)
    return {"config": cfg.name, "lanes": lanes,
            "ops": {"lns": operation_counts(cfg), "float32_madam": float_madam_ops(),
                    "float32_adam": adam_ops()},
            "synthesis": synth, "energy": energy_estimate(cfg)}
