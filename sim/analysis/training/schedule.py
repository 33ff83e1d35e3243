"""eta = 2**-6 halved to base precision: the seed's low-precision schedule, exact on LNS.

The seed: a low-precision run "used eta = 0.016 ... so that they could decay to the base
precision by dividing by 2".  Here eta starts at 2**-6 (0.015625) and halves every ``K``
epochs until ``eta * 2**Fw = 1`` (one LSB of the weight's log: a unit ``|g_hat|`` then moves
a weight by one LSB) and then stays.  eta is a power of two, so each phase is the same
unit with ``eta_log2`` one lower (`lns.MadamConfig.replace`), and the step a shift: no
rounding is added by the schedule.  Where 2**-6 is already at or below one LSB (8-bit
weights: ``Fw = 3``, one LSB is 2**-3), the schedule is constant 2**-6.

Compared with constant eta (``constant_eta_log2``, LNS-Madam's 2**-7 unless given) on the
same seeds: final test accuracy, paired difference and its 95 % CI.
"""

from __future__ import annotations

import time

from lns.errors import InvalidValue
from lns.presets import config_for_bits

from .runs import timed_single_thread, train_once
from .stats import compare_runs
from .table import make_row

__all__ = ["halving_schedule", "run_schedule", "SCHEDULE_QUICK", "SCHEDULE_FULL"]

SCHEDULE_QUICK = {"seeds": (0, 1, 2), "epochs": 10, "bits": (8, 12), "every": 2}
SCHEDULE_FULL = {"seeds": (0, 1, 2, 3, 4), "epochs": 30, "bits": (8, 12, 16), "every": 5}


def halving_schedule(frac_bits: int, epochs: int, every: int, start_log2: int = -6) -> list[int]:
    """``eta_log2`` per epoch: ``start_log2``, one lower every ``every`` epochs, never below
    ``-frac_bits`` (one weight LSB) unless it starts there."""
    if epochs < 1 or every < 1:
        raise InvalidValue(f"epochs and every must be positive, not {epochs} and {every}")
    floor = min(start_log2, -int(frac_bits))
    return [max(start_log2 - e // every, floor) for e in range(epochs)]


@timed_single_thread
def run_schedule(quick: bool = True, seeds=None, bits=None, *, epochs=None, every=None,
                 start_log2: int = -6, constant_eta_log2: int = -7, batch: int = 16,
                 tolerance: float = 1.0, progress=None) -> dict:
    """LNS Madam with the halving schedule against constant eta at each of ``bits``.

    The configuration is `config_for_bits` at the schedule's final eta (its rounding and
    datapath); each phase replaces only ``eta_log2``.  Returns ``{"seeds", "epochs",
    "every", "start_log2", "constant_eta_log2", "widths": [{"weight_bits", "frac_bits",
    "schedule" (eta_log2 per epoch), "scheduled", "constant" (rows), "comparison"}],
    "verdict_text", "seconds"}``.
    """
    preset = SCHEDULE_QUICK if quick else SCHEDULE_FULL
    seeds = tuple(int(s) for s in (preset["seeds"] if seeds is None else seeds))
    bits = tuple(int(b) for b in (preset["bits"] if bits is None else bits))
    epochs = preset["epochs"] if epochs is None else int(epochs)
    every = preset["every"] if every is None else int(every)
    if not seeds or epochs < 1:
        raise InvalidValue("the schedule needs seeds and epochs >= 1")
    n, i = 2 * len(bits) * len(seeds), 0
    t0 = time.perf_counter()
    widths = []
    for b in bits:
        fw = config_for_bits(b).weight.frac_bits
        sched = halving_schedule(fw, epochs, every, start_log2)
        cfg_s = config_for_bits(b, eta_log2=sched[-1])
        cfg_c = config_for_bits(b, eta_log2=constant_eta_log2)
        runs_s, runs_c = [], []
        for s in seeds:
            for kind, runs, cfg, schedule in (("halving", runs_s, cfg_s, sched),
                                              ("constant", runs_c, cfg_c, None)):
                if progress:
                    progress(i, n, f"eta schedule {b}-bit: {kind}")
                i += 1
                runs.append(train_once("lns", s, epochs=epochs, cfg=cfg, batch=batch,
                                       eta_schedule=schedule))
        ls = (f"LNS Madam {b}-bit, eta 2^{start_log2} halved every {every} to 2^{sched[-1]}"
              if len(set(sched)) > 1 else
              f"LNS Madam {b}-bit, eta 2^{start_log2} (at or below one LSB: no halving)")
        lc = f"LNS Madam {b}-bit, constant eta 2^{constant_eta_log2}"
        rs = make_row("lns", runs_s, label=ls, weight_bits=b, eta_log2=sched[-1],
                      rounding=str(cfg_s.rounding))
        rc = make_row("lns", runs_c, label=lc, weight_bits=b, eta_log2=constant_eta_log2,
                      rounding=str(cfg_c.rounding))
        cmp = compare_runs(ls, runs_s, lc, runs_c, tolerance=tolerance,
                           claim=f"halving schedule vs constant eta at {b} bits")
        widths.append({"weight_bits": b, "frac_bits": fw, "schedule": sched,
                       "scheduled": rs, "constant": rc, "comparison": cmp})
    texts = []
    for w in widths:
        note = (f" (2^{start_log2} is already at or below one LSB, 2^-{w['frac_bits']}: the "
                f"schedule is constant)" if len(set(w["schedule"])) == 1 else "")
        texts.append(w["comparison"]["text"] + note)
    return {"seeds": list(seeds), "epochs": epochs, "every": every, "start_log2": start_log2,
            "constant_eta_log2": constant_eta_log2, "widths": widths, "verdict_text": texts,
            "seconds": time.perf_counter() - t0}
