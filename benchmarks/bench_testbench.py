"""Fast-path throughput: >= 1,000,000 update vectors checked on Verilator, model included.

Prints the wall time of each part (vector generation with the Numba model, the memory
file, the simulation with checking), vectors/s, and the ratio to a raw Verilator run of the
same design (a C++ main driving the bare DUT, no vectors, no checks) measured in the same
run.  Builds are cached in the user cache directory (`rtl.cache`); a first run adds their time, reported apart.
Also measures Icarus on 100,000 vectors and the cocotb stream path on 1,000.

    python benchmarks/bench_testbench.py [--preset lns12] [--vectors 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import time

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="lns12")
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--gap", type=int, default=0)
    ap.add_argument("--bp", type=int, default=0)
    args = ap.parse_args()
    cfg = presets.get(args.preset)
    d = design.generate(cfg)
    t_build = time.perf_counter()
    fastpath.build("verilator", d, fastpath._depth(args.vectors))
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
