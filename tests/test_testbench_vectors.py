"""Vectors: determinism, the hex line format, edge coverage, exhaustive sets; the compare's
grouping report."""

import io

import numpy as np
import pytest

from lns import presets
from lns.codec import split
from testbench import vectors as V
from testbench.compare import UNKNOWN, Outputs, compare


@pytest.mark.parametrize("preset", ["tiny", "lns8_sign", "lns12"])
def test_same_seed_same_bytes(preset):
    cfg = presets.get(preset)
    a, b = V.generate(cfg, 3000, seed=4), V.generate(cfg, 3000, seed=4)
    assert a.to_text() == b.to_text()
    assert V.generate(cfg, 3000, seed=5).to_text() != a.to_text()


@pytest.mark.parametrize("preset,lanes", [("lns12", 1), ("lns8_sign", 3)])
def test_lines_round_trip_and_expectations(preset, lanes):
    cfg = presets.get(preset)
    vs = V.generate(cfg, 2000, seed=2, lanes=lanes)
    back = V.parse(vs.to_text())
    for name in ("t", "clip", "w", "g", "v", "exp_w", "exp_v"):
        assert np.array_equal(getattr(back, name), getattr(vs, name)), name
    assert back.cfg == cfg and back.lanes == lanes
    # every group is whole beats, and the expectations are the model over the stream
    assert all((b - a) % lanes == 0 for a, b, _, _ in vs.groups())
    ew, ev = V.expected_outputs(cfg, vs.t, vs.clip, vs.w, vs.g, vs.v, lanes=lanes,
                                lfsr_seed=vs.lfsr_seed, evaluator="python")
    assert np.array_equal(ew, vs.exp_w) and np.array_equal(ev, vs.exp_v)


def test_line_format_fields():
    cfg = presets.get("lns12")
    vs = V.generate(cfg, 600, seed=1)
    line = vs.lines().decode().splitlines()[0].split()
    assert [len(f) for f in line] == [8, 3, 3, 3, 5, 3, 5]
    assert int(line[0], 16) == vs.t[0] and int(line[6], 16) == vs.exp_v[0]


def test_edges_are_present():
    cfg = presets.get("lns12")
    vs = V.generate(cfg, 20000, seed=1)
    W, G = cfg.weight, cfg.grad
    ew = vs.w & ((1 << W.log_bits) - 1)
    assert {0, 1 << W.log_bits} <= set(vs.w.tolist())                 # zero, either sign
    assert {0, 1 << G.log_bits} <= set(vs.g.tolist())
    assert 0 in vs.v and W.e_min in ew and W.e_max in ew
    assert 1 in vs.t and 1_000_000 in vs.t
    assert np.any(ew == vs.clip) and np.any(ew == vs.clip + 1)
    norm_tie, step_tie, bound = V.tie_flags(cfg, vs.t, vs.w, vs.g, vs.exp_v)
    assert norm_tie.sum() > 50 and step_tie.sum() > 5 and bound.sum() > 100
    # t = 1 with v = 0 makes |g_hat| = 1: a step of exactly eta * 2**Fw = 1 LSB
    _, xw, zw = split(W, vs.w)
    _, xg, zg = split(G, vs.g)
    sel = (vs.t == 1) & (vs.v == 0) & ~zw & ~zg & (xw > W.x_min + 1) & \
        (xw + W.offset < vs.clip - 1)
    assert sel.sum() > 10
    _, xw2, _ = split(W, vs.exp_w[sel])
    assert np.all(np.abs(xw2 - xw[sel]) == 1)


def test_exhaustive_tiny_is_every_triple():
    cfg = presets.get("tiny")
    vs = V.exhaustive(cfg)
    m = 64 * 32 * 64
    assert len(vs) == 3 * m and len(vs.groups()) == 3
    triples = vs.w[:m] * (1 << 11) + vs.g[:m] * 64 + vs.v[:m]
    assert np.array_equal(np.sort(triples), np.arange(m))


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be a positive int, not 0"):
        V.generate(presets.get("tiny"), 0)
    with pytest.raises(ValueError, match="exhaustive vectors need at most"):
        V.exhaustive(presets.get("lns12"))


def test_compare_groups_evaluators_by_value():
    cfg = presets.get("lns12")
    vs = V.generate(cfg, 600, seed=3)
    good = Outputs.full(vs.exp_w, vs.exp_v)
    bad_w = vs.exp_w.copy()
    bad_w[7] ^= 1
    results = {"python": good, "numba": good, "icarus": good,
               "verilator": Outputs(bad_w, vs.exp_v.copy(), len(vs))}
    out = io.StringIO()
    s = compare(vs, results, out=out)
    text = out.getvalue()
    assert not s["ok"] and s["cases"] == [7]
    assert s["evaluators"]["verilator"]["mismatches"] == 1
    assert s["evaluators"]["icarus"]["mismatches"] == 0
    line = next(x for x in text.splitlines() if x.strip().startswith("w'"))
    assert f"python, numba, icarus agree on 0x{vs.exp_w[7]:03x}" in line
    assert f"verilator says 0x{bad_w[7]:03x}" in line
    assert "(" in line                                  # decoded value beside the hex
    assert "case 7: t=" in text


def test_compare_stops_after_max_report_and_counts_unknowns():
    cfg = presets.get("tiny")
    vs = V.generate(cfg, 600, seed=3)
    wrong = Outputs.full(vs.exp_w ^ 1, vs.exp_v)
    part = Outputs.full(vs.exp_w, vs.exp_v)
    part.w[10:] = UNKNOWN
    part.v[10:] = UNKNOWN
    out = io.StringIO()
    s = compare(vs, {"numba": Outputs.full(vs.exp_w, vs.exp_v), "python": part,
                     "icarus": wrong}, max_report=3, out=out)
    assert s["evaluators"]["icarus"]["mismatches"] == len(vs)
    assert s["evaluators"]["python"] == {"vectors": 600, "mismatches": 0}
    assert out.getvalue().count("case ") == 3 and "more disagreeing cases" in out.getvalue()
