"""`lnsmadam report`'s exploration section: `lnsmadam explore`'s fronts and claims read from
its store (`sim.explore.run.from_store`), never trained, equal to what explore itself wrote
for the same store; one line for an empty or a damaged store, and the report completes."""

import json
import sqlite3

import pytest

from sim.cli import main
from sim.explore import QUICK, Store, explore
from sim.explore.grid import FULL, Plan, plan_name
from sim.explore.store import default_path
from sim.report import SECTIONS, build_report
from sim.report.build import REPORT

# explore's smallest plan, shaped like tests/test_explore.py's TINY (one task, the four LNS
# rules and Madam's sign variant at 8 bits with stochastic rounding, 2 seeds, 1 epoch, no
# float rows), on a smaller MLP and larger batches: ~10 s of training on this machine
TINY = QUICK.replace(bits=(8,), roundings=("stochastic",), seeds=(0, 1), epochs=1,
                     tune_epochs=1, floats=False, hidden=16, batch=64)
HEADING = "## Exploration: accuracy against cost"


def _strict(text):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))


def _no_training(mp):
    """Every way explore trains a point raises from here on."""
    def refuse(*a, **k):
        raise AssertionError("the report trained a point")
    import sim.analysis.training.runs as runs
    import sim.explore.points as points
    import sim.explore.run as run
    for mod, name in ((run, "run_point"), (points, "run_point"), (runs, "train_run")):
        mp.setattr(mod, name, refuse)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache whose explore store holds TINY (written by `explore` itself, with its own
    explore.json beside), then the report's exploration section built with training
    disabled."""
    from sim.cli.commands.explore import write_outputs
    base = tmp_path_factory.mktemp("filled")
    mp = pytest.MonkeyPatch()
    mp.setenv("LNSMADAM_CACHE", str(base / "cache"))
    try:
        path = default_path()
        path.parent.mkdir(parents=True)
        got = explore(TINY, Store(path), workers=0, area="cache")
        write_outputs(got, base / "explore")
        _no_training(mp)
        res = build_report(base / "report", quick=True, sections=("exploration",),
                           progress=False)
        yield base, res
    finally:
        mp.undo()


def test_the_section_is_in_both_modes_and_can_be_asked_for():
    assert "exploration" in SECTIONS
    section = next(s for s in REPORT if s.name == "exploration")
    assert set(section.modes) == {"quick", "full"}


def test_an_empty_store_is_one_line_and_the_report_completes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LNSMADAM_CACHE", str(tmp_path / "cache"))
    _no_training(monkeypatch)
    assert main(["report", "--out", str(tmp_path / "r"), "--sections", "exploration"]) == 0
    value = _strict((tmp_path / "r" / "report.json").read_text())["exploration"]
    assert value["points"] == 0 and value["explorations"] == []
    assert value["text"].startswith("no exploration points stored: run `lnsmadam explore "
                                    "--quick --out DIR`")
    assert "(or without --quick)" in value["text"] and "\n" not in value["text"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert f"{HEADING}\n\n{value['text']}\n" in md
    assert not default_path().exists()             # a reader creates no store
    assert "Traceback" not in capsys.readouterr().err
    # a store with no point of this code version says so too
    default_path().parent.mkdir(parents=True)
    Store(default_path(), version="another")  # made, empty
    res = build_report(tmp_path / "r2", sections=("exploration",), progress=False)
    assert res["exploration"]["text"].startswith("no exploration points stored for this "
                                                 "code version: run `lnsmadam explore")


def test_fronts_and_claims_equal_explores_own_json(filled):
    base, res = filled
    mine = res["exploration"]
    theirs = _strict((base / "explore" / "explore.json").read_text())
    report = _strict((base / "report" / "report.json").read_text())["exploration"]
    assert mine["points"] == theirs["counts"]["tuning"]["total"] + \
        theirs["counts"]["final"]["total"]
    assert theirs["counts"]["final"]["total"] == 10         # 5 rules x 2 seeds
    assert mine["incomplete"] == [] and mine["other_versions"] == 0
    (e,) = report["explorations"]
    assert e["name"] == plan_name(TINY) and e["plan"] == TINY.to_dict() == theirs["plan"]
    assert e["fronts"] == theirs["fronts"] and e["fronts"]["mnist1d/mlp"]["bytes"]
    assert e["claims"] == theirs["claims"] and len(e["claims"]) == 6
    assert e["rows"] == theirs["rows"] and e["etas"] == theirs["etas"]
    assert e["skipped"] == theirs["skipped"]
    for stage in ("tuning", "final"):
        n = theirs["counts"][stage]["total"]
        assert e["counts"][stage] == {"total": n, "reused": n, "computed": 0}


def test_markdown_has_the_heading_a_front_row_claims_and_plot(filled):
    base, res = filled
    md = (base / "report" / "report.md").read_text()
    e = res["exploration"]["explorations"][0]
    assert f"{HEADING}\n\nRead from `lnsmadam explore`'s store" in md
    assert f"### Exploration `{e['name']}`: mnist1d" in md and "#### mnist1d (mlp)" in md
    cheapest = e["fronts"]["mnist1d/mlp"]["bytes"][0]
    row = next(r for r in e["rows"] if r["label"] == cheapest)
    err = row["err"]
    line = [ln for ln in md.splitlines() if ln.startswith(f"| {cheapest} | ")]
    assert len(line) == 1
    assert (f"| {100 - err['mean']:.2f} | [{100 - err['ci_hi']:.2f}, "
            f"{100 - err['ci_lo']:.2f}] | 2 | {row['bytes']:.3g} |") in line[0]
    for c in e["claims"]:
        assert f"- mnist1d (mlp): {c['claim']}: {c['text']}" in md
    plot = e["plots"]["mnist1d/mlp"]
    assert f"]({plot})" in md and (base / "report" / plot).stat().st_size > 10_000
    assert res["plots"] == {plot[:-4]: plot}


def test_a_store_held_in_part_is_listed_not_shown(filled, tmp_path):
    base, _ = filled
    mp = pytest.MonkeyPatch()
    mp.setenv("LNSMADAM_CACHE", str(base / "cache"))
    try:
        rows = Store(default_path(), readonly=True).rows()
    finally:
        mp.undo()
    from sim.explore.run import from_store
    part = Store(tmp_path / "part.sqlite")
    part.put_plan(TINY.to_dict())
    finals = [(c, r) for c, r in rows if c["split"] == "test"]
    for c, r in rows:
        if (c, r) != finals[-1]:
            part.put(c, r)
    got = from_store(part)
    assert got["points"] == len(rows) - 1 and got["explorations"] == []
    assert got["incomplete"] == [{"name": plan_name(TINY), "plan": TINY.to_dict(),
                                  "stage": "final", "stored": len(finals) - 1,
                                  "total": len(finals)}]
    # plans this code cannot build or read are said, with their reason, not shown
    part.put_plan({**TINY.to_dict(), "tune_bits": 1})
    part.put_plan({**TINY.to_dict(), "learning": 1})
    reasons = sorted(i["reason"] for i in from_store(part)["incomplete"] if "reason" in i)
    assert reasons == ["a plan must have the fields of Plan, not ['learning']",
                       "weight bits must be between 4 and 22, not 1"]


@pytest.mark.parametrize("damage", ["not sqlite", "torn row"])
def test_a_damaged_store_is_one_line_and_the_report_completes(tmp_path, monkeypatch,
                                                              capsys, damage):
    monkeypatch.setenv("LNSMADAM_CACHE", str(tmp_path / "cache"))
    _no_training(monkeypatch)
    path = default_path()
    path.parent.mkdir(parents=True)
    if damage == "not sqlite":
        path.write_bytes(b"this is not a database" * 200)
    else:
        st = Store(path)
        st.put({"task": "mnist1d", "seed": 0}, {"test_err": 0.5})
        db = sqlite3.connect(path)
        db.execute("UPDATE points SET result = '{\"test_err\": 0.'")
        db.commit()
        db.close()
    assert main(["report", "--out", str(tmp_path / "r"), "--sections", "exploration"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    value = _strict((tmp_path / "r" / "report.json").read_text())["exploration"]
    assert value["error"].startswith(f"could not read the exploration store {path}: ")
    assert "\n" not in value["error"]
    assert f"{HEADING}\n\n{value['error']}\n" in (tmp_path / "r" / "report.md").read_text()


def test_plans_round_trip_and_have_names():
    for plan in (QUICK, FULL, TINY):
        assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert (plan_name(QUICK), plan_name(FULL)) == ("quick", "full")
    assert plan_name(TINY).startswith("plan-") and plan_name(TINY) == plan_name(
        TINY.replace())
    with pytest.raises(ValueError, match="a plan must have the fields of Plan"):
        Plan.from_dict({**TINY.to_dict(), "learning": 1})


def test_the_report_reads_the_store_explore_wrote_last(tmp_path, monkeypatch):
    from sim.explore.store import remember
    monkeypatch.setenv("LNSMADAM_CACHE", str(tmp_path / "cache"))
    fallback = tmp_path / "cache" / "explore" / "explore.sqlite"
    assert default_path() == fallback
    mine = tmp_path / "run" / "explore.sqlite"
    mine.parent.mkdir()
    Store(mine, version="v")
    remember(mine)
    assert default_path() == mine
    other = tmp_path / "other.sqlite"
    Store(other, version="v")
    remember(other)
    assert default_path() == other                 # the last one written
    other.unlink()
    assert default_path() == fallback              # a store that is gone is not read
