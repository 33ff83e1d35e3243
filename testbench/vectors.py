"""Test vectors of the update unit: edge tables, seeded random cases, exhaustive sets.

A `VectorSet` is a stream of update cases in the order the hardware takes them, with the
model's expected outputs.  Each case holds the step ``t``, the clip word, the input words
``w, g, v`` and the expected ``w', v'``.

Step and clip per group
-----------------------
The hardware holds ``x_bc`` (from ``t``) and ``clip`` constant over a step, so cases come
in *groups*: runs of consecutive cases with the same ``(t, clip)``.  Every driver (the
Verilog vector testbench, cocotb, Amaranth) drains the pipeline before it changes
``x_bc``/``clip`` and only then sends the next group.  Each group's length is a multiple
of ``lanes``, so a beat never straddles two groups.

Stochastic rounding
-------------------
Expected outputs come from the model run over the whole stream in order, with one LFSR
state a lane (`lns.lane_seeds`), exactly as the hardware's lanes advance: element ``i``
uses lane ``i % lanes``.  The starting states (``lfsr_seed``) are part of the set.

Line format (one case a line, fixed-width lower-case hex, single spaces)::

    # lnsmadam-vectors 1
    # config {...MadamConfig.to_dict() as one line of JSON...}
    # lanes 1
    # lfsr 1a2b3c4d ...        (starting state of every lane, or "none")
    # fields t clip w g v w_out v_out
    00000001 7ff 1a3 0f2 0c351 1a4 0c361

``t`` has 8 hex digits; every other field ``ceil(bits / 4)`` digits of its format's total
bits (clip: the weight's log bits).  The same seed gives the same file, byte for byte.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

import lns
from lns import MadamConfig
from lns.codec import split
from lns.errors import InvalidValue
from lns.lfsr import lfsr_advance
from lns.rounding import round_shift_rne_array

__all__ = ["VectorSet", "generate", "exhaustive", "expected_outputs", "tie_flags",
           "read", "parse", "group_bounds", "HEX_T_DIGITS"]

HEX_T_DIGITS = 8
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Steps of the groups: t = 1 makes |g_hat| = 1 for v = 0; large t makes X_bc = 0.
_STEPS = (1, 2, 3, 10, 100, 1000, 1_000_000)


def _digits(bits: int) -> int:
    return max(1, (bits + 3) // 4)


@dataclass
class VectorSet:
    """Cases in stream order with their expected outputs (all int64 arrays of one length)."""

    cfg: MadamConfig
    lanes: int
    t: np.ndarray
    clip: np.ndarray
    w: np.ndarray
    g: np.ndarray
    v: np.ndarray
    exp_w: np.ndarray
    exp_v: np.ndarray
    lfsr_seed: np.ndarray | None = None
    seed: int | None = None

    def __len__(self) -> int:
        return int(self.w.shape[0])

    @property
    def stochastic(self) -> bool:
        return self.cfg.is_stochastic

    def groups(self):
        """``[(start, stop, t, clip), ...]``: the runs of constant ``(t, clip)``."""
        return [(a, b, int(self.t[a]), int(self.clip[a]))
                for a, b in group_bounds(self.t, self.clip)]

    def x_bc(self) -> np.ndarray:
        """``cfg.bias_correction_code(t)`` of every case (computed once per distinct t)."""
        out = np.empty_like(self.t)
        for tv in np.unique(self.t):
            out[self.t == tv] = self.cfg.bias_correction_code(int(tv))
        return out

    def subset(self, index) -> "VectorSet":
        """Cases ``index`` as a new set (their expectations kept as computed in the full
        stream; LFSR state is not carried: use only for non-stochastic configs or lanes of
        one whole prefix)."""
        return VectorSet(self.cfg, self.lanes, *(a[index] for a in (
            self.t, self.clip, self.w, self.g, self.v, self.exp_w, self.exp_v)),
            lfsr_seed=self.lfsr_seed, seed=self.seed)

    def lfsr_states_before(self, i: int) -> int | None:
        """The LFSR state of case ``i``'s lane just before the case (for a one-case replay)."""
        if not self.stochastic:
            return None
        return int(self.lane_states_at(i - i % self.lanes)[i % self.lanes])

    def lane_states_at(self, start: int) -> np.ndarray | None:
        """Every lane's LFSR state before case ``start`` (a multiple of ``lanes``)."""
        if not self.stochastic:
            return None
        if start % self.lanes:
            raise ValueError(f"start must be a multiple of lanes={self.lanes}, not {start}")
        return np.array([_advance(int(s), start // self.lanes) for s in self.lfsr_seed],
                        dtype=np.int64)

    # ---- text -------------------------------------------------------------------------
    def header(self) -> str:
        lfsr = " ".join(f"{int(s):08x}" for s in self.lfsr_seed) if self.stochastic else "none"
        lines = ["# lnsmadam-vectors 1",
                 "# config " + json.dumps(self.cfg.to_dict(), sort_keys=True),
                 f"# lanes {self.lanes}", f"# lfsr {lfsr}"]
        if self.seed is not None:
            lines.append(f"# seed {self.seed}")
        lines.append("# fields t clip w g v w_out v_out")
        return "\n".join(lines) + "\n"

    def field_digits(self):
        c = self.cfg
        return (HEX_T_DIGITS, _digits(c.weight.log_bits), _digits(c.weight.total_bits),
                _digits(c.grad.total_bits), _digits(c.moment.total_bits),
                _digits(c.weight.total_bits), _digits(c.moment.total_bits))

    def lines(self) -> bytes:
        """The data lines (no header) as bytes."""
        cols = (self.t, self.clip, self.w, self.g, self.v, self.exp_w, self.exp_v)
        return hex_columns(cols, self.field_digits(), sep=b" ")

    def to_text(self) -> str:
        return self.header() + self.lines().decode()

    def write(self, path) -> Path:
        path = Path(path)
        with open(path, "wb") as f:
            f.write(self.header().encode())
            f.write(self.lines())
        return path


@njit(cache=True)
def _advance(state, count):
    for _ in range(count):
        state = lfsr_advance(state)
    return state


def hex_columns(cols, digits, sep: bytes = b" ") -> bytes:
    """Integer columns as fixed-width lower-case hex lines (vectorised; negative values are
    written in two's complement of the field's width)."""
    n = int(np.asarray(cols[0]).shape[0])
    parts = []
    for k, (col, d) in enumerate(zip(cols, digits)):
        col = np.asarray(col, dtype=np.int64)
        shifts = np.arange(d - 1, -1, -1, dtype=np.int64) * 4
        nib = (col[:, None] >> shifts[None, :]) & 0xF
        parts.append(_HEX[nib])
        if sep and k < len(cols) - 1:
            parts.append(np.full((n, len(sep)), sep[0], dtype=np.uint8))
    parts.append(np.full((n, 1), ord("\n"), dtype=np.uint8))
    return np.concatenate(parts, axis=1).tobytes()


def group_bounds(t, clip):
    """Start/stop of each run of equal ``(t, clip)``."""
    t, clip = np.asarray(t), np.asarray(clip)
    if t.size == 0:
        return []
    change = np.flatnonzero((t[1:] != t[:-1]) | (clip[1:] != clip[:-1])) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [t.size]])
    return list(zip(starts.tolist(), stops.tolist()))


# ---- the model's expectations -----------------------------------------------------------
def expected_outputs(cfg, t, clip, w, g, v, *, lanes=1, lfsr_seed=None, evaluator="numba"):
    """The model over the stream in order: ``(w', v')``.  For stochastic rounding the lanes'
    states start at ``lfsr_seed`` and run through every group (group lengths must then be
    multiples of ``lanes``)."""
    out_w = np.empty(len(w), dtype=np.int64)
    out_v = np.empty(len(w), dtype=np.int64)
    state = None
    if cfg.is_stochastic:
        state = np.array(lfsr_seed, dtype=np.int64).copy()
        if state.shape != (lanes,):
            raise ValueError(f"lfsr_seed must hold {lanes} lane states, not {state.shape}")
    for a, b in group_bounds(t, clip):
        if state is not None and (b - a) % lanes:
            raise ValueError(f"group lengths must be multiples of lanes={lanes}, not {b - a}")
        out_w[a:b], out_v[a:b] = lns.madam_update(
            cfg, w[a:b], g[a:b], v[a:b], int(t[a]), clip=int(clip[a]), lfsr_state=state,
            evaluator=evaluator)
    return out_w, out_v


def tie_flags(cfg, t, w, g, v_new):
    """Which cases hit an exact tie of a rounding, from the model's ``v'``.

    Returns ``(norm_tie, step_tie, bound)``: a tie in the rounding of ``log2|g_hat|``, a tie
    in the rounding of the step (nearest-even only), ``|g_hat|`` clamped at ``g_bound``.
    """
    p = cfg.params
    _, xw, zw = split(cfg.weight, w)
    _, xg, zg = split(cfg.grad, g)
    active = ~zw & ~zg
    x_bc = np.array([cfg.bias_correction_code(int(x)) for x in np.unique(t)])
    xbc = x_bc[np.searchsorted(np.unique(t), t)]
    if p.rms:
        _, xv2, zv2 = split(cfg.moment, v_new)
        num = (xg << p.norm_g_shift) - ((xv2 - xbc) << p.norm_v_shift)
        nr = p.norm_round
        L = round_shift_rne_array(num, nr)
        if nr > 0:      # a tie: the bits shifted out are exactly one half
            norm_tie = active & ~zv2 & ((num & ((1 << nr) - 1)) == 1 << (nr - 1))
        else:
            norm_tie = np.zeros(len(w), dtype=bool)
        bound = active & (zv2 | (L >= p.l_bound))
        L = np.where(zv2, p.l_bound, np.minimum(L, p.l_bound))
    else:
        norm_tie = np.zeros(len(w), dtype=bool)
        bound = np.zeros(len(w), dtype=bool)
        L = np.zeros(len(w), dtype=np.int64)
    E = L + (p.eta_shift << p.step_frac_bits)
    q = E >> p.step_frac_bits
    P = np.asarray(cfg.exp_table, dtype=np.int64)[E & ((1 << p.step_frac_bits) - 1)]
    s = np.clip(p.exp_bits - q, 0, 62)
    one = np.ones_like(s)
    step_tie = active & (s > 0) & ((P & ((one << s) - 1)) == (one << np.maximum(s - 1, 0)))
    if p.stochastic:
        step_tie[:] = False
    return norm_tie, step_tie, bound


# ---- generation -------------------------------------------------------------------------
def _words(fmt, sign, e):
    return np.asarray(sign, dtype=np.int64) << fmt.log_bits | np.asarray(e, dtype=np.int64) \
        if fmt.signed else np.asarray(e, dtype=np.int64)


def _edge_w(cfg, clip):
    W = cfg.weight
    es = [W.e_min, W.e_min + 1, W.e_min + 2, (W.e_min + W.e_max) // 2, clip - 1, clip,
          clip + 1, W.e_max - 1, W.e_max, W.offset]
    es = sorted({e for e in es if W.e_min <= e <= W.e_max})
    words = [_words(W, s, e) for s in (0, 1) for e in es]
    if W.has_zero:
        words += [_words(W, 0, 0), _words(W, 1, 0)]     # zero, and zero with the sign bit
    return np.unique(np.array(words, dtype=np.int64))


def _edge_g(cfg):
    G = cfg.grad
    es = [G.e_min, G.e_min + 1, G.e_max - 1, G.e_max, G.offset - 1, G.offset, G.offset + 1,
          (G.e_min + G.e_max) // 2]
    es = sorted({e for e in es if G.e_min <= e <= G.e_max})
    words = [_words(G, s, e) for s in (0, 1) for e in es]
    words += [_words(G, 0, 0), _words(G, 1, 0)]
    return np.unique(np.array(words, dtype=np.int64))


def _edge_v(cfg):
    V = cfg.moment
    es = [0, V.e_min, V.e_min + 1, V.e_max - 1, V.e_max, V.offset, (V.e_min + V.e_max) // 2]
    return np.unique(np.array([e for e in es if 0 <= e <= V.e_max], dtype=np.int64))


def _clips(cfg, rng):
    W = cfg.weight
    w0 = rng.normal(0.0, 0.05, 256)
    clips = [W.e_max, cfg.clip_code(w0), (W.e_min + W.e_max) // 2, W.e_min + 1]
    return [int(c) for c in dict.fromkeys(min(max(c, W.e_min), W.e_max) for c in clips)]


def _random_cases(cfg, rng, n, clip):
    """Uniform words mixed with 'realistic' cases: weights below the clip, second moments
    near the square of the gradient (the update's usual regime)."""
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    kind = rng.integers(0, 3, n)
    w = rng.integers(0, 1 << W.total_bits, n)
    g = rng.integers(0, 1 << G.total_bits, n)
    v = rng.integers(0, 1 << V.total_bits, n)
    real = kind > 0
    w_e = rng.integers(W.e_min, max(W.e_min, clip) + 1, n)
    w = np.where(real, _words(W, rng.integers(0, 2, n), w_e), w)
    _, xg, zg = split(G, g)
    xv = (2 * xg) << (V.frac_bits - G.frac_bits) if V.frac_bits >= G.frac_bits \
        else (2 * xg) >> (G.frac_bits - V.frac_bits)
    noise = rng.integers(-3 << V.frac_bits, (3 << V.frac_bits) + 1, n)
    v_real = np.clip(xv + noise + V.offset, V.e_min, V.e_max)
    v = np.where((kind == 2) & ~zg, v_real, v)
    return w.astype(np.int64), g.astype(np.int64), v.astype(np.int64)


def _table_sweep(cfg, rng, n, clip):
    """Cases whose second-moment terms are ``z`` apart for ``z`` uniform over the whole
    ``sb`` table and a little past its end, so every ROM entry and interpolation segment
    is read (rms only)."""
    V, G, p = cfg.moment, cfg.grad, cfg.params
    w, g, v = _random_cases(cfg, rng, n, clip)
    if not p.rms or n == 0:
        return w, g, v
    end = cfg.sb_table.end
    e_g = rng.integers(G.e_min, G.e_max + 1, n)
    g = _words(G, rng.integers(0, 2, n), e_g)
    b = ((e_g - G.offset) << p.g2_shift) + p.c_one_minus_beta
    z = rng.integers(0, end + 8, n)
    a = np.where(rng.integers(0, 2, n) == 1, b + z, b - z)
    e_v = a - p.c_beta + V.offset
    ok = (e_v >= V.e_min) & (e_v <= V.e_max)
    return w[ok], g[ok], e_v[ok].astype(np.int64)


def _pick_specials(cfg, rng, t, clip, quota, lanes_seed, pool=None):
    """Cases from a random pool (of ``pool`` cases, default ``max(4 * quota, 2048)``) that
    hit a tie of a rounding, the g_bound clamp, the floor or the clip (found by running the
    model on the pool)."""
    pool = max(4 * quota, 2048) if pool is None else int(pool)
    w, g, v = _random_cases(cfg, rng, pool, clip)
    state = lns.lane_seeds(lanes_seed, 1) if cfg.is_stochastic else None
    ow, ov = lns.madam_update(cfg, w, g, v, t, clip=clip, lfsr_state=state)
    norm_tie, step_tie, bound = tie_flags(cfg, np.full(pool, t), w, g, ov)
    _, xw, zw = split(cfg.weight, w)
    e_out = ow & ((1 << cfg.weight.log_bits) - 1)
    moved = ow != w
    floor = ~zw & moved & (e_out == cfg.weight.e_min)
    at_clip = ~zw & moved & (e_out == clip)
    chosen = []
    each = max(1, quota // 5)
    for flags in (norm_tie, step_tie, bound, floor, at_clip):
        idx = np.flatnonzero(flags)
        chosen.append(idx[:each])
    idx = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    idx = np.unique(idx)[:quota]
    return w[idx], g[idx], v[idx]


def _round_up(n, k):
    return -(-n // k) * k


def generate(cfg: MadamConfig, n: int, seed: int = 1, *, lanes: int = 1) -> VectorSet:
    """About ``n`` cases (rounded up so each group is a multiple of ``lanes``): edge tables
    crossed (zero with either sign, min, max, clip - 1..clip + 1, floor, magnitude one),
    ties of the roundings, a sweep over the ``sb`` table, the g_bound clamp, floor and clip hits picked from a seeded
    pool, and seeded random cases, over groups of ``(t, clip)`` with t in 1, 2, 3, 10,
    100, 1000, 10**6.  The same ``(cfg, n, seed, lanes)`` gives the same set."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise InvalidValue(f"n must be a positive int, not {n!r}")
    if not isinstance(lanes, (int, np.integer)) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    rng = np.random.default_rng([int(seed), 0x4C4E53])
    clips = _clips(cfg, rng)
    combos = [(t, clips[i % len(clips)]) for i, t in enumerate(_STEPS)]
    combos += [(t, c) for t in _STEPS for c in clips if (t, c) not in combos]
    n_groups = max(1, min(len(combos), n // 512))
    first, rest = combos[0], combos[1:]
    order = rng.permutation(len(rest))
    combos = [first] + [rest[i] for i in order[:n_groups - 1]]
    sizes = [_round_up(max(n // n_groups, 1), lanes)] * n_groups
    sizes[-1] = _round_up(max(n - sum(sizes[:-1]), 1), lanes)

    cols = {k: [] for k in ("t", "clip", "w", "g", "v")}
    for (t, clip), size in zip(combos, sizes):
        ew, eg, ev = _edge_w(cfg, clip), _edge_g(cfg), _edge_v(cfg)
        cross = np.stack(np.meshgrid(ew, eg, ev, indexing="ij"), axis=-1).reshape(-1, 3)
        n_edge = min(len(cross), (2 * size) // 5)
        cross = cross[rng.permutation(len(cross))[:n_edge]]
        sw, sg, sv = _pick_specials(cfg, rng, t, clip, size // 4, int(seed) + t)
        tw, tg, tv = _table_sweep(cfg, rng, size // 8, clip)
        sw, sg, sv = (np.concatenate(x) for x in ((sw, tw), (sg, tg), (sv, tv)))
        n_rand = size - n_edge - len(sw)
        rw, rg, rv = _random_cases(cfg, rng, n_rand, clip)
        w = np.concatenate([cross[:, 0], sw, rw])
        g = np.concatenate([cross[:, 1], sg, rg])
        v = np.concatenate([cross[:, 2], sv, rv])
        perm = rng.permutation(size)
        for k, arr in (("w", w), ("g", g), ("v", v)):
            cols[k].append(arr[perm])
        cols["t"].append(np.full(size, t, dtype=np.int64))
        cols["clip"].append(np.full(size, clip, dtype=np.int64))
    arrays = {k: np.concatenate(v).astype(np.int64) for k, v in cols.items()}
    return _finish(cfg, lanes, arrays, seed)


def exhaustive(cfg: MadamConfig, *, lanes: int = 1, seed: int = 1) -> VectorSet:
    """Every ``(w, g, v)`` word triple, for three steps/clips: ``(t=1, largest clip)``,
    ``(t=3, a middle clip)``, ``(t=10**6, clip of a random w0)``.  Meant for small formats
    (``tiny``: 64 x 32 x 64 = 131,072 cases a group)."""
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    count = (1 << W.total_bits) * (1 << G.total_bits) * (1 << V.total_bits)
    if count > 1 << 22:
        raise InvalidValue(f"exhaustive vectors need at most {1 << 22} (w, g, v) cases a step, "
                         f"not {count} for {cfg.name}")
    rng = np.random.default_rng([int(seed), 0x455848])
    clips = _clips(cfg, rng)
    combos = [(1, W.e_max), (3, clips[2 % len(clips)]), (1_000_000, clips[1 % len(clips)])]
    w, g, v = (a.ravel().astype(np.int64) for a in np.meshgrid(
        np.arange(1 << W.total_bits), np.arange(1 << G.total_bits),
        np.arange(1 << V.total_bits), indexing="ij"))
    pad = _round_up(count, lanes) - count
    if pad:
        w, g, v = (np.concatenate([a, a[:pad]]) for a in (w, g, v))
    m = len(w)
    arrays = {"t": np.repeat([c[0] for c in combos], m), "clip": np.repeat([c[1] for c in combos], m),
              "w": np.tile(w, 3), "g": np.tile(g, 3), "v": np.tile(v, 3)}
    return _finish(cfg, lanes, {k: np.asarray(a, dtype=np.int64) for k, a in arrays.items()}, seed)


def _finish(cfg, lanes, a, seed) -> VectorSet:
    lfsr_seed = lns.lane_seeds(int(seed), lanes) if cfg.is_stochastic else None
    exp_w, exp_v = expected_outputs(cfg, a["t"], a["clip"], a["w"], a["g"], a["v"],
                                    lanes=lanes, lfsr_seed=lfsr_seed)
    return VectorSet(cfg, lanes, a["t"], a["clip"], a["w"], a["g"], a["v"], exp_w, exp_v,
                     lfsr_seed=lfsr_seed, seed=seed)


# ---- reading ----------------------------------------------------------------------------
def parse(text: str | bytes) -> VectorSet:
    """A vector file's text back into a `VectorSet` (the header carries the config)."""
    if isinstance(text, bytes):
        text = text.decode()
    head, body = {}, []
    for line in io.StringIO(text):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, _, value = line[1:].strip().partition(" ")
            head[key] = value.strip()
        else:
            body.append(line)
    if "lnsmadam-vectors" not in head or "config" not in head:
        raise InvalidValue("vectors must start with the '# lnsmadam-vectors' header and a config")
    cfg = MadamConfig.from_dict(json.loads(head["config"]))
    lanes = int(head.get("lanes", "1"))
    lfsr = head.get("lfsr", "none")
    lfsr_seed = None if lfsr == "none" else np.array([int(x, 16) for x in lfsr.split()],
                                                      dtype=np.int64)
    seed = int(head["seed"]) if "seed" in head else None
    if body:
        rows = np.array([[int(x, 16) for x in line.split()] for line in body], dtype=np.int64)
        if rows.shape[1] != 7:
            raise InvalidValue(f"vector lines must have 7 fields, not {rows.shape[1]}")
    else:
        rows = np.zeros((0, 7), dtype=np.int64)
    return VectorSet(cfg, lanes, *(rows[:, k].copy() for k in range(7)),
                     lfsr_seed=lfsr_seed, seed=seed)


def read(path) -> VectorSet:
    return parse(Path(path).read_text())
