"""The IEEE reference (`lns.ieee.ops`) against Berkeley SoftFloat, a million vectors per
operation and format.

Run (one core; measured 72 s of CPU, 4 min 48 s wall on the shared 2-core machine)::

    .venv/bin/python benchmarks/bench_ieee_softfloat.py [--vectors 1000000] [--seed 2026]
        [--formats fp32,bf16,fp16] [--ops add,sub,mul,div,sqrt] [--impls numpy,exact] [--json]

For every format and operation: the edge table (all pairs of `lns.ieee.vectors.edge_words`
and the tie pairs) and ``--vectors`` seeded random operands (`lns.ieee.vectors
.random_operands`), SoftFloat once (`lns.ieee.softfloat.softfloat_apply`), then each
implementation of `lns.ieee.ops` compared bit for bit, NaNs included (softfloatpy's default
NaN is the canonical NaN).  Exit status 1 on any mismatch.  The tests run a 20,000-vector
slice of the same function (`tests/test_ieee_softfloat.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from lns.ieee import get_format, ops
from lns.ieee.softfloat import FORMATS, cross_check
from testbench.progress import Progress


def _list(text: str, allowed, what: str) -> list[str]:
    items = [x for x in text.split(",") if x]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise SystemExit(f"bench_ieee_softfloat: --{what} must be a comma list of "
                         f"{', '.join(allowed)}, not {text!r}")
    return items


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--ops", default=",".join(ops.BINARY_OPS + ops.UNARY_OPS))
    ap.add_argument("--impls", default="numpy,exact")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.vectors < 0:
        raise SystemExit("bench_ieee_softfloat: --vectors must be >= 0")
    formats = _list(args.formats, FORMATS, "formats")
    op_names = _list(args.ops, ops.BINARY_OPS + ops.UNARY_OPS, "ops")
    impls = tuple(_list(args.impls, ("numpy", "exact"), "impls"))

    rows = []
    t0 = time.perf_counter()
    for name in formats:
        for op in op_names:
            with Progress(f"softfloat {name} {op}", total=args.vectors, unit="vector") as bar:
                r = cross_check(get_format(name), op, args.vectors, seed=args.seed,
                                impls=impls, progress=bar.update)
            rows.append(r)
    total_s = time.perf_counter() - t0
    ok = all(r.ok for r in rows)
    if args.json:
        print(json.dumps({"vectors_per_op": args.vectors, "seed": args.seed, "impls": impls,
                          "seconds": round(total_s, 1), "ok": ok,
                          "rows": [r.to_dict() for r in rows]}, indent=2))
    else:
        print(f"{'format':6} {'op':5} {'vectors':>9} {'edge':>5} "
              + " ".join(f"{'mism ' + i:>11}" for i in impls)
              + f" {'NaN res':>8} {'s':>7}")
        for r in rows:
            print(f"{r.fmt:6} {r.op:5} {r.vectors:9d} {r.edge:5d} "
                  + " ".join(f"{r.mismatches[i]:11d}" for i in impls)
                  + f" {r.nan_results:8d} {r.seconds:7.1f}")
            for m in r.first_mismatches:
                print(f"    {m}")
        print(f"{'PASS' if ok else 'FAIL'}: {len(rows)} format x op rows, "
              f"{sum(r.vectors + r.edge for r in rows):,} vectors, {total_s:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
