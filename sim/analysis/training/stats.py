"""Paired statistics over seeds, and verdicts written from them.

Two rows trained with the same seeds share initial weights and batch order seed by seed,
so their difference is measured per seed (a paired design): ``d_s = a_s - b_s``.  The 95 %
confidence interval of the mean difference is Student's ``mean +- t(0.975, n-1) sd/sqrt(n)``
(``sd`` with ddof 1); one seed gives no interval.

A verdict on "a against b" with a margin ``tolerance`` (points of accuracy, or the metric's
own unit), for a metric where higher is better:

``comparable``    the whole interval lies within ``[-tolerance, +tolerance]``;
``better``        else the interval lies above 0;
``worse``         else the interval lies below 0;
``inconclusive``  else (the interval holds 0 and reaches beyond the margin: more seeds).

With one seed the verdict is taken from the mean alone and says so.
"""

from __future__ import annotations

import math

import numpy as np

from lns.errors import InvalidValue

__all__ = ["paired", "verdict", "compare_runs", "metric_values", "METRICS"]

# metric -> (label, unit, sign: +1 when higher is better, value of one run)
METRICS = {
    "test_acc": ("test accuracy", "points", +1, lambda r: 100.0 * (1.0 - r["test_err"])),
    "test_loss": ("test loss", "nats", -1, lambda r: r["test_loss"]),
    "gap": ("test - train loss", "nats", -1, lambda r: r["test_loss"] - r["train_loss"]),
    "mean_test_err": ("test error averaged over the epochs", "points", -1,
                      lambda r: 100.0 * float(np.mean(r["curves"]["test_err"]))),
}

def paired(a, b, confidence: float = 0.95) -> dict:
    """Paired difference ``a - b`` (same order: seed by seed): ``n, mean, sd, t, ci_lo,
    ci_hi`` (``t``, ``ci_*`` None for ``n < 2``; an interval of width 0 when every
    difference is the same)."""
    from scipy import stats as st
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise InvalidValue(f"paired needs two equal, non-empty lists, not {a.shape} and {b.shape}")
    d = a - b
    n = d.size
    mean = float(d.mean())
    if n < 2:
        return {"n": 1, "mean": mean, "sd": None, "t": None, "ci_lo": None, "ci_hi": None,
                "diffs": d.tolist()}
    sd = float(d.std(ddof=1))
    t = float(st.t.ppf(0.5 + confidence / 2, n - 1))
    half = t * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "t": t, "ci_lo": mean - half, "ci_hi": mean + half,
            "diffs": d.tolist()}


def verdict(p: dict, tolerance: float, sign: int = +1) -> str:
    """The verdict word of the module docstring for the paired result ``p``; ``sign = -1``
    when lower is better (loss, error)."""
    lo, hi = p["ci_lo"], p["ci_hi"]
    if lo is None:
        lo = hi = p["mean"]
    if -tolerance <= lo and hi <= tolerance:
        return "comparable"
    if sign * lo > 0 and sign * hi > 0:
        return "better"
    if sign * lo < 0 and sign * hi < 0:
        return "worse"
    return "inconclusive"


def metric_values(runs, metric: str) -> dict[int, float]:
    """``seed -> value`` of ``metric`` (a key of `METRICS`) over ``runs``."""
    if metric not in METRICS:
        raise InvalidValue(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    get = METRICS[metric][3]
    return {int(r["seed"]): float(get(r)) for r in runs}


def compare_runs(a_label: str, a_runs, b_label: str, b_runs, *, metric: str = "test_acc",
                 tolerance: float = 1.0, claim: str = "") -> dict:
    """``a`` against ``b`` on the seeds both have: the paired difference, its interval, the
    verdict and a sentence saying all of it."""
    va, vb = metric_values(a_runs, metric), metric_values(b_runs, metric)
    seeds = sorted(set(va) & set(vb))
    if not seeds:
        raise InvalidValue(f"{a_label} and {b_label} share no seed")
    name, unit, sign, _ = METRICS[metric]
    p = paired([va[s] for s in seeds], [vb[s] for s in seeds])
    word = verdict(p, tolerance, sign)
    ma = float(np.mean([va[s] for s in seeds]))
    mb = float(np.mean([vb[s] for s in seeds]))
    if p["ci_lo"] is None:
        ci = "one seed, no interval"
    else:
        ci = f"95 % CI [{p['ci_lo']:+.2f}, {p['ci_hi']:+.2f}]"
    text = (f"{a_label} vs {b_label}, {name}: {word} ({ma:.2f} vs {mb:.2f}; paired "
            f"difference {p['mean']:+.2f} {unit} over {p['n']} seeds, {ci}; comparable means "
            f"within +-{tolerance:g} {unit})")
    return {"claim": claim, "a": a_label, "b": b_label, "metric": metric, "seeds": seeds,
            "a_mean": ma, "b_mean": mb, "diff_mean": p["mean"], "diff_sd": p["sd"],
            "t_quantile": p["t"], "ci_lo": p["ci_lo"], "ci_hi": p["ci_hi"], "n": p["n"],
            "tolerance": tolerance, "verdict": word, "text": text}
