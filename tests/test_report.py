"""`lnsmadam report`: the folder it writes and what the tables say."""

import json

import pytest

from lns import presets
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


def test_markdown_shows_every_preset_energy_row(small_report):
    out, res = small_report
    md = (out / "report.md").read_text()
    for p in presets.names("madam"):
        if p != "tiny":
            assert f"| {p} |" in md
            saved = 1 - res["energy"][p]["ratios"]["lns_vs_fp32_madam_total"]
            assert f"{saved:.1%}" in md


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path), "--sections", "tables,foo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lnsmadam: error: section must be one of tables, precision, training, ops, "
                   "synthesis, optimizers, headline, energy, verification, not 'foo'"]
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", "--out", str(blocker / "sub"), "--sections", "ops"]) == 2
    assert "cannot write the report to" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path), "--preset", "lns99"]) == 2
    assert "preset must be one of" in capsys.readouterr().err
