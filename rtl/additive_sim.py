"""Amaranth simulation of `AdditiveUpdateArray` (Adam / SGD): one tensor through the array
with seeded input gaps and back-pressure, through the one driver `rtl.sim.drive` (the same
LFSR loading, sampling and cycle counting as the Madam unit's)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lanes import pack_beats, unpack_beats
from .sim import RandomHandshake, drive

__all__ = ["simulate_additive", "AdditiveSimResult"]


@dataclass
class AdditiveSimResult:
    out: dict                # "w", "m"[, "v"]: output words in element order
    cycles: int
    latencies: list          # per beat: edges from acceptance to the delivering edge


def simulate_additive(cfg, words: dict, t: int = 1, *, lanes: int = 1, lfsr_state=None,
                      gap: float = 0.0, stall: float = 0.0, seed: int = 0,
                      max_cycles: int | None = None, dut=None) -> AdditiveSimResult:
    """Run the elements of ``words`` (``{"w", "g", "m"[, "v"]}``, arrays of one length)
    through a ``lanes``-wide array at step ``t`` (Adam's bias corrections); parameters as
    `rtl.sim.simulate_update`.  Returns the outputs like `lns.adam_update` /
    `lns.sgd_update` (``out["w"]``, ``out["m"]``[, ``out["v"]``])."""
    from .additive_unit import AdditiveUpdateArray, word_roles, xbc_shapes
    fmts = word_roles(cfg)
    arrays = {k: np.asarray(words[k], dtype=np.int64).ravel() for k in fmts}
    n = len(arrays["w"])
    beats = -(-n // lanes)
    packed = {k: pack_beats(arrays[k], f.total_bits, lanes) for k, f in fmts.items()}
    dut = dut if dut is not None else AdditiveUpdateArray(cfg, lanes)
    held = dict(zip(("x_bc1", "x_bc2"), cfg.bias_correction_codes(t))) if xbc_shapes(cfg) \
        else {}
    r = drive(dut, beats=beats, steps=1, held=lambda s: held,
              inputs=lambda s, previous: packed, handshake=RandomHandshake(gap, stall, seed),
              lfsr_state=lfsr_state if cfg.is_stochastic else None,
              max_cycles=max_cycles or (beats * 20 + 200))
    out = {k: unpack_beats(words_k, fmts[k].total_bits, lanes, n)
           for k, words_k in r.out[0].items()}
    return AdditiveSimResult(out, r.cycles, r.latencies)
