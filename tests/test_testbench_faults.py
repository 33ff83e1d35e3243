"""Fault injection in every rule's unit: single faults in copies of the generated Verilog
(table bit flips, datapath constants, the rounding's tie rule, handshake) must be reported
by the vector testbench, and a case a fault got wrong, saved, must replay clean on the
correct design (every evaluator) and wrong again on the faulty one."""

import json
from pathlib import Path

import pytest

from lns import presets
from testbench import compare, design, evaluate, faults, vectors
from testbench.compare import Outputs
from testbench.tools import Simulator

# one preset a rule (the corpus's: their builds are shared with the replay)
RULE_PRESETS = ["lns12", "lns12_adam", "lns12_sgd", "lns12_lion", "bf16_adam"]


def _caught(d, vs, mutant, tmp_path):
    r = faults.caught(d, vs, mutant, tmp_path)
    return r.mismatches > 0 or bool(r.protocol)


def test_every_fault_of_the_rms_unit_is_caught(tmp_path):
    d = design.generate(presets.get("lns12"))
    vs = vectors.generate(d.cfg, 4000, seed=5)
    ms = faults.mutants(d.verilog.read_text(), d, seed=1)
    kinds = {m.kind for m in ms}
    assert kinds == {"table", "constant", "rounding", "handshake"}
    missed = [m.description for m in ms if not _caught(d, vs, m, tmp_path)]
    print(f"\nfault injection lns12: caught {len(ms) - len(missed)}/{len(ms)}")
    assert not missed, missed


def test_sign_unit_faults(tmp_path):
    """The sign normaliser reads only exp2[0] (|g_hat| = 1): flips elsewhere in that ROM
    are equivalent mutants, so the share is printed; exp2[0] and the handshake faults must
    be caught."""
    d = design.generate(presets.get("lns8_sign"))
    vs = vectors.generate(d.cfg, 4000, seed=5)
    text = d.verilog.read_text()
    ms = faults.mutants(text, d, seed=1, tables=8)
    caught = {m.description: _caught(d, vs, m, tmp_path) for m in ms}
    print(f"\nfault injection lns8_sign: caught {sum(caught.values())}/{len(caught)}")
    must = [m.description for m in ms if m.kind == "handshake" or "exp2[0]" in m.description]
    assert any("exp2[0]" in m for m in must)
    assert all(caught[m] for m in must), [m for m in must if not caught[m]]


@pytest.mark.parametrize("preset", RULE_PRESETS)
def test_every_rule_has_each_kind_of_mutant(preset):
    d = design.generate(presets.get(preset))
    kinds = {m.kind for m in faults.mutants(d.verilog.read_text(), d, seed=1)}
    assert {"constant", "rounding", "handshake"} <= kinds, kinds
    assert "table" in kinds or preset == "bf16_adam"          # the IEEE unit has no ROM


@pytest.mark.parametrize("kind", ["table_or_constant", "rounding"])
@pytest.mark.parametrize("preset", RULE_PRESETS)
def test_a_fault_in_each_rules_unit_is_caught_and_its_case_replays(preset, kind, tmp_path):
    """The first mutant of the kind (seeded order) that the vectors catch on Icarus: its
    failing case is saved, replays clean on the correct design (python, the reference,
    Icarus, Verilator, Amaranth), and the faulty design gets it wrong again."""
    cfg = presets.get(preset)
    d = design.generate(cfg)
    vs = vectors.generate(cfg, 3000, seed=5)
    want = ("table", "constant") if kind == "table_or_constant" else ("rounding",)
    ms = [m for m in faults.mutants(d.verilog.read_text(), d, seed=1) if m.kind in want]
    assert ms
    for m in ms:
        r = faults.caught(d, vs, m, tmp_path, maxerr=3, gap=0, bp=0)
        if r.details and not r.protocol:
            break
    else:
        pytest.fail(f"no {kind} mutant of {preset} was caught: "
                    f"{[m.description for m in ms]}")
    outputs = Outputs.checked_against(vs, r.details, r.mismatches, r.vectors)
    s = compare.compare(vs, {cfg.reference_evaluator: Outputs.full(vs.expected),
                             "icarus": outputs}, out=False, failures_dir=tmp_path / "saved",
                        max_saved=1)
    assert not s["ok"] and s["evaluators"]["icarus"]["mismatches"] == r.mismatches
    (path,) = s["saved"]
    data = json.loads(Path(path).read_text())
    assert data["observed"]["icarus"] != data["observed"][cfg.reference_evaluator]
    # the correct design agrees with the model on the saved case, on every evaluator ...
    replay = evaluate.replay_file(path)
    assert replay["ok"] and set(replay["evaluators"]) == {
        cfg.reference_evaluator, "python", *map(str, Simulator)}, replay
    # ... and the faulty one gets it wrong again
    one = compare.load_case(path)
    again = faults.caught(design.generate(cfg), one, m, tmp_path / "again", gap=0, bp=0)
    assert again.mismatches == 1
    assert again.details[0][1] == dict(zip(one.out_roles, data["observed"]["icarus"]))


@pytest.mark.slow
def test_the_final_weight_rounding_of_lns_adam(tmp_path):
    """lns16_adam rounds the weight to nearest even (lns12_adam stochastically): its final
    rounding made ties-round-up is caught."""
    d = design.generate(presets.get("lns16_adam"))
    vs = vectors.generate(d.cfg, 3000, seed=5)
    (m,) = [m for m in faults.mutants(d.verilog.read_text(), d) if "wr_x" in m.description]
    assert _caught(d, vs, m, tmp_path)


@pytest.mark.parametrize("fault", faults.FLOAT_FAULTS)
def test_ieee_unit_rebuilt_with_a_fault_is_caught(fault, tmp_path):
    """The IEEE unit rebuilt with b1's last bit flipped, or its rounding's sticky bit
    stuck at 1 (ties away from zero) in every operator, is caught on Icarus; the report
    says who agrees with whom."""
    import io
    cfg = presets.get("bf16_adam")
    path = faults.faulty_verilog(cfg, fault, tmp_path)
    vs = vectors.generate(cfg, 2000, seed=1)
    out = io.StringIO()
    r = evaluate.evaluate(vs, (Simulator.ICARUS,), verilog=path, python_sample=50, out=out)
    assert not r["ok"]
    assert r["evaluators"]["icarus"]["mismatches"] > 0
    assert r["evaluators"]["numpy"]["mismatches"] == 0
    lines = out.getvalue().splitlines()
    assert any(("numpy, python agree on" in x or "numpy says" in x) and "icarus says" in x
               for x in lines)


def test_faulty_verilog_is_for_the_ieee_unit():
    with pytest.raises(TypeError, match="cfg must be a FloatAdamConfig, not MadamConfig"):
        faults.faulty_verilog(presets.get("lns12"), "constant", ".")
    with pytest.raises(ValueError, match="fault must be one of constant, rounding"):
        faults.faulty_verilog(presets.get("bf16_adam"), "table", ".")

