"""Saved cases: every file under tests/failures/ is replayed through every evaluator
(python, numba, icarus, verilator, amaranth) against the model, forever after.

The folder is never empty: `testbench.faults.save_corpus` (``python -m testbench.faults
--save-corpus tests/failures``) writes, for each evaluator path, a case that one injected
fault on that path got wrong (its ``observed`` entry records the faulty output, its
``fault`` entry the fault).  The replay must find every evaluator in agreement on every
case, and the corpus must hold a case caught on each path.  A case written to a temporary
folder survives save -> load -> replay.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lns import presets
from testbench import compare, evaluate, faults, vectors

FOLDER = Path(__file__).parent / "failures"
EVALUATORS = {"python", "numba", "amaranth", "icarus", "verilator"}
CASES = sorted(FOLDER.glob("*.json"))
REGENERATE = "python -m testbench.faults --save-corpus tests/failures"


def _wrong_on(data) -> set:
    """The evaluators whose recorded output differs from the case's expectation."""
    want = [data["expected"]["w"], data["expected"]["v"]]
    return {name for name, got in data.get("observed", {}).items() if got != want}


def test_corpus_covers_every_evaluator_path():
    assert CASES, f"{FOLDER} holds no saved case; regenerate it: {REGENERATE}"
    caught = set()
    for path in CASES:
        caught |= _wrong_on(json.loads(path.read_text()))
    assert caught >= EVALUATORS, \
        f"no saved case was caught on {sorted(EVALUATORS - caught)}; {REGENERATE}"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_saved_case_replays_clean(path):
    s = evaluate.replay_file(path)
    assert set(s["evaluators"]) == EVALUATORS
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
        from rtl.sim import simulate_update
        r = simulate_update(bad, one.w, one.g, one.v, int(one.t[0]), clip=int(one.clip[0]),
                            lfsr_state=one.lfsr_seed)
        got = (int(r.w[0]), int(r.v[0]))
    else:
        w, v = vectors.expected_outputs(bad, one.t, one.clip, one.w, one.g, one.v,
                                        lfsr_seed=one.lfsr_seed, evaluator=fault["path"])
        got = (int(w[0]), int(v[0]))
    assert got != (int(one.exp_w[0]), int(one.exp_v[0])), fault


@pytest.mark.parametrize("preset", ["lns12", "lns8_sign"])
def test_save_load_replay(tmp_path, preset):
    cfg = presets.get(preset)
    vs = vectors.generate(cfg, 3000, seed=9, lanes=2)
    i = 1501                                                 # lane 1, deep in the stream
    path = compare.save_case(vs, i, tmp_path)
    one = compare.load_case(path)
    assert (one.w[0], one.g[0], one.v[0], one.t[0], one.clip[0]) == \
        (vs.w[i], vs.g[i], vs.v[i], vs.t[i], vs.clip[i])
    # the saved LFSR state reproduces the case's output alone, in one lane
    assert (one.exp_w[0], one.exp_v[0]) == (vs.exp_w[i], vs.exp_v[i])
    assert compare.save_case(vs, i, tmp_path) == path     # same case, same file
    s = evaluate.replay_file(path)
    assert s["ok"] and all(e["vectors"] == 1 for e in s["evaluators"].values()), s


def test_compare_saves_disagreeing_cases(tmp_path):
    vs = vectors.generate(presets.get("tiny"), 600, seed=1)
    bad = vs.exp_w.copy()
    bad[[3, 5]] ^= 1
    s = compare.compare(vs, {"numba": compare.Outputs.full(vs.exp_w, vs.exp_v),
                             "icarus": compare.Outputs.full(bad, vs.exp_v)},
                        out=False, failures_dir=tmp_path)
    assert len(s["saved"]) == 2
    one = compare.load_case(s["saved"][0])
    assert one.w[0] == vs.w[3] and np.array_equal(one.exp_w, vs.exp_w[[3]])
