"""Operations per update, synthesis results and the energy estimate of one configuration,
in one record (what `lnsmadam cost` prints)."""

from __future__ import annotations

__all__ = ["cost_report", "NOT_COUNTED"]

# Operation counts and the energy estimate cover the Madam datapath only.
NOT_COUNTED = "operation counts and energy not yet counted for adam/sgd"


def cost_report(cfg, lanes: int = 1, *, pnr: bool = True, progress=None) -> dict:
    """``{"ops": {...}, "synthesis": {...}, "energy": {...}}`` for one configuration.

    An Adam or SGD configuration: ``"ops"`` and ``"energy"`` are None, ``"note"`` says so
    (`NOT_COUNTED`), ``"optimizer"`` names the rule; the synthesis is the same flow."""
    from rtl.cost import synthesis_report

    from .energy import energy_estimate
    from .ops import adam_ops, float_madam_ops, operation_counts

    synth = synthesis_report(cfg, lanes, pnr=pnr, progress=progress)
    if synth.get("optimizer"):            # Adam / SGD: the synthesis only, for now
        return {"config": cfg.name, "lanes": lanes, "optimizer": synth["optimizer"],
                "ops": None, "energy": None, "note": NOT_COUNTED,
                "synthesis": synth}
    return {"config": cfg.name, "lanes": lanes,
            "ops": {"lns": operation_counts(cfg), "float32_madam": float_madam_ops(),
                    "float32_adam": adam_ops()},
            "synthesis": synth, "energy": energy_estimate(cfg)}
