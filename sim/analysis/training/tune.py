"""Learning rates chosen on a small grid by error on the validation split, never the test set.

Every grid is of powers of two (``eta_log2``): on the LNS rules eta is a shift of the log
code, and the float optimizers get the same kind of grid so that no baseline is tuned more
finely than the LNS rows.  A float method whose reference has a momentum (SGD) also chooses
it (0 or 0.9 in the full grid); LNS SGD keeps its preset's ``mu = 0.9`` (a constant code of
the unit).

Lion's grids (float and LNS) are Adam's moved two octaves down (4x): Lion's step is
``eta sign(c)``, full size for every weight, and its learning rate is typically 3-10x below
Adam's (Chen et al. 2023, REFERENCES.md).  Measured on the validation split (seed 0): with
30 epochs float Lion's best is 2**-12 (3.0 % error; 2**-10 3.3 %, 2**-8 5.6 %), LNS Lion's
2**-10 at 8 and at 12 bits (3.7 % and 2.6 %), where float Adam is flat from 2**-10 to
2**-6 (2.6-3.0 %), so the full grid -14 .. -9 holds Lion's optimum inside; with the quick
budget of 4 epochs every Lion (float, LNS 8 and 12 bits) does best at 2**-9 and the quick
grid's top, 2**-10, is chosen (a short budget favours a large eta, as it does for Madam:
`table.FULL`).

Each grid point trains on the train-proper part (`data.train_validation`) for the tuning
budget and is scored by the mean validation error over the tuning seeds; the chosen point is
the argmin (ties: lower mean validation loss, then the earlier point).  A grid point whose
configuration cannot be built (an eta outside the datapath's range) is recorded and
skipped.
"""

from __future__ import annotations

import numpy as np

from lns.errors import InvalidValue

from .data import train_validation
from .methods import Method
from .runs import train_run

__all__ = ["QUICK_GRIDS", "FULL_GRIDS", "tune"]

# eta_log2 grids by method key; "sgd_momentum": the momenta of a float method that has one
QUICK_GRIDS = {"adam": (-12, -10, -8), "sgd": (-5, -3, -1), "madam": (-9, -7, -5),
               "lns": (-9, -7, -5), "lns_adam": (-12, -10, -8), "lns_sgd": (-5, -3, -1),
               "lion": (-14, -12, -10), "lns_lion": (-14, -12, -10),      # Adam's - 2
               "lns_sign": (-9, -7, -5),                                   # Madam's
               "sgd_momentum": (0.9,)}
FULL_GRIDS = {"adam": (-12, -11, -10, -9, -8, -7), "sgd": (-6, -5, -4, -3, -2, -1),
              "madam": (-10, -9, -8, -7, -6, -5), "lns": (-10, -9, -8, -7, -6, -5),
              "lns_adam": (-12, -11, -10, -9, -8, -7), "lns_sgd": (-6, -5, -4, -3, -2, -1),
              "lion": (-14, -13, -12, -11, -10, -9),                   # Adam's - 2
              "lns_lion": (-14, -13, -12, -11, -10, -9),
              "lns_sign": (-10, -9, -8, -7, -6, -5),                     # Madam's
              "sgd_momentum": (0.0, 0.9)}


def tune(method, *, grid, momenta=(0.9,), make_cfg=None, seeds=(0,), epochs: int = 5,
         model: str = "mlp", batch: int = 16, progress=None, label: str = "") -> dict:
    """Train ``method`` (a `methods.Method` or its key) at each ``eta_log2`` of ``grid`` (and
    each momentum of ``momenta`` when its float reference has one) on train-proper, score
    on validation.

    ``make_cfg(eta_log2)``: the LNS configuration at that eta (LNS methods).  Returns
    ``{"eta_log2", "eta", "momentum", "grid": [{"eta_log2", "eta", "momentum", "val_err",
    "val_loss", "error"}], "seeds", "epochs", "tuned_on" (``label``), "data"}``
    (``val_err`` in percent, mean over ``seeds``; ``error`` the reason a point was skipped).
    """
    if not grid:
        raise InvalidValue("a tuning grid needs at least one point")
    method = Method.parse(method)
    name = label or method.key
    data = train_validation()
    points = []
    momenta = momenta if method.takes_momentum else (None,)
    for e in grid:
        for mu in momenta:
            point = {"eta_log2": int(e), "eta": 2.0 ** e, "momentum": mu, "val_err": None,
                     "val_loss": None, "error": None}
            try:
                cfg = make_cfg(int(e)) if method.is_lns else None
            except (ValueError, TypeError) as exc:
                point["error"] = str(exc)
                points.append(point)
                continue
            errs, losses = [], []
            for s in seeds:
                if progress:
                    progress(f"tune {name}: eta 2^{e}" +
                             (f", momentum {mu:g}" if mu is not None else ""))
                run = train_run(model, method, s, epochs=epochs, data=data, cfg=cfg,
                                lr=2.0 ** e, momentum=0.9 if mu is None else mu, batch=batch)
                errs.append(run["test_err"])
                losses.append(run["test_loss"])
            point["val_err"] = 100.0 * float(np.mean(errs))
            point["val_loss"] = float(np.mean(losses))
            points.append(point)
    scored = [(p["val_err"], p["val_loss"], i) for i, p in enumerate(points)
              if p["val_err"] is not None]
    if not scored:
        raise InvalidValue(f"no grid point of {name} could be built: "
                           f"{points[0]['error']}")
    best = points[min(scored)[2]]
    return {"eta_log2": best["eta_log2"], "eta": best["eta"], "momentum": best["momentum"],
            "grid": points, "seeds": list(seeds), "epochs": epochs, "tuned_on": name,
            "data": "train-proper / validation (20 % of the training split)"}
