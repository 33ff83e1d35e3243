"""Throughput of the bit-exact LNS Madam update against float64 Madam, xlns and a memory copy.

Run (one core)::

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_update.py [--json]

Everything runs in one process on the same seeded tensor of 1,000,000 weights at step t = 10
with a non-zero second moment (the default preset, ``lns.presets.DEFAULT``).  Each method is
timed with ``time.perf_counter``; the repeats are interleaved (method A, B, C, ..., then again)
so that machine noise hits every method alike, and the best repeat counts.  See
benchmarks/README.md for what each row does exactly.  Never asserts on time: prints PASS/MISS.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")       # before numba is imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse            # noqa: E402
import contextlib          # noqa: E402
import io                  # noqa: E402
import json                # noqa: E402
import math                # noqa: E402
import platform            # noqa: E402
import resource            # noqa: E402
import sys                 # noqa: E402
import time                # noqa: E402
import tracemalloc         # noqa: E402

import numpy as np         # noqa: E402

import lns                 # noqa: E402
from lns import update as lns_update   # noqa: E402
from lns.kernels import table_tuple    # noqa: E402

N = 1_000_000
T = 10                      # the step: bias correction 1 - beta**10, v non-zero
SEED = 20260
XLNS_SCALAR_SAMPLE = 2_000
TARGETS = {                 # ratio of LNS updates/s to the other row's, at least
    "lns_over_float": 3.0,
    "lns_over_xlns_scalar": 1000.0,
    "lns_over_xlnsnp": 10.0,
    "lns_over_copy": 0.25,
}


# ---------------------------------------------------------------------------- inputs ----
def make_inputs(cfg, n=N, seed=SEED):
    """Seeded weights, gradient and second moment, as floats and as words of ``cfg``."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(0.0, 0.05, n)                         # Xavier-like scale
    g = rng.normal(0.0, 1e-3, n) * rng.lognormal(0, 1, n)
    g_prev = rng.normal(0.0, 1e-3, n)
    v = (1 - cfg.beta ** (T - 1)) * g_prev ** 2           # a moment after T - 1 steps
    words = {
        "w": lns.encode(cfg.weight, w0),
        "g": lns.encode(cfg.grad, g),
        "v": lns.encode(cfg.moment, v),
    }
    floats = {k: lns.decode(fmt, words[k]) for k, fmt in
              (("w", cfg.weight), ("g", cfg.grad), ("v", cfg.moment))}
    return w0, words, floats, cfg.clip_code(w0)


# ---------------------------------------------------------------------------- methods ---
def lns_api(cfg, words, clip):
    """The public API, as a user calls it (input checks, bias-correction constant, tables)."""
    def run():
        return lns.madam_update(cfg, words["w"], words["g"], words["v"], T, clip=clip)
    return run


def lns_kernel(cfg, words, clip):
    """The Numba kernel alone, with every argument prepared outside the timed call."""
    x_bc = cfg.bias_correction_code(T)
    args = (words["w"], words["g"], words["v"], x_bc, int(clip) - cfg.weight.offset,
            cfg.params, table_tuple(cfg.sb_table), np.asarray(cfg.exp_table, dtype=np.int64),
            np.ones(1, dtype=np.int64))
    out_w = np.empty(N, dtype=np.int64)
    out_v = np.empty(N, dtype=np.int64)

    def run():
        lns_update._update_kernel(*args, out_w, out_v)
        return out_w, out_v
    return run


def narrow_words(cfg, words):
    """The same words in their natural narrow dtypes (uint16 up to 16 bits, else uint32)."""
    def dt(fmt):
        return np.uint16 if fmt.total_bits <= 16 else np.uint32
    return {k: words[k].astype(dt(fmt)) for k, fmt in
            (("w", cfg.weight), ("g", cfg.grad), ("v", cfg.moment))}


def lns_narrow(cfg, narrow, clip):
    """The public API on narrow words, writing into narrow output arrays (``out=``): the
    bytes the update really has to move, as the copy row moves them."""
    out = (np.empty(N, dtype=narrow["w"].dtype), np.empty(N, dtype=narrow["v"].dtype))

    def run():
        return lns.madam_update(cfg, narrow["w"], narrow["g"], narrow["v"], T, clip=clip,
                                out=out)
    return run


def narrow_bytes(narrow):
    return sum(narrow[k].itemsize for k in ("w", "g", "v", "w", "v"))


def float_reference(cfg, w0, floats):
    """python_ref.madam.Madam (the project's float64 reference) if it imports and runs,
    else the published equations inline.  Returns (name, run)."""
    w, g, v = floats["w"], floats["g"], floats["v"]
    try:
        from python_ref.madam import Madam
        opt = Madam(w0, eta=cfg.eta, beta=cfg.beta, g_bound=cfg.g_bound, p_scale=cfg.p_scale,
                    base=2, dtype=np.float64)
        opt.t, opt.v = T - 1, v.copy()
        opt.step(w, g)

        def run():
            opt.t, opt.v = T - 1, v              # same state every repeat (step copies v)
            return opt.step(w, g)
        return "python_ref.madam.Madam(base=2)", run
    except Exception as exc:                     # pragma: no cover - fallback
        print(f"python_ref.madam.Madam unusable ({exc!r}); using the inline float step",
              file=sys.stderr)
        return "inline float64", float_inline(cfg, w0, floats)


def float_inline(cfg, w0, floats):
    """The float64 Madam step written from the published equations (base 2, no checks)."""
    w, g, v = floats["w"], floats["g"], floats["v"]
    beta, eta, bound = cfg.beta, cfg.eta, cfg.g_bound
    sigma = cfg.p_scale * math.sqrt(float(np.mean(w0 ** 2)))
    bc = 1.0 - beta ** T

    def run():
        v_new = beta * v + (1.0 - beta) * (g * g)
        with np.errstate(divide="ignore", invalid="ignore"):
            g_hat = g / np.sqrt(v_new / bc)
        g_hat = np.nan_to_num(g_hat, nan=0.0, posinf=bound, neginf=-bound)
        np.clip(g_hat, -bound, bound, out=g_hat)
        w_new = w * np.exp2(-eta * g_hat * np.sign(w))
        np.clip(w_new, -sigma, sigma, out=w_new)
        return w_new, v_new
    return run


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def xlns_setup(cfg):
    import xlns
    with _quiet():
        xlns.xlnssetF(cfg.moment.frac_bits)   # one global precision: the moment's (finest)
    return xlns


def _xlns_word(xl, fmt, words, scale_to):
    """Words -> xlns scalars built from the log code, rescaled to the global F."""
    e = words & ((1 << fmt.log_bits) - 1)
    sign = (words >> fmt.log_bits) & 1 if fmt.signed else np.zeros_like(words)
    zero = e == 0
    x = (e - fmt.offset) << (scale_to - fmt.frac_bits)
    out = []
    for s, xi, z in zip(sign.tolist(), x.tolist(), zero.tolist()):
        o = xl.xlns("")
        o.x, o.s = (-1e1000 if z else xi), bool(s)
        out.append(o)
    return out


def xlns_scalar(cfg, words, sigma, n=XLNS_SCALAR_SAMPLE):
    """The update's LNS operations with xlns's scalar class on the first ``n`` weights."""
    xl = xlns_setup(cfg)
    fv = cfg.moment.frac_bits
    w = _xlns_word(xl, cfg.weight, words["w"][:n], fv)
    g = _xlns_word(xl, cfg.grad, words["g"][:n], fv)
    v = _xlns_word(xl, cfg.moment, words["v"][:n], fv)
    c_beta, c_1mb = xl.xlns(cfg.beta), xl.xlns(1.0 - cfg.beta)
    inv_bc = xl.xlns(1.0 / (1.0 - cfg.beta ** T))
    bound, clip = xl.xlns(cfg.g_bound), xl.xlns(sigma)
    m_eta = xl.xlns(-cfg.eta)

    def run():
        out_w, out_v = [], []
        for wi, gi, vi in zip(w, g, v):
            vn = c_beta * vi + c_1mb * (gi * gi)             # 3 mul, 1 add (sb)
            gh = gi / (vn * inv_bc) ** 0.5                   # mul, sqrt (halve), div
            if abs(gh) > bound:                              # clamp |g_hat|
                gh = bound if not gh.s else -bound
            e = gh * m_eta if not wi.s else gh * -m_eta      # -eta g_hat sign(w)
            f = xl.xlns(2.0 ** float(e))                     # log -> linear -> log
            wn = wi * f
            if abs(wn) > clip:                               # clip at sigma*
                wn = clip if not wn.s else -clip
            out_w.append(wn)
            out_v.append(vn)
        return out_w, out_v
    return run


def xlns_array(cfg, words, sigma):
    """The same operations with xlns's numpy array class ``xlnsnp`` on the whole tensor."""
    xl = xlns_setup(cfg)
    fv = cfg.moment.frac_bits
    zero_nd = np.int64(-0x7fffffffffffffff - 1)

    def to_np(fmt, wd):
        e = wd & ((1 << fmt.log_bits) - 1)
        sign = (wd >> fmt.log_bits) & 1 if fmt.signed else np.zeros_like(wd)
        t = xl.xlnsnp("")
        t.nd = np.where(e == 0, zero_nd, (((e - fmt.offset) << (fv - fmt.frac_bits)) << 1) | sign)
        return t

    w, g, v = to_np(cfg.weight, words["w"]), to_np(cfg.grad, words["g"]), \
        to_np(cfg.moment, words["v"])
    c_beta, c_1mb = xl.xlnsnp(cfg.beta), xl.xlnsnp(1.0 - cfg.beta)
    inv_bc = xl.xlnsnp(1.0 / (1.0 - cfg.beta ** T))
    bound_nd = int(xl.xlnsnp(cfg.g_bound).nd[0])
    clip_nd = int(xl.xlnsnp(sigma).nd[0])
    m_eta = xl.xlnsnp(-cfg.eta)

    def run():
        vn = c_beta * v + c_1mb * (g * g)                    # xlnsnp mul, mul, mul, add
        gh = g / (vn * inv_bc) ** 0.5                        # mul, pow 0.5, div
        gh.nd = np.where((gh.nd & -2) > bound_nd, bound_nd | (gh.nd & 1), gh.nd)   # clamp
        sw = xl.xlnsnp("")
        sw.nd = w.nd & 1                                     # +-1 with w's sign
        e = gh * m_eta * sw                                  # 2 mul
        f = 2.0 ** e                                         # xlnsnp.__rpow__: log->lin->log
        wn = w * f
        wn.nd = np.where((wn.nd & -2) > clip_nd, clip_nd | (wn.nd & 1), wn.nd)    # clip
        return wn, vn
    return run


def byte_width(fmt):
    return -(-fmt.total_bits // 8)


def copy_limit(cfg):
    """The bytes an update must move at the words' sizes: reads w, g, v and writes w', v'.

    ``w' = w + g`` as unsigned integers of the weight's byte width (a memory-bound pass that
    reads both and writes one) and ``v' = v`` as a byte copy: exactly the update's traffic.
    """
    rng = np.random.default_rng(1)
    bw, bg, bv = byte_width(cfg.weight), byte_width(cfg.grad), byte_width(cfg.moment)
    if bw != bg:                                     # pragma: no cover - not the default
        raise NotImplementedError("copy model assumes equal weight and gradient widths")
    dt = {1: np.uint8, 2: np.uint16, 4: np.uint32}[bw]
    w = rng.integers(0, 1 << 8, N * bw, dtype=np.uint8).view(dt)
    g = rng.integers(0, 1 << 8, N * bg, dtype=np.uint8).view(dt)
    v = rng.integers(0, 1 << 8, N * bv, dtype=np.uint8)
    out_w, out_v = np.empty_like(w), np.empty_like(v)

    def run():
        np.add(w, g, out=out_w)
        np.copyto(out_v, v)
        return out_w, out_v
    traffic = N * (bw + bg + bv + bw + bv)
    return run, traffic


# ---------------------------------------------------------------------------- timing ----
_SCRATCH = None


def evict_caches():
    """Write a buffer twice the size of any last-level cache, so the next call starts cold."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = np.empty(128 << 20, dtype=np.uint8)
    _SCRATCH[::64] += 1


def best_times(methods, repeats):
    """Interleaved repeats: ``{name: best seconds}``.  A method is ``(run, calls, cold)``;
    ``cold`` methods are timed one call at a time, each after `evict_caches` (untimed)."""
    best = {k: math.inf for k in methods}
    for _ in range(repeats):
        for name, (run, reps, cold) in methods.items():
            if cold:
                for _ in range(reps):
                    evict_caches()
                    t0 = time.perf_counter()
                    run()
                    best[name] = min(best[name], time.perf_counter() - t0)
                continue
            t0 = time.perf_counter()
            for _ in range(reps):
                run()
            best[name] = min(best[name], (time.perf_counter() - t0) / reps)
    return best


def peak_memory(run):
    """Peak bytes traced by tracemalloc during one call (numpy buffers are traced)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def check_kernel_matches_api(api, kernel):
    a_w, a_v = api()
    k_w, k_v = kernel()
    assert np.array_equal(a_w, k_w) and np.array_equal(a_v, k_v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved repeats (best counts)")
    args = ap.parse_args(argv)

    cfg = lns.presets.get(lns.presets.DEFAULT)
    w0, words, floats, clip = make_inputs(cfg)
    sigma = float(lns.decode(cfg.weight, clip))

    api, kernel = lns_api(cfg, words, clip), lns_kernel(cfg, words, clip)
    narrow = narrow_words(cfg, words)
    api_narrow = lns_narrow(cfg, narrow, clip)
    api()                                     # warm up: compile (or load the cache) first
    check_kernel_matches_api(api, kernel)
    check_kernel_matches_api(api, api_narrow)
    float_name, flt = float_reference(cfg, w0, floats)
    inline = float_inline(cfg, w0, floats)
    xs, xa = xlns_scalar(cfg, words, sigma), xlns_array(cfg, words, sigma)
    copy, traffic = copy_limit(cfg)
    for run in (flt, inline, xs, xa, copy):
        run()                                 # warm up caches and allocators

    # (run, calls per repeat, cold): the fast ones loop to get above timer noise.  "copy"
    # starts each call with cold caches (the DRAM limit: its 12 MB would otherwise sit in a
    # 32 MB L3 between calls); "copy_warm" repeats back to back (cache bandwidth).
    methods = {
        "lns_api": (api, 5, False), "lns_kernel": (kernel, 5, False),
        "lns_narrow": (api_narrow, 5, False),
        "float_ref": (flt, 3, False), "float_inline": (inline, 3, False),
        "xlns_scalar": (xs, 1, False), "xlnsnp": (xa, 1, False),
        "copy": (copy, 3, True), "copy_warm": (copy, 20, False),
    }
    best = best_times(methods, args.repeats)
    sizes = {k: N for k in methods}
    sizes["xlns_scalar"] = XLNS_SCALAR_SAMPLE
    rate = {k: sizes[k] / best[k] for k in methods}
    peaks = {k: peak_memory(methods[k][0]) for k in methods}

    lns_rate = rate["lns_api"]
    # lns_over_copy: the update on narrow words (uint16/uint32 in and out, the API's out=)
    # against a copy of the same bytes; lns_int64_over_copy: the API's default int64 output
    ratios = {
        "lns_over_float": lns_rate / rate["float_ref"],
        "lns_over_float_inline": lns_rate / rate["float_inline"],
        "lns_over_xlns_scalar": lns_rate / rate["xlns_scalar"],
        "lns_over_xlnsnp": lns_rate / rate["xlnsnp"],
        "lns_over_copy": rate["lns_narrow"] / rate["copy"],
        "lns_int64_over_copy": lns_rate / rate["copy"],
        "kernel_over_copy": rate["lns_kernel"] / rate["copy"],
        "lns_over_copy_warm": lns_rate / rate["copy_warm"],
    }
    verdict = {k: ("PASS" if ratios[k] >= v else "MISS") for k, v in TARGETS.items()}
    result = {
        "preset": cfg.name, "n": N, "t": T, "repeats": args.repeats,
        "float_reference": float_name,
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
        "python": platform.python_version(), "machine": platform.machine(),
        "seconds": best, "updates_per_s": rate,
        "api_overhead_s": best["lns_api"] - best["lns_kernel"],
        "copy_bytes_per_update": traffic / N,
        "narrow_bytes_per_update": narrow_bytes(narrow),
        "copy_gb_per_s": traffic / best["copy"] / 1e9,
        "copy_warm_gb_per_s": traffic / best["copy_warm"] / 1e9,
        "ratios": ratios, "targets": TARGETS, "verdict": verdict,
        "peak_traced_bytes": peaks,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return result

    print(f"preset {cfg.name}: {N:,} weights, t = {T}, best of {args.repeats} interleaved "
          f"repeats, NUMBA_NUM_THREADS={result['numba_threads']}")
    print(f"float reference: {float_name}")
    print(f"{'method':14s} {'seconds':>10s} {'updates/s':>14s} {'peak MiB':>9s}")
    for k in methods:
        print(f"{k:14s} {best[k]:10.5f} {rate[k]:14.4g} {peaks[k] / 2 ** 20:9.1f}")
    print(f"API overhead over the bare kernel: {result['api_overhead_s'] * 1e3:.2f} ms "
          f"({100 * result['api_overhead_s'] / best['lns_api']:.0f} % of the API call)")
    print(f"narrow words: {narrow_bytes(narrow)} bytes/update moved by lns_narrow")
    print(f"copy: {traffic / N:.0f} bytes/update, {result['copy_gb_per_s']:.2f} GB/s cold, "
          f"{result['copy_warm_gb_per_s']:.2f} GB/s warm")
    for k, v in ratios.items():
        tgt = TARGETS.get(k)
        tail = f"  target >= {tgt:g}: {verdict[k]}" if tgt else ""
        print(f"{k:22s} {v:10.3f}{tail}")
    print(f"max RSS {result['max_rss_kib'] / 1024:.0f} MiB")
    return result


if __name__ == "__main__":
    main()
