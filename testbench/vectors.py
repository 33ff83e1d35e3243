"""Test vectors of any rule's update unit: one `VectorSet` by role, the one hex line format,
and in-memory sets (`generate`, `exhaustive`) made from the rule's recipe
(`testbench.recipes`).

A `VectorSet` is a stream of update cases in the order the hardware takes them, with the
model's expected outputs.  Each case holds the step ``t``, the rule's tensor-held values
(the recipe's ``TENSOR_HELD``: Madam's ``clip``; none for the other rules), the input words
by role (``cfg.WORD_ROLES``: ``w, g, v`` for Madam, ``w, g, m[, v]`` for the others) and
the expected output words by role (``cfg.output_roles``).  The held ports of a case are
``cfg.held(t, **tensor values)``; the expectations ``cfg.update`` with the reference
evaluator.

Groups
------
The hardware holds its held inputs (``x_bc``/``clip``, ``x_bc1``/``x_bc2``, ``k1``/``k2``)
constant over a step, so cases come in *groups*: runs of consecutive cases with the same
``t`` and tensor-held values.  Every driver (the Verilog vector testbench, the Verilator
harness, cocotb, Amaranth) drains the pipeline before it changes the held ports and only
then sends the next group.  Each group's length is a multiple of ``lanes``, so a beat never
straddles two groups.

Stochastic rounding
-------------------
Expected outputs come from the model run over the whole stream in order, with one LFSR
state a lane (`lns.lane_seeds`), exactly as the hardware's lanes advance: element ``i``
of a group belongs to lane ``i % lanes``.

Line format (one case a line, fixed-width lower-case hex, single spaces)::

    # lnsmadam-vectors 1
    # config {..."optimizer": "madam", ... cfg.to_dict() as one line of JSON...}
    # lanes 1
    # lfsr 1a2b3c4d ...        (starting state of every lane, or "none")
    # seed 1
    # fields t clip w g v w_out v_out
    00000001 7ff 1a3 0f2 0c351 1a4 0c361

The fields are ``t``, the tensor-held values, the input words by role, then the expected
outputs by role (``<role>_out``): Madam's line is ``t clip w g v w_out v_out``, Adam's ``t
w g m v w_out m_out v_out``.  ``t`` has 8 hex digits; a word ``ceil(bits / 4)`` digits of
its format's total bits; a tensor-held value the digits of its largest value
(``cfg.held_range``; Madam's clip: the weight's log bits).  The same seed gives the same
file, byte for byte.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numba import njit

from lns.errors import InvalidValue
from lns.lfsr import lfsr_advance

from .recipes import Group, recipe_of

__all__ = ["VectorSet", "generate", "exhaustive", "expected_outputs", "read", "parse",
           "group_bounds", "compose", "config_dict", "word_dtype", "tensor_held",
           "NoExhaustiveSet", "HEX_T_DIGITS", "hex_columns"]

HEX_T_DIGITS = 8
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


class NoExhaustiveSet(InvalidValue):
    """The rule's recipe offers no exhaustive vector set."""


def _digits(bits: int) -> int:
    return max(1, (bits + 3) // 4)


def word_dtype(bits: int):
    """The narrowest unsigned numpy type of a ``bits``-bit word."""
    return np.uint16 if bits <= 16 else np.uint32 if bits <= 32 else np.uint64


def config_dict(cfg) -> dict:
    """``cfg.to_dict()`` with its ``"optimizer"`` (what a header and a saved case carry)."""
    return {"optimizer": str(cfg.optimizer), **cfg.to_dict()}


def tensor_held(cfg) -> tuple:
    """The names of ``cfg``'s tensor-held values (its recipe's ``TENSOR_HELD``)."""
    return tuple(recipe_of(cfg).TENSOR_HELD)


@dataclass
class VectorSet:
    """Cases in stream order with their expected outputs (int64 arrays of one length).

    ``words`` are the inputs by role (``cfg.WORD_ROLES`` order), ``expected`` the outputs
    by role (``cfg.output_roles``), ``tensor`` the tensor-held columns by name.  A role's
    column is also an attribute (``vs.w``, ``vs.exp_w``, ``vs.clip``)."""

    cfg: object
    lanes: int
    t: np.ndarray
    tensor: dict
    words: dict
    expected: dict
    lfsr_seed: np.ndarray | None = None
    seed: int | None = None

    def __getattr__(self, name):
        d = self.__dict__
        if name.startswith("exp_") and name[4:] in d.get("expected", {}):
            return d["expected"][name[4:]]
        for key in ("words", "tensor"):
            if name in d.get(key, {}):
                return d[key][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def stochastic(self) -> bool:
        return self.cfg.is_stochastic

    @property
    def in_roles(self) -> tuple:
        return tuple(self.cfg.WORD_ROLES)

    @property
    def out_roles(self) -> tuple:
        return tuple(self.cfg.output_roles)

    def groups(self):
        """``[(start, stop, Group), ...]``: the runs of constant ``t`` and tensor-held
        values."""
        names = list(self.tensor)
        return [(a, b, Group(int(self.t[a]), tuple((k, int(self.tensor[k][a]))
                                                   for k in names)))
                for a, b in group_bounds(self.t, *self.tensor.values())]

    def held_columns(self) -> dict:
        """``{port: int64 array}``: the held ports of every case (``cfg.held`` once a
        group)."""
        n = len(self)
        out = {p: np.empty(n, dtype=np.int64) for p in self.cfg.HELD}
        for a, b, grp in self.groups():
            for p, value in grp.held(self.cfg).items():
                out[p][a:b] = value
        return out

    def held_at(self, i: int) -> dict:
        """The held ports of case ``i``."""
        return self.cfg.held(int(self.t[i]), **{k: int(c[i]) for k, c in self.tensor.items()})

    def subset(self, index) -> "VectorSet":
        """Cases ``index`` as a new set (their expectations kept as computed in the full
        stream; LFSR state is not carried: use only for non-stochastic configs or lanes of
        one whole prefix)."""
        return VectorSet(self.cfg, self.lanes, self.t[index],
                         {k: a[index] for k, a in self.tensor.items()},
                         {k: a[index] for k, a in self.words.items()},
                         {k: a[index] for k, a in self.expected.items()},
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
    @property
    def fields(self) -> tuple:
        """The line's field names: ``t``, the tensor-held values, the inputs, the outputs
        (``<role>_out``)."""
        return ("t", *self.tensor, *self.in_roles, *(f"{k}_out" for k in self.out_roles))

    def field_digits(self):
        c, fmts = self.cfg, self.cfg.word_formats
        return (HEX_T_DIGITS,
                *(_digits(int(c.held_range(k)[1]).bit_length()) for k in self.tensor),
                *(_digits(fmts[k].total_bits) for k in self.in_roles),
                *(_digits(fmts[k].total_bits) for k in self.out_roles))

    def columns(self) -> list:
        return [self.t, *self.tensor.values(), *(self.words[k] for k in self.in_roles),
                *(self.expected[k] for k in self.out_roles)]

    def header(self) -> str:
        lfsr = " ".join(f"{int(s):08x}" for s in self.lfsr_seed) if self.stochastic else "none"
        lines = ["# lnsmadam-vectors 1",
                 "# config " + json.dumps(config_dict(self.cfg), sort_keys=True),
                 f"# lanes {self.lanes}", f"# lfsr {lfsr}"]
        if self.seed is not None:
            lines.append(f"# seed {self.seed}")
        lines.append("# fields " + " ".join(self.fields))
        return "\n".join(lines) + "\n"

    def lines(self) -> bytes:
        """The data lines (no header) as bytes."""
        return hex_columns(self.columns(), self.field_digits(), sep=b" ")

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
        col = np.asarray(col).astype(np.int64)
        shifts = np.arange(d - 1, -1, -1, dtype=np.int64) * 4
        nib = (col[:, None] >> shifts[None, :]) & 0xF
        parts.append(_HEX[nib])
        if sep and k < len(cols) - 1:
            parts.append(np.full((n, len(sep)), sep[0], dtype=np.uint8))
    parts.append(np.full((n, 1), ord("\n"), dtype=np.uint8))
    return np.concatenate(parts, axis=1).tobytes()


def group_bounds(t, *columns):
    """Start/stop of each run of equal ``t`` (and equal values of every other column)."""
    t = np.asarray(t)
    if t.size == 0:
        return []
    change = t[1:] != t[:-1]
    for c in columns:
        c = np.asarray(c)
        change = change | (c[1:] != c[:-1])
    change = np.flatnonzero(change) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [t.size]])
    return list(zip(starts.tolist(), stops.tolist()))


# ---- the model's expectations -----------------------------------------------------------
def expected_outputs(cfg, t, tensor: dict, words: dict, *, lanes: int = 1, lfsr_seed=None,
                     evaluator: str | None = None) -> dict:
    """The model (``cfg.update``, ``evaluator`` default the reference one) over the stream
    in order: ``{role: int64 array}`` of ``cfg.output_roles``.  For stochastic rounding
    the lanes' states start at ``lfsr_seed`` and run through every group (group lengths
    must then be multiples of ``lanes``)."""
    t = np.asarray(t)
    n = int(t.shape[0])
    out = {k: np.empty(n, dtype=np.int64) for k in cfg.output_roles}
    state = None
    if cfg.is_stochastic:
        state = np.array(lfsr_seed, dtype=np.int64).copy()
        if state.shape != (lanes,):
            raise ValueError(f"lfsr_seed must hold {lanes} lane states, not {state.shape}")
    names = list(tensor)
    for a, b in group_bounds(t, *tensor.values()):
        if state is not None and (b - a) % lanes:
            raise ValueError(f"group lengths must be multiples of lanes={lanes}, not {b - a}")
        held = cfg.held(int(t[a]), **{k: int(tensor[k][a]) for k in names})
        res = cfg.update({k: np.asarray(words[k][a:b]) for k in cfg.WORD_ROLES}, int(t[a]),
                         held, lfsr_state=state, evaluator=evaluator)
        for k in out:
            out[k][a:b] = res[k]
    return out


# ---- generation -------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _edges(cfg, group) -> dict:
    e = recipe_of(cfg).edges(cfg, group)
    for a in e.values():
        a.setflags(write=False)
    return e


def compose(cfg, group, rng, n: int, seed: int, *, edges: bool = True) -> dict:
    """``n`` input words by role for ``group``, shuffled: a seeded sample of the recipe's
    edge table (at most 2/5 of them; ``edges=False``: none), its specials, and random
    words for the rest (the one way a block or a group of any rule is made)."""
    recipe = recipe_of(cfg)
    roles = tuple(cfg.WORD_ROLES)
    parts = []
    if edges:
        e = _edges(cfg, group)
        m = len(e[roles[0]])
        k = min(m, (2 * n) // 5)
        if k < m:
            pick = rng.permutation(m)[:k]
            parts.append({r: e[r][pick] for r in roles})
        else:
            parts.append(e)
    parts.append(recipe.specials(cfg, group, rng, n, seed))
    have = sum(len(p[roles[0]]) for p in parts)
    parts.append(recipe.randoms(cfg, group, rng, max(0, n - have)))
    perm = rng.permutation(n)
    return {r: np.concatenate([p[r] for p in parts])[:n].astype(np.int64)[perm]
            for r in roles}


def _round_up(n, k):
    return -(-n // k) * k


def _check_positive(name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise InvalidValue(f"{name} must be a positive int, not {value!r}")


def generate(cfg, n: int, seed: int = 1, *, lanes: int = 1) -> VectorSet:
    """About ``n`` cases (rounded up so each group is a multiple of ``lanes``) of any rule,
    from its recipe: groups of about 512 cases (the recipe's first group, then a seeded
    choice of the others), each holding a sample of the group's edge table, the recipe's
    specials and random words.  The same ``(cfg, n, seed, lanes)`` gives the same set."""
    _check_positive("n", n)
    _check_positive("lanes", lanes)
    recipe = recipe_of(cfg)
    rng = np.random.default_rng([int(seed), 0x4C4E53])
    combos = list(recipe.groups(cfg, seed))
    n_groups = max(1, min(len(combos), n // 512))
    first, rest = combos[0], combos[1:]
    order = rng.permutation(len(rest))
    chosen = [first] + [rest[i] for i in order[:n_groups - 1]]
    sizes = [_round_up(max(n // n_groups, 1), lanes)] * n_groups
    sizes[-1] = _round_up(max(n - sum(sizes[:-1]), 1), lanes)
    parts = [(grp, compose(cfg, grp, rng, size, int(seed) + grp.t))
             for grp, size in zip(chosen, sizes)]
    return _finish(cfg, lanes, parts, seed)


def exhaustive(cfg, *, lanes: int = 1, seed: int = 1) -> VectorSet:
    """Every input word combination, for the groups the recipe picks (its ``exhaustive``;
    `NoExhaustiveSet` when it offers none, `lns.errors.InvalidValue` when the formats are
    too wide).  Each group is padded to whole beats by repeating its first cases."""
    _check_positive("lanes", lanes)
    parts = recipe_of(cfg).exhaustive(cfg, seed)
    if parts is None:
        raise NoExhaustiveSet(f"{cfg.name} has no exhaustive vector set (the "
                              f"{cfg.optimizer} recipe offers none)")
    padded = []
    for grp, words in parts:
        m = len(next(iter(words.values())))
        pad = _round_up(m, lanes) - m
        padded.append((grp, {k: np.concatenate([a, a[:pad]]) if pad else a
                             for k, a in words.items()}))
    return _finish(cfg, lanes, padded, seed)


def _finish(cfg, lanes, parts, seed) -> VectorSet:
    """A `VectorSet` of ``[(Group, words), ...]`` in order, with the model's outputs."""
    names = tensor_held(cfg)
    sizes = [len(next(iter(w.values()))) for _, w in parts]
    t = np.concatenate([np.full(s, g.t, dtype=np.int64) for (g, _), s in zip(parts, sizes)])
    tensor = {k: np.concatenate([np.full(s, g.kw[k], dtype=np.int64)
                                 for (g, _), s in zip(parts, sizes)]) for k in names}
    words = {k: np.concatenate([w[k] for _, w in parts]).astype(np.int64)
             for k in cfg.WORD_ROLES}
    from lns import lane_seeds
    lfsr_seed = np.array(lane_seeds(int(seed), lanes), dtype=np.int64) \
        if cfg.is_stochastic else None
    expected = expected_outputs(cfg, t, tensor, words, lanes=lanes, lfsr_seed=lfsr_seed)
    return VectorSet(cfg, lanes, t, tensor, words, expected, lfsr_seed=lfsr_seed, seed=seed)


# ---- reading ----------------------------------------------------------------------------
def parse(text: str | bytes) -> VectorSet:
    """A vector file's text back into a `VectorSet` (the header carries the config and the
    fields)."""
    from lns.optimizers import config_from_dict
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
    cfg = config_from_dict(json.loads(head["config"]))
    lanes = int(head.get("lanes", "1"))
    lfsr = head.get("lfsr", "none")
    lfsr_seed = None if lfsr == "none" else np.array([int(x, 16) for x in lfsr.split()],
                                                      dtype=np.int64)
    seed = int(head["seed"]) if "seed" in head else None
    names = tensor_held(cfg)
    ins, outs = tuple(cfg.WORD_ROLES), tuple(cfg.output_roles)
    fields = ("t", *names, *ins, *(f"{k}_out" for k in outs))
    if "fields" in head and tuple(head["fields"].split()) != fields:
        raise InvalidValue(f"vector fields must be {' '.join(fields)} for {cfg.name}, not "
                           f"{head['fields']}")
    if body:
        rows = np.array([[int(x, 16) for x in line.split()] for line in body], dtype=np.int64)
        if rows.shape[1] != len(fields):
            raise InvalidValue(f"vector lines must have {len(fields)} fields, not "
                               f"{rows.shape[1]}")
    else:
        rows = np.zeros((0, len(fields)), dtype=np.int64)
    col = {name: rows[:, k].copy() for k, name in enumerate(fields)}
    return VectorSet(cfg, lanes, col["t"], {k: col[k] for k in names},
                     {k: col[k] for k in ins}, {k: col[f"{k}_out"] for k in outs},
                     lfsr_seed=lfsr_seed, seed=seed)


def read(path) -> VectorSet:
    return parse(Path(path).read_text())
