"""Synthesis of each float operator alone (`rtl.float`, inputs and outputs on pins) through
the project's one flow (`rtl.cost.synthesis_report` of a `rtl.cost.VerilogSource`: Yosys with
ABC LUT4 mapping, nextpnr seed 1; cached with every synthesis): LUT4, carry cells, FFs, DSPs,
Fmax and latency per operator, format and target.  Prints the markdown table of
`rtl/float/README.md` (one row per format and operator, the targets side by side).

    python benchmarks/bench_float_synthesis.py [--formats bf16,fp32] [--ops add,mul,div,sqrt,exp2]
        [--targets ecp5,ice40] [--json]

A cold run takes 10-20 min on this machine (fp32 on the iCE40 the longest: its multipliers
are LUTs); a cached one, seconds.
"""

from __future__ import annotations

import argparse
import json
import sys

from lns.ieee import get_format
from rtl import cost
from rtl.float import OPERATORS, operator, to_verilog


def measure(op: str, fmt_name: str, target: str) -> dict:
    """One operator's counts and Fmax on ``target`` (seed 1)."""
    unit = operator(op, fmt_name)
    latency = unit.latency
    r = cost.synthesis_report(cost.VerilogSource(to_verilog(unit), unit.name), pnr=True,
                              target=target)
    dev = cost.device_counts(r)
    pnr = r["pnr"]
    return {"op": op, "format": fmt_name, "target": target, "latency": latency,
            **{k: int(dev[k]) for k in ("luts", "carries", "ffs", "dsps")},
            "fmax_mhz": pnr["fmax_mhz"] if pnr and pnr["fits"] else None,
            "cached": r["cached"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", default="bf16,fp32")
    ap.add_argument("--ops", default="add,mul,div,sqrt,exp2")
    ap.add_argument("--targets", default="ecp5,ice40")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    formats, ops, targets = (s.split(",") for s in (a.formats, a.ops, a.targets))
    for f in formats:
        get_format(f)                                # a bad name fails before any synthesis
    bad = [o for o in ops if o not in OPERATORS] + [t for t in targets if t not in cost.TARGETS]
    if bad:
        ap.error(f"unknown operator or target: {', '.join(bad)}")
    rows = []
    for f in formats:
        for o in ops:
            row = {"format": f, "op": o}
            for t in targets:
                print(f"{f} {o} on {t} ...", file=sys.stderr, flush=True)
                row[t] = measure(o, f, t)
            rows.append(row)
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    head = ["operator", "latency"]
    for t in targets:
        head += [f"{t} LUT4", "carries", "FF", "DSP", "Fmax MHz"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [f"{row['format']} {row['op']}", str(row[targets[0]]["latency"])]
        for t in targets:
            m = row[t]
            fmax = f"{m['fmax_mhz']:.1f}" if m["fmax_mhz"] else "does not fit"
            cells += [f"{m['luts']:,}", str(m["carries"]), f"{m['ffs']:,}", str(m["dsps"]),
                      fmax]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
