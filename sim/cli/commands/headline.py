"""`lnsmadam headline`: one update unit per optimizer and number system (LNS Madam, LNS Adam,
LNS Lion, FP32 and BF16 Adam) on one FPGA, with the one-sentence answer to the seed's claim."""

from __future__ import annotations

from rtl.cost import TARGETS
from testbench.progress import Progress

from ..jsonout import dumps
from ..outputs import check_plot
from . import UsageError

NAME = "headline"
HELP = ("the headline comparison: LNS Madam 8/12/16, LNS Adam 8/12/16, LNS Lion 12, FP32 Adam "
        "and BF16 Adam update units synthesised on one FPGA (LUT4 equivalents, Fmax, updates per "
        "second per area, words moved, energy) and the one-sentence answer")
ORDER = 36


def add_arguments(parser):
    parser.add_argument("--target", default="ecp5", choices=sorted(TARGETS),
                        help="the FPGA: ecp5 (ECP5 LFE5U-85F, default) or ice40 (iCE40 HX8K; "
                             "units larger than it are rows that do not fit)")
    parser.add_argument("--no-pnr", action="store_true",
                        help="skip place and route (no Fmax, so no rates; Yosys only)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also write the plot of area (LUT4 equivalents) against Fmax "
                             "(needs place and route: not with --no-pnr)")


def run(args) -> int:
    from sim.analysis.headline import compare_number_systems, plot_headline, render_markdown
    from sim.report.markdown import align_tables
    if args.plot is not None and args.no_pnr:     # the plot's x axis is what --no-pnr skips
        raise UsageError("--plot draws area against Fmax, which --no-pnr does not measure: "
                         "leave out one of them")
    plot = check_plot(args.plot)                  # before the long run
    try:
        with Progress("lnsmadam headline", unit="unit") as bar:
            result = compare_number_systems(args.target, pnr=not args.no_pnr, progress=bar)
    except RuntimeError as exc:               # a missing or failing tool: one line, exit 2
        raise UsageError(str(exc)) from None
    if plot is not None:
        result["plot"] = plot_headline(result, plot)
    if args.json:
        print(dumps(result, sort_keys=True))
    else:                             # the Markdown with its table's columns lined up
        print(align_tables(render_markdown(result)), end="")
        if plot is not None:
            print(f"\nplot: {result['plot']}")
    return 0
