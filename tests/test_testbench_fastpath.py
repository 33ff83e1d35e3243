"""The fast path: the one vector testbench (`hdl_tb.testbench_text`, held ports from the
rule) on Icarus and Verilator for one preset of every rule, >= 100,000 vectors of an rms
and a sign preset, the exhaustive tiny set, several lanes, a wrong expectation reported.
A missing simulator fails these tests (tools.require raises), it never skips them."""

import pytest

from lns import presets
from testbench import design, evaluate, hdl_tb, vectors
from testbench.compare import Outputs, compare
from testbench.tools import HDL_SIMULATORS, Simulator

SIMS = list(HDL_SIMULATORS)
# one preset a rule (the replay corpus's: their builds are shared), and a stochastic one
ONE_PER_RULE = ["lns12", "lns8_sign", "lns12_adam", "lns12_sgd", "lns12_lion", "bf16_adam"]


def _check(sim, vs, **kw):
    d = design.generate(vs.cfg, vs.lanes)
    outputs, run = evaluate.run_hdl(sim, d, vs, **kw)
    s = compare(vs, {vs.cfg.reference_evaluator: Outputs.full(vs.expected), str(sim): outputs})
    assert run.vectors == len(vs) and run.received == len(vs)
    assert s["ok"], s
    return run


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("lanes", [1, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("preset", ONE_PER_RULE)
def test_every_rule_on_the_vector_testbench(sim, lanes, preset):
    """Several groups (held ports change between them, the pipeline drained first; Icarus'
    testbench holds them, Verilator's harness runs a block a group), gaps and
    back-pressure; two lanes in the slow tier (a design of its own)."""
    cfg = presets.get(preset)
    vs = vectors.generate(cfg, 2400, seed=3, lanes=lanes)
    run = _check(sim, vs, gap=15, bp=25, rng_seed=2)
    assert run.cycles > len(vs) // lanes


def test_the_held_ports_come_from_the_rule():
    for preset, held in (("lns12", ["x_bc", "clip"]), ("lns12_adam", ["x_bc1", "x_bc2"]),
                         ("bf16_adam", ["k1", "k2"]), ("lns12_lion", [])):
        d = design.generate(presets.get(preset))
        fields, _ = hdl_tb.layout(d)
        names = [f for f, _, _ in fields]
        assert names[:len(held)] == held and names[len(held)] == "w", names
        text = hdl_tb.testbench_text(d)
        for h in held:
            assert f".{h}({h})" in text and f"cur_{h}" in text


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("preset", ["lns12", "lns8_sign"])
def test_100k_vectors(sim, preset):
    vs = vectors.generate(presets.get(preset), 100_000, seed=11)
    run = _check(sim, vs, gap=10, bp=20, rng_seed=3)
    assert run.cycles > len(vs)          # gaps and back-pressure did stretch the stream


@pytest.mark.parametrize("sim", SIMS)
def test_exhaustive_tiny(sim):
    vs = vectors.exhaustive(presets.get("tiny"))
    if sim is Simulator.ICARUS:
        vs = vs.subset(slice(0, 131072))     # one (t, clip) group: Icarus runs ~15 k cycles/s
    _check(sim, vs, gap=0, bp=5)


@pytest.mark.parametrize("sim", SIMS)
def test_lanes(sim):
    vs = vectors.generate(presets.get("lns8_sign"), 6000, seed=2, lanes=3)
    _check(sim, vs, gap=15, bp=25)


@pytest.mark.parametrize("preset", ["lns12", "lns12_adam"])
def test_a_wrong_expectation_is_reported_with_values(preset):
    vs = vectors.generate(presets.get(preset), 2000, seed=1)
    w0, last = vs.exp_w[100], vs.out_roles[-1]
    vs.exp_w[100] ^= 4
    vs.expected[last][1500] ^= 1
    d = design.generate(vs.cfg)
    for sim in SIMS:
        outputs, run = evaluate.run_hdl(sim, d, vs, gap=5, bp=5)
        assert run.mismatches == 2
        assert [c for c, *_ in run.details] == [100, 1500]
        case, got, exp = run.details[0]
        assert got["w"] == w0 and exp["w"] == w0 ^ 4
        assert outputs.words["w"][100] == w0
