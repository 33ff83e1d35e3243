"""`lnsmadam report`: precision, training, costs, energy and verification in one folder."""

from __future__ import annotations

from pathlib import Path

from ..options import seed
from . import UsageError

NAME = "report"
HELP = "write report.md, report.json and plots: precision, training, costs, energy, verification"
ORDER = 70


def add_arguments(parser):
    from lns import presets
    from sim.report import SECTIONS
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to write the report to (built in a hidden folder and "
                             "moved in when done: an interrupted run leaves an earlier "
                             "report whole)")
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs and synthesis of the default preset only (what "
                             "make demo runs)")
    parser.add_argument("--preset", default=presets.DEFAULT,
                        help=f"the preset the report centres on (default {presets.DEFAULT})")
    parser.add_argument("--sections", default=None,
                        help=f"comma-separated subset of {','.join(SECTIONS)} (default: the "
                             "mode's sections; --quick leaves out the headline)")
    parser.add_argument("--no-pnr", action="store_true", help="skip place and route (no Fmax)")
    parser.add_argument("--seed", type=seed, default=0, help="seed, 0 to 2**32-1 (default 0)")
    parser.add_argument("--json", action="store_true", help="print report.json to stdout too")


def run(args) -> int:
    from lns import presets
    from sim.report import SECTIONS, build_report
    presets.get(args.preset)                       # a clear error before anything runs
    sections = None
    if args.sections is not None:
        sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
        if not sections:
            raise UsageError(f"--sections must name at least one of {','.join(SECTIONS)}, "
                             f"not {args.sections!r}")
    # build_report checks --out (writable) before any section runs, and builds the report in
    # a hidden folder that is removed on an error or Ctrl-C
    res = build_report(args.out, quick=args.quick, preset=args.preset, seed=args.seed,
                       sections=sections, pnr=not args.no_pnr)
    if args.json:
        print((Path(args.out) / "report.json").read_text())
        return 0
    # The main table of the report, then where the rest is.
    if "training" in res:
        claim = res["training"].get("claim_8bit", {})
        print(f"training: {claim.get('text', '')}")
    if "energy" in res and args.preset in res["energy"]:
        e = res["energy"][args.preset]
        print(f"energy ({args.preset}): {e['savings_vs_float32_madam_total']:.1%} less than "
              f"float32 Madam per update (LNS-Madam publishes > 90 % for whole training)")
    if "verification" in res:
        bad = [p for p, v in res["verification"].items() if not v["ok"]]
        print("verification: " + ("all evaluators agree" if not bad else f"MISMATCH in {bad}"))
    print(f"wrote {args.out}/report.md, report.json and plots in {res['timing_s']['total']:.0f} s")
    return 0 if not any(not v["ok"] for v in res.get("verification", {}).values()) else 1
