"""The testbench of the IEEE float Adam unit (`rtl.float_adam`): seeded vectors with edge
tables, evaluated on the numpy path of the reference (the expectation), the exact path
(``python``), Amaranth's simulator and the generated Verilog on Icarus and Verilator,
compared word for word by `testbench.additive.compare_groups` (who agrees with whom).

The HDL runs and the compare are `testbench.additive`'s (the same ``$readmemh`` testbench
with valid gaps and ready back-pressure; the held ports are ``k1``, ``k2``,
`testbench.additive.held_values`); what is particular to the float unit is here: its
vectors and its two reference paths.

Vectors come in groups, one step ``t`` a group (`T_VALUES`; the step's ``k1, k2`` are
``cfg.bias_correction_words(t)``).  A group mixes, at random positions:

* the edge table (`edge_words`): every word of `lns.ieee.vectors.edge_words` (+-0, the
  smallest and largest subnormals, the smallest normal, 1 and its neighbours, the largest
  finite, +-inf, quiet, signalling and negative NaNs) in each of w, g, m, v beside typical
  words of the others, random combinations of edge words in all four, the tie pairs of
  `lns.ieee.vectors.tie_pairs` as (w, g), (m, g) and (g, v), and *ties of the last
  operation*: for a typical (g, m, v) the step ``q = (lr mh)/d`` is read from the reference
  (with ``w = +0`` the unit returns ``-q``) and ``w`` is made so that ``w - q`` lies exactly
  half way between two words (``w``'s last place twice ``q``'s lowest set bit), and weights
  equal to ``q`` (exact cancellation: ``+0``) and to ``q``'s neighbours;
* seeded random words (`lns.ieee.vectors.random_operands`: uniform bit patterns,
  subnormals, close exponents, few significand bits);
* Adam-like words: w ~ N(0, 0.05), g ~ N(0, 1) x 1e-3 x a per-weight scale, m ~ g and
  v ~ g**2 (as a training run would hold them), rounded to the format.

Fault injection (`faulty_verilog`): the unit's Verilog with one constant's bit flipped, or
with the rounding's sticky bit stuck at 1 (ties away from zero); run through `run_hdl`'s
``verilog=`` against the right model, both are caught (`tests/test_float_adam.py`).
"""

from __future__ import annotations

import time

import numpy as np

from lns.ieee import exact
from lns.ieee.fast import word_dtype
from lns.ieee.vectors import edge_words as ieee_edges
from lns.ieee.vectors import random_operands, tie_pairs
from lns.optimizers import update_words

from . import additive
from .additive import Group

__all__ = ["T_VALUES", "make_groups", "edge_words", "adam_like_words", "model", "evaluate",
           "run_amaranth", "run_python", "tie_count", "step_words", "FAULTS",
           "faulty_verilog"]

T_VALUES = (1, 2, 10, 1000, 1_000_000)
MAX_GROUP = additive.MAX_GROUP
KEYS = ("w", "g", "m", "v")


def model(cfg, words: dict, t: int, evaluator: str = "numpy") -> dict:
    """``{"w", "m", "v"}`` of the reference on ``words`` at step ``t``: ``numpy`` or
    ``python`` (the exact path), `lns.optimizers.update_words`."""
    return update_words(cfg, words, t, evaluator=evaluator)


# ---- vectors ---------------------------------------------------------------------------
def _to_words(fmt, x) -> np.ndarray:
    """float64 values rounded to ``fmt`` (`lns.ieee.fast.from_float`), as int64 words."""
    from lns.ieee.fast import from_float
    return from_float(fmt, x)


def adam_like_words(cfg, n: int, rng) -> dict:
    """Words as a training run holds them (see the module's doc)."""
    fmt = cfg.fmt
    scale = 1e-3 * np.exp(rng.normal(0.0, 1.0, n))
    g = scale * rng.normal(0.0, 1.0, n)
    return {"w": _to_words(fmt, rng.normal(0.0, 0.05, n)), "g": _to_words(fmt, g),
            "m": _to_words(fmt, scale * rng.normal(0.0, 1.0, n)),
            "v": _to_words(fmt, (scale * rng.normal(0.0, 1.0, n)) ** 2)}


def step_words(cfg, words: dict, t: int) -> np.ndarray:
    """The step ``q = (lr mh)/d`` of each element, from the reference: with ``w = +0`` the
    update is ``0 - q``, which is ``-q`` exactly (its sign flipped; NaN stays NaN)."""
    fmt = cfg.fmt
    out = model(cfg, {**words, "w": np.zeros_like(words["g"])}, t)["w"]
    return np.asarray(out, dtype=np.int64) ^ fmt.sign_mask


def _lowest_bit(fmt, q: int) -> int | None:
    """The exponent of ``q``'s lowest set bit (``q`` a finite non-zero word)."""
    kind, _, n, e = exact.decode(fmt, q)
    if kind != "finite" or n == 0:
        return None
    return e + ((n & -n).bit_length() - 1)


def _word_of(fmt, sign: int, sig: int, e: int) -> int | None:
    """The word of ``(-1)**sign * sig * 2**e`` if ``sig`` has ``p + 1`` bits and it is a
    finite normal number, else None."""
    p = fmt.frac_bits
    if sig.bit_length() != p + 1:
        return None
    big_e = e + p + fmt.bias
    if not 1 <= big_e < fmt.exp_max:
        return None
    return (sign << (fmt.total_bits - 1)) | (big_e << p) | (sig & fmt.frac_mask)


def _last_op_rows(cfg, t: int, rng, n: int = 64) -> list:
    """Weights at the last operation's corners for typical (g, m, v): ``w - q`` exactly on
    a midpoint (both signs of ``w``), ``w = q`` (exact cancellation to +0) and its
    neighbours."""
    fmt = cfg.fmt
    p = fmt.frac_bits
    base = adam_like_words(cfg, n, rng)
    q = step_words(cfg, base, t)
    rows = []
    for i in range(n):
        qi = int(q[i])
        low = _lowest_bit(fmt, qi)
        g, m, v = (int(base[k][i]) for k in "gmv")
        if low is None:
            continue
        # w's last place is 2**(low + 1): w - q is an odd multiple of half w's ulp; with w's
        # significand in [1.25, 1.5) 2**p and |q| below w's ulp times 2**(p - 2) the
        # difference stays in w's binade, so it is a tie.
        q_mag = abs(float(exact.to_fraction(fmt, qi)))
        e_w = low + 1
        while 2.0 ** (e_w + p - 2) <= q_mag:
            e_w += 1
        if e_w != low + 1:
            continue                              # q has too many bits to tie at w's ulp
        for sign in (0, 1):
            sig = (1 << p) + (1 << (p - 2)) + int(rng.integers(0, 1 << max(p - 3, 0)))
            w = _word_of(fmt, sign, sig, e_w)
            if w is not None:
                rows.append((w, g, m, v))
        rows.append((qi, g, m, v))                # w = q: +0
        rows.append(((qi + 1) & fmt.word_mask, g, m, v))
        rows.append(((qi - 1) & fmt.word_mask, g, m, v))
    return rows


def tie_count(cfg, words: dict, t: int) -> int:
    """How many elements' last operation ``w - q`` is exactly a rounding midpoint (checked
    in exact arithmetic: the difference is not a word and lies half way between the words
    on either side)."""
    fmt = cfg.fmt
    q = step_words(cfg, words, t)
    count = 0
    for w, qi in zip(np.asarray(words["w"]).tolist(), q.tolist()):
        if exact.decode(fmt, w)[0] != "finite" or exact.decode(fmt, qi)[0] != "finite":
            continue
        x = exact.to_fraction(fmt, w) - exact.to_fraction(fmt, qi)
        rw = exact.round_to_format(fmt, 0 if x >= 0 else 1, abs(x))
        if exact.decode(fmt, rw)[0] == "inf":
            continue
        r = exact.to_fraction(fmt, rw)
        if x == r:
            continue
        # a midpoint: the point as far beyond x as r is before it is a word too
        other = 2 * x - r
        ow = exact.round_to_format(fmt, 0 if other >= 0 else 1, abs(other))
        if exact.decode(fmt, ow)[0] != "inf" and exact.to_fraction(fmt, ow) == other:
            count += 1
    return count


def edge_words(cfg, t: int, rng) -> dict:
    """The edge table of step ``t`` (see the module's doc): ``{"w", "g", "m", "v"}``."""
    fmt = cfg.fmt
    edges = ieee_edges(fmt).astype(np.int64)
    typical = adam_like_words(cfg, 1, np.random.default_rng(0))
    rows = []
    for key in KEYS:                              # every edge word in each role
        for e in edges:
            row = {k: int(typical[k][0]) for k in KEYS}
            row[key] = int(e)
            rows.append(tuple(row[k] for k in KEYS))
    combos = rng.choice(edges, size=(4 * len(edges), 4))   # edge words in all four roles
    rows += [tuple(int(x) for x in c) for c in combos]
    ta, tb = (a.astype(np.int64) for a in tie_pairs(fmt))
    ty = {k: int(typical[k][0]) for k in KEYS}
    for a, b in zip(ta.tolist(), tb.tolist()):
        rows.append((a, b, ty["m"], ty["v"]))
        rows.append((ty["w"], b, a, ty["v"]))
        rows.append((ty["w"], a, ty["m"], b & ~fmt.sign_mask))
    rows += _last_op_rows(cfg, t, rng)
    arr = np.array(rows, dtype=np.int64)
    return {k: arr[:, i] for i, k in enumerate(KEYS)}


def make_groups(cfg, n: int, *, seed: int = 1, lanes: int = 1) -> list[Group]:
    """About ``n`` vectors (each group padded to whole beats) in groups of one ``t`` (the
    `T_VALUES` in turn, at most `MAX_GROUP` a group): up to half of a group edge rows, the
    rest a third each uniform-ish random words, random operand mixtures and Adam-like
    words, shuffled."""
    rng = np.random.default_rng([seed, 0xF1A7])
    count = max(len(T_VALUES), -(-n // MAX_GROUP))
    groups = []
    for j in range(count):
        t = T_VALUES[j % len(T_VALUES)]
        size = n // count + (1 if j < n % count else 0)
        size = -(-max(size, 1) // lanes) * lanes
        edges = edge_words(cfg, t, rng)
        k_edge = min(len(edges["w"]), size // 2 if size >= 64 else size)
        pick = rng.permutation(len(edges["w"]))[:k_edge]
        k_rand = size - k_edge
        k1 = k_rand // 3
        k2 = k_rand // 3
        k3 = k_rand - k1 - k2
        mixed = dict(zip(KEYS, (a.astype(np.int64) for a in
                                random_operands(cfg.fmt, k1, rng, arity=4))))
        uniform = {k: rng.integers(0, cfg.fmt.word_mask + 1, k2, dtype=np.int64)
                   for k in KEYS}
        like = adam_like_words(cfg, k3, rng)
        words = {k: np.concatenate([edges[k][pick], mixed[k], uniform[k], like[k]])
                 for k in KEYS}
        order = rng.permutation(size)
        groups.append(Group(t, {k: a[order] for k, a in words.items()}))
    return groups


# ---- evaluators ------------------------------------------------------------------------
def _prefix(g: Group, k: int, lanes: int) -> int:
    return min(len(g), max(lanes, -(-k // lanes) * lanes))


def run_python(cfg, groups, k: int = 300, lanes: int = 1) -> list:
    """The exact path on a prefix of each group (about ``k`` vectors in all)."""
    per = -(-k // len(groups))
    return [model(cfg, g.take(_prefix(g, per, lanes)), g.t, "python") for g in groups]


def run_amaranth(cfg, groups, k: int = 300, lanes: int = 1, *, gap: float = 0.2,
                 stall: float = 0.3, seed: int = 1) -> list:
    """`rtl.float_adam.FloatAdamArray` in Amaranth's simulator on a prefix of each group,
    with seeded input gaps and back-pressure (`rtl.sim.drive`, the LNS units' driver)."""
    from rtl.float_adam import FloatAdamArray
    from rtl.lanes import pack_beats, unpack_beats
    from rtl.sim import RandomHandshake, drive
    n_bits = cfg.fmt.total_bits
    per = -(-k // len(groups))
    dut = FloatAdamArray(cfg, lanes)
    out = []
    for j, g in enumerate(groups):
        words = g.take(_prefix(g, per, lanes))
        n = len(words["w"])
        beats = -(-n // lanes)
        packed = {key: pack_beats(words[key], n_bits, lanes) for key in KEYS}
        held = additive.held_values(cfg, g.t)
        r = drive(dut, beats=beats, steps=1, held=lambda s: held,
                  inputs=lambda s, previous: packed,
                  handshake=RandomHandshake(gap, stall, seed + j),
                  max_cycles=beats * 20 + 200 + 4 * dut.latency)
        out.append({key: unpack_beats(r.out[0][key], n_bits, lanes, n)
                    for key in ("w", "m", "v")})
    return out


# ---- the whole run ---------------------------------------------------------------------
def evaluate(cfg, sims, n: int, *, seed: int = 1, lanes: int = 1, gap: int = 10,
             bp: int = 20, sample: int = 300, max_report: int = 10, out=None,
             progress=None, verilog=None, design=None) -> dict:
    """Make the vectors of ``cfg`` and run them on numpy (the expectation, every vector),
    python (the exact path, ``sample`` vectors) and ``sims`` (``amaranth`` on ``sample``
    vectors; ``icarus``, ``verilator`` on all).  ``verilog``: a Verilog file to run instead
    of the design's (fault injection).  Returns `testbench.additive.compare_groups`'s dict
    with ``seconds``."""
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    groups = make_groups(cfg, n, seed=seed, lanes=lanes)
    say(f"{sum(map(len, groups))} vectors for {cfg.name} "
        f"(t = {', '.join(str(g.t) for g in groups)})")
    return additive.run_evaluators(cfg, groups, sims, reference="numpy",
                                   model=lambda g: model(cfg, g.words, g.t),
                                   run_python=run_python, run_amaranth=run_amaranth, t0=t0,
                                   say=say, lanes=lanes, gap=gap, bp=bp, sample=sample,
                                   seed=seed, max_report=max_report, out=out,
                                   verilog=verilog, design=design)


# ---- fault injection -------------------------------------------------------------------
FAULTS = ("constant", "rounding")


def _flipped_constant_rule(cfg, name: str, bit: int):
    """A copy of ``cfg`` whose constant ``name`` has bit ``bit`` flipped (the hardware built
    from it holds one wrong constant; the model keeps the right one)."""
    from functools import cached_property
    from lns.ieee.adam import FloatAdamConfig

    class FlippedConstant(FloatAdamConfig):
        @cached_property
        def constants(self):
            c = dict(FloatAdamConfig.constants.func(self))
            c[name] ^= 1 << bit
            return c

    return FlippedConstant(cfg.fmt, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.name)


class _sticky_stuck_at_one:
    """Within the block, every float operator's `round_pack` sees its sticky bit stuck at
    1: a tie rounds away from zero instead of to even (and nothing else changes)."""

    MODULES = ("add", "mul", "div", "sqrt")

    def __enter__(self):
        import importlib
        from amaranth.hdl import Value
        self.saved = []
        for name in self.MODULES:
            mod = importlib.import_module(f"rtl.float.{name}")
            orig = mod.round_pack

            def broken(m, pipe, fmt, sign, exp, sig, *, _orig=orig, **kw):
                return _orig(m, pipe, fmt, sign, exp, Value.cast(sig) | 1, **kw)

            self.saved.append((mod, orig))
            mod.round_pack = broken
        return self

    def __exit__(self, *exc):
        for mod, orig in self.saved:
            mod.round_pack = orig
        return False


def faulty_verilog(cfg, fault: str, out_dir, *, lanes: int = 1, constant: str = "b1",
                   bit: int = 0):
    """Write the Verilog of ``cfg``'s unit with one fault, module name and ports as the
    design's (a drop-in for `run_hdl`'s ``verilog=``); returns its path.

    ``"constant"``: bit ``bit`` of the constant ``constant`` flipped; ``"rounding"``: the
    rounding's sticky bit stuck at 1 in every operator (ties away from zero).
    """
    import os
    from pathlib import Path
    from rtl.design import module_name
    from rtl.float_adam import FloatAdamArray
    if fault not in FAULTS:
        raise ValueError(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    from amaranth.back import verilog as back
    name = module_name(cfg, lanes)
    if fault == "constant":
        top = FloatAdamArray(_flipped_constant_rule(cfg, constant, bit), lanes)
        text = back.convert(top, name=name, emit_src=False)
    else:
        with _sticky_stuck_at_one():
            top = FloatAdamArray(cfg, lanes)
            text = back.convert(top, name=name, emit_src=False)
    path = Path(out_dir) / f"{name}_{fault}.v"
    path.write_text(text)
    return path
