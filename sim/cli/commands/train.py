"""`lnsmadam train`: training emulation on the digits data set: every LNS rule of the
registry (LNS Madam, Adam, SGD, Lion) at several weight widths beside its float reference
(float Madam, Adam, SGD, Lion), learning rates tuned on a validation split, verdicts with
paired confidence intervals, the sigma* sweep and the eta-halving schedule
(`sim.analysis.training`)."""

from __future__ import annotations

from ..options import EPOCHS_MAX, SEEDS_MAX, TRAIN_LIMIT_WHY, bounded_int
from ..outputs import check_plot
from . import UsageError
from .sweep import finish, parse_bits

NAME = "train"
HELP = ("train a small MLP on sklearn digits: LNS Madam, Adam, SGD, Lion across weight bits vs "
        "float Madam, Adam, SGD, Lion (tuned eta, paired CIs), the sigma* sweep, the eta "
        "schedule")
ORDER = 35


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="3 seeds, widths 6,8,12, 10 epochs, eta tuned per rule on 3 "
                             "points for 4 epochs; sigma* sweep 6 epochs (about 55 s of CPU; "
                             "default: 5 seeds, widths 6..16, 30 epochs, 6-point grids per "
                             "row, the CNN when JAX is installed: about 15 min of CPU)")
    parser.add_argument("--bits", metavar="BITS", help="LNS weight widths: A..B or A,B,C")
    parser.add_argument("--seeds", type=bounded_int(1, SEEDS_MAX, TRAIN_LIMIT_WHY), metavar="N",
                        help=f"number of seeds (0..N-1), at most {SEEDS_MAX}")
    parser.add_argument("--epochs", type=bounded_int(1, EPOCHS_MAX, TRAIN_LIMIT_WHY),
                        help=f"epochs of each run, at most {EPOCHS_MAX}")
    parser.add_argument("--grad-bits", type=int, metavar="B",
                        help="gradient word width of every LNS row (default: the base preset's)")
    parser.add_argument("--no-tune", action="store_true",
                        help="no learning-rate search: the presets' eta, Adam 1e-3, SGD 0.1, "
                             "Lion 2^-11")
    parser.add_argument("--cnn", action="store_true",
                        help="also train the CNN (sim.jaxlns.cnn, JAX) on the same table")
    parser.add_argument("--sigma-sweep", action="store_true",
                        help="run the sigma* sweep (alone unless --table or --schedule)")
    parser.add_argument("--task", default="digits", metavar="TASK",
                        help="the sigma* sweep's data set: digits (default), mnist5k or "
                             "mnist1d (the other parts train on the digits)")
    parser.add_argument("--sigma-eta-log2", type=int, default=-7, metavar="E",
                        help="the sigma* sweep's eta = 2^E for float and LNS Madam (default "
                             "-7, the digits'; explore tunes MNIST-1D's LNS Madam to 2^-3)")
    parser.add_argument("--schedule", action="store_true",
                        help="run the eta = 2^-6 halving schedule (alone unless --table or "
                             "--sigma-sweep)")
    parser.add_argument("--units", action="store_true",
                        help="train each IEEE update unit's bit-exact arithmetic (every "
                             "IEEE preset: fp32_adam, bf16_adam, fp32_adam_fast(_ftz), "
                             "mp_adam, fp12_adam, fp32_madam, fp12_madam) beside its float64 "
                             "twin, eta tuned the same way: "
                             "does each unit's optimizer train? (alone unless other parts "
                             "are named; about 20 min of CPU, 3 with --quick)")
    parser.add_argument("--table", action="store_true",
                        help="run the optimizer table (the default when no part is named)")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw test accuracy against bits")
    parser.add_argument("--convergence-plot", metavar="FILE.png",
                        help="also draw the per-epoch loss and error curves")
    parser.add_argument("--sigma-plot", metavar="FILE.png", help="also draw the sigma* sweep")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _parts(args) -> set[str]:
    named = {p for p, on in (("table", args.table), ("sigma", args.sigma_sweep),
                             ("schedule", args.schedule), ("units", args.units)) if on}
    return named or {"table", "sigma", "schedule"}


def run(args) -> int:
    from sim.analysis import training as T
    from testbench.progress import Progress

    bits = parse_bits(args.bits, option="--bits") if args.bits else None
    if args.grad_bits is not None and not 7 <= args.grad_bits <= 22:
        raise UsageError(f"--grad-bits must be between 7 and 22, not {args.grad_bits}")
    if args.cnn and not T.cnn_available():
        raise UsageError("--cnn needs sim.jaxlns.cnn (JAX), which does not import here")
    seeds = range(args.seeds) if args.seeds else None
    parts = _parts(args)
    from sim.analysis.training.tasks import TASKS
    if args.task not in TASKS:
        raise UsageError(f"--task must be one of {', '.join(TASKS)}, not {args.task!r}")
    if args.task != "digits" and parts != {"sigma"}:
        raise UsageError("--task applies to the sigma* sweep alone: give --sigma-sweep "
                         "without --table, --schedule or --units")
    if args.sigma_eta_log2 != -7 and "sigma" not in parts:
        raise UsageError("--sigma-eta-log2 needs the sigma* sweep (--sigma-sweep)")
    if not -16 <= args.sigma_eta_log2 <= 0:
        raise UsageError(f"--sigma-eta-log2 must be between -16 and 0, not "
                         f"{args.sigma_eta_log2}")
    for option, path, part in (("--plot", args.plot, "table"),
                               ("--convergence-plot", args.convergence_plot, "table"),
                               ("--sigma-plot", args.sigma_plot, "sigma")):
        if path is not None and part not in parts:
            raise UsageError(f"{option} needs the {part} part of the run")
        check_plot(path, option)

    result: dict = {}
    if "table" in parts:
        models = ("mlp", "cnn") if args.cnn else (None if not args.quick else ("mlp",))
        with Progress("train", unit="run") as bar:
            result.update(T.run_training(args.quick, seeds, bits, epochs=args.epochs,
                                         grad_bits=args.grad_bits, tune_lr=not args.no_tune,
                                         models=models, progress=bar.item))
        if args.convergence_plot:
            result["convergence_plot"] = T.plot_convergence(result, args.convergence_plot)
    if "sigma" in parts:
        with Progress("sigma*", unit="run") as bar:
            result["sigma_sweep"] = T.run_sigma_sweep(args.quick, seeds, epochs=args.epochs,
                                                      task=args.task,
                                                      eta_log2=args.sigma_eta_log2,
                                                      progress=bar.item)
        if args.sigma_plot:
            result["sigma_plot"] = T.plot_sigma(result["sigma_sweep"], args.sigma_plot)
    if "schedule" in parts:
        with Progress("schedule", unit="run") as bar:
            result["schedule"] = T.run_schedule(args.quick, seeds, epochs=args.epochs,
                                                progress=bar.item)
    if "units" in parts:
        from sim.analysis.training.units import run_units
        with Progress("units", unit="run") as bar:
            result["units"] = run_units(args.quick, seeds=seeds, epochs=args.epochs,
                                        tune_lr=not args.no_tune, progress=bar.item)
    plot = T.plot_training if "table" in parts else None
    return finish(args, result, plot, format_training)


def _time(part: dict) -> str:
    cpu = part.get("cpu_seconds")
    return f"({part['seconds']:.0f} s" + (f", {cpu:.0f} s CPU)" if cpu is not None else ")")


def format_training(result: dict) -> str:
    """The table (error %, mean +- std over seeds, the chosen eta), the verdicts, the sigma*
    sweep and the schedule as text; each part only when it was run."""
    lines = []
    if "rows" in result:
        lines += _format_table(result)
    if "sigma_sweep" in result:
        lines += [""] + _format_sigma(result["sigma_sweep"])
    if "schedule" in result:
        lines += [""] + _format_schedule(result["schedule"])
    if "units" in result:
        lines += [""] + _format_units(result["units"])
    return "\n".join(lines)


def _eta(r) -> str:
    e = r.get("eta_log2")
    text = f"2^{e}" if e is not None else f"{r['eta']:.3g}"
    if r.get("momentum") is not None:
        text += f" mu {r['momentum']:g}"
    return text


def _format_table(result: dict) -> list[str]:
    d = result["dataset"]
    tn = result["tuning"]
    lines = [f"{d['name']}: {d['train']} train / {d['test']} test; {result['model']}; "
             f"{result['epochs']} epochs, batch {result['batch']}, seeds {result['seeds']}"
             + (" (quick: fewer seeds, widths and epochs than the full run)"
                if result.get("quick") else ""),
             (f"eta tuned per {tn['per']} on a power-of-two grid by validation error "
              f"({tn['epochs']} epochs, seeds {tn['seeds']}; {tn['data']})"
              if tn["enabled"] else "eta not tuned: the presets' eta, Adam 1e-3, SGD 0.1, "
              "Lion 2^-11"),
             f"biases of the Madam and LNS runs: {result['settings']['biases']}"]
    cnn = [r for r in result["rows"] if r.get("model") == "cnn"]
    if cnn:
        lines.append(f"CNN rows (sim.jaxlns.cnn): {cnn[0].get('epochs')} epochs, LNS rules at "
                     f"{sorted({r['weight_bits'] for r in cnn if r['weight_bits']})} bits, eta "
                     f"tuned per rule ({(tn.get('cnn') or {}).get('tune_epochs')} epochs)")
    lines.append("")
    head = (f"{'optimizer':<34} {'weight':<16} {'eta':<14} {'train err %':>14} "
            f"{'test err %':>14} {'test acc %':>10}")
    lines += [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(f"{r['label']:<34} {r.get('weight_format', 'float64'):<16} {_eta(r):<14} "
                     f"{r['train_err_mean']:>6.2f} +- {r['train_err_std']:<4.2f} "
                     f"{r['test_err_mean']:>6.2f} +- {r['test_err_std']:<4.2f} "
                     f"{r['test_acc_mean']:>10.2f}")
    lines += ["", result["claim_8bit"]["text"], ""]
    lines += [f"* {t}" for t in result.get("findings", {}).get("text", [])]
    lines += ["", "Verdicts (paired over seeds, 95 % CI):"]
    lines += [f"- {v['text']}" for v in result.get("verdicts", [])]
    lines.append(_time(result))
    return lines


def _format_sigma(s: dict) -> list[str]:
    lines = [f"sigma* sweep on {s.get('task', 'digits')} ({s['unit']}; {s['epochs']} epochs, "
             f"seeds {s['seeds']}, eta "
             f"2^{s['eta_log2']}): final test loss / test error % / test - train loss"]
    head = f"{'config':<18}" + "".join(f"{n:>20}" for n in s["clip_names"])
    lines += [head, "-" * len(head)]
    for c in s["configs"]:
        lines.append(f"{c['name']:<18}" + "".join(
            f"{r['test_loss_mean']:>7.3f}/{r['test_err_mean']:>5.2f}/{r['gap_mean']:>6.3f}"
            for r in c["rows"]))
    lines += [f"- {t}" for t in s["verdict_text"]]
    lines.append(_time(s))
    return lines


def _format_schedule(h: dict) -> list[str]:
    lines = [f"eta = 2^{h['start_log2']} halved every {h['every']} epochs down to one weight "
             f"LSB, against constant 2^{h['constant_eta_log2']} ({h['epochs']} epochs, seeds "
             f"{h['seeds']}):"]
    for w in h["widths"]:
        lines.append(f"  {w['weight_bits']}-bit: schedule {w['schedule']}")
    lines += [f"- {t}" for t in h["verdict_text"]]
    lines.append(_time(h))
    return lines


def _format_units(u: dict) -> list[str]:
    lines = [f"Each IEEE unit's bit-exact update on the digits ({u['epochs']} epochs, seeds "
             f"{u['seeds']}; eta tuned on the float64 twin's grid by validation error); "
             f"trains = mean test accuracy >= {u['train_floor']:g} %"]
    head = (f"{'unit':<16} {'eta':<10} {'test acc %':>16} {'trains':>7}  "
            "paired vs float64 twin (test acc, 95 % CI)")
    lines += [head, "-" * len(head)]
    for r in u["twins"]:
        lines.append(f"{'float64 ' + r['optimizer']:<16} {_eta(r):<10} "
                     f"{r['test_acc_mean']:>7.2f} +- {r['test_acc_std']:<5.2f} {'':>7}")
    for r in u["rows"]:
        v = r["vs_twin"]
        ci = ("" if v["ci_lo"] is None else f" [{v['ci_lo']:+.2f}, {v['ci_hi']:+.2f}]")
        lines.append(f"{r['preset']:<16} {_eta(r):<10} {r['test_acc_mean']:>7.2f} +- "
                     f"{r['test_acc_std']:<5.2f} {'yes' if r['trains'] else 'NO':>7}  "
                     f"{v['diff_mean']:+.2f}{ci} vs {v['b']}")
    lines.append(_time(u))
    return lines
