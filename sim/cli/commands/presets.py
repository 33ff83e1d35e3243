"""`lnsmadam presets`: the named configurations of every rule, one table, and under it the
caveats of those that hold a degenerate constant (`lns.rule.Rule.caveats`; in ``--json``
each row's ``caveats`` list).  One row of ``--json`` loads back as ``--config``."""

from __future__ import annotations

from ..jsonout import dumps

NAME = "presets"
HELP = "list the named configurations with their word widths and ranges"
ORDER = 10

_WORDS = ("w", "g", "m", "v")


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from lns import presets
    cfgs = [presets.get(n) for n in presets.names()]
    if args.json:
        print(dumps([cfg.describe() for cfg in cfgs]))
        return 0
    # columns as wide as their longest entry (fp32_adam_fast, float_adam_fast)
    pw = max(11, *(len(c.name) for c in cfgs))
    rw = max(10, *(len(str(c.optimizer)) for c in cfgs))
    head = (f"{'preset':<{pw}} {'rule':<{rw}} "
            + " ".join(f"{k:<17}" for k in _WORDS)
            + f" {'weight range':<19} {'rounding':<13} {'eta':>9}")
    print(head)
    print("-" * len(head))
    for cfg in cfgs:
        fmts = cfg.word_formats
        lo, hi = cfg.weight_range()
        rng = f"{lo:.2e}..{hi:.3g}"
        words = " ".join(f"{fmts[k].name if k in fmts else '-':<17}" for k in _WORDS)
        print(f"{cfg.name:<{pw}} {str(cfg.optimizer):<{rw}} {words} {rng:<19} "
              f"{str(cfg.rounding):<13} {cfg.eta:>9.3g}")
    _print_caveats(cfgs)
    return 0


def _print_caveats(cfgs):
    """What the presets that opt in to a degenerate constant really hold (`Rule.caveats`),
    under the table: one line each."""
    lines = [f"  {cfg.name}: {c}" for cfg in cfgs for c in cfg.caveats()]
    if lines:
        print()
        print("caveats (constants the hardware holds degenerate; the preset sets "
              "allow_degenerate):")
        print("\n".join(lines))
