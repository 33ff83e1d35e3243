"""Cycle-level simulation of whole tensors through the update array.

`simulate` streams a tensor of ``N`` weights (with their gradients and moments) through a
``lanes``-wide update array for ``T`` steps, with the memory side of `sim.cycle.memory`, on
one of three engines:

``verilator``
    the generated Verilog in a compiled C++ harness (`sim.cycle.verilator_engine`);
``amaranth``
    the same design in Amaranth's simulator (`sim.cycle.amaranth_engine`);
``model``
    the cycle-accurate performance model (`sim.cycle.model_engine`): the timing only, no data.

Every rule streams the same way: Madam through `rtl.MadamUpdateArray`, Adam and SGD through
`rtl.AdditiveUpdateArray`; what a beat carries (the words by role, the ports held for a step)
is `sim.cycle.stream`'s.  The two RTL engines' outputs of every step are compared with the
model (`lns.madam_update`, `lns.adam_update`, `lns.sgd_update`) run on the same padded
tensor (bit-exact; with stochastic rounding the model's lane states start at the seeds the
harness loads, ``lns.lane_seeds(seed, lanes)``, and carry over between steps, as the
hardware's registers do).  Every engine reports the same figures (`simulate`).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from lns.errors import InvalidValue
from lns.modes import parse

from .memory import MemorySide, beat_bits
from .stream import check_moved_bits, stream_of

__all__ = ["Engine", "ENGINES", "Tensor", "make_tensor", "expected_outputs", "simulate"]


class Engine(StrEnum):
    """What runs the cycles: the generated Verilog on Verilator, the Amaranth description
    in Amaranth's simulator (both carry data and check it against the model), or the
    timing model alone (`sim.cycle.model_engine`: no data)."""

    VERILATOR = "verilator"
    AMARANTH = "amaranth"
    MODEL = "model"


ENGINES = tuple(str(e) for e in Engine)


@dataclass
class Tensor:
    """A padded tensor: ``state0`` ``{role: [P]}``, the words the update reads and writes
    back (`sim.cycle.stream.Stream.state_roles`: ``w, v`` for Madam, ``w, m[, v]`` for Adam
    and SGD), ``g`` ``[T][P]`` (``P = beats * lanes``; the ``P - n`` padding elements are
    zero words), and Madam's clip word (None for the additive rules)."""

    n: int
    lanes: int
    state0: dict
    g: np.ndarray
    clip: int | None = None

    @property
    def beats(self) -> int:
        return self.g.shape[1] // self.lanes

    @property
    def w0(self) -> np.ndarray:
        return self.state0["w"]

    @property
    def v0(self) -> np.ndarray:
        return self.state0["v"]

    @property
    def m0(self) -> np.ndarray:
        return self.state0["m"]


def _int_arg(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise InvalidValue(f"{name} must be an int >= {lo}, not {value!r}")
    return int(value)


def _run_verilator(cfg, lanes, stages, memory, bits, progress, **kw):
    from .verilator_engine import design_for, run_harness
    design = design_for(cfg, lanes)
    if design.latency != stages - 1:
        raise AssertionError(f"sidecar latency {design.latency} != {stages - 1}")
    check_moved_bits(cfg, design.width, *bits)
    return run_harness(design, memory, progress=progress, **kw)


def _run_amaranth(cfg, lanes, stages, memory, bits, progress, **kw):
    from .amaranth_engine import run_amaranth
    return run_amaranth(cfg, lanes, memory, progress=progress, **kw)


@dataclass(frozen=True)
class _RTLEngine:
    """An engine that runs the RTL on data: its runner (``out, timing, sim_s, build_s``)
    and the beats x steps from which a progress bar shows by default."""

    run: object
    long_run: int


_RTL_ENGINES = {Engine.VERILATOR: _RTLEngine(_run_verilator, 2_000_000),
                Engine.AMARANTH: _RTLEngine(_run_amaranth, 20_000)}


def make_tensor(cfg, n: int, lanes: int, steps: int, seed: int = 1) -> Tensor:
    """Seeded, roughly realistic words: weights ~ N(0, 0.05) with 1 % zeros, gradients
    ~ N(0, 1) x 1e-3 x a per-weight scale (fresh each step), second moments ~ g**2
    (``sign`` normaliser: zero); Madam's ``clip`` = `MadamConfig.clip_code` of the weights.
    Adam and SGD: the first moment (momentum) ~ g (SGD: g / (1 - mu), the size of its
    steady state) with 1 % zeros, drawn last."""
    stream = stream_of(cfg)
    rng = np.random.default_rng(seed)
    beats = -(-n // lanes)
    P = beats * lanes

    def padded(a):
        out = np.zeros(P, dtype=np.int64)
        out[:n] = a
        return out

    fmt = stream.formats
    wf = rng.normal(0.0, 0.05, n)
    w = stream.encode("w", wf)
    if stream.has_zero("w"):
        w[rng.random(n) < 0.01] = 0
    scale = 1e-3 * np.exp(rng.normal(0.0, 1.0, n))
    if "v" in cfg.update_words[1]:            # a second moment the rule writes
        v = stream.encode("v", (scale * rng.normal(0.0, 1.0, n)) ** 2)
    else:
        v = np.zeros(n, dtype=np.int64)
    g = np.stack([padded(stream.encode("g", scale * rng.normal(0.0, 1.0, n)))
                  for _ in range(steps)])
    state0 = {"w": padded(w), "v": padded(v)}
    if "m" in fmt:
        m = stream.encode("m", scale / cfg.moment_share * rng.normal(0.0, 1.0, n))
        m[rng.random(n) < 0.01] = 0
        state0["m"] = padded(m)
    clip = cfg.tensor_held(wf).get("clip")
    return Tensor(n, lanes, {k: state0[k] for k in stream.state_roles}, g,
                  None if clip is None else int(clip))


def lfsr_seeds(cfg, lanes: int, seed: int) -> np.ndarray:
    """The lane states the engines load at cycle 0 (stochastic rounding), zeros otherwise."""
    import lns
    if not cfg.is_stochastic:
        return np.zeros(lanes, dtype=np.int64)
    return lns.lane_seeds(int(seed), lanes)


def expected_outputs(cfg, tensor: Tensor, seed: int = 1) -> np.ndarray:
    """``[T][R][P]``: the model step by step on the padded tensor (`lns.madam_update`,
    `lns.adam_update`, `lns.sgd_update`); row ``r`` is ``Stream.state_roles[r]`` (Madam:
    ``w, v``; Adam ``w, m, v``; SGD ``w, m``)."""
    stream = stream_of(cfg)
    steps, P = tensor.g.shape
    out = np.empty((steps, len(stream.state_roles), P), dtype=np.int64)
    state = lfsr_seeds(cfg, tensor.lanes, seed) if cfg.is_stochastic else None
    words = tensor.state0
    for s in range(steps):
        words = stream.update(words, tensor.g[s], s + 1, tensor.clip, state)
        for r, k in enumerate(stream.state_roles):
            out[s, r] = words[k]
    return out


# Updates (weights x steps) a run may have: every count is reported as a JSON number, which
# most readers parse as a double, exact only up to 2**53.  (A model run with stalls does
# ~2e8 cycles/s: 2**53 updates would take over a year; without stalls it is a closed form.)
MAX_UPDATES = 2 ** 53

# Memory an RTL run holds per padded element, in bytes: measured peak RSS over the
# interpreter's (lns12, verilator: 130 B at T = 1, 183 B at T = 3) rounded up: int64
# words (w0, v0, g[T], the expected and the simulated [T][2]), the harness's uint32 copies,
# make_tensor's float temporaries.  Those are arrays of the words of an element (Madam's
# three, w, g, v); a rule with more words (Adam: w, g, m, v) scales it by its count.
_BYTES_PER_ELEMENT = (110, 30)             # a + b T
_WORDS_MEASURED = 3


def _available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes (None where there is none)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_memory(engine: str, padded: int, steps: int, words: int = _WORDS_MEASURED) -> None:
    """InvalidValue when the data of an RTL run (``words`` words an element: the state
    written back and the gradient) cannot fit in the memory available."""
    need = padded * (_BYTES_PER_ELEMENT[0] + _BYTES_PER_ELEMENT[1] * steps)
    need = need * words // _WORDS_MEASURED
    avail = _available_memory()
    if avail is not None and need > avail:
        raise InvalidValue(f"a {engine} run of {padded:,} elements x {steps} steps needs about "
                           f"{need / 2**30:.1f} GiB of memory for its data, more than the "
                           f"{avail / 2**30:.1f} GiB available")


def _check_vcd_path(vcd) -> Path:
    """``vcd`` as a Path if a file can be written there (tried, and a file the try made is
    removed again: the VCD appears only when the run has finished, `_vcd_written`)."""
    path = Path(vcd)
    existed = path.exists()
    if existed and not path.is_file():
        # the waveform is renamed into place when the run ends: never over a folder or a
        # device (/dev/null), which that would replace
        raise InvalidValue(f"cannot write VCD file {path}: it is not a regular file")
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise InvalidValue(f"cannot write VCD file {path}: {exc.strerror}") from None
    if not existed:
        path.unlink(missing_ok=True)
    return path


class _vcd_written:
    """The engines write the VCD to a temporary file beside ``path``, renamed into place
    when the run ends well: an error or an interrupt leaves no half-written waveform."""

    def __init__(self, path):
        self.path = path
        self.tmp = None if path is None else path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def __enter__(self):
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if self.tmp is None:
            return False
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def simulate(cfg, n: int, lanes: int = 1, engine: str = "model", *, steps: int = 1,
             stall_prob: float = 0.0, bytes_per_cycle: float | None = None, seed: int = 1,
             vcd=None, vcd_cycles: int = 1000, progress: bool | None = None,
             tensor: Tensor | None = None) -> dict:
    """Run the tensor and return every figure (a JSON-able dict).

    Parameters
    ----------
    cfg : lns.MadamConfig, lns.AdamConfig or lns.SGDConfig
    n : int >= 1
        Weights in the tensor (padded to whole beats of ``lanes``).
    lanes : int >= 1
    engine : {"verilator", "amaranth", "model"}
    steps : int >= 1
        ``T``; step ``t`` holds the codes of ``t`` (Madam: ``x_bc =
        cfg.bias_correction_code(t)``; Adam: ``x_bc1, x_bc2 = cfg.bias_correction_codes(t)``;
        `sim.cycle.stream`).
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
    padding included), ``checked``/``mismatches`` (None for ``model``; ``first_mismatch``
    names the step, the word's role, the element and both words), timings, ``method``
    (``"per cycle"``, or for ``model`` without stalls ``"per beat"``/``"closed form"``;
    a closed form has no ``cycles_per_second``/``weights_per_second``: None), and the
    run's parameters.

    Raises
    ------
    lns.errors.InvalidType
        ``cfg`` is not an optimizer configuration.
    lns.errors.InvalidValue
        A bad argument; ``lanes`` over `rtl.design.MAX_LANES`; ``n x steps`` over
        `MAX_UPDATES`; an RTL run whose data would not fit in the memory available.
    """
    from rtl.design import MAX_LANES
    stream = stream_of(cfg)
    engine = parse(Engine, "engine", engine)
    rtl_run = _RTL_ENGINES.get(engine)              # None: the timing model
    n = _int_arg("weights", n, 1)
    lanes = _int_arg("lanes", lanes, 1)
    steps = _int_arg("steps", steps, 1)
    if lanes > MAX_LANES:
        raise InvalidValue(f"lanes must be at most {MAX_LANES}, not {lanes}")
    if n * steps > MAX_UPDATES:
        raise InvalidValue(f"weights x steps must be at most 2**53 = {MAX_UPDATES:,}, "
                           f"not {n * steps:,}")
    seed = _int_arg("seed", seed, 0)
    vcd_cycles = _int_arg("vcd cycles", vcd_cycles, 1)
    read_bits, write_bits = beat_bits(cfg, lanes)
    memory = MemorySide(stall_prob=stall_prob, seed=seed, bytes_per_cycle=bytes_per_cycle,
                        beat_bits=read_bits + write_bits)
    if vcd is not None:
        if rtl_run is None:
            raise InvalidValue("a VCD needs the verilator or amaranth engine, not model")
        vcd = _check_vcd_path(vcd)
    stages = stream.stages
    if stages > 255:
        raise InvalidValue(f"pipeline stages must be at most 255, not {stages}")
    beats = -(-n // lanes)
    result = {"engine": str(engine), "preset": cfg.name, "weights": n, "lanes": lanes,
              "steps": steps, "beats_per_step": beats, "padding": beats * lanes - n,
              "pipeline_latency": stages - 1,
              "memory": {"stall_prob": float(stall_prob), "seed": seed,
                         "bytes_per_cycle": bytes_per_cycle, "rate_bits": memory.rate_bits,
                         "bucket_bits": memory.cap_bits if memory.rate_bits else None,
                         "read_bits_per_beat": read_bits, "write_bits_per_beat": write_bits}}
    build_s = 0.0
    checked, mismatches, first = None, None, None
    from testbench.progress import Progress
    if rtl_run is None:
        from .model_engine import PER_CYCLE_STAGES_MAX, Method, model_cycles, model_method
        method = model_method(memory)
        if method is Method.PER_CYCLE and stages > PER_CYCLE_STAGES_MAX:
            raise InvalidValue(
                f"the model engine follows at most {PER_CYCLE_STAGES_MAX} pipeline stages "
                f"with random stalls, and {cfg.name} has {stages}: run it with --engine "
                f"verilator or amaranth, or without --stall-prob")
        # ~1e8 cycles (beats) a second: progress from a few seconds up
        long_run = method.timed and beats * steps > 500_000_000
        show = long_run if progress is None else bool(progress) and method.timed
        t0 = time.perf_counter()
        with Progress("sim", beats * steps, unit="beat", enabled=show) as bar:
            timing = model_cycles(
                beats, steps, stages, memory, skid=stream.registered_ready,
                progress=(lambda done, total, cycle: bar.update(done, total, f"{cycle} cycles"))
                if show else None)
        sim_s = time.perf_counter() - t0
    else:
        from .model_engine import Method
        method = Method.PER_CYCLE
        _check_memory(engine, beats * lanes, steps, len(stream.state_roles) + 1)
        if tensor is None:
            tensor = make_tensor(cfg, n, lanes, steps, seed)
        elif tensor.n != n or tensor.lanes != lanes or tensor.g.shape[0] != steps \
                or set(tensor.state0) != set(stream.state_roles):
            raise ValueError("tensor must match n, lanes, steps and the words of the rule")
        held = stream.held_table(steps, tensor.clip)
        seeds = lfsr_seeds(cfg, lanes, seed)
        long_run = beats * steps > rtl_run.long_run
        show = long_run if progress is None else progress
        kw = dict(held=held, lfsr_seeds=seeds, state0=tensor.state0, g=tensor.g,
                  vcd_cycles=vcd_cycles)
        with Progress("sim", beats * steps, unit="beat", enabled=show) as bar, \
                _vcd_written(vcd) as kw["vcd"]:
            def progress(done, total, cycle):
                bar.update(done, total, f"{cycle} cycles")
            out, timing, sim_s, build_s = rtl_run.run(
                cfg, lanes, stages, memory, (read_bits, write_bits),
                progress if show else None, **kw)
        exp = expected_outputs(cfg, tensor, seed)
        bad = out != exp
        mismatches = int(bad.sum())
        checked = True
        if mismatches:
            s, which, i = (int(x) for x in np.argwhere(bad)[0])
            first = {"step": s + 1, "word": stream.state_roles[which], "element": i,
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
        "sim_seconds": sim_s, "build_seconds": build_s, "method": str(method),
        # a closed form runs no cycles: no rate (nor has a run too short to time one)
        "cycles_per_second": cycles / sim_s if sim_s > 0 and method.timed else None,
        "weights_per_second": updates / sim_s if sim_s > 0 and method.timed else None,
        "vcd": str(vcd) if vcd is not None else None,
    })
    return result


if __name__ == "__main__":     # python -m sim.cycle lns12 1000000 1 verilator
    import json
    import lns
    r = simulate(lns.presets.get(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                 sys.argv[4])
    print(json.dumps(r, indent=2, default=str))
    os._exit(0)
