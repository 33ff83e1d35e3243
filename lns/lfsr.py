"""The random source of stochastic rounding: a 32-bit Galois LFSR the hardware reproduces.

Polynomial x^32 + x^22 + x^2 + x + 1 (taps 32, 22, 2, 1 from Xilinx XAPP052, "Efficient
Shift Registers, LFSR Counters, and Long Pseudo-Random Sequence Generators", table 3), in
right-shifting Galois form: toggle mask 0x80200003.  Each update advances a lane's register
`STEPS_PER_UPDATE` times (in hardware an unrolled XOR network, one clock) and uses its low
`RANDOM_BITS` bits as ``r``.  Advancing by as many steps as bits drawn keeps successive
draws from being shifted copies of each other.

Element ``i`` of a tensor is updated by lane ``i % lanes``, which advances its own register
once per element it takes, whether or not that element's rounding needs random bits.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidType, InvalidValue
from numba import njit

__all__ = ["TAP_MASK", "RANDOM_BITS", "STEPS_PER_UPDATE", "lfsr_advance", "lfsr_advance_ref",
           "lane_seeds", "check_lane_states"]

TAP_MASK = 0x80200003
WIDTH = 32
RANDOM_BITS = 16
STEPS_PER_UPDATE = 16


def lfsr_advance_ref(state: int) -> int:
    """One update's worth of LFSR steps, written bit by bit."""
    for _ in range(STEPS_PER_UPDATE):
        out = state & 1
        state >>= 1
        if out:
            state ^= TAP_MASK
    return state


# 16 steps are linear over GF(2) and feed back only bits that start in the low 16 (taps 0 and
# 1 re-enter the low bits; taps 22 and 32 reach bit 0 only after more than 16 shifts), so
# advance(s) = (s >> 16) ^ G(s & 0xFFFF), and G splits into two 256-entry tables by
# linearity: two loads instead of 16 dependent coin-flip steps.  Built from the reference.
assert STEPS_PER_UPDATE == 16 and RANDOM_BITS <= 16
_ADVANCE_LO = np.array([lfsr_advance_ref(b) for b in range(256)], dtype=np.int64)
_ADVANCE_HI = np.array([lfsr_advance_ref(b << 8) for b in range(256)], dtype=np.int64)


@njit(cache=True, inline="always")
def lfsr_advance(state):
    """`lfsr_advance_ref`, by table."""
    return (state >> 16) ^ _ADVANCE_LO[np.uint64(state & 0xFF)] \
        ^ _ADVANCE_HI[np.uint64((state >> 8) & 0xFF)]


def lane_seeds(seed: int, lanes: int) -> np.ndarray:
    """Distinct non-zero starting states for ``lanes`` registers from one integer seed."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise InvalidType(f"seed must be an int, not {seed!r}")
    if not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    states = np.empty(lanes, dtype=np.int64)
    for k in range(lanes):
        # A golden-ratio stride spreads neighbouring seeds and lanes; zero is the one
        # state an LFSR never leaves, so it is replaced.
        s = (int(seed) * 0x9E3779B1 + (k + 1) * 0x85EBCA77) & 0xFFFFFFFF
        states[k] = s if s else 1
    return states


def check_lane_states(stochastic: bool, lfsr_state):
    """The lanes' LFSR registers (checked), or a dummy one-lane array when not stochastic."""
    if not stochastic:
        if lfsr_state is not None:
            raise InvalidValue("lfsr_state is only used with rounding='stochastic'")
        return np.ones(1, dtype=np.int64)
    if lfsr_state is None:
        raise InvalidValue("rounding='stochastic' needs lfsr_state (see lns.lane_seeds)")
    if not isinstance(lfsr_state, np.ndarray) or lfsr_state.dtype != np.int64 \
            or lfsr_state.ndim != 1 or lfsr_state.size == 0:
        raise InvalidType("lfsr_state must be a non-empty 1-D int64 numpy array (in the "
                          "machine's byte order), one state a lane")
    if not lfsr_state.flags.writeable:
        raise InvalidValue("lfsr_state must be a writeable array (it is advanced in place), "
                           "not a read-only one")
    if np.any((lfsr_state <= 0) | (lfsr_state > 0xFFFFFFFF)):
        raise InvalidValue("lfsr_state must hold non-zero 32-bit states")
    return lfsr_state
