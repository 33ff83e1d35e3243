"""The tables and constants the hardware holds, computed once here and used by the RTL.

Every entry is *correctly rounded* (to nearest; no entry is an exact tie, because the
functions take irrational values at every non-trivial point): it is computed in float64,
and any entry whose scaled value lies within `TIE_GUARD` of a rounding boundary is
recomputed with mpmath at 160 bits.  The tests check every entry against mpmath.

Gaussian logarithms, for ``z >= 0`` the distance ``|a - b|`` of two log codes in LSBs::

    sb(z) = log2(1 + 2**(-z / 2**F))     so  log2(2**a + 2**b) = max(a, b) + sb(z)
    db(z) = log2(1 - 2**(-z / 2**F))     so  log2(2**a - 2**b) = max(a, b) + db(z)

Two ways to hold them (`method`):

``direct``  one ROM entry per ``z`` up to the first that rounds to 0 (``(F + 1.5) * 2**F``
            entries); ``sb(z)`` and ``db(z)`` are the correctly rounded codes.
``interp``  a *near* ROM of direct entries for ``z < near`` (where ``db`` is too curved to
            interpolate), then nodes every ``2**k`` LSBs held with ``guard`` extra bits, and
            linear interpolation between neighbouring nodes with one final rounding
            (`lns.rounding.round_shift_rne`).  The parameters are the smallest (in ROM bits)
            that keep every result *faithful* (error < 1 LSB), found by an exhaustive search.

Log constants (``c_beta``, ``c_one_minus_beta``, ``l_bound`` through `log2_constant_code`,
the bias correction ``X_bc`` through `bias_correction_code`) are rounded by one function,
`_log2_code`; the bias correction, asked for every step, is cached here and nowhere else.
The mpmath oracles (`gauss_exact_mp`, `exp2_exact_mp`) decide near-ties here and in the
precision sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np

from .modes import TableMethod
from .errors import InvalidValue
from .rounding import round_shift_rne_array, round_shift_rne_ref

__all__ = [
    "GaussTable", "gauss_table", "gauss_exact_mp", "sb_exact", "db_exact", "exp2_table",
    "exp2_exact_mp", "log2_constant_code", "bias_correction_code", "encode_boundaries",
    "decode_fractions", "rom_bits", "TIE_GUARD", "MP_PREC",
]

TIE_GUARD = 1e-6        # float64 values this close to a rounding boundary are redone in mpmath
MP_PREC = 160           # bits of every mpmath evaluation


def gauss_exact_mp(kind: str, frac_bits: int, z: int) -> mpmath.mpf:
    """``sb(z)`` or ``db(z)`` in log LSBs (scaled by ``2**frac_bits``) with mpmath at
    `MP_PREC` bits: the one high-precision oracle of the Gaussian logarithms (the tables'
    near-tie decisions and the precision sweep use it)."""
    with mpmath.workprec(MP_PREC):
        u = mpmath.power(2, -mpmath.mpf(int(z)) / 2 ** frac_bits)
        v = mpmath.log(1 + u, 2) if kind == "sb" else mpmath.log(1 - u, 2)
        return v * 2 ** frac_bits


def sb_exact(z: np.ndarray, frac_bits: int) -> np.ndarray:
    """``sb`` in float64 (about 1e-16 relative), in units of log LSBs (scaled by 2**F)."""
    u = np.exp2(-np.asarray(z, dtype=np.float64) / 2.0 ** frac_bits)
    return np.log1p(u) / math.log(2) * 2.0 ** frac_bits


def db_exact(z: np.ndarray, frac_bits: int) -> np.ndarray:
    """``db`` in float64 for ``z >= 1``, in log LSBs.  ``-expm1`` keeps ``1 - 2**-z``
    accurate where ``z`` is small."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log2(-np.expm1(-z / 2.0 ** frac_bits * math.log(2))) * 2.0 ** frac_bits


def _correctly_rounded(approx: np.ndarray, exact_mp, args) -> np.ndarray:
    """Round float64 ``approx`` to nearest integers, redoing near-ties with mpmath.

    ``exact_mp(arg)`` returns the scaled value as an mpf for ``args[i]``.
    """
    out = np.rint(approx).astype(np.int64)
    frac = approx - np.floor(approx)
    near = np.nonzero(np.abs(frac - 0.5) < TIE_GUARD)[0]
    for i in near:
        with mpmath.workprec(MP_PREC):
            v = exact_mp(args[i])
            out[i] = int(mpmath.nint(v))
            if abs(v - mpmath.nint(v)) == mpmath.mpf("0.5"):   # pragma: no cover - cannot occur
                raise ArithmeticError(f"exact tie at {args[i]}")
    return out


def _gauss_codes(kind: str, z: np.ndarray, frac_bits: int, extra_bits: int = 0) -> np.ndarray:
    """Correctly rounded ``f(z) * 2**extra_bits`` in log LSBs, ``f`` = sb or db."""
    approx = sb_exact(z, frac_bits) if kind == "sb" else db_exact(z, frac_bits)
    return _correctly_rounded(approx * 2.0 ** extra_bits,
                              lambda zi: gauss_exact_mp(kind, frac_bits, zi) * 2 ** extra_bits,
                              z)


def rom_bits(values) -> int:
    """Bits of a ROM holding ``values``: entries times the width the widest one needs
    (two's complement if any is negative).  The one rule every size report uses."""
    values = np.asarray(values)
    return int(values.size) * _signed_width(values) if values.size else 0


def _signed_width(values: np.ndarray) -> int:
    """Bits to hold every value: unsigned if none is negative, two's complement otherwise."""
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0:
        return max(1, hi.bit_length())
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


@dataclass(frozen=True, eq=False)
class GaussTable:
    """One Gaussian-logarithm function held as the hardware holds it.

    Attributes
    ----------
    kind : "sb" or "db"
    frac_bits : int
    method : "direct" or "interp"
    near : np.ndarray
        Direct entries for ``z < len(near)`` (for ``direct``, the whole table).  For ``db``,
        entry 0 is unused (``a - a`` is exactly zero) and holds 0.
    nodes : np.ndarray
        Interpolation nodes, ``nodes[j] ~ f(len(near) + j * 2**seg_bits) * 2**(F + guard)``;
        empty for ``direct``.  The last node is where the function has rounded to 0.
    seg_bits, guard : int
        ``log2`` of the node spacing and the extra bits of each node.
    end : int
        ``f(z)`` is 0 for every ``z >= end``.
    """

    kind: str
    frac_bits: int
    method: str
    near: np.ndarray
    nodes: np.ndarray
    seg_bits: int
    guard: int
    end: int

    @property
    def near_width(self) -> int:
        return _signed_width(self.near) if len(self.near) else 0

    @property
    def node_width(self) -> int:
        return _signed_width(self.nodes) if len(self.nodes) else 0

    @property
    def bits(self) -> int:
        """ROM bits: entries times the width each needs."""
        return rom_bits(self.near) + rom_bits(self.nodes)

    def lookup_ref(self, z: int) -> int:
        """The table's value at distance ``z >= 0`` (scalar reference)."""
        if z >= self.end:
            return 0
        if z < len(self.near):
            return int(self.near[z])
        j, lo = divmod(z - len(self.near), 1 << self.seg_bits)
        t0, t1 = int(self.nodes[j]), int(self.nodes[j + 1])
        return round_shift_rne_ref((t0 << self.seg_bits) + (t1 - t0) * lo,
                                   self.seg_bits + self.guard)

    def lookup_all(self) -> np.ndarray:
        """The value at every ``z`` in ``[0, end)``, vectorised (same integer rule)."""
        z = np.arange(self.end, dtype=np.int64)
        out = np.zeros(self.end, dtype=np.int64)
        n = len(self.near)
        out[:n] = self.near[:self.end]
        if self.end > n:
            zi = z[n:] - n
            j, lo = zi >> self.seg_bits, zi & ((1 << self.seg_bits) - 1)
            t0, t1 = self.nodes[j], self.nodes[j + 1]
            out[n:] = round_shift_rne_array((t0 << self.seg_bits) + (t1 - t0) * lo,
                                            self.seg_bits + self.guard)
        return out


def _exact_values(kind: str, frac_bits: int, n: int) -> np.ndarray:
    z = np.arange(n, dtype=np.int64)
    if kind == "sb":
        return sb_exact(z, frac_bits)
    v = db_exact(z, frac_bits)
    v[0] = 0.0
    return v


@lru_cache(maxsize=None)
def _direct(kind: str, frac_bits: int) -> np.ndarray:
    # Both functions fall below half an LSB before z = (F + 3) * 2**F.
    n = (frac_bits + 3) << frac_bits
    z = np.arange(n, dtype=np.int64)
    if kind == "sb":
        codes = _gauss_codes(kind, z, frac_bits)
    else:
        codes = np.zeros(n, dtype=np.int64)
        codes[1:] = _gauss_codes(kind, z[1:], frac_bits)
    nonzero = np.nonzero(codes)[0]
    end = int(nonzero[-1]) + 1
    assert np.all(codes[end:] == 0)
    return codes[:end]


def _build_interp(kind: str, frac_bits: int, seg_bits: int, guard: int, near_len: int,
                  end: int) -> GaussTable:
    direct = _direct(kind, frac_bits)
    near = direct[:near_len].copy()
    count = -(-(end - near_len) // (1 << seg_bits)) + 1      # ceil, plus the closing node
    z = near_len + (np.arange(count, dtype=np.int64) << seg_bits)
    nodes = _gauss_codes(kind, z, frac_bits, guard)
    return GaussTable(kind, frac_bits, TableMethod.INTERP, near, nodes, seg_bits, guard, end)


@lru_cache(maxsize=None)
def gauss_table(kind: str, frac_bits: int,
                method: TableMethod = TableMethod.DIRECT) -> GaussTable:
    """The ``sb`` or ``db`` table of ``frac_bits`` fractional bits, by ``method``."""
    if kind not in ("sb", "db"):
        raise InvalidValue(f"kind must be 'sb' or 'db', not {kind!r}")
    if method not in tuple(TableMethod):
        raise InvalidValue(f"method must be 'direct' or 'interp', not {method!r}")
    direct = _direct(kind, frac_bits)
    end = len(direct)
    if method == TableMethod.DIRECT:
        direct.setflags(write=False)
        return GaussTable(kind, frac_bits, TableMethod.DIRECT, direct, np.zeros(0, np.int64),
                          0, 0, end)

    exact = _exact_values(kind, frac_bits, end)
    best = None
    for guard in (2, 3, 4, 5):
        for seg_bits in range(1, frac_bits + 2):
            for near_len in sorted({0, 1 << seg_bits, 1 << max(frac_bits - 1, 0),
                                    1 << frac_bits, 2 << frac_bits}):
                if kind == "db" and near_len == 0:
                    near_len = 1          # entry 0 of db is never read
                if near_len >= end or (best and near_len * 8 > best.bits):
                    continue
                cand = _build_interp(kind, frac_bits, seg_bits, guard, near_len, end)
                if best is not None and cand.bits >= best.bits:
                    continue
                err = np.abs(cand.lookup_all()[1:] - exact[1:]) if kind == "db" else \
                    np.abs(cand.lookup_all() - exact)
                # Faithful with a margin far above float64's error on ``exact``.
                if err.max() < 1 - 1e-6:
                    best = cand
    assert best is not None          # seg_bits = 0 territory is never needed: near covers all
    best.near.setflags(write=False)
    best.nodes.setflags(write=False)
    return best


@lru_cache(maxsize=None)
def exp2_table(index_bits: int, value_bits: int) -> np.ndarray:
    """``P[r] = RNE(2**(r / 2**index_bits) * 2**value_bits)`` for ``r < 2**index_bits``.

    The log-to-linear converter: ``2**(q + r / 2**index_bits)`` is ``P[r]`` shifted by ``q``.
    Entries lie in ``[2**value_bits, 2**(value_bits + 1)]``: the last can round up to the top
    when ``index_bits`` is large against ``value_bits``, so a ROM needs ``value_bits + 2``
    bits in that case (the RTL takes its width from the entries).
    """
    r = np.arange(1 << index_bits, dtype=np.int64)
    approx = np.exp2(r / 2.0 ** index_bits) * 2.0 ** value_bits
    out = _correctly_rounded(approx, lambda ri: exp2_exact_mp(index_bits, value_bits, ri), r)
    out.setflags(write=False)
    return out


def exp2_exact_mp(index_bits: int, value_bits: int, r: int) -> mpmath.mpf:
    """``2**(r / 2**index_bits + value_bits)`` with mpmath at `MP_PREC` bits: the oracle of
    `exp2_table` (its near-tie decisions and the precision sweep)."""
    with mpmath.workprec(MP_PREC):
        return mpmath.power(2, mpmath.mpf(int(r)) / 2 ** index_bits + value_bits)


def log2_constant_code(value: float, frac_bits: int) -> int:
    """``RNE(log2(value) * 2**frac_bits)``, correctly rounded (mpmath): how every constant
    (log2 of beta, of 1 - beta, of g_bound, of a bias correction) enters the datapath."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise InvalidValue(f"a log constant needs a finite positive value, not {value!r}")
    return _log2_code(mpmath.mpf(value), frac_bits)


@lru_cache(maxsize=4096)
def bias_correction_code(beta: float, frac_bits: int, t: int) -> int:
    """``X_bc = RNE(log2(1 - beta**t) * 2**frac_bits)``, correctly rounded, for ``t >= 1``.

    ``1 - beta**t`` is formed in mpmath, not float64 (where it cancels for small ``t``).
    Cached: the scalar reference asks once per element, and a run asks once per step."""
    with mpmath.workprec(MP_PREC):
        return _log2_code(1 - mpmath.mpf(beta) ** t, frac_bits)


def _log2_code(value: mpmath.mpf, frac_bits: int) -> int:
    """``nint(log2(value) * 2**frac_bits)`` at `MP_PREC` bits: the rounding of every log
    constant."""
    with mpmath.workprec(MP_PREC):
        return int(mpmath.nint(mpmath.log(value, 2) * 2 ** frac_bits))


def _float_ceil_of(v: mpmath.mpf) -> float:
    """The smallest float64 >= v (v is never a float64 here, so: > v)."""
    f = float(v)
    if mpmath.mpf(f) < v:
        f = math.nextafter(f, math.inf)
    return f


@lru_cache(maxsize=None)
def encode_boundaries(frac_bits: int) -> np.ndarray:
    """``B[j]``: the smallest float64 above the rounding boundary ``2**((2j+1) / 2**(F+1))``
    between log fractions ``j`` and ``j + 1``, for ``j < 2**F``.

    A mantissa ``m`` in [1, 2) rounds to fraction ``#{j : m >= B[j]}``, correctly, because
    a boundary is irrational and so never a float64 itself.
    """
    with mpmath.workprec(MP_PREC):
        out = np.array([_float_ceil_of(mpmath.power(2, mpmath.mpf(2 * j + 1) / 2 ** (frac_bits + 1)))
                        for j in range(1 << frac_bits)], dtype=np.float64)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=None)
def decode_fractions(frac_bits: int) -> np.ndarray:
    """``D[j] = RN(2**(j / 2**F))`` as float64, correctly rounded, for ``j < 2**F``."""
    with mpmath.workprec(MP_PREC):
        out = np.array([float(mpmath.power(2, mpmath.mpf(j) / 2 ** frac_bits))
                        for j in range(1 << frac_bits)], dtype=np.float64)
    out.setflags(write=False)
    return out
