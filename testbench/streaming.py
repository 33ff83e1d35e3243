"""The streaming testbench of any rule: vectors made, evaluated on every evaluator and
compared block after block, in memory that does not grow with the vector count.

Blocks
------
A run of ``total`` vectors is cut into fixed *blocks* of `BLOCK` (2**16) vectors; block
``i`` holds vectors ``[i * BLOCK, min((i + 1) * BLOCK, total))``, rounded up to whole beats
of ``lanes`` (2**16 is a whole number of beats for every power-of-two lane count up to
64; with other lane counts each block is padded to whole beats).  Block ``i`` is made from
its own seed `block_seed` ``(seed, i)`` alone, so any block (and any chunk of blocks) can be
made, run and replayed without the ones before it, and the result does not depend on how
the blocks are grouped into processing *chunks* (a chunk is a whole number of blocks).

Each block is one group (a step ``t`` and the rule's tensor-held values; the hardware holds
its held ports per step) from the rule's recipe (`testbench.recipes`): blocks ``0 ..
len(groups) - 1`` take the recipe's groups in order and each holds a sample of that
group's edge table; every block holds the recipe's specials and random words
(`testbench.vectors.compose`).  The held ports are ``cfg.held(t, **tensor values)``, the
expectations ``cfg.update`` with the reference evaluator.

Stochastic rounding: every block restarts the lanes from ``lns.lane_seeds(block_seed,
lanes)``; the model starts from those states and the HDL harnesses reset the DUT and load
them through ``lfsr_seed``/``lfsr_load`` at the block's start.

Evaluators (``seconds``: each evaluator's own time; Verilator's is the harness's
simulation of the block, reported by it): the reference (``cfg.reference_evaluator``:
``numba`` for LNS, ``numpy`` for IEEE) gives the expectations for every vector; ``python`` runs the first
`PYTHON_PER_BLOCK` cases of every block, ``amaranth`` the first `AMARANTH_PER_BLOCK`;
``verilator`` runs every vector through a persistent C++ harness fed binary words
(`fastpath.StreamHarness`; it simulates a block while this process makes the next one);
``icarus`` runs the `$readmemh` vector testbench once a block.  Both HDL paths drive
random input gaps (``gap`` percent) and output back-pressure (``bp`` percent) from an
xorshift seeded per block.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from .compare import (UNKNOWN, Outputs, case_dict, case_report, case_vectors, compare,
                      write_case)
from .recipes import recipe_of
from .tools import Simulator, require
from .vectors import VectorSet, compose, word_dtype

__all__ = ["BLOCK", "CHUNK_BLOCKS", "block_seed", "block_count", "make_block", "Block",
           "ChunkResult", "run_chunk", "merge", "stream", "case_report", "case_vectors",
           "PYTHON_PER_BLOCK", "AMARANTH_PER_BLOCK"]

BLOCK = 1 << 16
#: Blocks per processing chunk of `stream` (memory grows with it, the result does not).
CHUNK_BLOCKS = 4
PYTHON_PER_BLOCK = 32            # the scalar reference runs ~45 us a case (LNS)
AMARANTH_PER_BLOCK = 64          # Amaranth's simulator: ~1 k cases/s


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


_GROUPS: dict = {}


def _groups(cfg, seed: int):
    key = (cfg, int(seed))
    if key not in _GROUPS:
        if len(_GROUPS) > 32:
            _GROUPS.clear()
        _GROUPS[key] = tuple(recipe_of(cfg).groups(cfg, int(seed)))
    return _GROUPS[key]


@dataclass
class Block:
    """One block: a group (``t`` and tensor-held values ``tensor``), its held ports
    ``held``, narrow input words by role, the model's outputs by role (int64).  A role's
    words are also attributes (``block.w``, ``block.exp_w``)."""

    index: int
    seed: int
    t: int
    tensor: dict
    held: dict
    words: dict
    expected: dict
    lfsr_seed: np.ndarray | None

    def __getattr__(self, name):
        d = self.__dict__
        if name.startswith("exp_") and name[4:] in d.get("expected", {}):
            return d["expected"][name[4:]]
        if name in d.get("words", {}):
            return d["words"][name]
        if name in d.get("tensor", {}):
            return d["tensor"][name]
        raise AttributeError(f"Block has no attribute {name!r}")

    def __len__(self):
        return int(len(next(iter(self.words.values()))))

    def vector_set(self, cfg, lanes) -> VectorSet:
        """The block as a `VectorSet` (for the Icarus path, the compare, saved cases)."""
        n = len(self)
        return VectorSet(cfg, lanes, np.full(n, self.t, dtype=np.int64),
                         {k: np.full(n, v, dtype=np.int64) for k, v in self.tensor.items()},
                         {k: a.astype(np.int64) for k, a in self.words.items()},
                         {k: np.asarray(a, dtype=np.int64) for k, a in self.expected.items()},
                         lfsr_seed=self.lfsr_seed, seed=self.seed)


def make_block(cfg, seed: int, index: int, total: int, lanes: int = 1) -> tuple[Block, float]:
    """Block ``index`` of a run of ``total`` vectors, with the model's outputs; and the
    seconds the model took."""
    from lns import lane_seeds
    n = _block_len(index, total, lanes)
    bseed = block_seed(seed, index)
    rng = np.random.default_rng(bseed)
    groups = _groups(cfg, seed)
    first = index < len(groups)
    group = groups[index] if first else groups[int(rng.integers(len(groups)))]
    fmts = cfg.word_formats
    words = {k: a.astype(word_dtype(fmts[k].total_bits))
             for k, a in compose(cfg, group, rng, n, bseed, edges=first).items()}
    seeds = np.array(lane_seeds(bseed, lanes), dtype=np.int64) if cfg.is_stochastic else None
    held = group.held(cfg)
    t0 = time.perf_counter()
    expected = cfg.update(words, group.t, held,
                          lfsr_state=None if seeds is None else seeds.copy())
    return Block(index, bseed, group.t, group.kw, held, words, expected, seeds), \
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


def _prefix_outputs(cfg, block, m, words: dict) -> Outputs:
    """Outputs known on the first ``m`` cases of ``block``."""
    out = Outputs.unknown(cfg.output_roles, len(block))
    for k in cfg.output_roles:
        out.words[k][:m] = np.asarray(words[k], dtype=np.int64)[:m]
    out.vectors = m
    return out


def _python_outputs(cfg, block, k, lanes):
    m = _sample(block, k, lanes)
    words = cfg.update({r: a[:m] for r, a in block.words.items()}, block.t, block.held,
                       lfsr_state=None if block.lfsr_seed is None else block.lfsr_seed.copy(),
                       evaluator="python")
    return _prefix_outputs(cfg, block, m, words)


def _amaranth_outputs(cfg, block, k, lanes, gap, bp, rng):
    from .evaluate import amaranth_words
    m = _sample(block, k, lanes)
    words = amaranth_words(cfg, {r: a[:m] for r, a in block.words.items()}, block.held,
                           lanes=lanes, lfsr_state=block.lfsr_seed, gap=gap / 100,
                           stall=bp / 100, seed=rng)
    return _prefix_outputs(cfg, block, m, words)


_STATUS = {1: "TIMEOUT no handshake for too long", 2: "EXTRA output beat after the last"}


def run_chunk(cfg, sims, *, seed: int, first_block: int, blocks: int, total: int,
              lanes: int = 1, max_errors: int = 10, gap: int = 10, bp: int = 20,
              design=None, verilog=None) -> ChunkResult:
    """Make, evaluate and compare blocks ``[first_block, first_block + blocks)`` of a run of
    ``total`` vectors (the last block may be partial).

    ``sims``: any of `Simulator` (``icarus``, ``verilator``, ``amaranth``; the reference
    evaluator and ``python`` always run).  The design and the simulator builds come from
    their content-keyed caches (``design``/``verilog`` replace them, e.g. for fault
    injection).  Keeps at most ``max_errors`` failing cases (`compare.case_dict` dicts,
    ``origin`` naming the block and the case in it).  Every block is evaluated whatever
    the mismatches, so the result of a chunk never depends on the chunk it is cut from.
    """
    from .fastpath import StreamHarness, run_vectors
    sims = Simulator.parse_all(sims)
    for sim in sims:
        require(sim)
    nblocks = block_count(total)
    if first_block < 0 or blocks < 0 or first_block + blocks > nblocks:
        raise ValueError(f"blocks [{first_block}, {first_block + blocks}) must lie in the "
                         f"{nblocks} blocks of {total} vectors")
    if any(s.is_hdl for s in sims) and design is None:
        from .design import generate
        design = generate(cfg, lanes)
    ref = cfg.reference_evaluator
    names = [ref, "python", *(str(s) for s in Simulator if s in sims)]
    ev = {k: {"vectors": 0, "mismatches": 0, "seconds": 0.0} for k in names}
    res = ChunkResult(cfg.name, first_block, blocks, 0, 0, ev, max_errors=int(max_errors))
    t_start = time.perf_counter()
    harness = StreamHarness(design, verilog=verilog) if Simulator.VERILATOR in sims else None
    end = first_block + blocks
    try:
        block = None
        if blocks:
            block, model_s = make_block(cfg, seed, first_block, total, lanes)
            ev[ref]["seconds"] += model_s
        for index in range(first_block, end):
            n = len(block)
            rng = block.seed
            if harness is not None:
                harness.send(block.held, block.words, seeds=block.lfsr_seed, gap=gap, bp=bp,
                             rng=rng)
            # the next block is made while the harness simulates this one
            nxt = None
            if index + 1 < end:
                nxt, model_s = make_block(cfg, seed, index + 1, total, lanes)
                ev[ref]["seconds"] += model_s
            results = {ref: Outputs(block.expected, n)}
            t1 = time.perf_counter()
            results["python"] = _python_outputs(cfg, block, PYTHON_PER_BLOCK, lanes)
            ev["python"]["seconds"] += time.perf_counter() - t1
            vs = None
            if Simulator.ICARUS in sims:
                t1 = time.perf_counter()
                vs = block.vector_set(cfg, lanes)
                r = run_vectors(Simulator.ICARUS, design, vs, gap=gap, bp=bp, rng_seed=rng,
                                maxerr=max_errors, verilog=verilog)
                results[str(Simulator.ICARUS)] = Outputs.checked_against(vs, r.details, r.mismatches,
                                                            r.vectors, r.protocol)
                ev[str(Simulator.ICARUS)]["seconds"] += time.perf_counter() - t1
            if harness is not None:
                status, _, out = harness.receive()
                protocol = [_STATUS[status]] if status else []
                results[str(Simulator.VERILATOR)] = Outputs(out, n, None, protocol)
                # the harness's own time: it simulates while this process works
                ev[str(Simulator.VERILATOR)]["seconds"] += harness.sim_seconds
            if Simulator.AMARANTH in sims:
                t1 = time.perf_counter()
                results[str(Simulator.AMARANTH)] = _amaranth_outputs(cfg, block, AMARANTH_PER_BLOCK,
                                                        lanes, gap, bp, rng)
                ev[str(Simulator.AMARANTH)]["seconds"] += time.perf_counter() - t1
            # the compare: fast for the common all-agree case, `compare` for the rest
            if any(_differs(block, results[k]) for k in results if k != ref):
                _record(res, ev, cfg, block, results, lanes, seed, total, max_errors, vs)
            else:
                for k, r in results.items():
                    ev[k]["vectors"] += int(r.vectors)
            res.vectors += n
            block = nxt
    finally:
        if harness is not None:
            harness.close()
    res.seconds = time.perf_counter() - t_start
    return res


def _record(res, ev, cfg, block, results, lanes, seed, total, max_errors, vs):
    """A block where some evaluator may disagree: the full compare, its counts and the
    failing cases (`case_dict`, at most ``max_errors`` in the chunk)."""
    vs = vs or block.vector_set(cfg, lanes)
    summary = compare(vs, results, max_report=max(max_errors, 1), out=False)
    for k, s in summary["evaluators"].items():
        ev[k]["vectors"] += s["vectors"]
        ev[k]["mismatches"] += s["mismatches"]
    worst = max([summary["disagreeing"]] + [s["mismatches"]
                                           for s in summary["evaluators"].values()])
    res.mismatches += worst
    for k, r in results.items():
        res.protocol += [f"block {block.index}: {k}: {line}" for line in r.protocol]
    roles = cfg.output_roles
    for i in summary["cases"]:
        if len(res.failures) >= max_errors:
            break
        observed = {}
        for k, r in results.items():
            vals = [int(r.words[role][i]) for role in roles]
            if UNKNOWN not in vals:
                observed[k] = vals
        res.failures.append(case_dict(vs, int(i), observed=observed, origin={
            "seed": int(seed), "block": block.index, "case": int(i),
            "vector": block.index * BLOCK + int(i), "lanes": lanes, "total": int(total)}))


def _differs(block, r: Outputs) -> bool:
    """True when ``r`` may disagree with the model (a mismatch it counted, a protocol
    error, or a known value that differs)."""
    if r.protocol or r.mismatches:
        return True
    n = len(block)
    for k, exp in block.expected.items():
        got = r.words[k]
        if r.vectors == n and got.dtype != np.int64:
            if not np.array_equal(got, exp):
                return True
            continue
        known = got != UNKNOWN
        if int(np.count_nonzero(known)) == n:
            if not np.array_equal(got, exp):
                return True
        elif np.any(got[known] != exp[known]):
            return True
    return False


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
    sims = Simulator.parse_all(sims)
    nblocks = block_count(total)
    if design is None and any(s.is_hdl for s in sims):
        from .design import generate
        design = generate(cfg, lanes)
    if Simulator.VERILATOR in sims:               # a build is not part of the rate
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
