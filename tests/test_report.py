"""`lnsmadam report`: the folder it writes and what the tables say."""

import json

import pytest

from lns import presets, registry
from lns.tables import gauss_table
from sim.cli import main
from sim.report import build_report


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    res = build_report(out, quick=True, sections=("tables", "ops", "energy"), progress=False)
    return out, res


def test_writes_json_and_markdown(small_report):
    out, res = small_report
    data = json.loads((out / "report.json").read_text())
    assert set(data) >= {"tables", "ops", "energy", "config", "timing_s"}
    assert "training" not in data                   # only the sections asked for
    md = (out / "report.md").read_text()
    assert "## Arithmetic precision of the tables" in md and "## Energy per update" in md


def test_table_rows_match_the_tables_the_hardware_holds(small_report):
    _, res = small_report
    rows = {(r["table"], r["frac_bits"], r["method"]): r for r in res["tables"]}
    cfg = presets.get("lns12")
    t = gauss_table("sb", cfg.moment.frac_bits, cfg.table)
    row = rows[("sb", cfg.moment.frac_bits, cfg.table)]
    assert row["bits"] == t.bits and "lns12" in row["used_by"]
    for (kind, f, method), r in rows.items():
        if kind != "exp2" and method == "direct":
            assert r["correctly_rounded_share"] == 1.0 and r["max_err_ulp"] <= 0.5
        assert r["faithful"]


def test_ops_and_energy_cover_every_rule(small_report):
    out, res = small_report
    md = (out / "report.md").read_text()
    every = [p for p in presets.names() if p != "tiny"]          # every rule's presets
    assert list(res["ops"]["units"]) == every == list(res["energy"])
    assert {str(presets.get(p).optimizer) for p in every} == {str(r) for r in registry.RULES}
    assert list(res["ops"]["baselines"]) == list(res["energy"]["lns12"]["baselines"])
    for p in every:
        e = res["energy"][p]
        row = [ln for ln in md.splitlines() if ln.startswith(f"| {p} | {e['label']} |")]
        assert len(row) == 1, p
        assert f"{1 - e['ratios']['unit_vs_float32_madam_total']:.1%}" in row[0]
        assert f"{e['unit']['total_pj']:.2f}" in row[0]
        assert f"`{p}` | {e['label']} |" in md                    # its operations row
    # the FP32 Adam unit is one row, priced once: as a unit and as the baseline
    assert res["energy"]["fp32_adam"]["unit"] == res["energy"]["lns12"]["baselines"][
        "float32_adam"]
    assert "left_out" not in res                     # the sections asked for, no others


def _stub_report(monkeypatch):
    """`build.REPORT` with every section's run, markdown and plots replaced by stand-ins
    that record what ran."""
    import dataclasses

    from sim.report import build
    ran = []

    def stub(s):
        def run(ctx):
            ran.append((s.name, ctx.mode["optimizer_widths"]))
            return {"value": s.name}
        return dataclasses.replace(s, run=run, markdown=lambda v: f"stub {v['value']}",
                                   plots=None)
    monkeypatch.setattr(build, "REPORT", tuple(stub(s) for s in build.REPORT))
    return ran


def test_modes_pick_their_sections_from_the_registry(tmp_path, monkeypatch):
    from sim.report import SECTIONS
    ran = _stub_report(monkeypatch)
    quick = build_report(tmp_path / "q", quick=True, progress=False)
    assert [n for n, _ in ran] == [s for s in SECTIONS if s != "headline"]
    assert {w for _, w in ran} == {(12,)}                        # the quick mode's parameters
    assert quick["left_out"] == {"headline": "the full report only"}
    md = (tmp_path / "q" / "report.md").read_text()
    assert "## Operations per update\n\nstub ops" in md and "stub headline" not in md
    assert "Not in this report: headline (the full report only: `lnsmadam report --out DIR " \
        "--sections headline`)." in md
    ran.clear()
    full = build_report(tmp_path / "f", quick=False, progress=False)
    assert [n for n, _ in ran] == list(SECTIONS) and "left_out" not in full
    assert {w for _, w in ran} == {(8, 12, 16)}
    ran.clear()
    asked = build_report(tmp_path / "a", quick=True, sections=("energy", "headline"),
                         progress=False)
    assert [n for n, _ in ran] == ["headline", "energy"]          # the report's order
    assert set(asked) >= {"headline", "energy"} and "ops" not in asked


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path), "--sections", "tables,foo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lnsmadam: error: section must be one of tables, precision, training, ops, "
                   "synthesis, optimizers, headline, energy, exploration, verification, not 'foo'"]
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", "--out", str(blocker / "sub"), "--sections", "ops"]) == 2
    assert "cannot write the report to" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path), "--preset", "lns99"]) == 2
    assert "preset must be one of" in capsys.readouterr().err
