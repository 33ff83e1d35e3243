"""Cycle-level simulation of whole tensors through the update array.

`simulate` streams a tensor of ``N`` weights (with gradients and second moments) through a
``lanes``-wide `rtl.MadamUpdateArray` for ``T`` steps, with the memory side of
`sim.cycle.memory`, on one of three engines:

``verilator``
    the generated Verilog in a compiled C++ harness (`sim.cycle.verilator_engine`);
``amaranth``
    the same design in Amaranth's simulator (`sim.cycle.amaranth_engine`);
``model``
    the cycle-accurate performance model (`sim.cycle.model_engine`): the timing only, no data.

The two RTL engines' outputs of every step are compared with `lns.madam_update` run on the
same padded tensor (bit-exact; with stochastic rounding the model's lane states start at the
seeds the harness loads, ``lns.lane_seeds(seed, lanes)``, and carry over between steps, as
the hardware's registers do).  Every engine reports the same figures (`simulate`).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .memory import MemorySide, beat_bits

__all__ = ["ENGINES", "Tensor", "make_tensor", "expected_outputs", "simulate"]

ENGINES = ("verilator", "amaranth", "model")


@dataclass
class Tensor:
    """A padded tensor: ``w0``, ``v0`` ``[P]``, ``g`` ``[T][P]`` words (``P = beats *
    lanes``; the ``P - n`` padding elements are zero words), and the clip word."""

    n: int
    lanes: int
    w0: np.ndarray
    v0: np.ndarray
    g: np.ndarray
    clip: int

    @property
    def beats(self) -> int:
        return self.w0.shape[0] // self.lanes


def _int_arg(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}, not {value!r}")
    return int(value)


def make_tensor(cfg, n: int, lanes: int, steps: int, seed: int = 1) -> Tensor:
    """Seeded, roughly realistic words: weights ~ N(0, 0.05) with 1 % zeros, gradients
    ~ N(0, 1) x 1e-3 x a per-weight scale (fresh each step), second moments ~ g**2
    (``sign`` normaliser: zero); ``clip`` = `MadamConfig.clip_code` of the weights."""
    import lns
    rng = np.random.default_rng(seed)
    beats = -(-n // lanes)
    P = beats * lanes

    def padded(a):
        out = np.zeros(P, dtype=np.int64)
        out[:n] = a
        return out

    wf = rng.normal(0.0, 0.05, n)
    w = lns.encode(cfg.weight, wf)
    if cfg.weight.has_zero:
        w[rng.random(n) < 0.01] = 0
    scale = 1e-3 * np.exp(rng.normal(0.0, 1.0, n))
    if cfg.has_second_moment:
        v = lns.encode(cfg.moment, (scale * rng.normal(0.0, 1.0, n)) ** 2)
    else:
        v = np.zeros(n, dtype=np.int64)
    g = np.stack([padded(lns.encode(cfg.grad, scale * rng.normal(0.0, 1.0, n)))
                  for _ in range(steps)])
    return Tensor(n, lanes, padded(w), padded(v), g, int(cfg.clip_code(wf)))


def lfsr_seeds(cfg, lanes: int, seed: int) -> np.ndarray:
    """The lane states the engines load at cycle 0 (stochastic rounding), zeros otherwise."""
    import lns
    if not cfg.is_stochastic:
        return np.zeros(lanes, dtype=np.int64)
    return lns.lane_seeds(int(seed), lanes)


def expected_outputs(cfg, tensor: Tensor, seed: int = 1) -> np.ndarray:
    """``[T][2][P]``: `lns.madam_update` step by step on the padded tensor."""
    import lns
    steps, P = tensor.g.shape
    out = np.empty((steps, 2, P), dtype=np.int64)
    state = lfsr_seeds(cfg, tensor.lanes, seed) if cfg.is_stochastic else None
    w, v = tensor.w0, tensor.v0
    for s in range(steps):
        w, v = lns.madam_update(cfg, w, tensor.g[s], v, s + 1, clip=tensor.clip,
                                lfsr_state=state)
        out[s, 0], out[s, 1] = w, v
    return out


def _check_vcd_path(vcd) -> Path:
    path = Path(vcd)
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write VCD file {path}: {exc.strerror}") from None
    return path


def simulate(cfg, n: int, lanes: int = 1, engine: str = "model", *, steps: int = 1,
             stall_prob: float = 0.0, bytes_per_cycle: float | None = None, seed: int = 1,
             vcd=None, vcd_cycles: int = 1000, progress: bool | None = None,
             tensor: Tensor | None = None) -> dict:
    """Run the tensor and return every figure (a JSON-able dict).

    Parameters
    ----------
    cfg : lns.MadamConfig
    n : int >= 1
        Weights in the tensor (padded to whole beats of ``lanes``).
    lanes : int >= 1
    engine : {"verilator", "amaranth", "model"}
    steps : int >= 1
        ``T``; step ``t`` uses ``x_bc = cfg.bias_correction_code(t)``.
    stall_prob, bytes_per_cycle, seed
        The memory side (`sim.cycle.memory.MemorySide`); ``seed`` also seeds the data and the
        LFSR seeds ``lns.lane_seeds(seed, lanes)`` loaded at cycle 0.
    vcd, vcd_cycles
        Write a waveform of the first ``vcd_cycles`` cycles (RTL engines only).
    progress : bool or None
        Progress on stderr (`testbench.progress`: a bar on a terminal, a line every 10 %
        in a log); None: only on long runs.
    tensor : Tensor, optional
        The data (default `make_tensor` with ``seed``).

    Returns
    -------
    dict with ``cycles``, ``updates_per_cycle``, ``pipeline_latency`` (the design's),
    ``latency_min``/``latency_max`` (measured), ``stall_cycles``, ``bandwidth_wait_cycles``,
    ``utilisation`` (beats accepted / cycles), ``bytes_per_update`` (bytes moved / N T,
    padding included), ``checked``/``mismatches`` (None for ``model``), timings, and the
    run's parameters.
    """
    from rtl import pipeline_stages
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    n = _int_arg("weights", n, 1)
    lanes = _int_arg("lanes", lanes, 1)
    steps = _int_arg("steps", steps, 1)
    seed = _int_arg("seed", seed, 0)
    vcd_cycles = _int_arg("vcd cycles", vcd_cycles, 1)
    read_bits, write_bits = beat_bits(cfg, lanes)
    memory = MemorySide(stall_prob=stall_prob, seed=seed, bytes_per_cycle=bytes_per_cycle,
                        beat_bits=read_bits + write_bits)
    if vcd is not None:
        if engine == "model":
            raise ValueError("a VCD needs the verilator or amaranth engine, not model")
        vcd = _check_vcd_path(vcd)
    stages = pipeline_stages(cfg)
    if stages > 255:
        raise ValueError(f"pipeline stages must be at most 255, not {stages}")
    beats = -(-n // lanes)
    result = {"engine": engine, "preset": cfg.name, "weights": n, "lanes": lanes,
              "steps": steps, "beats_per_step": beats, "padding": beats * lanes - n,
              "pipeline_latency": stages - 1,
              "memory": {"stall_prob": float(stall_prob), "seed": seed,
                         "bytes_per_cycle": bytes_per_cycle, "rate_bits": memory.rate_bits,
                         "bucket_bits": memory.cap_bits if memory.rate_bits else None,
                         "read_bits_per_beat": read_bits, "write_bits_per_beat": write_bits}}
    build_s = 0.0
    checked, mismatches, first = None, None, None
    if engine == "model":
        from .model_engine import model_cycles
        t0 = time.perf_counter()
        timing = model_cycles(beats, steps, stages, memory)
        sim_s = time.perf_counter() - t0
    else:
        if tensor is None:
            tensor = make_tensor(cfg, n, lanes, steps, seed)
        elif tensor.n != n or tensor.lanes != lanes or tensor.g.shape[0] != steps:
            raise ValueError("tensor must match n, lanes and steps")
        x_bc = [cfg.bias_correction_code(t) for t in range(1, steps + 1)]
        seeds = lfsr_seeds(cfg, lanes, seed)
        long_run = beats * steps > (2_000_000 if engine == "verilator" else 20_000)
        show = long_run if progress is None else progress
        kw = dict(x_bc=x_bc, lfsr_seeds=seeds, w0=tensor.w0, v0=tensor.v0, g=tensor.g,
                  clip=tensor.clip, vcd=vcd, vcd_cycles=vcd_cycles)
        from testbench.progress import Progress
        with Progress("sim", beats * steps, unit="beat", enabled=show) as bar:
            def progress(done, total, cycle):
                bar.update(done, total, f"{cycle} cycles")
            if engine == "verilator":
                from .verilator_engine import design_for, run_harness
                design = design_for(cfg, lanes)
                if design.latency != stages - 1:
                    raise AssertionError(f"sidecar latency {design.latency} != {stages - 1}")
                out, timing, sim_s, build_s = run_harness(
                    design, memory, progress=progress if show else None, **kw)
            else:
                from .amaranth_engine import run_amaranth
                out, timing, sim_s, build_s = run_amaranth(
                    cfg, lanes, memory, progress=progress if show else None, **kw)
        exp = expected_outputs(cfg, tensor, seed)
        bad = out != exp
        mismatches = int(bad.sum())
        checked = True
        if mismatches:
            s, which, i = (int(x) for x in np.argwhere(bad)[0])
            first = {"step": s + 1, "word": "wv"[which], "element": i,
                     "got": int(out[s, which, i]), "expected": int(exp[s, which, i])}
    cycles = timing["cycles"]
    updates = n * steps
    bytes_moved = timing["accepted"] * memory.beat_bits / 8
    result.update(timing)
    result.update({
        "updates": updates,
        "updates_per_cycle": updates / cycles,
        "utilisation": timing["accepted"] / cycles,
        "bytes_moved": bytes_moved,
        "bytes_per_update": bytes_moved / updates,
        "bytes_per_beat": memory.beat_bits / 8,
        "checked": checked, "mismatches": mismatches, "first_mismatch": first,
        "sim_seconds": sim_s, "build_seconds": build_s,
        "cycles_per_second": cycles / sim_s if sim_s > 0 else math.inf,
        "weights_per_second": updates / sim_s if sim_s > 0 else math.inf,
        "vcd": str(vcd) if vcd is not None else None,
    })
    return result


if __name__ == "__main__":     # python -m sim.cycle lns12 1000000 1 verilator
    import json
    import lns
    r = simulate(lns.presets.get(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    print(json.dumps(r, indent=2, default=str))
    os._exit(0)
