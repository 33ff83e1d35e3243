"""The float operators (`rtl.float`) on Verilator against the reference `lns.ieee.ops`:
1,000,000 seeded vectors per operator and format, 0 mismatches expected.

For each format one Verilator harness runs the four operators side by side
(`testbench.float_ops.FloatHarness`; add and sub alternate at random through ``negate_b``);
the vectors come in blocks of 65,536, block ``i`` seeded by ``(seed, i)``:

* ``random``: the format's edge pairs (`lns.ieee.vectors.edge_pairs`, as add and as sub)
  at the head of block 0, then `lns.ieee.vectors.random_operands` (uniform bit patterns,
  close exponents, a band around 1, sparse significands, the subnormal range);
* ``cross`` (formats of at most 16 bits): every word as ``a`` in each block, against a
  fresh random ``b``, so every square root and every ``a`` crossed with ``blocks`` random
  ``b`` for the others.

Each block runs with 5 % input gaps and 5 % output back-pressure.  Prints, per format and
operator, the vectors, mismatches (and the first few), and the time split between the
simulator and the reference; exit 1 on any mismatch.  A first run adds the Verilator builds
(reported apart, cached after).

    python benchmarks/bench_float_ops.py [--formats bf16,fp32,fp16] [--vectors 1000000]
        [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from lns.ieee import FloatFormat, get_format
from lns.ieee.vectors import edge_pairs, random_operands
from testbench.float_ops import OPS, FloatHarness, reference

BLOCK = 1 << 16


def _format(name: str) -> FloatFormat:
    """A preset name, or ``eEmM`` for exp_bits E and frac_bits M (``e4m3``)."""
    if name.startswith("e") and "m" in name:
        e, m = name[1:].split("m")
        return FloatFormat(int(e), int(m))
    return get_format(name)


def _blocks(fmt, kind: str, n: int, seed: int):
    """``(a, b, negate_b)`` blocks of the ``kind`` stream, ``n`` vectors in all."""
    done, i = 0, 0
    ea, eb = edge_pairs(fmt)
    while done < n:
        rng = np.random.default_rng([seed, i, 0 if kind == "random" else 1])
        if kind == "cross":
            a = np.arange(fmt.word_mask + 1, dtype=np.uint64)
            (b,) = random_operands(fmt, len(a), rng, arity=1)
        else:
            a, b = random_operands(fmt, BLOCK, rng)
            if i == 0:
                a = np.concatenate([ea, ea, a])[:BLOCK]
                b = np.concatenate([eb, eb, b])[:BLOCK]
        k = min(len(a), n - done)
        a, b = a[:k], b[:k]
        neg = rng.integers(0, 2, k).astype(bool)
        if kind == "random" and i == 0:
            neg[len(ea):2 * len(ea)] = True           # the edge pairs once as sub
            neg[:len(ea)] = False
        yield a.astype(b.dtype), b, neg
        done += k
        i += 1


def run_format(fmt, kind: str, n: int, seed: int) -> dict:
    res = {op: {"vectors": 0, "mismatches": 0, "first": []} for op in OPS}
    sim_s = ref_s = 0.0
    cycles = 0
    with FloatHarness(fmt) as h:
        build_s = h.build_seconds
        for k, (a, b, neg) in enumerate(_blocks(fmt, kind, n, seed)):
            t0 = time.perf_counter()
            status, cyc, got = h.run(a, b, neg, gap=5, bp=5, rng=seed * 1000 + k + 1)
            t1 = time.perf_counter()
            sim_s += t1 - t0
            cycles += cyc
            if status:
                raise SystemExit(f"{fmt.name}: stream protocol error {status} in block {k}")
            for op in OPS:
                want = reference(op, fmt, a, b, neg)
                bad = np.nonzero(got[op] != want)[0]
                r = res[op]
                r["vectors"] += len(a)
                r["mismatches"] += len(bad)
                for i in bad[:max(0, 5 - len(r["first"]))]:
                    r["first"].append({"a": hex(int(a[i])), "b": hex(int(b[i])),
                                       "negate_b": bool(neg[i]), "got": hex(int(got[op][i])),
                                       "want": hex(int(want[i]))})
            ref_s += time.perf_counter() - t1
    return {"format": fmt.name, "kind": kind, "vectors": n, "ops": res,
            "latency": h.latency, "cycles": cycles, "simulator_s": round(sim_s, 3),
            "reference_s": round(ref_s, 3), "build_s": round(build_s, 1),
            "vectors_per_s_simulator": round(n / sim_s) if sim_s else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--formats", default="bf16,fp32,fp16")
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--cross-blocks", type=int, default=16,
                    help="blocks of every-word-as-a for formats of at most 16 bits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    t_all = time.perf_counter()
    for name in args.formats.split(","):
        fmt = _format(name)
        rows.append(run_format(fmt, "random", args.vectors, args.seed))
        if fmt.total_bits <= 16 and args.cross_blocks > 0:
            rows.append(run_format(fmt, "cross", args.cross_blocks * (fmt.word_mask + 1),
                                   args.seed))
    total = time.perf_counter() - t_all
    bad = sum(r["ops"][op]["mismatches"] for r in rows for op in OPS)
    if args.json:
        print(json.dumps({"rows": rows, "mismatches": bad, "seconds": round(total, 1)},
                         indent=2))
    else:
        print("vectors and mismatches per operator (add covers add and sub, at random); "
              "the four run side by side in one harness")
        print(f"{'format':6} {'kind':6} {'vectors':>9} {'add':>4} {'mul':>4} {'div':>4} "
              f"{'sqrt':>4}  {'latency a/m/d/s':15} {'sim s':>6} {'M vec/s':>7} {'ref s':>6} "
              f"{'build s':>7}")
        for r in rows:
            mism = [r["ops"][op]["mismatches"] for op in OPS]
            lat = "/".join(str(r["latency"][op]) for op in OPS)
            rate = r["vectors"] / r["simulator_s"] / 1e6 if r["simulator_s"] else 0.0
            print(f"{r['format']:6} {r['kind']:6} {r['vectors']:9,} {mism[0]:4} {mism[1]:4} "
                  f"{mism[2]:4} {mism[3]:4}  {lat:15} {r['simulator_s']:6.2f} {rate:7.2f} "
                  f"{r['reference_s']:6.2f} {r['build_s']:7.1f}")
            for op in OPS:
                for f in r["ops"][op]["first"]:
                    print(f"    {op}: {f}")
        print(f"total {total:.1f} s, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
