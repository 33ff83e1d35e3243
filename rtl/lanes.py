"""The lane layout of the packed buses, defined once.

Lane ``k`` of a bus of ``width``-bit words is bits ``[k * width, (k + 1) * width)``
(``in_w``/``in_g``/``in_v``/``out_w``/``out_v`` with the word widths of the config,
``lfsr_seed`` with `LFSR_WIDTH`); beat ``b`` lane ``k`` carries tensor element
``b * lanes + k``.  `rtl.unit.MadamUpdateArray` slices its ports this way; every Python
packer uses the functions below and the C++/Verilog text generators take their offsets
from `lane_bits`, so no second copy of the layout exists to disagree.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LFSR_WIDTH", "lane_bits", "pack_lanes", "unpack_lanes", "pack_beats",
           "unpack_beats"]

LFSR_WIDTH = 32          # bits of one lane's LFSR state on ``lfsr_seed``


def lane_bits(lane: int, width: int) -> tuple[int, int]:
    """``(lo, hi)``: lane ``lane`` is bits ``[lo, hi)`` of a bus of ``width``-bit words."""
    return lane * width, (lane + 1) * width


def pack_lanes(values, width: int) -> int:
    """One bus word holding ``values[k]`` in lane ``k`` (each masked to ``width`` bits)."""
    mask = (1 << width) - 1
    word = 0
    for k, x in enumerate(values):
        word |= (int(x) & mask) << lane_bits(k, width)[0]
    return word


def unpack_lanes(word: int, width: int, lanes: int) -> list:
    """The ``lanes`` words of one bus word, lane 0 first."""
    mask = (1 << width) - 1
    return [(int(word) >> lane_bits(k, width)[0]) & mask for k in range(lanes)]


def pack_beats(values, width: int, lanes: int) -> list:
    """One bus word a beat from elements in order (the last beat padded with zeros)."""
    a = [int(x) for x in np.asarray(values).ravel()]
    a += [0] * (-len(a) % lanes)
    return [pack_lanes(a[i:i + lanes], width) for i in range(0, len(a), lanes)]


def unpack_beats(words, width: int, lanes: int, n: int | None = None) -> np.ndarray:
    """Elements in order from bus words (the first ``n``; all by default), as int64."""
    flat = [x for word in words for x in unpack_lanes(word, width, lanes)]
    return np.array(flat if n is None else flat[:n], dtype=np.int64)
