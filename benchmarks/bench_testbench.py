"""Testbench throughput, end to end (vectors made, model, simulation, compare).

First the streaming testbench (`testbench.streaming`, what ``lnsmadam testbench`` runs):
``--stream-vectors`` (default 20,000,000) vectors of lns12 on Verilator with the model, gaps
and back-pressure, as vectors/s of wall time and of CPU time (this process and the
harness: the one-core rate on a shared machine), beside the update kernel's rate against a
copy of the same bytes (``lns_over_copy`` of bench_update.py: narrow uint16/uint32 words,
measured in the same run).  Target: >= 1,000,000 vectors/s; lns_over_copy >= 0.25.

Then the older whole-set fast path (``$readmemh``), which prints the wall time of each part (vector generation with the Numba model, the memory
file, the simulation with checking), vectors/s, and the ratio to a raw Verilator run of the
same design (a C++ main driving the bare DUT, no vectors, no checks) measured in the same
run.  Builds are cached in the user cache directory (`rtl.cache`); a first run adds their time, reported apart.
Also measures Icarus on 100,000 vectors and the cocotb stream path on 1,000.

    python benchmarks/bench_testbench.py [--preset lns12] [--vectors 1000000]
        [--stream-vectors 20000000] [--stream-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

from lns import presets
from testbench import design, fastpath, hdl_tb, stream, vectors
from testbench.tools import cache_dir, digest, run


def raw_verilator(d, cycles: int) -> float:
    main = hdl_tb.raw_main_text(d)
    key = digest("raw", d.verilog, main, " ".join(fastpath.VERILATOR_FLAGS))
    folder = cache_dir("builds", f"raw-{d.module}-{key}")
    exe = folder / "obj" / "Vraw"
    if not exe.exists():
        shutil.copy(d.verilog, folder / "dut.v")
        (folder / "raw.cpp").write_text(main)
        run(["verilator", "--cc", "--exe", "--build", *fastpath.VERILATOR_FLAGS,
             "--top-module", d.module, "--Mdir", folder / "obj", "-o", "Vraw",
             folder / "dut.v", folder / "raw.cpp"], cwd=folder)
    t0 = time.perf_counter()
    run([exe, str(cycles)])
    return time.perf_counter() - t0


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def lns_over_copy(cfg, repeats: int = 5) -> dict:
    """bench_update.py's lns_over_copy row: the update API on narrow words (out=) against a
    cold copy of the same bytes."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_update as bu
    _, words, _, clip = bu.make_inputs(cfg)
    narrow = bu.narrow_words(cfg, words)
    run = bu.lns_narrow(cfg, narrow, clip)
    copy, _ = bu.copy_limit(cfg)
    run(), copy()
    best = bu.best_times({"lns_narrow": (run, 5, False), "copy": (copy, 3, True)}, repeats)
    return {"lns_narrow_per_s": bu.N / best["lns_narrow"], "copy_per_s": bu.N / best["copy"],
            "lns_over_copy": best["copy"] / best["lns_narrow"]}


def streaming_run(cfg, n: int, gap: int, bp: int):
    from testbench import streaming
    d = design.generate(cfg)
    fastpath.build_stream(d)                     # a build is not part of the rate
    t0, c0 = time.perf_counter(), _cpu()
    r = streaming.stream(cfg, ["verilator"], n, seed=1, gap=gap, bp=bp, design=d)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    assert r["ok"], r["protocol"][:3]
    return r, wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="lns12")
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--stream-vectors", type=int, default=20_000_000)
    ap.add_argument("--stream-only", action="store_true",
                    help="only the streaming run and lns_over_copy")
    ap.add_argument("--gap", type=int, default=0)
    ap.add_argument("--bp", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    cfg = presets.get(args.preset)

    r, wall, cpu = streaming_run(cfg, args.stream_vectors, 10, 20)
    ev = r["evaluators"]
    oc = lns_over_copy(cfg)
    print(f"streaming testbench, preset {cfg.name}, {r['vectors']:,} vectors on Verilator "
          f"(gap 10%, back-pressure 20%), model included, blocks of 65536")
    print(f"  end to end:  {wall:.2f} s wall -> {r['vectors'] / wall:,.0f} vectors/s; "
          f"{cpu:.2f} s CPU -> {r['vectors'] / cpu:,.0f} vectors/s per core   "
          f"target >= 1,000,000: {'PASS' if r['vectors'] / wall >= 1e6 else 'MISS'}")
    print(f"  of which:    model {ev['numba']['seconds']:.2f} s, python sample "
          f"{ev['python']['seconds']:.2f} s, verilator (harness, pipe) "
          f"{ev['verilator']['seconds']:.2f} s; the rest makes and compares the vectors")
    print(f"  update kernel on narrow words: {oc['lns_narrow_per_s']:.3g} updates/s, copy of "
          f"the same bytes {oc['copy_per_s']:.3g}/s: lns_over_copy {oc['lns_over_copy']:.3f}   "
          f"target >= 0.25: {'PASS' if oc['lns_over_copy'] >= 0.25 else 'MISS'}")
    print(f"  max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.stream_only:
        return

    d = design.generate(cfg)
    t_build = time.perf_counter()
    fastpath.build_stream(d)
    t_build = time.perf_counter() - t_build

    t0 = time.perf_counter()
    vs = vectors.generate(cfg, args.vectors, seed=1)
    t_gen = time.perf_counter() - t0
    r = fastpath.run_vectors("verilator", d, vs, gap=args.gap, bp=args.bp)
    total = time.perf_counter() - t0
    assert r.mismatches == 0 and r.received == len(vs), (r.mismatches, r.protocol)
    raw = raw_verilator(d, r.cycles)
    print(f"preset {cfg.name}, {len(vs)} vectors, {r.cycles} cycles (gap {args.gap}%, "
          f"back-pressure {args.bp}%)")
    print(f"  build (cached after the first run): {t_build:.2f} s")
    print(f"  vectors + model (numba):            {t_gen:.2f} s")
    print(f"  memory file + verilator checking:   {r.seconds:.2f} s")
    print(f"  total wall, model included:         {total:.2f} s "
          f"-> {len(vs) / total:,.0f} vectors/s")
    print(f"  raw verilator, same cycles:         {raw:.2f} s "
          f"-> {r.cycles / raw:,.0f} cycles/s")
    print(f"  checked run / raw run:              {total / raw:.1f}x the time "
          f"(simulation alone {r.seconds / raw:.1f}x)")

    small = vectors.generate(cfg, 100_000, seed=2)
    ri = fastpath.run_vectors("icarus", d, small)
    print(f"icarus fast path: {len(small)} vectors in {ri.seconds:.2f} s -> "
          f"{len(small) / ri.seconds:,.0f} vectors/s")
    tiny = vectors.generate(cfg, 1000, seed=3)
    for sim in ("icarus", "verilator"):
        rs = stream.run_stream(sim, d, tiny, gap=0.0, bp=0.0)
        print(f"cocotb stream on {sim}: {len(tiny)} vectors in {rs.seconds:.2f} s "
              f"(process start included) -> {len(tiny) / rs.seconds:,.0f} vectors/s")


if __name__ == "__main__":
    main()
