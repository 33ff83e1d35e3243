"""`explore`: the grid as Dask tasks through the results store, joined with hardware cost.

Stages, each reusing what the store holds (`sim.explore.store`: a point already stored for
this code version is not recomputed):

1. tuning: every grid eta of every (task, method) on the validation split
   (`grid.tuning_configs`); the etas chosen (`grid.choose_etas`);
2. final runs: every configuration x seed at its chosen eta on the test split
   (`grid.final_configs`), and each distinct configuration's cost
   (`points.cost_point`: bytes per update, energy, and the ECP5 LUT4 / sky130 area from the
   synthesis cache, or synthesised with ``area="synthesis"``);
3. aggregation: per configuration the test error's mean over the seeds and its Student-t
   95 % interval, joined with its cost; the Pareto fronts (`sim.explore.pareto`).

Runs go to a Dask cluster (`sim.campaign.cluster`: a `LocalCluster` of ``workers``
processes, one thread each, or an existing scheduler by address); ``workers=0`` runs them
in this process (tests).  Every finished run is committed to the store at once, so an
interrupted exploration resumes where it stopped.  Ctrl-C ends the cluster's processes
(`cluster.Brood`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .claims import claims
from .grid import (Plan, choose_etas, edge_configs, final_configs, methods_of,
                   tuning_configs)
from .points import cost_point, run_point
from .store import Store, canonical

__all__ = ["explore", "aggregate", "execute", "TIMING_KEYS", "strip_timing"]

TIMING_KEYS = frozenset({"seconds", "cpu_seconds"})


def strip_timing(result: dict) -> dict:
    """A run dict without its times (what is the same on any worker)."""
    return {k: v for k, v in result.items() if k not in TIMING_KEYS}


class _Cluster:
    """The Dask client of a run (``workers`` > 0 or ``scheduler``) or none (in process)."""

    def __init__(self, workers: int, scheduler: str | None):
        self.workers, self.scheduler = workers, scheduler
        self.client = self.cluster = self.brood = None

    def __enter__(self):
        from sim.campaign import cluster as C
        if self.scheduler:
            self.client = C.connect(self.scheduler)
            C.wait_for_workers(self.client, self.scheduler, C.WAIT_WORKERS)
        elif self.workers > 0:
            self.brood = C.Brood()
            self.client, self.cluster = C.start_local(self.workers)
        return self

    def __exit__(self, kind, exc, tb):
        from sim.campaign import cluster as C
        if kind is not None and self.brood is not None:
            self.brood.end(self.client, self.cluster)      # Ctrl-C or an error: now
        else:
            C.close(self.client, self.cluster)
        return False

    @property
    def where(self) -> str:
        if self.scheduler:
            return self.scheduler
        return f"local cluster of {self.workers}" if self.workers else "this process"


def execute(cl: _Cluster, fn, items: list, on_done) -> None:
    """``on_done(item, fn(item))`` for every item, as each finishes (on the cluster, or in
    this process without one)."""
    if not items:
        return
    if cl.client is None:
        for it in items:
            on_done(it, fn(it))
        return
    from distributed import as_completed
    futs = {cl.client.submit(fn, it, pure=False): i for i, it in enumerate(items)}
    try:
        for fut in as_completed(list(futs)):
            res = fut.result()
            on_done(items[futs[fut]], res)
            fut.release()
    except BaseException:
        cl.client.cancel(list(futs))
        raise


def _interval(values) -> dict:
    """Mean, sd and the Student-t 95 % interval of the mean of ``values`` (percent)."""
    from scipy import stats as st
    v = np.asarray(values, np.float64)
    n = v.size
    mean = float(v.mean())
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "ci_lo": None, "ci_hi": None}
    sd = float(v.std(ddof=1))
    half = float(st.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_lo": mean - half, "ci_hi": mean + half}


def _config_id(c: dict) -> tuple:
    return (c["task"], c["model"], c["method"], c["bits"], c["rounding"])


def _cost_spec(c: dict, area: str) -> dict:
    return {"method": c["method"], "bits": c["bits"], "rounding": c["rounding"],
            "eta_log2": c["eta_log2"], "area": area}


def aggregate(finals: list[tuple[dict, dict]], costs: dict) -> list[dict]:
    """One row per configuration: ``task, model, method, label, rule, system, bits,
    rounding, eta_log2, seeds, test_err`` (per seed, percent), ``err`` (`_interval` of
    them), ``train_err_mean``, and the cost keys (`points.cost_point`)."""
    from sim.analysis.training.methods import Method
    groups: dict = {}
    for c, r in finals:
        groups.setdefault(_config_id(c), []).append((c, r))
    rows = []
    for key, runs in groups.items():
        runs.sort(key=lambda cr: cr[0]["seed"])
        c0 = runs[0][0]
        m = Method.parse(c0["method"])
        rule = str(getattr(m, "rule", m.key))
        errs = [100.0 * r["test_err"] for _, r in runs]
        label = m.label + (f" {c0['bits']}-bit {'SR' if c0['rounding'] == 'stochastic' else 'RNE'}"
                           if m.is_lns else "")
        row = {"task": c0["task"], "model": c0["model"], "method": c0["method"],
               "label": label, "rule": rule if m.is_lns or m.key in ("adam", "sgd", "madam",
                                                                     "lion") else m.key,
               "system": "lns" if m.is_lns else "float", "bits": c0["bits"],
               "rounding": c0["rounding"], "eta_log2": c0["eta_log2"],
               "epochs": c0["epochs"], "seeds": [cr[0]["seed"] for cr in runs],
               "test_err": errs, "err": _interval(errs),
               "train_err_mean": 100.0 * float(np.mean([r["train_err"] for _, r in runs]))}
        row.update(costs.get(key, {}))
        rows.append(row)
    rows.sort(key=lambda r: (r["task"], r["model"], r["system"], r["method"],
                             r["bits"] or 0, r["rounding"] or ""))
    return rows


def explore(plan: Plan, store: Store, *, workers: int = 2, scheduler: str | None = None,
            area: str = "cache", progress=None, note=None) -> dict:
    """Run ``plan`` through ``store`` (see the module docstring); the result dict:
    ``plan``, ``code_version``, ``store``, ``counts`` (``tuning`` and ``final``: ``total``,
    ``reused``, ``computed``), ``etas``, ``skipped``, ``rows`` (`aggregate`), ``fronts``
    (`sim.explore.pareto.fronts`), ``claims`` (`sim.explore.claims.claims`: the seed's
    claims, paired over seeds), ``seconds``, ``where``.

    ``progress(done, total, note)``, ``note(message)``: optional callbacks."""
    from .pareto import fronts
    say = note or (lambda msg: None)
    t0 = time.perf_counter()
    counts = {}
    tuning, skip_t = tuning_configs(plan)
    cl = _Cluster(workers, scheduler)
    with cl:
        tried: dict = {}
        while True:
            tuned = _stage("tuning", tuning, store, cl, counts, progress, say)
            etas = choose_etas(tuned)
            more = edge_configs(plan, etas, tried)
            if not more:
                break
            say(f"tuning: {len(more)} more runs beyond the edges of "
                f"{len({(c['task'], c['method']) for c in more})} grids")
            tuning = tuning + more
        finals, skip_f = final_configs(plan, etas)
        specs: dict = {}
        for c in finals:
            specs.setdefault(_config_id(c), _cost_spec(c, area))
        keys = list(specs)
        say(f"cost of {len(keys)} configurations (area: {area})")
        by_spec: dict = {}
        execute(cl, cost_point, list({canonical(s): s for s in specs.values()}.values()),
                lambda spec, res: by_spec.__setitem__(canonical(spec), res))
        costs = {k: by_spec[canonical(specs[k])] for k in keys}
        done = _stage("final", finals, store, cl, counts, progress, say)
    rows = aggregate(done, costs)
    return {"plan": plan.to_dict(), "code_version": store.version, "store": str(store.path),
            "counts": counts,
            "etas": [{"task": t, "model": mo, "method": me, **v}
                     for (t, mo, me), v in etas.items()],
            "skipped": {"tuning": skip_t, "final": skip_f}, "rows": rows,
            "fronts": fronts(rows), "claims": claims(done),
            "seconds": time.perf_counter() - t0,
            "where": cl.where, "methods": [m.key for m in methods_of(plan)]}


def _stage(name: str, configs: list, store: Store, cl: _Cluster, counts: dict, progress,
           say) -> list[tuple[dict, dict]]:
    """Run the ``configs`` the store lacks and store each as it finishes; every
    ``(config, result)`` of the stage, in the order of ``configs``."""
    have = store.get_many(configs)
    keys = [store.key(c) for c in configs]
    todo = [c for c, k in zip(configs, keys) if k not in have]
    # a stage run again over more configurations (a grown tuning grid) counts what this
    # exploration computed in every round
    computed = counts.get(name, {}).get("computed", 0) + len(todo)
    counts[name] = {"total": len(configs), "reused": len(configs) - computed,
                    "computed": computed}
    say(f"{name}: {len(configs)} runs, {len(configs) - len(todo)} already in the store, "
        f"{len(todo)} to compute on {cl.where}")
    got = dict(have)
    n = [0]

    def done(c, r):
        store.put(c, r)
        got[store.key(c)] = r
        n[0] += 1
        if progress:
            progress(n[0], len(todo), name)
    if progress:
        progress(0, len(todo), name)
    execute(cl, run_point, todo, done)
    return [(c, got[k]) for c, k in zip(configs, keys)]
