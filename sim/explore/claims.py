"""The seed's claims re-tested on each task of an exploration, from its stored runs (nothing
is recomputed), with the paired statistics of the digits table (`sim.analysis.training.
stats.compare_runs`: the same seeds give the same initial weights and batch order, so the
difference is taken seed by seed; Student-t 95 % interval; "comparable" within +-1 point).

Claims, per task and model, where the exploration holds both sides:

* "8 bits comparable to full precision": LNS Madam at 8 bits (each rounding; with the rms
  and with the sign normaliser) against float Madam, test accuracy;
* "easy low-bit training": LNS Madam against LNS Adam, SGD and Lion at each width and
  rounding both have, test accuracy;
* "converges faster": LNS Madam at 8 bits against float Adam and float SGD, the test error
  averaged over the epochs (lower: faster).
"""

from __future__ import annotations

__all__ = ["claims"]

# LNS Madam with each normaliser: the claims' subjects (method key, label)
_SUBJECTS = (("lns", "LNS Madam"), ("lns_sign", "LNS Madam sign"))


def _runs(finals, task, model, method, bits=None, rounding=None):
    return [r for c, r in finals if (c["task"], c["model"], c["method"], c["bits"],
                                     c["rounding"]) == (task, model, method, bits, rounding)]


def _short(rounding):
    return "SR" if rounding == "stochastic" else "RNE"


def claims(finals: list[tuple[dict, dict]]) -> list[dict]:
    """The comparisons of the module docstring over the final runs ``(config, result)``;
    each `compare_runs`'s dict with ``task`` and ``model`` added."""
    from sim.analysis.training.stats import compare_runs
    out = []
    keys = sorted({(c["task"], c["model"]) for c, _ in finals})
    variants = sorted({(c["bits"], c["rounding"]) for c, _ in finals if c["bits"]})
    for task, model in keys:
        def add(a_label, a, b_label, b, claim, metric="test_acc"):
            if a and b:
                d = compare_runs(a_label, a, b_label, b, metric=metric, claim=claim)
                out.append({"task": task, "model": model, **d})
        fm = _runs(finals, task, model, "madam")
        for (bits, rnd), (key, subject) in ((v, s) for s in _SUBJECTS for v in variants):
            lm = _runs(finals, task, model, key, bits, rnd)
            name = f"{subject} {bits}-bit {_short(rnd)}"
            if bits == 8:
                add(name, lm, "float Madam", fm, "8 bits comparable to full precision")
                for other, label in (("adam", "Adam"), ("sgd", "SGD")):
                    add(name, lm, f"float {label}", _runs(finals, task, model, other),
                        f"converges faster than {label}", metric="mean_test_err")
            for rule, label in (("lns_adam", "LNS Adam"), ("lns_sgd", "LNS SGD"),
                                ("lns_lion", "LNS Lion")):
                add(name, lm, f"{label} {bits}-bit {_short(rnd)}",
                    _runs(finals, task, model, rule, bits, rnd), "easy low-bit training")
    return out
