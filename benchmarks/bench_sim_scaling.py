"""How cycles and simulation time grow with the tensor size N and the lanes, with and
without a memory bandwidth limit: throughput scales with the lanes until the memory caps it.

    python benchmarks/bench_sim_scaling.py [--preset lns12|lns12_adam|...] [--out benchmarks/out]
        [--engines model,verilator] [--sizes 10000,100000,1000000] [--lanes 1,2,4,8]
        [--mem-bytes-per-cycle 16] [--stall-prob 0.05]

Prints one table row a run (cycles, updates per cycle, utilisation, wall time of the
simulation, cycles/s, weights/s) and writes ``sim_scaling.png`` (matplotlib, Agg; another
preset than lns12: ``sim_scaling_<preset>.png``) into ``--out``.  Verilator builds (one per lanes) are cached in the user cache directory (`rtl.cache`); their build
time is not in the wall time.  Wall times on a shared machine are noisy: compare rows of
one run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lns  # noqa: E402
from sim.cycle import simulate  # noqa: E402
from sim.cycle.memory import beat_bits  # noqa: E402


def _ints(text):
    return [int(x) for x in text.split(",") if x]


def _mega(rate) -> str:
    """A rate in millions, or "closed" where the model used its closed form (no loop ran,
    so there is no rate to report)."""
    return "closed" if rate is None else f"{rate / 1e6:.1f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="lns12")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    ap.add_argument("--engines", default="model,verilator")
    ap.add_argument("--sizes", type=_ints, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--lanes", type=_ints, default=[1, 2, 4, 8])
    ap.add_argument("--mem-bytes-per-cycle", type=float, default=16.0)
    ap.add_argument("--stall-prob", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    cfg = lns.presets.get(args.preset)       # Madam, Adam or SGD (sim.cycle.stream)
    engines = args.engines.split(",")
    memories = [("unlimited", 0.0, None),
                (f"stall {args.stall_prob}", args.stall_prob, None),
                (f"{args.mem_bytes_per_cycle:g} B/cycle", 0.0, args.mem_bytes_per_cycle)]
    rows = []
    head = (f"{'engine':<9} {'memory':<14} {'N':>9} {'lanes':>5} {'cycles':>11} "
            f"{'upd/cyc':>7} {'util':>5} {'B/upd':>6} {'wall s':>8} {'Mcyc/s':>8} "
            f"{'Mw/s':>8} {'ok':>3}")
    print(f"preset {cfg.name}; a beat moves "
          f"{sum(beat_bits(cfg, 1)) / 8:g} bytes "
          f"a lane\n{head}\n{'-' * len(head)}")
    for engine in engines:
        for label, p, b in memories:
            for lanes in args.lanes:
                for n in args.sizes:
                    r = simulate(cfg, n, lanes, engine, stall_prob=p, bytes_per_cycle=b,
                                 seed=args.seed, progress=False)
                    if engine == "verilator" and r["build_seconds"]:
                        # the first run of a build paid the build: run again for the time
                        r = simulate(cfg, n, lanes, engine, stall_prob=p, bytes_per_cycle=b,
                                     seed=args.seed, progress=False)
                    ok = "-" if r["checked"] is None else ("yes" if not r["mismatches"] else "NO")
                    rows.append((engine, label, n, lanes, r))
                    print(f"{engine:<9} {label:<14} {n:>9,} {lanes:>5} {r['cycles']:>11,} "
                          f"{r['updates_per_cycle']:>7.3f} {r['utilisation']:>5.2f} "
                          f"{r['bytes_per_update']:>6.2f} {r['sim_seconds']:>8.4f} "
                          f"{_mega(r['cycles_per_second']):>8} "
                          f"{_mega(r['weights_per_second']):>8} {ok:>3}", flush=True)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    n_max = max(args.sizes)
    for label, _, _ in memories:
        pts = [(lanes, r["updates_per_cycle"]) for e, lb, n, lanes, r in rows
               if e == engines[0] and lb == label and n == n_max]
        ax1.plot(*zip(*pts), marker="o", label=label)
    ax1.plot(args.lanes, args.lanes, ls=":", color="grey", label="peak (= lanes)")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("lanes")
    ax1.set_ylabel("updates per cycle")
    ax1.set_title(f"{cfg.name}, N = {n_max:,}")
    ax1.legend(fontsize=8)
    for engine in engines:
        for lanes in args.lanes:
            pts = [(n, r["sim_seconds"]) for e, lb, n, la, r in rows
                   if e == engine and la == lanes and lb == memories[0][0]]
            ax2.plot(*zip(*pts), marker="o", label=f"{engine}, {lanes} lanes")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("weights N")
    ax2.set_ylabel("simulation wall time (s)")
    ax2.set_title("simulation time (unlimited memory)")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    # the default preset's plot keeps its name; another preset's is named after it
    png = out / ("sim_scaling.png" if cfg.name == "lns12" else f"sim_scaling_{cfg.name}.png")
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
