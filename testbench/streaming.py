"""The streaming testbench: vectors made, evaluated on every evaluator and compared block
after block, in memory that does not grow with the vector count.

Blocks
------
A run of ``total`` vectors is cut into fixed *blocks* of `BLOCK` (2**16) vectors; block
``i`` holds vectors ``[i * BLOCK, min((i + 1) * BLOCK, total))``, rounded up to whole beats
of ``lanes`` (2**16 is a whole number of beats for every power-of-two lane count up to
64; with other lane counts each block is padded to whole beats).  Block ``i`` is made from
its own seed `block_seed` ``(seed, i)`` alone, so any block (and any chunk of blocks) can be
made, run and replayed without the ones before it, and the result does not depend on how
the blocks are grouped into processing *chunks* (a chunk is a whole number of blocks).

Each block is one group of constant ``(t, clip)`` (the hardware holds ``x_bc``/``clip`` per
step): blocks ``0 .. len(groups) - 1`` take the groups in a fixed order and each holds the
edge tables crossed (`vectors._edge_w` x ``_edge_g`` x ``_edge_v``); every block holds
cases picked for ties of the roundings, the ``g_bound`` clamp, floor and clip hits, an
``sb`` table sweep, and seeded random cases (`vectors` has the recipes).

Stochastic rounding: every block restarts the lanes from ``lns.lane_seeds(block_seed,
lanes)``; the model starts from those states and the HDL harnesses reset the DUT and load
them through ``lfsr_seed``/``lfsr_load`` at the block's start.

Evaluators: ``numba`` (the model's kernel, on narrow uint16/uint32 words, writing into
narrow arrays) gives the expectations for every vector; ``python`` runs the first
`PYTHON_PER_BLOCK` cases of every block, ``amaranth`` the first `AMARANTH_PER_BLOCK`;
``verilator`` runs every vector through a persistent C++ harness fed binary words
(`fastpath.StreamHarness`); ``icarus`` runs the `$readmemh` vector testbench once a block.
Both HDL paths drive random input gaps (``gap`` percent) and output back-pressure (``bp``
percent) from an xorshift seeded per block.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

import lns

from . import vectors as V
from .compare import UNKNOWN, Outputs, case_dict, case_vectors, compare, write_case
from .tools import require

__all__ = ["BLOCK", "CHUNK_BLOCKS", "block_seed", "block_count", "make_block", "ChunkResult",
           "run_chunk", "merge", "stream", "PYTHON_PER_BLOCK", "AMARANTH_PER_BLOCK"]

BLOCK = 1 << 16
#: Blocks per processing chunk of `stream` (memory grows with it, the result does not).
CHUNK_BLOCKS = 4
PYTHON_PER_BLOCK = 32            # the scalar reference runs ~45 us a case
AMARANTH_PER_BLOCK = 64          # Amaranth's simulator: ~1 k cases/s
_SPECIAL_POOL = 1 << 13          # cases of the pool the tie/clamp/floor/clip cases come from


def block_seed(seed: int, index: int) -> int:
    """The seed of block ``index`` of a run seeded ``seed`` (a 32-bit int, non-zero)."""
    s = int(np.random.SeedSequence([int(seed) & (2**64 - 1), int(index)])
            .generate_state(1, np.uint32)[0])
    return s or 1


def block_count(total: int) -> int:
    return -(-int(total) // BLOCK)


def _block_len(index: int, total: int, lanes: int) -> int:
    n = min(BLOCK, int(total) - index * BLOCK)
    return -(-n // lanes) * lanes


def _word_dtype(bits: int):
    return np.uint16 if bits <= 16 else np.uint32


@lru_cache(maxsize=16)
def _groups(cfg, seed: int):
    """The ``(t, clip)`` groups of a run: every step of `vectors._STEPS` with a clip of the
    run (from the seed), the first group t = 1 at the largest clip."""
    rng = np.random.default_rng([int(seed), 0x4C4E53])
    clips = V._clips(cfg, rng)
    combos = [(t, clips[i % len(clips)]) for i, t in enumerate(V._STEPS)]
    combos += [(t, c) for t in V._STEPS for c in clips if (t, c) not in combos]
    return tuple(combos)


@lru_cache(maxsize=64)
def _edge_cross(cfg, clip: int):
    ew, eg, ev = V._edge_w(cfg, clip), V._edge_g(cfg), V._edge_v(cfg)
    return np.stack(np.meshgrid(ew, eg, ev, indexing="ij"), axis=-1).reshape(-1, 3)


@dataclass
class Block:
    """One block: a group of constant ``(t, clip)``; narrow words; the model's outputs."""

    index: int
    seed: int
    t: int
    clip: int
    w: np.ndarray
    g: np.ndarray
    v: np.ndarray
    exp_w: np.ndarray
    exp_v: np.ndarray
    lfsr_seed: np.ndarray | None

    def __len__(self):
        return int(self.w.shape[0])

    def vector_set(self, cfg, lanes) -> V.VectorSet:
        """The block as a `VectorSet` (for the Icarus path, the compare, saved cases)."""
        n = len(self)
        w, g, v, ew, ev = (a.astype(np.int64) for a in (self.w, self.g, self.v, self.exp_w,
                                                        self.exp_v))
        return V.VectorSet(cfg, lanes, np.full(n, self.t, dtype=np.int64),
                           np.full(n, self.clip, dtype=np.int64), w, g, v, ew, ev,
                           lfsr_seed=self.lfsr_seed, seed=self.seed)


def make_block(cfg, seed: int, index: int, total: int, lanes: int = 1) -> tuple[Block, float]:
    """Block ``index`` of a run of ``total`` vectors, with the model's outputs; and the
    seconds the model took."""
    n = _block_len(index, total, lanes)
    bseed = block_seed(seed, index)
    rng = np.random.default_rng(bseed)
    groups = _groups(cfg, seed)
    t, clip = groups[index] if index < len(groups) else groups[int(rng.integers(len(groups)))]
    parts = []
    if index < len(groups):
        cross = _edge_cross(cfg, clip)
        k = min(len(cross), (2 * n) // 5)
        cross = cross[rng.permutation(len(cross))[:k]] if k < len(cross) else cross
        parts.append((cross[:, 0], cross[:, 1], cross[:, 2]))
    quota = max(1, n // 32)
    parts.append(V._pick_specials(cfg, rng, t, clip, quota, bseed, pool=min(
        _SPECIAL_POOL, max(4 * quota, 2048))))
    parts.append(V._table_sweep(cfg, rng, n // 8, clip))
    have = sum(len(p[0]) for p in parts)
    parts.append(V._random_cases(cfg, rng, max(0, n - have), clip))
    perm = rng.permutation(n)
    cols = []
    for k, fmt in enumerate((cfg.weight, cfg.grad, cfg.moment)):
        col = np.concatenate([p[k] for p in parts])[:n].astype(_word_dtype(fmt.total_bits))
        cols.append(col[perm])
    w, g, v = cols
    seeds = lns.lane_seeds(bseed, lanes) if cfg.is_stochastic else None
    exp_w = np.empty(n, dtype=_word_dtype(cfg.weight.total_bits))
    exp_v = np.empty(n, dtype=_word_dtype(cfg.moment.total_bits))
    t0 = time.perf_counter()
    lns.madam_update(cfg, w, g, v, t, clip=clip,
                     lfsr_state=None if seeds is None else seeds.copy(), out=(exp_w, exp_v))
    return Block(index, bseed, t, clip, w, g, v, exp_w, exp_v, seeds), \
        time.perf_counter() - t0


@dataclass
class ChunkResult:
    """What one chunk of blocks found (picklable, JSON-able through `to_dict`)."""

    config: str
    first_block: int
    blocks: int
    vectors: int
    mismatches: int
    evaluators: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    seconds: float = 0.0
    protocol: list = field(default_factory=list)
    max_errors: int = 10          # the cap on ``failures`` this chunk ran with

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ChunkResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _sample(block: Block, k: int, lanes: int) -> int:
    return min(len(block), -(-k // lanes) * lanes)


def _python_outputs(cfg, block, k, lanes):
    n = len(block)
    m = _sample(block, k, lanes)
    w = np.full(n, UNKNOWN, dtype=np.int64)
    v = np.full(n, UNKNOWN, dtype=np.int64)
    w[:m], v[:m] = lns.madam_update(
        cfg, block.w[:m].astype(np.int64), block.g[:m].astype(np.int64),
        block.v[:m].astype(np.int64), block.t, clip=block.clip,
        lfsr_state=None if block.lfsr_seed is None else block.lfsr_seed.copy(),
        evaluator="python")
    return Outputs(w, v, m)


def _amaranth_outputs(cfg, block, k, lanes, gap, bp, rng):
    from rtl.sim import simulate_update
    n = len(block)
    m = _sample(block, k, lanes)
    r = simulate_update(cfg, block.w[:m].astype(np.int64), block.g[:m].astype(np.int64),
                        block.v[:m].astype(np.int64), block.t, clip=block.clip, lanes=lanes,
                        lfsr_state=block.lfsr_seed, gap=gap / 100, stall=bp / 100, seed=rng)
    w = np.full(n, UNKNOWN, dtype=np.int64)
    v = np.full(n, UNKNOWN, dtype=np.int64)
    w[:m] = np.asarray(r.w, dtype=np.int64)[:m]
    v[:m] = np.asarray(r.v, dtype=np.int64)[:m]
    return Outputs(w, v, m)


_STATUS = {1: "TIMEOUT no handshake for too long", 2: "EXTRA output beat after the last"}


def run_chunk(cfg, sims, *, seed: int, first_block: int, blocks: int, total: int,
              lanes: int = 1, max_errors: int = 10, gap: int = 10, bp: int = 20,
              design=None, verilog=None) -> ChunkResult:
    """Make, evaluate and compare blocks ``[first_block, first_block + blocks)`` of a run of
    ``total`` vectors (the last block may be partial).

    ``sims``: any of ``icarus``, ``verilator``, ``amaranth`` (``numba`` and ``python``
    always run).  The design and the simulator builds come from their content-keyed caches
    (``design``/``verilog`` replace them, e.g. for fault injection).  Keeps at most
    ``max_errors`` failing cases (`compare.case_dict` dicts, ``origin`` naming the block
    and the case in it).  Every block is evaluated whatever the mismatches, so the result
    of a chunk never depends on the chunk it is cut from.
    """
    from .fastpath import StreamHarness, run_vectors
    sims = tuple(sims)
    for sim in sims:
        require(sim)
    nblocks = block_count(total)
    if first_block < 0 or blocks < 0 or first_block + blocks > nblocks:
        raise ValueError(f"blocks [{first_block}, {first_block + blocks}) must lie in the "
                         f"{nblocks} blocks of {total} vectors")
    hdl = [s for s in sims if s in ("icarus", "verilator")]
    if hdl and design is None:
        from .design import generate
        design = generate(cfg, lanes)
    names = ["numba", "python", *[s for s in ("icarus", "verilator", "amaranth") if s in sims]]
    ev = {k: {"vectors": 0, "mismatches": 0, "seconds": 0.0} for k in names}
    res = ChunkResult(cfg.name, first_block, blocks, 0, 0, ev, max_errors=int(max_errors))
    t_start = time.perf_counter()
    harness = StreamHarness(design, verilog=verilog) if "verilator" in sims else None
    try:
        for index in range(first_block, first_block + blocks):
            block, model_s = make_block(cfg, seed, index, total, lanes)
            ev["numba"]["seconds"] += model_s
            n = len(block)
            results = {"numba": Outputs(block.exp_w, block.exp_v, n)}
            t1 = time.perf_counter()
            results["python"] = _python_outputs(cfg, block, PYTHON_PER_BLOCK, lanes)
            ev["python"]["seconds"] += time.perf_counter() - t1
            rng = block.seed
            vs = None
            if "icarus" in sims:
                t1 = time.perf_counter()
                vs = block.vector_set(cfg, lanes)
                r = run_vectors("icarus", design, vs, gap=gap, bp=bp, rng_seed=rng,
                                maxerr=max_errors, verilog=verilog)
                results["icarus"] = Outputs.checked_against(vs, r.details, r.mismatches,
                                                            r.vectors, r.protocol)
                ev["icarus"]["seconds"] += time.perf_counter() - t1
            if harness is not None:
                t1 = time.perf_counter()
                status, _, ow, ov = harness.run_block(
                    cfg.bias_correction_code(block.t), block.clip, block.w, block.g, block.v,
                    seeds=block.lfsr_seed, gap=gap, bp=bp, rng=rng)
                protocol = [_STATUS[status]] if status else []
                results["verilator"] = Outputs(ow, ov, n, None, protocol)
                ev["verilator"]["seconds"] += time.perf_counter() - t1
            if "amaranth" in sims:
                t1 = time.perf_counter()
                results["amaranth"] = _amaranth_outputs(cfg, block, AMARANTH_PER_BLOCK, lanes,
                                                        gap, bp, rng)
                ev["amaranth"]["seconds"] += time.perf_counter() - t1
            # the compare: fast for the common all-agree case, `compare` for the rest
            bad_fast = any(_differs(block, results[k]) for k in results if k != "numba")
            if bad_fast:
                vs = vs or block.vector_set(cfg, lanes)
                summary = compare(vs, _int64(results), max_report=max(max_errors, 1),
                                  out=False)
                for k, s in summary["evaluators"].items():
                    ev[k]["vectors"] += s["vectors"]
                    ev[k]["mismatches"] += s["mismatches"]
                worst = max([summary["disagreeing"]]
                            + [s["mismatches"] for s in summary["evaluators"].values()])
                res.mismatches += worst
                for k, r in results.items():
                    res.protocol += [f"block {index}: {k}: {line}" for line in r.protocol]
                W = {k: r.w for k, r in results.items()}
                Vv = {k: r.v for k, r in results.items()}
                for i in summary["cases"]:
                    if len(res.failures) >= max_errors:
                        break
                    observed = {k: [int(W[k][i]), int(Vv[k][i])] for k in results
                                if int(W[k][i]) != UNKNOWN and int(Vv[k][i]) != UNKNOWN}
                    res.failures.append(case_dict(vs, int(i), observed=observed, origin={
                        "seed": int(seed), "block": index, "case": int(i),
                        "vector": index * BLOCK + int(i), "lanes": lanes,
                        "total": int(total)}))
            else:
                for k, r in results.items():
                    ev[k]["vectors"] += int(r.vectors)
            res.vectors += n
    finally:
        if harness is not None:
            harness.close()
    res.seconds = time.perf_counter() - t_start
    return res


def _int64(results):
    return {k: Outputs(np.asarray(r.w, dtype=np.int64), np.asarray(r.v, dtype=np.int64),
                       r.vectors, r.mismatches, r.protocol) for k, r in results.items()}


def _differs(block, r: Outputs) -> bool:
    """True when ``r`` may disagree with the model (a mismatch it counted, a protocol
    error, or a known value that differs)."""
    if r.protocol or r.mismatches:
        return True
    n = len(block)
    if r.vectors == n and r.w.dtype != np.int64:
        return not (np.array_equal(r.w, block.exp_w) and np.array_equal(r.v, block.exp_v))
    known = r.w != UNKNOWN
    m = int(np.count_nonzero(known))
    if m == n:
        return not (np.array_equal(r.w, block.exp_w) and np.array_equal(r.v, block.exp_v))
    return bool(np.any((r.w[known] != block.exp_w[known]) | (r.v[known] != block.exp_v[known])))


def merge(results: list) -> dict:
    """The run's summary from chunk results (`ChunkResult` or their dicts), in any order:
    totals per evaluator (seconds summed), the first failures in block order (as many as
    the smallest ``max_errors`` of the chunks).  The same for any split of the same blocks
    (timings apart)."""
    rs = sorted((r if isinstance(r, ChunkResult) else ChunkResult.from_dict(r)
                 for r in results), key=lambda r: r.first_block)
    ev, failures, protocol = {}, [], []
    for r in rs:
        for k, s in r.evaluators.items():
            e = ev.setdefault(k, {"vectors": 0, "mismatches": 0, "seconds": 0.0})
            e["vectors"] += int(s["vectors"])
            e["mismatches"] += int(s["mismatches"])
            e["seconds"] += float(s["seconds"])
        failures += r.failures
        protocol += r.protocol
    if rs:
        failures = failures[:min(r.max_errors for r in rs)]
    return {"config": rs[0].config if rs else None,
            "blocks": sum(r.blocks for r in rs), "vectors": sum(r.vectors for r in rs),
            "mismatches": sum(r.mismatches for r in rs),
            "ok": not any(r.mismatches for r in rs) and not protocol,
            "evaluators": ev, "failures": failures, "protocol": protocol,
            "seconds": sum(r.seconds for r in rs)}


def case_report(data: dict) -> str:
    """A saved failing case (`case_dict`) as the compare's report text."""
    from .compare import _case_report
    vs = case_vectors(data)
    names = list(data.get("observed", {}))
    wv = [data["observed"][k][0] for k in names]
    vv = [data["observed"][k][1] for k in names]
    o = data.get("origin", {})
    text = _case_report(vs, 0, names, wv, vv)
    where = f"case {o.get('vector', '?')} (block {o.get('block', '?')} case {o.get('case', '?')})"
    return text.replace("case 0:", where + ":", 1)


def _fmt_s(seconds: float) -> str:
    from .progress import _fmt_s as fmt
    return fmt(seconds)


def stream(cfg, sims, total: int, *, seed: int = 1, lanes: int = 1,
           chunk_blocks: int = CHUNK_BLOCKS, max_errors: int = 10, failures_dir=None,
           progress=None, gap: int = 10, bp: int = 20, design=None, verilog=None) -> dict:
    """The single-process driver: chunk after chunk of ``chunk_blocks`` blocks, stopping
    after the chunk that brings the mismatches to ``max_errors``; failing cases saved in
    ``failures_dir`` (``"saved"``: their paths).  ``progress``: a `progress.Progress` (or
    None for none), updated with the vectors done.  Returns `merge`'s dict plus
    ``"saved"``, ``"stopped"`` (True when it stopped early), ``"wall_seconds"`` and
    ``"vectors_per_second"``."""
    if not isinstance(total, (int, np.integer)) or isinstance(total, bool) or total < 1:
        raise ValueError(f"total must be a positive int, not {total!r}")
    if not isinstance(chunk_blocks, int) or chunk_blocks < 1:
        raise ValueError(f"chunk_blocks must be a positive int, not {chunk_blocks!r}")
    if not isinstance(max_errors, int) or max_errors < 1:
        raise ValueError(f"max_errors must be a positive int, not {max_errors!r}")
    nblocks = block_count(total)
    if design is None and any(s in ("icarus", "verilator") for s in sims):
        from .design import generate
        design = generate(cfg, lanes)
    if "verilator" in sims:               # a build is not part of the rate
        from .fastpath import build_stream
        build_stream(design, verilog=verilog)
    results, saved = [], []
    mismatches = 0
    t0 = time.perf_counter()
    stopped = False
    for first in range(0, nblocks, chunk_blocks):
        r = run_chunk(cfg, sims, seed=seed, first_block=first,
                      blocks=min(chunk_blocks, nblocks - first), total=total, lanes=lanes,
                      max_errors=max_errors, gap=gap, bp=bp, design=design, verilog=verilog)
        results.append(r)
        if failures_dir is not None:
            for f in r.failures[:max(0, max_errors - len(saved))]:
                saved.append(str(write_case(f, failures_dir)))
        mismatches += r.mismatches
        if progress is not None:
            done = sum(x.vectors for x in results)
            rate = done / max(time.perf_counter() - t0, 1e-9)
            eta = max(0, total - done) / max(rate, 1e-9)
            progress.update(min(done, total), total,
                            f"{rate:,.0f} vectors/s, ETA {_fmt_s(eta)}, "
                            f"{mismatches} mismatches")
        if mismatches >= max_errors and first + chunk_blocks < nblocks:
            stopped = True
            break
    out = merge(results)
    wall = time.perf_counter() - t0
    out.update(saved=saved, stopped=stopped, wall_seconds=wall,
               vectors_per_second=out["vectors"] / max(wall, 1e-9))
    return out
