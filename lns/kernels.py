"""Numba building blocks shared by the arithmetic and update kernels (words are packed and
unpacked by `lns.word`).

``p`` is a `lns.format.FormatParams`; a Gaussian table travels as the tuple
``(near, nodes, seg_bits, guard, end, flat)`` (see `lns.tables.GaussTable`), made by
`table_tuple`.  ``near``/``nodes`` are the table as the hardware holds it (`gauss_lookup`,
mirrored by the RTL); ``flat`` is the same function expanded to one entry per ``z`` for the
software kernels (`flat_lookup`): one load instead of a range test, a near-or-node branch
and an interpolation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rounding import round_shift_rne
from .tables import GaussTable

__all__ = ["gauss_lookup", "flat_lookup", "log_add", "table_tuple", "NO_TABLE"]

# GaussTable compares by identity (eq=False) and `gauss_table` caches its tables, so a
# table's tuple (and the flat expansion, which costs a vectorised pass) is built once.
_TUPLES: dict = {}


def _frozen_zeros(n: int) -> np.ndarray:
    a = np.zeros(n, dtype=np.int64)
    a.setflags(write=False)
    return a


# The table argument of a kernel whose configuration holds no table (the sign normaliser):
# the same Numba types as a real table's tuple (read-only int64 arrays), so no new compile.
NO_TABLE = (_frozen_zeros(0), _frozen_zeros(0), 0, 0, 0, _frozen_zeros(1))


def table_tuple(table: GaussTable | None):
    """The kernels' tuple of ``table``; `NO_TABLE` for None."""
    if table is None:
        return NO_TABLE
    tt = _TUPLES.get(table)
    if tt is None:
        # lookup_all() is the table's value at every z < end by the same integer rule as
        # lookup_ref/gauss_lookup (the oracle tests check it); the trailing 0 is f(z) for
        # every z >= end, so ``flat[min(z, end)]`` is the whole lookup.
        flat = np.append(np.asarray(table.lookup_all(), dtype=np.int64), np.int64(0))
        flat.setflags(write=False)
        tt = (np.asarray(table.near, dtype=np.int64), np.asarray(table.nodes, dtype=np.int64),
              table.seg_bits, table.guard, table.end, flat)
        _TUPLES[table] = tt
    return tt


@njit(cache=True, inline="always")
def gauss_lookup(z, table):
    near, nodes, seg_bits, guard, end, _ = table
    if z >= end:
        return 0
    n = near.shape[0]
    if z < n:
        return near[z]
    zi = z - n
    j = zi >> seg_bits
    lo = zi & ((1 << seg_bits) - 1)
    t0 = nodes[j]
    t1 = nodes[j + 1]
    return round_shift_rne((t0 << seg_bits) + (t1 - t0) * lo, seg_bits + guard)


@njit(cache=True, inline="always")
def flat_lookup(z, flat):
    """`gauss_lookup` for ``z >= 0`` from the flat expansion ``table_tuple(t)[5]``: no
    data-dependent branch.  Its last entry (index ``end``) is the 0 of every ``z >= end``.

    Takes the array, not the tuple, so a loop takes it out of the tuple once (inside a
    loop, that costs reference counting per element).  The index is unsigned so Numba
    emits no negative-index wraparound test."""
    return flat[np.uint64(min(z, flat.shape[0] - 1))]


@njit(cache=True, inline="always")
def log_add(xa, xb, same_sign, sb, db):
    """log2(2**xa +- 2**xb) in LSBs for non-zero operands (``+`` when ``same_sign``).

    Returns (X, a_is_larger, exact_zero); exact_zero is set when the operands cancel.
    """
    a_big = xa >= xb
    big = xa if a_big else xb
    z = xa - xb if a_big else xb - xa
    if same_sign:
        return big + gauss_lookup(z, sb), a_big, False
    if z == 0:
        return 0, a_big, True
    return big + gauss_lookup(z, db), a_big, False
