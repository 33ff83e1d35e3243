"""The fast path: the generated Verilog on Icarus and Verilator over >= 100,000 vectors of an
rms and a sign preset, the exhaustive tiny set, and several lanes.  A missing simulator
fails these tests (tools.require raises), it never skips them."""

import pytest

from lns import presets
from testbench import design, evaluate, vectors
from testbench.compare import Outputs, compare

SIMS = ["icarus", "verilator"]


def _check(sim, vs, **kw):
    d = design.generate(vs.cfg, vs.lanes)
    outputs, run = evaluate.run_hdl(sim, d, vs, **kw)
    s = compare(vs, {"numba": Outputs.full(vs.exp_w, vs.exp_v), sim: outputs})
    assert run.vectors == len(vs) and run.received == len(vs)
    assert s["ok"], s
    return run


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("preset", ["lns12", "lns8_sign"])
def test_100k_vectors(sim, preset):
    vs = vectors.generate(presets.get(preset), 100_000, seed=11)
    run = _check(sim, vs, gap=10, bp=20, rng_seed=3)
    assert run.cycles > len(vs)          # gaps and back-pressure did stretch the stream


@pytest.mark.parametrize("sim", SIMS)
def test_exhaustive_tiny(sim):
    vs = vectors.exhaustive(presets.get("tiny"))
    if sim == "icarus":
        vs = vs.subset(slice(0, 131072))     # one (t, clip) group: Icarus runs ~15 k cycles/s
    _check(sim, vs, gap=0, bp=5)


@pytest.mark.parametrize("sim", SIMS)
def test_lanes(sim):
    vs = vectors.generate(presets.get("lns8_sign"), 6000, seed=2, lanes=3)
    _check(sim, vs, gap=15, bp=25)


def test_a_wrong_expectation_is_reported_with_values():
    vs = vectors.generate(presets.get("lns12"), 2000, seed=1)
    vs.exp_w[100] ^= 4
    vs.exp_v[1500] ^= 1
    d = design.generate(vs.cfg)
    for sim in SIMS:
        outputs, run = evaluate.run_hdl(sim, d, vs, gap=5, bp=5)
        assert run.mismatches == 2
        assert [c for c, *_ in run.details] == [100, 1500]
        assert run.details[0][1] == vs.exp_w[100] ^ 4 and run.details[0][2] == vs.exp_w[100]
