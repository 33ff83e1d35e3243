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
    ``db_exact``, about 1e-13 ulp off; entries within 1e-9 of a rounding boundary are decided
    with mpmath), share correctly rounded, faithful (every error < 1 ulp) or not, and ROM bits
    beside the direct ROM's.

`plot_sweep` draws the errors against weight bits (matplotlib, Agg).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np

from lns import LNSFormat, MadamConfig, presets
from lns.tables import db_exact, exp2_table, gauss_table, rom_bits, sb_exact

from .tracking import track

__all__ = ["WEIGHT_BITS", "config_for_bits", "variant_configs", "update_sweep",
           "table_precision", "exp2_precision", "table_sweep", "precision_sweep",
           "plot_sweep"]

WEIGHT_BITS = tuple(range(6, 17))
SWEEP_PRESETS = ("lns8_sign", "lns8", "lns12", "lns16")
_TIE_EPS = 1e-9


# ---- configurations -------------------------------------------------------------------------
def _int_bits_for(bits: int) -> int:
    # Octaves of weight range: 8 below 4 for 6-7 bit words, 16 up to 13 bits, 32 above; the
    # presets' choices (tiny i3, lns8/lns12 i4, lns16 i5).
    return 3 if bits <= 7 else 4 if bits <= 13 else 5


def config_for_bits(bits: int, base: str | MadamConfig = "lns12", *, eta_log2: int | None = None,
                    rounding: str | None = None, grad_bits: int | None = None,
                    moment_frac_bits: int | None = None, table: str | None = None,
                    int_bits: int | None = None) -> MadamConfig:
    """A `MadamConfig` with a ``bits``-bit weight word, the rest from ``base``.

    Weight format: one sign bit, ``int_bits`` (3 for 6-7 bits, 4 up to 13, 5 above: 8, 16 or
    32 octaves) and ``frac_bits = bits - 1 - int_bits``; ``bias = 2**int_bits - 2``, so the
    largest magnitude is 4 (above any clip sigma*) and the window reaches 2**-(bias) below.
    This reproduces the weight formats of the presets lns8, lns12 and lns16.

    eta: ``base``'s (LNS-Madam's 2**-7) unless given, the same at every width, so the float
    reference is the same optimizer at every width.  One unit of ``|g_hat|`` is then
    ``eta_lsb = 2**(eta_log2 + frac_bits)`` weight LSBs; where that is below 1, nearest
    rounding would drop most steps (a systematic error), so the step is rounded
    stochastically (unbiased) unless ``rounding`` says otherwise.

    Step datapath: ``step_frac_bits = clip(eta_log2 + frac_bits + 6, 6, 12)`` bits of
    ``log2|g_hat|`` keep the largest step (``eta_lsb * g_bound``) within about 0.05 LSB and
    the expected stochastic step within 1 %; the ``2**frac`` table has 4 bits more.

    Second moment: ``base``'s, with ``max(Fv, min(10 + eta_log2 + frac_bits, 12))``
    fractional bits unless ``moment_frac_bits`` is given.  A step of ``eta_lsb |g_hat|``
    LSBs needs ``log2|g_hat|`` (so ``log2 v``) the more precise the more LSBs one unit is:
    with lns12's moment (Fv = 10) a 16-bit weight (8 LSBs a unit) is off the rounded float
    step in about a fifth of the steps, with Fv = 12 in about 1 %.

    grad_bits: a ``grad_bits``-bit gradient word ``i5`` with bias 24 (2**-24..2**8) instead
    of ``base``'s.  table: the ``sb`` method.
    """
    if isinstance(base, str):
        base = presets.get(base)
    if not isinstance(base, MadamConfig):
        raise TypeError(f"base must be a preset name or a MadamConfig, not {type(base).__name__}")
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool):
        raise TypeError(f"bits must be an int, not {bits!r}")
    bits = int(bits)
    ib = _int_bits_for(bits) if int_bits is None else int(int_bits)
    if not 4 <= bits <= 25 or not 0 <= bits - 1 - ib <= 16:
        raise ValueError(f"weight bits must be between 4 and 25, not {bits}")
    fw = bits - 1 - ib
    weight = LNSFormat(ib, fw, bias=(1 << ib) - 2)
    grad = base.grad
    if grad_bits is not None:
        if not 7 <= grad_bits <= 22:
            raise ValueError(f"grad bits must be between 7 and 22, not {grad_bits}")
        grad = LNSFormat(5, grad_bits - 6, bias=24)
    eta = base.eta_log2 if eta_log2 is None else int(eta_log2)
    eta_shift = eta + fw
    moment = base.moment
    fv = moment_frac_bits
    if fv is None:
        fv = max(moment.frac_bits, min(10 + eta_shift, 12))
    fv = max(fv, grad.frac_bits - 1)            # the update needs g**2 on the moment grid
    if fv != moment.frac_bits:
        moment = LNSFormat(moment.int_bits, fv, bias=moment.bias, signed=False)
    if rounding is None:
        rounding = base.rounding if eta_shift >= 0 else "stochastic"
    fs = min(max(eta_shift + 6, 6), 12)
    name = f"w{bits}"
    if grad_bits is not None:
        name += f"_g{grad_bits}"
    if moment_frac_bits is not None:
        name += f"_vf{moment_frac_bits}"
    return base.replace(weight=weight, grad=grad, moment=moment, eta_log2=eta,
                        rounding=rounding, table=table or base.table, step_frac_bits=fs,
                        exp_bits=fs + 4, name=name)


def variant_configs(bits: int = 12, base: str | MadamConfig = "lns12") -> list[MadamConfig]:
    """The datapath choices that matter at one weight width: the ``sb`` table held direct or
    interpolated, the second moment's fractional bits, the gradient's width, and the
    rounding of the step."""
    ref = config_for_bits(bits, base)
    out = []
    other = "direct" if ref.table == "interp" else "interp"
    out.append(config_for_bits(bits, base, table=other).replace(name=f"w{bits}_{other}"))
    for fv in (4, 6, 8, 12):
        if fv != ref.moment.frac_bits:
            out.append(config_for_bits(bits, base, moment_frac_bits=fv))
    for gb in (8, 9, 14):
        out.append(config_for_bits(bits, base, grad_bits=gb))
    rnd = "stochastic" if ref.rounding == "nearest_even" else "nearest_even"
    out.append(config_for_bits(bits, base, rounding=rnd).replace(name=f"w{bits}_{rnd}"))
    return out


def describe_config(cfg: MadamConfig) -> dict:
    """The fields of a configuration a precision row needs (JSON)."""
    return {"name": cfg.name, "weight_bits": cfg.weight.total_bits, "weight": cfg.weight.name,
            "weight_frac_bits": cfg.weight.frac_bits, "grad": cfg.grad.name,
            "moment": cfg.moment.name, "table": cfg.table, "rounding": cfg.rounding,
            "normaliser": cfg.normaliser, "eta_log2": cfg.eta_log2,
            "eta_lsb": 2.0 ** (cfg.eta_log2 + cfg.weight.frac_bits),
            "step_frac_bits": cfg.step_frac_bits, "exp_bits": cfg.exp_bits}


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
    rows = []
    for i, (cfg, kind) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), cfg.name)
        rows.append(_row(cfg, kind, steps, weights, seed))
    return rows


# ---- table precision ------------------------------------------------------------------------
def _mp_value(kind: str, frac_bits: int, z: int):
    with mpmath.workprec(160):
        x = mpmath.power(2, -mpmath.mpf(z) / 2 ** frac_bits)
        v = mpmath.log(1 + x, 2) if kind == "sb" else mpmath.log(1 - x, 2)
        return v * 2 ** frac_bits


def _error_stats(values: np.ndarray, exact: np.ndarray, exact_mp) -> dict:
    """ulp errors of integer ``values`` against float64 ``exact``; ``exact_mp(i)`` decides
    entries too close to a rounding boundary for float64."""
    err = values - exact
    aerr = np.abs(err)
    correct = aerr < 0.5
    near = np.nonzero(np.abs(aerr - 0.5) < _TIE_EPS)[0]
    for i in near:
        with mpmath.workprec(160):
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
                         lambda i: _mp_value(kind, frac_bits, i + lo))
    return {"table": kind, "frac_bits": frac_bits, "method": method, **stats,
            "bits": int(tab.bits), "direct_bits": int(gauss_table(kind, frac_bits, "direct").bits),
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

    def exact_mp(i):
        return mpmath.power(2, mpmath.mpf(i) / 2 ** index_bits + value_bits)

    stats = _error_stats(values, exact, exact_mp)
    bits = rom_bits(values)
    return {"table": "exp2", "frac_bits": index_bits, "value_bits": value_bits,
            "method": "direct", **stats, "bits": bits, "direct_bits": bits,
            "rom_words": int(values.size)}


def table_sweep(configs, *, methods=("direct", "interp")) -> list[dict]:
    """`table_precision` of ``sb`` and ``db`` by every method at each moment frac_bits the
    ``configs`` use (rms normaliser only), and `exp2_precision` of each ``2**frac`` table.
    Each row has ``used_by``: the names of the configurations that hold that table."""
    gauss: dict = {}
    exp2: dict = {}
    for cfg in configs:
        if cfg.normaliser == "rms":
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
