"""Amaranth simulation of `AdditiveUpdateArray` (Adam / SGD): one tensor through the array
with seeded input gaps and back-pressure, through the one driver `rtl.sim.drive` (the same
LFSR loading, sampling and cycle counting as the Madam unit's)."""

from __future__ import annotations

from dataclasses import dataclass

from .sim import simulate

__all__ = ["simulate_additive", "AdditiveSimResult"]


@dataclass
class AdditiveSimResult:
    out: dict                # "w", "m"[, "v"]: output words in element order
    cycles: int
    latencies: list          # per beat: edges from acceptance to the delivering edge


def simulate_additive(cfg, words: dict, t: int = 1, *, lanes: int = 1, lfsr_state=None,
                      gap: float = 0.0, stall: float = 0.0, seed: int = 0,
                      max_cycles: int | None = None, dut=None) -> AdditiveSimResult:
    """`rtl.sim.simulate` of an additive rule's array (``{"w", "g", "m"[, "v"]}``) at step
    ``t``; returns the outputs like `lns.adam_update` / `lns.sgd_update` (``out["w"]``,
    ``out["m"]``[, ``out["v"]``])."""
    r = simulate(cfg, words, t, lanes=lanes, lfsr_state=lfsr_state, gap=gap, stall=stall,
                 seed=seed, max_cycles=max_cycles, dut=dut)
    return AdditiveSimResult(r.out, r.cycles, r.latencies)
