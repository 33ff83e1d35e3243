"""Hash what a refactor must not change, to compare two checkouts: for every Madam preset,
the generated Verilog (text, ports, latency; lanes 1 and 2) and the model's output words
(Numba at t = 1, 2, 7, 1000 on 20,000 seeded random words; the scalar reference on 500).

    .venv/bin/python scripts/behaviour_hash.py OUT_DIR     # writes OUT_DIR/summary.json
    diff <(python3 -m json.tool A/summary.json) <(python3 -m json.tool B/summary.json)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

import lns
import rtl
from lns import presets


def _hash(*arrays) -> str:
    return hashlib.sha256(b"".join(np.asarray(a, np.int64).tobytes() for a in arrays)).hexdigest()


def main(out: Path) -> dict:
    summary = {}
    for name in presets.names():
        cfg = presets.get(name)
        for lanes in (1, 2):
            v, j = rtl.generate_verilog(cfg, out / "verilog" / f"{name}_x{lanes}", lanes=lanes)
            meta = json.loads(j.read_text())
            summary[f"{name}_x{lanes}"] = {"latency": meta["latency"], "ports": meta["ports"],
                                           "vsha": hashlib.sha256(v.read_bytes()).hexdigest()}
        rng = np.random.default_rng(5)
        n = 20000
        w = rng.integers(0, 1 << cfg.weight.total_bits, n)
        g = rng.integers(0, 1 << cfg.grad.total_bits, n)
        v = rng.integers(0, 1 << cfg.moment.total_bits, n)

        def seeds():
            return lns.lane_seeds(3, 1) if cfg.is_stochastic else None
        words = {str(t): _hash(*lns.madam_update(cfg, w, g, v, t, lfsr_state=seeds()))
                 for t in (1, 2, 7, 1000)}
        words["py"] = _hash(*lns.madam_update(cfg, w[:500], g[:500], v[:500], 3,
                                              lfsr_state=seeds(), evaluator="python"))
        summary[name] = words
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    return summary


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    main(target)
    print(f"wrote {target / 'summary.json'}")
