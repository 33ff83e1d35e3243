"""Precision of the bit-exact LNS update against float Madam, across formats, and of its tables.

Two measurements, each returning plain JSON-serialisable dicts (for ``lnsmadam sweep`` and
the report):

`update_sweep`
    For weight words of 6..16 bits (`config_for_bits`), the presets, and variants of the
    gradient / second-moment formats, the table method and the rounding at one width, the
    same seeded gradient streams go to the bit-exact update and to base-2 float Madam
    (`sim.analysis.tracking.track`, the one implementation of the comparison).  Per row: the error of
    one step in weight LSBs (RMS, max, mean), the share of steps whose integer step differs
    from the float step rounded half-even, and after ``steps`` steps the RMS / max log error
    in LSBs, the relative weight error and the drift (mean signed log error).

`table_precision`, `exp2_precision`, `table_sweep`
    Every table the configurations use (the moment's ``sb``; ``db`` beside it at the same
    fractional bits, as `lns.sub` uses it; the ``2**frac`` table of the step): error in ulps
    (units of the table's last bit) against float64 values (``lns.tables.sb_exact`` /
    ``db_exact``, about 1e-13 ulp off; entries within `lns.tables.TIE_GUARD` of a rounding
    boundary are decided by the tables' own mpmath oracles, `lns.tables.gauss_exact_mp` and
    `exp2_exact_mp`), share correctly rounded, faithful (every error < 1 ulp) or not, and ROM bits
    beside the direct ROM's.

`plot_sweep` draws the errors against weight bits (matplotlib, Agg).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np

from lns import MadamConfig, presets
from lns.modes import TableMethod
from lns.presets import config_for_bits, describe_config, variant_configs
from lns.tables import (MP_PREC, TIE_GUARD, db_exact, exp2_exact_mp, exp2_table, gauss_exact_mp,
                        gauss_table, rom_bits, sb_exact)

from .tracking import check_trackable, track

__all__ = ["WEIGHT_BITS", "update_sweep",
           "table_precision", "exp2_precision", "table_sweep", "precision_sweep",
           "plot_sweep"]

WEIGHT_BITS = tuple(range(6, 17))
SWEEP_PRESETS = ("lns8_sign", "lns8", "lns12", "lns16")


# ---- update precision -----------------------------------------------------------------------
def _row(cfg: MadamConfig, kind: str, steps: int, weights: int, seed: int) -> dict:
    r = track(cfg, steps=steps, weights=weights, seed=seed).to_dict()
    r.pop("preset")
    return {"kind": kind, **describe_config(cfg), **r,
            "walk_rms_lsb": math.sqrt(steps / 12)}


def update_sweep(bits=WEIGHT_BITS, *, base: str | MadamConfig = "lns12",
                 preset_names: tuple = SWEEP_PRESETS, variants_at: int | None = 12,
                 steps: int = 1000, weights: int = 2000, seed: int = 0,
                 progress=None) -> list[dict]:
    """Rows of update precision (see the module docstring), in the order: weight widths
    (``kind = "bits"``), presets (``"preset"``), variants at ``variants_at`` bits
    (``"variant"``; ``None`` for none).  ``progress(i, n, name)`` is called before each row.

    Row keys: kind, name, weight_bits, weight, weight_frac_bits, grad, moment, table,
    rounding, normaliser, eta_log2, eta_lsb, step_frac_bits, exp_bits, steps, weights,
    step_rms_lsb, step_max_lsb, step_mean_lsb, step_mismatch_share, steps_compared,
    final_rms_lsb, final_max_lsb, final_rel_err, mean_drift_lsb, max_lsb, walk_rms_lsb.
    """
    jobs = [(config_for_bits(b, base), "bits") for b in bits]
    jobs += [(presets.get(p), "preset") for p in preset_names]
    if variants_at is not None:
        jobs += [(c, "variant") for c in variant_configs(variants_at, base)]
    for cfg, _ in jobs:                # a format with nothing to track fails before any run
        check_trackable(cfg, weights=weights, seed=seed)
    rows = []
    for i, (cfg, kind) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), cfg.name)
        rows.append(_row(cfg, kind, steps, weights, seed))
    return rows


# ---- table precision ------------------------------------------------------------------------
def _error_stats(values: np.ndarray, exact: np.ndarray, exact_mp) -> dict:
    """ulp errors of integer ``values`` against float64 ``exact``; ``exact_mp(i)`` decides
    entries too close to a rounding boundary for float64 (the tables' own guard and
    oracles, `lns.tables.TIE_GUARD`)."""
    err = values - exact
    aerr = np.abs(err)
    correct = aerr < 0.5
    near = np.nonzero(np.abs(aerr - 0.5) < TIE_GUARD)[0]
    for i in near:
        with mpmath.workprec(MP_PREC):
            correct[i] = abs(mpmath.mpf(int(values[i])) - exact_mp(int(i))) < mpmath.mpf(0.5)
    return {"entries": int(values.size), "max_err_ulp": float(aerr.max()),
            "mean_err_ulp": float(aerr.mean()), "rms_err_ulp": float(np.sqrt(np.mean(err ** 2))),
            "mean_signed_err_ulp": float(err.mean()),
            "correctly_rounded_share": float(np.mean(correct)),
            "faithful": bool(aerr.max() < 1.0)}


def table_precision(kind: str, frac_bits: int, method: str) -> dict:
    """Precision and size of one Gaussian-logarithm table, every distance ``z`` in
    ``[0, end)`` (``db`` from 1: ``a - a`` is exactly zero and never reads the table).

    Keys: table (``"sb"``/``"db"``), frac_bits, method, entries (distances checked), bits
    (ROM bits, ``gauss_table(...).bits``), direct_bits (the direct ROM of the same function),
    rom_words (stored words), max_err_ulp, mean_err_ulp, rms_err_ulp, mean_signed_err_ulp,
    correctly_rounded_share, faithful.
    """
    tab = gauss_table(kind, frac_bits, method)
    values = tab.lookup_all()
    z = np.arange(tab.end, dtype=np.int64)
    exact = sb_exact(z, frac_bits) if kind == "sb" else db_exact(z, frac_bits)
    lo = 1 if kind == "db" else 0
    stats = _error_stats(values[lo:], exact[lo:],
                         lambda i: gauss_exact_mp(kind, frac_bits, i + lo))
    return {"table": kind, "frac_bits": frac_bits, "method": method, **stats,
            "bits": int(tab.bits),
            "direct_bits": int(gauss_table(kind, frac_bits, TableMethod.DIRECT).bits),
            "rom_words": int(len(tab.near) + len(tab.nodes))}


def exp2_precision(index_bits: int, value_bits: int) -> dict:
    """Precision and size of the ``2**frac`` table ``P[r] = RNE(2**(r / 2**index_bits) *
    2**value_bits)``; ROM bits are entries times the width of the largest entry.

    Keys: table (``"exp2"``), frac_bits (index bits), value_bits, method (``"direct"``),
    entries, bits, direct_bits (the same), rom_words, and the error keys of
    `table_precision`.
    """
    values = np.asarray(exp2_table(index_bits, value_bits), dtype=np.int64)
    r = np.arange(values.size, dtype=np.float64)
    exact = np.exp2(r / 2.0 ** index_bits + value_bits)
    stats = _error_stats(values, exact, lambda i: exp2_exact_mp(index_bits, value_bits, i))
    bits = rom_bits(values)
    return {"table": "exp2", "frac_bits": index_bits, "value_bits": value_bits,
            "method": "direct", **stats, "bits": bits, "direct_bits": bits,
            "rom_words": int(values.size)}


def table_sweep(configs, *, methods=tuple(TableMethod)) -> list[dict]:
    """`table_precision` of ``sb`` and ``db`` by every method at each moment frac_bits the
    ``configs`` use (rms normaliser only), and `exp2_precision` of each ``2**frac`` table.
    Each row has ``used_by``: the names of the configurations that hold that table."""
    gauss: dict = {}
    exp2: dict = {}
    for cfg in configs:
        if cfg.sb_table is not None:
            fv = cfg.moment.frac_bits
            for kind in ("sb", "db"):
                for m in methods:
                    gauss.setdefault((kind, fv, m), [])
            gauss[("sb", fv, cfg.table)].append(cfg.name)
        exp2.setdefault((cfg.step_frac_bits, cfg.exp_bits), []).append(cfg.name)
    rows = []
    for (kind, fv, m) in sorted(gauss, key=lambda k: (k[1], k[0] != "sb", k[2])):
        rows.append({**table_precision(kind, fv, m), "used_by": gauss[(kind, fv, m)]})
    for (fs, gp) in sorted(exp2):
        rows.append({**exp2_precision(fs, gp), "used_by": exp2[(fs, gp)]})
    return rows


def precision_sweep(bits=WEIGHT_BITS, *, base: str = "lns12", preset_names: tuple = SWEEP_PRESETS,
                    variants_at: int | None = 12, steps: int = 1000, weights: int = 2000,
                    seed: int = 0, progress=None) -> dict:
    """Both measurements as one dict (what ``lnsmadam sweep --json`` prints).

    Keys: base, steps, weights, seed, weight_bits (the widths swept), rows
    (`update_sweep`), tables (`table_sweep` over every configuration of the rows).
    """
    bits = [int(b) for b in bits]
    rows = update_sweep(bits, base=base, preset_names=preset_names, variants_at=variants_at,
                        steps=steps, weights=weights, seed=seed, progress=progress)
    cfgs = [config_for_bits(b, base) for b in bits] + [presets.get(p) for p in preset_names]
    if variants_at is not None:
        cfgs += variant_configs(variants_at, base)
    return {"base": base if isinstance(base, str) else base.name, "steps": steps,
            "weights": weights, "seed": seed, "weight_bits": bits, "rows": rows,
            "tables": table_sweep(cfgs)}


# ---- plot -----------------------------------------------------------------------------------
def plot_sweep(result: dict, path) -> str:
    """Errors against weight bits (the ``kind == "bits"`` rows of `precision_sweep`): left,
    one step's RMS error and the share of steps off the rounded float step; right, the
    relative weight error after ``steps`` steps (log scale).  Writes a PNG; returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if r["kind"] == "bits"]
    if not rows:
        raise ValueError("result must hold rows of kind 'bits' to plot against weight bits")
    b = [r["weight_bits"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(b, [r["step_rms_lsb"] for r in rows], "o-", label="one step, RMS error (LSB)")
    ax1.plot(b, [r["step_max_lsb"] for r in rows], "s--", label="one step, max error (LSB)")
    ax1.plot(b, [r["step_mismatch_share"] for r in rows], "^-",
             label="share of steps != rounded float step")
    stoch = [r["weight_bits"] for r in rows if r["rounding"] == "stochastic"]
    if stoch:
        ax1.axvspan(min(stoch) - 0.5, max(stoch) + 0.5, color="0.9", zorder=0,
                    label="stochastic rounding (eta < 1 LSB)")
    ax1.set_xlabel("weight bits")
    ax1.set_ylabel("weight LSBs / share")
    ax1.set_title("one update against base-2 float Madam")
    ax1.legend(fontsize=7)
    ax2.semilogy(b, [r["final_rel_err"] for r in rows], "o-", label="RMS relative weight error")
    ax2.semilogy(b, [abs(r["mean_drift_lsb"]) * math.log(2) / 2 ** r["weight_frac_bits"]
                     for r in rows], "s--", label="|mean drift|, relative")
    ax2.set_xlabel("weight bits")
    ax2.set_title(f"after {result['steps']} steps ({result['weights']} weights)")
    ax2.legend(fontsize=7)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
