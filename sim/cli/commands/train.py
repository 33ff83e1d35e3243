"""`lnsmadam train`: training emulation on the digits data set, LNS Madam at several weight
widths beside float Madam, Adam and SGD (`sim.analysis.training`)."""

from __future__ import annotations

from . import UsageError
from .sweep import check_plot, finish, parse_bits

NAME = "train"
HELP = "train a small MLP on sklearn digits: LNS Madam across weight bits vs float Madam, Adam, SGD"
ORDER = 35


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, widths 6,8,12,16, 20 epochs (about two minutes; default: 3 seeds, widths 6,8,10,12,16, 40 epochs)")
    parser.add_argument("--bits", metavar="BITS", help="LNS weight widths: A..B or A,B,C")
    parser.add_argument("--seeds", type=int, metavar="N", help="number of seeds (0..N-1)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--grad-bits", type=int, metavar="B",
                        help="gradient word width of every LNS row (default: the base preset's)")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw test accuracy against bits")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from sim.analysis.training import plot_training, run_training
    from testbench.progress import Progress

    bits = parse_bits(args.bits, option="--bits") if args.bits else None
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be a positive number, not {args.seeds}")
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be a positive number, not {args.epochs}")
    if args.grad_bits is not None and not 7 <= args.grad_bits <= 22:
        raise UsageError(f"--grad-bits must be between 7 and 22, not {args.grad_bits}")
    seeds = range(args.seeds) if args.seeds else None
    check_plot(args.plot)

    with Progress("train", unit="run") as bar:
        result = run_training(args.quick, seeds, bits, epochs=args.epochs,
                              grad_bits=args.grad_bits, progress=bar.item)
    return finish(args, result, plot_training, format_training)


def format_training(result: dict) -> str:
    """The training table (error %, train / test, mean +- std over seeds) as text."""
    d = result["dataset"]
    s = result["settings"]
    lines = [f"{d['name']}: {d['train']} train / {d['test']} test; {result['model']}; "
             f"{result['epochs']} epochs, batch {result['batch']}, seeds {result['seeds']}",
             f"Madam eta 2^{s['eta_log2']}, Adam lr {s['adam_lr']:g}, SGD lr {s['sgd_lr']:g} "
             f"momentum {s['sgd_momentum']:g}; biases of the Madam runs: {s['biases']}",
             ""]
    head = (f"{'optimizer':<30} {'weight':<16} {'grad':<14} {'train err %':>14} "
            f"{'test err %':>14} {'test acc %':>8}")
    lines += [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(f"{r['label']:<30} {r.get('weight_format', 'float64'):<16} "
                     f"{r.get('grad_format', 'float64'):<14} "
                     f"{r['train_err_mean']:>6.2f} +- {r['train_err_std']:<4.2f} "
                     f"{r['test_err_mean']:>6.2f} +- {r['test_err_std']:<4.2f} "
                     f"{r['test_acc_mean']:>8.2f}")
    lines += ["", result["claim_8bit"]["text"], f"({result['seconds']:.0f} s)"]
    return "\n".join(lines)
