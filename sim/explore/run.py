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

`from_store` walks the same stages over the store alone and trains nothing: for each plan
the store recorded (`Store.put_plan`; and the `QUICK` and `FULL` plans, for stores written
before plans were recorded) whose points are all stored, the same result dict `explore`
gives (``lnsmadam report``'s exploration section).  Both go through `_tune`, `_costs`
and `_summary`, so a report and an exploration of one store cannot disagree.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .claims import claims
from .grid import (FULL, QUICK, Plan, choose_etas, edge_configs, final_configs, methods_of,
                   plan_name, tuning_configs)
from .points import cost_point, run_point
from .store import Store, canonical, point_key

__all__ = ["explore", "from_store", "replay", "aggregate", "execute", "TIMING_KEYS", "strip_timing"]

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
    this process without one: ``cl`` None or without a client)."""
    if not items:
        return
    if cl is None or cl.client is None:
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


def _tune(plan: Plan, tuning: list, stage, say) -> dict:
    """The etas of the tuning stage: ``stage("tuning", configs)`` gives every tuning run
    ``(config, result)`` of ``tuning`` (`grid.tuning_configs`); the etas are chosen, and the
    grids grown a step past an edge where the best eta lies on it (`grid.edge_configs`),
    until none does."""
    tried: dict = {}
    while True:
        etas = choose_etas(stage("tuning", tuning))
        more = edge_configs(plan, etas, tried)
        if not more:
            return etas
        say(f"tuning: {len(more)} more runs beyond the edges of "
            f"{len({(c['task'], c['method']) for c in more})} grids")
        tuning = tuning + more


def _costs(finals: list, area: str, run_all, say=lambda msg: None) -> dict:
    """``{config id: cost_point}`` of every distinct configuration of ``finals``, each
    cost looked up once through ``run_all(fn, items, on_done)`` (`execute`)."""
    specs: dict = {}
    for c in finals:
        specs.setdefault(_config_id(c), _cost_spec(c, area))
    say(f"cost of {len(specs)} configurations (area: {area})")
    by_spec: dict = {}
    run_all(cost_point, list({canonical(s): s for s in specs.values()}.values()),
            lambda spec, res: by_spec.__setitem__(canonical(spec), res))
    return {k: by_spec[canonical(s)] for k, s in specs.items()}


def _summary(plan: Plan, etas: dict, skipped: dict, done: list, costs: dict) -> dict:
    """The keys of explore's result that come from the runs: ``etas``, ``skipped``,
    ``rows``, ``fronts``, ``claims``."""
    from .pareto import fronts
    rows = aggregate(done, costs)
    return {"etas": [{"task": t, "model": mo, "method": me, **v}
                     for (t, mo, me), v in etas.items()],
            "skipped": skipped, "rows": rows, "fronts": fronts(rows), "claims": claims(done)}


def explore(plan: Plan, store: Store, *, workers: int = 2, scheduler: str | None = None,
            area: str = "cache", progress=None, note=None) -> dict:
    """Run ``plan`` through ``store`` (see the module docstring); the result dict:
    ``plan``, ``code_version``, ``store``, ``counts`` (``tuning`` and ``final``: ``total``,
    ``reused``, ``computed``), ``etas``, ``skipped``, ``rows`` (`aggregate`), ``fronts``
    (`sim.explore.pareto.fronts`), ``claims`` (`sim.explore.claims.claims`: the seed's
    claims, paired over seeds), ``seconds``, ``where``.  The plan is recorded in the store
    (`Store.put_plan`) before any run, so a reader knows which plan its points belong to.

    ``progress(done, total, note)``, ``note(message)``: optional callbacks."""
    say = note or (lambda msg: None)
    t0 = time.perf_counter()
    counts: dict = {}
    tuning, skip_t = tuning_configs(plan)
    store.put_plan(plan.to_dict())          # which plan these points are (`from_store`)
    cl = _Cluster(workers, scheduler)
    with cl:
        etas = _tune(plan, tuning, lambda name, configs: _stage(
            name, configs, store, cl, counts, progress, say), say)
        finals, skip_f = final_configs(plan, etas)
        costs = _costs(finals, area, lambda fn, items, on_done: execute(cl, fn, items, on_done),
                       say)
        done = _stage("final", finals, store, cl, counts, progress, say)
    summary = _summary(plan, etas, {"tuning": skip_t, "final": skip_f}, done, costs)
    return {"plan": plan.to_dict(), "code_version": store.version, "store": str(store.path),
            "counts": counts, **summary, "seconds": time.perf_counter() - t0,
            "where": cl.where, "methods": [m.key for m in methods_of(plan)]}


class _Missing(Exception):
    """A stage of a plan whose points are not all in the store."""

    def __init__(self, stage: str, stored: int, total: int):
        super().__init__(f"{stage}: {stored} of {total} runs stored")
        self.stage, self.stored, self.total = stage, stored, total


def replay(plan: Plan, results: dict, version: str, *, area: str = "cache") -> dict:
    """`explore`'s result for ``plan`` from stored points alone (``results``: ``{key:
    result}``, `Store.results`, of code version ``version``), without ``seconds`` and
    ``where``; every count ``computed`` 0.  Nothing is trained: `_Missing` when a stage
    lacks a point (the tuning runs decide which final runs there are)."""
    counts: dict = {}

    def stage(name, configs):
        keys = [point_key(c, version) for c in configs]
        stored = sum(k in results for k in keys)
        counts[name] = {"total": len(configs), "reused": stored, "computed": 0}
        if stored < len(configs):
            raise _Missing(name, stored, len(configs))
        return [(c, results[k]) for c, k in zip(configs, keys)]
    tuning, skip_t = tuning_configs(plan)
    etas = _tune(plan, tuning, stage, lambda msg: None)
    finals, skip_f = final_configs(plan, etas)
    done = stage("final", finals)
    costs = _costs(finals, area, lambda fn, items, on_done: execute(None, fn, items, on_done))
    summary = _summary(plan, etas, {"tuning": skip_t, "final": skip_f}, done, costs)
    return {"plan": plan.to_dict(), "code_version": version, "counts": counts, **summary,
            "methods": [m.key for m in methods_of(plan)]}


def from_store(store: Store, *, area: str = "cache") -> dict:
    """Every exploration ``store`` holds whole, as `explore` reports it (`replay`), and
    nothing trained: ``points`` (this code version's), ``other_versions`` (points of other
    code versions, not used: their code is not this one), ``explorations`` (per plan: its
    `replay` with ``name``, `grid.plan_name`), ``incomplete`` (plans with some points
    stored: ``name``, ``plan``, ``stage``, ``stored``, ``total``, or ``reason`` when the
    recorded plan cannot be read by this code).

    The plans are those the store recorded (`Store.plans`), then `QUICK` and `FULL` when
    not among them (a store written before plans were recorded); a default plan with no
    point stored is left out.  ``area="cache"`` looks LUT4 and sky130 area up in the
    synthesis cache only, never synthesising (an exploration run with ``--synthesis`` left
    its syntheses there).  Errors reading the store (`InvalidValue`, `sqlite3.Error`,
    a row that is not JSON or not a run's dict) propagate."""
    results = store.results()
    recorded = store.plans()
    out = {"points": len(results), "other_versions": store.count(all_versions=True) -
           len(results), "explorations": [], "incomplete": []}
    plans: list = []
    for d in recorded:
        try:
            plans.append((Plan.from_dict(d), True))
        except (TypeError, ValueError) as exc:
            out["incomplete"].append({"name": "?", "plan": d, "reason": str(exc)})
    for known in (QUICK, FULL):
        if known.to_dict() not in [p.to_dict() for p, _ in plans]:
            plans.append((known, False))
    for plan, was_recorded in plans:
        name = plan_name(plan)
        try:
            tuning_configs(plan)          # a recorded plan that this code cannot build
        except (TypeError, ValueError) as exc:
            out["incomplete"].append({"name": name, "plan": plan.to_dict(),
                                      "reason": (str(exc).splitlines() or [repr(exc)])[0]})
            continue
        try:
            res = replay(plan, results, store.version, area=area)
        except _Missing as m:
            if was_recorded or m.stored or m.stage == "final":
                out["incomplete"].append({"name": name, "plan": plan.to_dict(),
                                          "stage": m.stage, "stored": m.stored,
                                          "total": m.total})
            continue
        out["explorations"].append({"name": name, **res})
    return out


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
