"""`lnsmadam sweep`: precision of the LNS update against float Madam across formats, and of
its tables (`sim.analysis.sweep`)."""

from __future__ import annotations

from ..jsonout import dumps
from ..options import check_tracked_work, seed, tracked_weights
from ..outputs import check_plot
from . import UsageError

NAME = "sweep"
HELP = ("precision of the LNS update against base-2 float Madam across weight bits, and of its "
        "tables")
ORDER = 30


def parse_bits(text: str, *, option: str = "--weight-bits", lo: int = 4,
               hi: int | None = None) -> list[int]:
    """``"6..16"``, ``"6-16"``, ``"8,12,16"`` or ``"12"`` as a sorted list of widths."""
    if hi is None:
        from lns.presets import WEIGHT_BITS_MAX as hi         # the families' widest weight
    spans = [_span(part.strip(), option, text) for part in text.split(",")]
    for a, b in spans:                  # before any range is expanded: "4..10**12" is cheap
        if a > b:
            raise UsageError(f"{option} range {a}..{b} runs backwards: write {b}..{a}")
        if a < lo or b > hi:
            raise UsageError(f"{option} must be between {lo} and {hi} bits, not {text!r}")
    return sorted({w for a, b in spans for w in range(a, b + 1)})


def _span(part: str, option: str, text: str) -> tuple[int, int]:
    """One part of a width list: ``"A..B"``, ``"A-B"`` or ``"A"`` as ``(A, B)``."""
    try:
        for sep in ("..", "-"):
            if sep in part:
                a, b = part.split(sep)
                return int(a), int(b)
        return int(part), int(part)
    except ValueError:
        raise UsageError(f"{option} must be a width, a range A..B or a list A,B,C, "
                         f"not {text!r}") from None


def add_arguments(parser):
    from lns import presets
    from lns.modes import Optimizer
    from sim.analysis.sweep import SWEEP_PRESETS
    parser.add_argument("--weight-bits", default="6..16", metavar="BITS",
                        help="weight word widths: A..B or A,B,C (default 6..16)")
    parser.add_argument("--base", default="lns12",
                        help="preset the swept widths take grad, moment and eta from "
                             "(default lns12)")
    parser.add_argument("--presets", default=",".join(SWEEP_PRESETS), metavar="P,Q",
                        help=f"presets to measure as they are, comma-separated "
                             f"(of {', '.join(presets.names(Optimizer.MADAM))}; "
                             "'' for none)")
    parser.add_argument("--variants-at", type=int, default=12, metavar="BITS",
                        help="weight width of the table/moment/grad/rounding variants (0: none)")
    parser.add_argument("--steps", type=int, default=1000, help="steps of each run (default 1000)")
    parser.add_argument("--weights", type=tracked_weights, default=2000,
                        help="weights of each run (default 2000)")
    parser.add_argument("--seed", type=seed, default=0, help="seed, 0 to 2**32-1 (default 0)")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also draw the errors against weight bits")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from lns import presets
    from lns.modes import Optimizer
    from lns.presets import WEIGHT_BITS_MAX
    from sim.analysis.sweep import plot_sweep, precision_sweep
    from testbench.progress import Progress

    bits = parse_bits(args.weight_bits)
    if args.steps < 1 or args.weights < 1:
        raise UsageError(f"--steps and --weights must be positive, not {args.steps} and "
                         f"{args.weights}")
    check_tracked_work(args.weights, args.steps)
    names = [p.strip() for p in args.presets.split(",") if p.strip()]
    madam = presets.names(Optimizer.MADAM)    # the sweep tracks float Madam
    for p in names + [args.base]:
        if p not in madam:
            raise UsageError(f"preset must be one of {', '.join(madam)}, not {p!r}")
    if args.variants_at and not 4 <= args.variants_at <= WEIGHT_BITS_MAX:
        raise UsageError(f"--variants-at must be between 4 and {WEIGHT_BITS_MAX} bits (or 0), "
                         f"not {args.variants_at}")
    check_plot(args.plot)

    with Progress("sweep", unit="row") as bar:
        result = precision_sweep(bits, base=args.base, preset_names=tuple(names),
                                 variants_at=args.variants_at or None, steps=args.steps,
                                 weights=args.weights, seed=args.seed, progress=bar.item)
    return finish(args, result, plot_sweep, format_sweep)


def finish(args, result: dict, plot, fmt) -> int:
    """Draw ``--plot`` with ``plot(result, path)``, then print JSON or ``fmt(result)``."""
    if args.plot:
        result["plot"] = plot(result, args.plot)
    print(dumps(result) if args.json else fmt(result))
    return 0


def format_sweep(result: dict) -> str:
    """The two tables of `sim.analysis.sweep.precision_sweep` as text."""
    lines = [f"LNS update against base-2 float Madam: {result['steps']} steps x "
             f"{result['weights']} weights, seed {result['seed']} "
             "(errors in weight LSBs of log2|w|)"]
    head = (f"{'config':<16} {'weight':<16} {'grad':<15} {'moment':<18} {'sb':<6} {'round':<5} "
            f"{'eta LSB':>7} {'step rms':>8} {'step max':>8} {'!= rnd':>7} {'final rms':>9} "
            f"{'drift':>6} {'rel err':>8}")
    lines += [head, "-" * len(head)]
    kind = None
    for r in result["rows"]:
        if kind is not None and r["kind"] != kind:
            lines.append("")
        kind = r["kind"]
        lines.append(f"{r['name']:<16} {r['weight']:<16} {r['grad']:<15} {r['moment']:<18} "
                     f"{r['table']:<6} {'stoch' if r['rounding'] == 'stochastic' else 'rne':<5} "
                     f"{r['eta_lsb']:>7.3g} {r['step_rms_lsb']:>8.3f} {r['step_max_lsb']:>8.3f} "
                     f"{r['step_mismatch_share']:>7.2%} {r['final_rms_lsb']:>9.2f} "
                     f"{r['mean_drift_lsb']:>6.2f} {r['final_rel_err']:>8.2%}")
    lines.append(f"(rounding alone: one step RMS 0.289 LSB; after {result['steps']} steps a random "
                 f"walk of RMS {(result['steps'] / 12) ** 0.5:.1f} LSBs; '!= rnd': share of steps "
                 f"whose integer step differs from the float step rounded half-even)")
    lines += ["", "tables (error in ulps of the entry against the exact function):"]
    head = (f"{'table':<6} {'F':>3} {'method':<7} {'entries':>8} {'bits':>9} {'direct bits':>11} "
            f"{'max ulp':>8} {'mean ulp':>8} {'corr. rnd':>9} {'faithful':>8}  used by")
    lines += [head, "-" * len(head)]
    for t in result["tables"]:
        used = ", ".join(t["used_by"][:4]) + (" ..." if len(t["used_by"]) > 4 else "")
        lines.append(f"{t['table']:<6} {t['frac_bits']:>3} {t['method']:<7} {t['entries']:>8} "
                     f"{t['bits']:>9,} "
                     f"{t['direct_bits']:>11,} {t['max_err_ulp']:>8.3f} {t['mean_err_ulp']:>8.3f} "
                     f"{t['correctly_rounded_share']:>9.2%} "
                     f"{'yes' if t['faithful'] else 'NO':>8}  {used}")
    return "\n".join(lines)
