"""One LNS Lion step against float64 Lion on the same (LNS-quantised) inputs: the error of
the new weight and momentum in LSBs of their logs (mean, p99), 200,000 seeded cases a
preset; the README's Lion figures.

    .venv/bin/python scripts/lion_precision.py
"""
import numpy as np, lns
from lns import presets
for name in ("lns12_lion", "lns8_lion"):
    cfg = presets.get(name)
    rng = np.random.default_rng(1)
    n = 200_000
    w0 = rng.normal(0, 0.05, n); g0 = rng.normal(0, 1e-3, n); m0 = rng.normal(0, 1e-3, n)
    w = lns.encode(cfg.weight, w0); g = lns.encode(cfg.grad, g0); m = lns.encode(cfg.momentum, m0)
    st = cfg.lane_state(1, 3)
    out = cfg.update({"w": w, "g": g, "m": m}, 1, lfsr_state=st)
    wd, gd, md = (lns.decode(f, x) for f, x in ((cfg.weight, w), (cfg.grad, g), (cfg.momentum, m)))
    c = cfg.beta1 * md + (1 - cfg.beta1) * gd
    wf = wd - cfg.eta * np.sign(c)
    wl = lns.decode(cfg.weight, out["w"])
    ok = (wd != 0) & (np.sign(wf) == np.sign(wl)) & (wf != 0) & (np.abs(wf) > 2 * cfg.weight.min_value)
    err = np.abs(np.log2(np.abs(wl[ok]) / np.abs(wf[ok]))) * 2 ** cfg.weight.frac_bits
    mf = cfg.beta2 * md + (1 - cfg.beta2) * gd
    ml = lns.decode(cfg.momentum, out["m"])
    okm = (mf != 0) & (ml != 0) & (np.sign(mf) == np.sign(ml))
    errm = np.abs(np.log2(np.abs(ml[okm]) / np.abs(mf[okm]))) * 2 ** cfg.momentum.frac_bits
    print(name, f"w: mean {err.mean():.2f} p99 {np.percentile(err, 99):.2f} max {err.max():.2f} LSB (n={ok.sum()})",
          f"m: mean {errm.mean():.2f} p99 {np.percentile(errm, 99):.2f} LSB")
