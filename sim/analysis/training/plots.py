"""The training plots (matplotlib, Agg): accuracy against weight bits, convergence curves,
the sigma* sweep.  Each writes a PNG and returns its path."""

from __future__ import annotations

import numpy as np

from .methods import METHODS, SUBJECT, Method
from .tasks import task

__all__ = ["plot_training", "plot_convergence", "plot_sigma"]

# a colour per method: those the plots have always used, then the spare ones in order
_KNOWN = {"adam": "C2", "sgd": "C3", "madam": "C4", "lns": "C0", "lns_adam": "C1",
          "lns_sgd": "C5"}
_SPARE = iter(c for c in ("C6", "C8", "C9", "C7") if c not in _KNOWN.values())
_COLORS = {m.key: _KNOWN.get(m.key) or next(_SPARE, "k") for m in METHODS}
_FLOAT_COLORS = {m.key: _COLORS[m.key] for m in METHODS if not m.is_lns}
_LNS_COLORS = {m.key: _COLORS[m.key] for m in METHODS if m.is_lns}
_SUBJECT_KEY = Method(SUBJECT, "lns").key


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_training(result: dict, path) -> str:
    """Test accuracy (mean +- std over seeds) against weight bits, one line per LNS rule
    (and gradient format / rounding), with the float optimizers as horizontal bands."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    rows = [r for r in result["rows"] if r.get("model", "mlp") == "mlp"]
    groups: dict = {}
    for r in sorted((r for r in rows if r["optimizer"] in _LNS_COLORS),
                    key=lambda r: r["weight_bits"]):
        key = (r["optimizer"], r.get("grad_format"), r.get("rounding")
               if r["optimizer"] != _SUBJECT_KEY else None)
        groups.setdefault(key, []).append(r)
    styles = {}
    for (opt, fmt, rnd), rs in groups.items():
        n = styles[opt] = styles.get(opt, -1) + 1
        label = f"{Method.parse(opt).label} (grad {fmt}" + (f", {rnd})" if rnd else ")")
        ax.errorbar([r["weight_bits"] for r in rs], [r["test_acc_mean"] for r in rs],
                    yerr=[r["test_acc_std"] for r in rs], marker="os^v"[n % 4], capsize=3,
                    color=_LNS_COLORS[opt], ls=["-", "--", ":", "-."][n % 4], label=label)
    for r in rows:
        if r["optimizer"] in _FLOAT_COLORS:
            m, s = r["test_acc_mean"], r["test_acc_std"]
            c = _FLOAT_COLORS[r["optimizer"]]
            ax.axhline(m, color=c, ls="--", lw=1, label=f"{r['label']} (float64)")
            ax.axhspan(m - s, m + s, color=c, alpha=0.12)
    ax.set_xlabel("weight bits (LNS word)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title(f"digits, MLP, {result['epochs']} epochs, {len(result['seeds'])} seeds, "
                 "tuned eta")
    lo = min(r["test_acc_mean"] for r in rows)
    ax.set_ylim(max(0.0, min(lo - 2, 90.0)), 100.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def plot_convergence(result: dict, path, *, bits: int | None = None) -> str:
    """Train and test loss and test error per epoch, mean and a band (+- std over seeds),
    for the float optimizers and the LNS rules at ``bits`` (default: 8 if trained, else the
    narrowest width): the seed's "converges at a very similar speed" as curves."""
    plt = _pyplot()
    rows = [r for r in result["rows"] if r.get("model", "mlp") == "mlp"]
    widths = sorted({r["weight_bits"] for r in rows if r["weight_bits"] is not None})
    if bits is None and widths:
        bits = 8 if 8 in widths else widths[0]
    chosen = [r for r in rows if r["weight_bits"] is None]
    chosen += [r for r in rows if r["weight_bits"] == bits and r["optimizer"] in _LNS_COLORS
               and "-bit grad" not in r["label"]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = (("train_loss", "train loss (nats)"), ("test_loss", "test loss (nats)"),
              ("test_err", "test error, %"))
    for r in chosen:
        color = _FLOAT_COLORS.get(r["optimizer"]) or _LNS_COLORS[r["optimizer"]]
        ls = "-" if r["weight_bits"] is None else (":" if r["optimizer"] != _SUBJECT_KEY and
                                                   r.get("rounding") == "nearest_even" else "--")
        for ax, (key, _) in zip(axes, panels):
            c = r["curves"][key]
            x = np.arange(1, len(c["mean"]) + 1)
            ax.plot(x, c["mean"], color=color, ls=ls, label=r["label"])
            # the band is mean -+ std: held above 0 (errors) and above half the curve's
            # smallest mean (losses, on a log axis), where a wide band would leave the axis
            floor = 0.0 if key.endswith("err") else 0.5 * min(c["mean"])
            ax.fill_between(x, np.maximum(c["lo"], floor), c["hi"], color=color, alpha=0.12)
    for ax, (key, name) in zip(axes, panels):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if key.endswith("loss"):
            ax.set_yscale("log")
    axes[2].legend(fontsize=6)
    fig.suptitle(f"digits MLP: mean and band (+- std) over {len(result['seeds'])} seeds; "
                 f"LNS rows at {bits} bits; tuned eta")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def plot_sigma(result: dict, path) -> str:
    """Final test loss, test error and the gap test - train loss against sigma* (in Xavier
    units, 'none' at the right), one line per configuration, mean +- std over seeds."""
    plt = _pyplot()
    names = result["clip_names"]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = (("test_loss_mean", "test_loss_std", "final test loss (nats)"),
              ("test_err_mean", "test_err_std", "final test error, %"),
              ("gap_mean", "gap_std", "test - train loss (nats)"))
    for k, cfg in enumerate(result["configs"]):
        for ax, (m, s, _) in zip(axes, panels):
            ax.errorbar(x + 0.06 * (k - 1), [r[m] for r in cfg["rows"]],
                        yerr=[r[s] for r in cfg["rows"]], marker="o", capsize=3,
                        color=f"C{k}", label=cfg["name"])
    for ax, (_, _, name) in zip(axes, panels):
        ax.axvspan(names.index("1") - 0.3 if "1" in names else -0.5,
                   names.index("3") + 0.3 if "3" in names else -0.5, color="0.85", zorder=0)
        ax.set_xticks(x, names)
        ax.set_xlabel("sigma* (x Xavier scale; shaded: 1..3)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    # a sweep stored before it named its task was on the digits
    label = task(result.get("task", "digits")).label
    fig.suptitle(f"sigma* sweep: {label} MLP, {result['epochs']} epochs, "
                 f"{len(result['seeds'])} seeds, eta 2^{result['eta_log2']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
