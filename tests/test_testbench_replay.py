"""Saved cases: every file under tests/failures/ is replayed through every evaluator
(python, the reference, icarus, verilator, amaranth) against the model, forever after.

The folder is never empty: `testbench.faults.save_corpus` (``python -m testbench.faults
--save-corpus tests/failures``) writes, for each evaluator path and each rule of the
registry (`faults.CORPUS`), a case that one injected fault got wrong (its ``observed``
entry records the faulty output, its ``fault`` entry the fault).  The replay must find
every evaluator in agreement on every case, and the corpus must hold a case caught on each
path and a case of each rule.  A case written to a temporary folder survives save -> load
-> replay, for a preset of every rule.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lns import presets
from lns.optimizers import config_from_dict
from lns.registry import rules
from testbench import compare, evaluate, faults, vectors

FOLDER = Path(__file__).parent / "failures"
EVALUATORS = {"python", "numba", "amaranth", "icarus", "verilator"}
CASES = sorted(FOLDER.glob("*.json"))
REGENERATE = "python -m testbench.faults --save-corpus tests/failures"
ONE_PER_RULE = ["lns12", "lns8_sign", "lns12_adam", "lns12_sgd", "lns12_lion", "bf16_adam"]


def _wrong_on(data) -> set:
    """The evaluators whose recorded output differs from the case's expectation."""
    roles = config_from_dict(data["config"]).output_roles
    want = [data["expected"][k] for k in roles]
    return {name for name, got in data.get("observed", {}).items() if got != want}


def test_corpus_covers_every_evaluator_path_and_every_rule():
    assert CASES, f"{FOLDER} holds no saved case; regenerate it: {REGENERATE}"
    caught, rule_of = set(), set()
    for path in CASES:
        data = json.loads(path.read_text())
        caught |= _wrong_on(data)
        rule_of.add(config_from_dict(data["config"]).optimizer)
    assert caught >= EVALUATORS, \
        f"no saved case was caught on {sorted(EVALUATORS - caught)}; {REGENERATE}"
    assert rule_of >= set(rules()), \
        f"no saved case of {sorted(set(rules()) - rule_of)}; {REGENERATE}"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_saved_case_replays_clean(path):
    s = evaluate.replay_file(path)
    cfg = config_from_dict(json.loads(path.read_text())["config"])
    assert set(s["evaluators"]) == {cfg.reference_evaluator, "python", "icarus", "verilator",
                                    "amaranth"}
    assert all(e["vectors"] == 1 for e in s["evaluators"].values()), s
    assert s["ok"], (path.name, s)


ROM_FAULT_CASES = [(p, d["fault"]) for p, d in ((p, json.loads(p.read_text())) for p in CASES)
                   if d.get("fault", {}).get("kind") == "exp2_rom"]


def test_every_rom_fault_path_is_there():
    assert {f["path"] for _, f in ROM_FAULT_CASES} == {"python", "numba", "amaranth"}


@pytest.mark.parametrize("path,fault", ROM_FAULT_CASES, ids=[p.stem for p, _ in ROM_FAULT_CASES])
def test_the_injected_fault_is_caught_again(path, fault):
    """A case made by an exp2 ROM fault still tells the faulty evaluator from the model."""
    one = compare.load_case(path)
    bad = faults.rom_fault(one.cfg, fault["index"], fault["bit"])
    if fault["path"] == "amaranth":
        got = evaluate.amaranth_words(bad, one.words, one.held_at(0),
                                      lfsr_state=one.lfsr_seed)
    else:
        got = vectors.expected_outputs(bad, one.t, one.tensor, one.words,
                                       lfsr_seed=one.lfsr_seed, evaluator=fault["path"])
    assert [int(got[k][0]) for k in one.out_roles] != \
        [int(one.expected[k][0]) for k in one.out_roles], fault


@pytest.mark.parametrize("preset", ONE_PER_RULE)
def test_save_load_replay(tmp_path, preset):
    cfg = presets.get(preset)
    vs = vectors.generate(cfg, 3000, seed=9, lanes=2)
    i = 1501                                                 # lane 1, deep in the stream
    path = compare.save_case(vs, i, tmp_path)
    data = json.loads(path.read_text())
    assert data["config"]["optimizer"] == str(cfg.optimizer)
    for k in cfg.WORD_ROLES:
        assert data[k] == vs.words[k][i]
    one = compare.load_case(path)
    assert one.t[0] == vs.t[i] and all(one.tensor[k][0] == vs.tensor[k][i] for k in vs.tensor)
    # the saved LFSR state reproduces the case's output alone, in one lane
    for k in cfg.output_roles:
        assert one.expected[k][0] == vs.expected[k][i], k
    assert compare.save_case(vs, i, tmp_path) == path     # same case, same file
    s = evaluate.replay_file(path)
    assert s["ok"] and all(e["vectors"] == 1 for e in s["evaluators"].values()), s


def test_compare_saves_disagreeing_cases(tmp_path):
    vs = vectors.generate(presets.get("tiny"), 600, seed=1)
    bad = vs.exp_w.copy()
    bad[[3, 5]] ^= 1
    s = compare.compare(vs, {"numba": compare.Outputs.full(vs.expected),
                             "icarus": compare.Outputs.full(dict(vs.expected, w=bad))},
                        out=False, failures_dir=tmp_path)
    assert len(s["saved"]) == 2
    one = compare.load_case(s["saved"][0])
    assert one.w[0] == vs.w[3] and np.array_equal(one.exp_w, vs.exp_w[[3]])
    data = json.loads(Path(s["saved"][0]).read_text())
    assert data["observed"] == {"numba": [int(vs.exp_w[3]), int(vs.exp_v[3])],
                                "icarus": [int(bad[3]), int(vs.exp_v[3])]}
