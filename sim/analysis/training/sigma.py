"""The sigma* sweep: Madam's clip at multiples of each layer's Xavier (Glorot) scale.

``sigma* = c x sqrt(2 / (fan_in + fan_out))`` per weight matrix for ``c`` in
``CLIPS = (0.5, 1, 2, 3, 5, inf)`` (``inf``: no clip, the LNS format's largest magnitude
and `python_ref.Madam` with ``p_scale=None``), for float Madam and LNS Madam at 8 and 12
bits, the same seeds, eta and epochs as each other.  The float reference clips at the same
sigma* (``p_scale = sigma* / RMS(w0)``); the LNS clip word is sigma*'s nearest word.

The seed says "reduced sigma* both stabilises and regularises the test loss" and puts the
best sigma* "fairly consistently between 1 and 3 times the Xavier init scale".  Measured
here: final test loss and error, the gap test - train loss, per clip; the best clip by mean
final test loss; and the paired difference (test loss) between the best clip inside [1, 3]
and the best outside it.

Scale: the MLP's initial weights (`model.init_params`) have an RMS of ``1.41`` x the
Xavier scale for W1 (64 -> 64, He-normal) and ``0.76`` x for W2 (64 -> 10, std
``1/sqrt(64)``): a clip at 1 x Xavier already clips the initial W1 at about 0.7 of its RMS.
The seed's statement is about the Xavier scale, so that is the unit here; the main table's
clip stays ``p_scale = 3`` x RMS(w0) (about 4.2 x Xavier for W1, 2.3 x for W2).
"""

from __future__ import annotations

import math
import time

import numpy as np

from lns.errors import InvalidValue
from lns.presets import config_for_bits

from .runs import timed_single_thread, train_once
from .stats import compare_runs
from .table import make_row

__all__ = ["CLIPS", "SIGMA_QUICK", "SIGMA_FULL", "run_sigma_sweep", "sigma_verdict"]

CLIPS = (0.5, 1.0, 2.0, 3.0, 5.0, math.inf)
SIGMA_QUICK = {"seeds": (0, 1, 2), "epochs": 6, "bits": (8, 12)}
SIGMA_FULL = {"seeds": (0, 1, 2, 3, 4), "epochs": 30, "bits": (8, 12)}


# the gap's verdict (lower is "better") said as what it is
_GAP_WORD = {"better": "smaller", "worse": "larger", "comparable": "comparable",
             "inconclusive": "inconclusive"}


def _clip_name(c) -> str:
    return "none" if math.isinf(c) else f"{c:g}"


@timed_single_thread
def run_sigma_sweep(quick: bool = True, seeds=None, bits=None, *, epochs=None, clips=CLIPS,
                    eta_log2: int = -7, batch: int = 16, tolerance: float = 0.02,
                    task: str = "digits", progress=None) -> dict:
    """Train float Madam and LNS Madam at each of ``bits`` with each clip of ``clips``
    (multiples of the Xavier scale; ``math.inf`` for none) on ``task`` (`tasks.TASKS`:
    ``digits``, ``mnist5k``, ``mnist1d``; its train / test split, the MLP at its input
    width: the Xavier scales follow the layer shapes).

    Returns ``{"clips", "clip_names", "seeds", "epochs", "eta_log2", "configs": [{"name",
    "weight_bits", "rows": [row per clip (`table.make_row`) + "clip", "clip_name",
    "gap_mean", "gap_std"], "best_clip", "verdict"}], "verdict_text", "seconds"}``.
    ``tolerance``: the margin (nats of test loss) of the paired comparison.
    """
    preset = SIGMA_QUICK if quick else SIGMA_FULL
    seeds = tuple(int(s) for s in (preset["seeds"] if seeds is None else seeds))
    bits = tuple(int(b) for b in (preset["bits"] if bits is None else bits))
    epochs = preset["epochs"] if epochs is None else int(epochs)
    clips = tuple(float(c) for c in clips)
    if not seeds or epochs < 1 or not clips or any(not c > 0 for c in clips):
        raise InvalidValue("the sigma sweep needs seeds, epochs >= 1 and positive clips")
    from .tasks import task as task_of
    from .tasks import task_data
    task = task_of(task).name
    data = task_data(task, "test")
    jobs = [("Madam, base 2", "madam", None)] + [
        (f"LNS Madam {b}-bit", "lns", config_for_bits(b, eta_log2=eta_log2)) for b in bits]
    n, i = len(jobs) * len(clips) * len(seeds), 0
    t0 = time.perf_counter()
    configs = []
    for name, method, cfg in jobs:
        rows = []
        for c in clips:
            runs = []
            for s in seeds:
                if progress:
                    progress(i, n, f"sigma* {_clip_name(c)} x Xavier: {name}")
                i += 1
                runs.append(train_once(method, s, epochs=epochs, cfg=cfg, lr=2.0 ** eta_log2,
                                       batch=batch, clip_xavier=c, data=data))
            row = make_row(method, runs, label=f"{name}, sigma* {_clip_name(c)}", clip=c,
                           clip_name=_clip_name(c))
            gaps = [r["test_loss"] - r["train_loss"] for r in runs]
            row["gap_mean"] = float(np.mean(gaps))
            row["gap_std"] = float(np.std(gaps, ddof=1)) if len(gaps) > 1 else 0.0
            rows.append(row)
        entry = {"name": name, "weight_bits": None if cfg is None else cfg.weight.total_bits,
                 "rows": rows}
        entry.update(sigma_verdict(name, rows, tolerance))
        configs.append(entry)
    texts = [c["verdict"]["text"] for c in configs]
    return {"clips": [None if math.isinf(c) else c for c in clips],
            "clip_names": [_clip_name(c) for c in clips], "seeds": list(seeds),
            "epochs": epochs, "eta_log2": eta_log2, "unit": "x Xavier scale per layer",
            "task": task,
            "configs": configs, "verdict_text": texts, "seconds": time.perf_counter() - t0}


def sigma_verdict(name: str, rows, tolerance: float = 0.02) -> dict:
    """Best clip by mean final test loss; does it lie in [1, 3] x Xavier; the paired test
    loss of the best clip inside [1, 3] against the best outside; does the gap test - train
    loss shrink with the clip (smallest clip against none)?"""
    best = min(rows, key=lambda r: r["test_loss_mean"])
    inside = [r for r in rows if 1.0 <= r["clip"] <= 3.0]
    outside = [r for r in rows if not 1.0 <= r["clip"] <= 3.0]
    out = {"best_clip": best["clip_name"], "best_test_loss": best["test_loss_mean"],
           "best_in_1_3": bool(1.0 <= best["clip"] <= 3.0)}
    text = (f"{name}: best sigma* {best['clip_name']} x Xavier (mean test loss "
            f"{best['test_loss_mean']:.3f}, error {best['test_err_mean']:.2f} %); "
            f"'best between 1 and 3 x Xavier' {'holds' if out['best_in_1_3'] else 'does not hold'}")
    cmp = None
    if inside and outside:
        bi = min(inside, key=lambda r: r["test_loss_mean"])
        bo = min(outside, key=lambda r: r["test_loss_mean"])
        cmp = compare_runs(bi["label"], bi["runs"], bo["label"], bo["runs"],
                           metric="test_loss", tolerance=tolerance,
                           claim=f"{name}: best sigma* in [1, 3] vs best outside")
        text += f"; {cmp['text']}"
    small = min(rows, key=lambda r: r["clip"])
    none = max(rows, key=lambda r: r["clip"])
    gap = None
    if small is not none:
        gap = compare_runs(small["label"], small["runs"], none["label"], none["runs"],
                           metric="gap", tolerance=tolerance,
                           claim=f"{name}: smallest clip regularises (test - train loss gap)")
        text += (f"; gap test - train loss {small['gap_mean']:.3f} at sigma* "
                 f"{small['clip_name']} vs {none['gap_mean']:.3f} at {none['clip_name']} "
                 f"({_GAP_WORD[gap['verdict']]}: {gap['diff_mean']:+.3f} nats"
                 + (f", 95 % CI [{gap['ci_lo']:+.3f}, {gap['ci_hi']:+.3f}])"
                    if gap["ci_lo"] is not None else ")"))
    out["verdict"] = {"in_vs_out": cmp, "gap": gap, "text": text}
    return out
