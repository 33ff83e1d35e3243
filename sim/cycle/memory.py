"""The memory side of the cycle-level simulation, defined once for every engine.

The same definition runs in Python (`MemorySide.trace`, the reference), in Numba (the
``model`` engine), in the Amaranth driver and in the Verilator C++ harness (whose constants
`cpp_constants` writes from the values below, so no engine has its own copy).

Per clock cycle ``c = 0, 1, 2, ...`` (cycle ``c`` ends with rising edge ``c``; the reset
edge before cycle 0 is not counted), in this order:

1. **Random stall.** One 64-bit number ``z = splitmix64()`` is drawn, every cycle, used or
   not.  The cycle is *stalled* if ``z >> 11 < threshold`` with
   ``threshold = floor(p * 2**53)``.  A stalled memory neither reads nor writes: the source
   holds ``in_valid`` low and the sink holds ``out_ready`` low (so a waiting result holds
   the whole pipeline, as the update unit's handshake defines).  ``out_ready`` is high in
   every cycle that is not stalled.
2. **Bandwidth** (only with a limit ``B`` bytes a cycle): a token bucket in bits,
   ``credit = min(credit + rate, cap)`` with ``rate = round(8 B)`` and
   ``cap = max(rate, beat_bits)``; ``credit`` starts at 0 and carries over between steps.
   A beat costs ``beat_bits`` = lanes x (bits read + bits written) of one element
   (``cfg.update_bits``): Madam reads the weight, gradient and second moment and writes
   the weight and moment back (the ``sign`` normaliser does not use the moment, so it is
   neither read nor written); Adam reads w, g, m, v and writes w, m, v; SGD reads w, g, m
   and writes w, m.  The
   bucket holds at least one beat, so any ``B >= 1/16`` byte a cycle makes progress (a beat
   waits ``ceil(beat_bits / rate)`` cycles); nothing deadlocks.
3. **Source.** ``in_valid`` is high iff the step has a beat left, the cycle is not stalled
   and (with a limit) ``credit >= beat_bits``.  The beat is accepted if ``in_valid & in_ready``; acceptance
   takes ``beat_bits`` from the credit.  A presented beat that is not accepted stays.
4. **Sink.** An output beat is delivered if ``out_valid & out_ready``.

Steps: step ``t`` (1..T) sends every beat of the tensor with the codes of ``t`` held
(Madam ``x_bc = bias_correction_code(t)``, Adam ``x_bc1, x_bc2 = bias_correction_codes(t)``)
and the weights and moments the previous step wrote back.  The pipeline drains between
steps: the first beat of step ``t + 1`` can be presented in the cycle after the one that
delivered step ``t``'s last beat (the data dependence of a step on the last one, and the
``x_bc`` change).  The run's cycle count is the index of the cycle that delivers the last
beat of step T, plus one.

Padding: a tensor of ``N`` weights is ``ceil(N / lanes)`` beats; the last beat's missing
lanes carry zero words (a zero weight stays zero, and the memory moves them like any other
element: they count in the bytes moved, and with stochastic rounding they advance their
lane's LFSR exactly as the model sees when it is given the padded tensor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["BYTES_PER_CYCLE_MAX", "BYTES_PER_CYCLE_WHY", "SPLITMIX_GAMMA", "SPLITMIX_MUL1",
           "SPLITMIX_MUL2", "SPLITMIX_SHIFTS", "STALL_SHIFT", "MemorySide", "MemoryState",
           "splitmix64", "stall_threshold", "beat_bits", "cpp_constants"]

# splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
# OOPSLA 2014; constants of Vigna's public-domain splitmix64.c).
SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
SPLITMIX_MUL1 = 0xBF58476D1CE4E5B9
SPLITMIX_MUL2 = 0x94D049BB133111EB
SPLITMIX_SHIFTS = (30, 27, 31)
STALL_SHIFT = 11                    # z >> 11 is a uniform 53-bit integer
_M64 = (1 << 64) - 1


def splitmix64(state: int) -> tuple[int, int]:
    """One draw: ``(new_state, z)``.  The reference the other engines reproduce."""
    state = (state + SPLITMIX_GAMMA) & _M64
    z = state
    z = ((z ^ (z >> SPLITMIX_SHIFTS[0])) * SPLITMIX_MUL1) & _M64
    z = ((z ^ (z >> SPLITMIX_SHIFTS[1])) * SPLITMIX_MUL2) & _M64
    return state, z ^ (z >> SPLITMIX_SHIFTS[2])


def stall_threshold(p) -> int:
    """``floor(p * 2**53)``: a cycle is stalled when ``z >> 11`` is below it."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0 \
            or math.isnan(p):
        raise ValueError(f"stall probability must be in [0, 1), not {p!r}")
    return int(math.floor(float(p) * 2.0 ** (64 - STALL_SHIFT)))


def beat_bits(cfg, lanes: int) -> tuple[int, int]:
    """``(read bits, write bits)`` of one beat of ``lanes`` elements (see the module text).

    The widths are the words' total bits, the same as the sidecar's port widths / lanes.
    """
    read, write = cfg.update_bits
    return lanes * read, lanes * write


#: The most memory bytes a cycle: 1 MiB, far above what a beat of the widest unit moves (64
#: lanes of 28-byte FP32 Adam words, 1,792 B), so a larger rate is the same as no limit;
#: the bucket's bit counts then stay far inside the engines' int64.
BYTES_PER_CYCLE_MAX = 2**20
BYTES_PER_CYCLE_WHY = "more than any beat moves: leave it out for no limit"


@dataclass(frozen=True)
class MemorySide:
    """The memory's behaviour: random stalls and an optional bandwidth limit.

    Parameters
    ----------
    stall_prob : float in [0, 1)
    seed : int
        Seeds the stall PRNG (splitmix64 state = seed mod 2**64).
    bytes_per_cycle : float or None
        ``B``; None is no limit.
    beat_bits : int
        Bits one beat moves (read + write), from `beat_bits`.
    """

    stall_prob: float = 0.0
    seed: int = 1
    bytes_per_cycle: float | None = None
    beat_bits: int = 0

    def __post_init__(self):
        stall_threshold(self.stall_prob)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, not {self.seed!r}")
        if self.bytes_per_cycle is not None:
            b = self.bytes_per_cycle
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0 \
                    or math.isinf(b):
                raise ValueError(f"memory bytes per cycle must be a positive number, not {b!r}")
            if b > BYTES_PER_CYCLE_MAX:             # first: round(8 b) overflows near 1e308
                raise ValueError(f"memory bytes per cycle must be at most "
                                 f"{BYTES_PER_CYCLE_MAX:,} ({BYTES_PER_CYCLE_WHY}), not {b!r}")
            if round(8 * b) < 1:
                raise ValueError(f"memory bytes per cycle must be at least 0.0625 "
                                 f"(one bit a cycle), not {b!r}")
        if not isinstance(self.beat_bits, int) or self.beat_bits < 1:
            raise ValueError(f"beat_bits must be a positive int, not {self.beat_bits!r}")

    @property
    def threshold(self) -> int:
        return stall_threshold(self.stall_prob)

    @property
    def seed64(self) -> int:
        return int(self.seed) & _M64

    @property
    def rate_bits(self) -> int:
        """Bits added to the bucket each cycle; 0 means no limit."""
        return 0 if self.bytes_per_cycle is None else int(round(8 * self.bytes_per_cycle))

    @property
    def cap_bits(self) -> int:
        return max(self.rate_bits, self.beat_bits)

    def stalls(self, cycles: int) -> np.ndarray:
        """The stall decision of cycles ``0 .. cycles-1`` (bool array), by the reference."""
        out = np.zeros(cycles, dtype=bool)
        state, thr = self.seed64, self.threshold
        for c in range(cycles):
            state, z = splitmix64(state)
            out[c] = (z >> STALL_SHIFT) < thr
        return out


class MemoryState:
    """The memory side cycle by cycle, in Python (the Amaranth driver's; the reference).

    Each cycle: ``stall, in_valid = m.cycle(pending)`` (steps 1-3 of the module text), then
    ``m.accept()`` if the beat was accepted.  ``out_ready`` is ``not stall``.
    """

    def __init__(self, memory: MemorySide):
        self.state = memory.seed64
        self.thr, self.rate = memory.threshold, memory.rate_bits
        self.cap, self.cost = memory.cap_bits, memory.beat_bits
        self.credit = self.stalls = self.bandwidth_waits = 0

    def cycle(self, pending: bool) -> tuple[bool, bool]:
        self.state, z = splitmix64(self.state)
        stall = (z >> STALL_SHIFT) < self.thr
        self.stalls += stall
        if self.rate > 0:
            self.credit = min(self.credit + self.rate, self.cap)
        short = self.rate > 0 and self.credit < self.cost
        self.bandwidth_waits += pending and not stall and short
        return stall, pending and not stall and not short

    def accept(self):
        self.credit -= self.cost


def cpp_constants() -> str:
    """C++ definitions of the PRNG, generated from the constants above."""
    a, b, c = SPLITMIX_SHIFTS
    return (f"// generated by sim.cycle.memory.cpp_constants(): splitmix64, stall if (z >> {STALL_SHIFT}) < threshold\n"
            f"static inline uint64_t splitmix64(uint64_t& s) {{\n"
            f"    s += 0x{SPLITMIX_GAMMA:016X}ULL;\n"
            f"    uint64_t z = s;\n"
            f"    z = (z ^ (z >> {a})) * 0x{SPLITMIX_MUL1:016X}ULL;\n"
            f"    z = (z ^ (z >> {b})) * 0x{SPLITMIX_MUL2:016X}ULL;\n"
            f"    return z ^ (z >> {c});\n"
            f"}}\n"
            f"static const int STALL_SHIFT = {STALL_SHIFT};\n")
