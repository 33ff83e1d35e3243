"""`lnsmadam testbench`: one code path for every rule (exit status, --json, the reference
evaluator of the rule), --exhaustive where the recipe offers it, and a missing simulator
named with its fix."""

import json

import pytest

from lns import presets
from sim.cli import main

# one preset a rule in the fast tier (the builds the replay corpus shares), every preset slow
FAST = ["tiny", "lns12_adam", "lns12_sgd", "lns12_lion", "bf16_adam"]
ALL = [pytest.param(p, marks=pytest.mark.slow) for p in presets.names() if p not in FAST]


@pytest.mark.parametrize("preset", FAST + ALL)
def test_cli_json_all_agree(preset, capsys):
    """Every evaluator on every preset: the reference (numba, or numpy for IEEE) on every
    vector, Icarus and Verilator on every vector, python and Amaranth on a sample."""
    cfg = presets.get(preset)
    rc = main(["testbench", "--preset", preset, "--sim", "all", "--vectors", "3000",
               "--seed", "2", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err[-3000:]
    data = json.loads(out)
    ref = cfg.reference_evaluator
    assert set(data) == {ref, "python", "icarus", "verilator", "amaranth", "ok",
                         "vectors_per_second", "simulation_seconds", "build_seconds"}
    assert data["ok"] is True and data["vectors_per_second"] > 0
    assert data["vectors_per_second"] == pytest.approx(3000 / data["simulation_seconds"],
                                                       rel=1e-2)
    assert data["build_seconds"] >= 0
    for ev in (ref, "icarus", "verilator"):
        assert data[ev] == {"vectors": 3000, "mismatches": 0}, ev
    assert data["python"] == {"vectors": 32, "mismatches": 0}
    assert data["amaranth"] == {"vectors": 64, "mismatches": 0}
    assert "testbench:" in err                                    # progress on stderr


def test_cli_table_output(capsys):
    rc = main(["testbench", "--preset", "lns8_sign", "--sim", "icarus", "--vectors", "2000",
               "--lanes", "2"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "all agree" in out and "icarus" in out


def test_cli_exhaustive_where_the_recipe_offers_it(capsys, tmp_path):
    rc = main(["testbench", "--preset", "tiny", "--sim", "verilator", "--exhaustive",
               "--json", "--write-vectors", str(tmp_path / "v.txt")])
    out, err = capsys.readouterr()
    assert rc == 0, err[-2000:]
    data = json.loads(out)
    assert data["verilator"] == {"vectors": 3 * 64 * 32 * 64, "mismatches": 0}
    lines = (tmp_path / "v.txt").read_text().splitlines()
    assert "# fields t clip w g v w_out v_out" in lines
    assert len([x for x in lines if not x.startswith("#")]) == 3 * 64 * 32 * 64


@pytest.mark.parametrize("preset", ["lns12_sgd", "bf16_adam", "lns12"])
def test_exhaustive_elsewhere_is_one_usage_line(preset, capsys):
    assert main(["testbench", "--preset", preset, "--exhaustive"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lnsmadam: error: ")
    assert ("--exhaustive is not supported for" in err) != (preset == "lns12")
    if preset == "lns12":                 # the recipe offers one, too wide for this format
        assert "exhaustive vectors need at most" in err


def test_missing_simulator_is_an_error(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    rc = main(["testbench", "--preset", "tiny", "--sim", "icarus", "--vectors", "10"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "simulator icarus is not available" in err and "apt-get install iverilog" in err


def test_bad_arguments(capsys):
    assert main(["testbench", "--vectors", "0"]) == 2
    assert "--vectors must be a positive number, not 0" in capsys.readouterr().err
    assert main(["testbench", "--max-report", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "lnsmadam: error: --max-report must be a non-negative number, not -1"
    assert main(["testbench", "--max-errors", "0"]) == 2
    assert "--max-errors must be a positive number, not 0" in capsys.readouterr().err
    assert main(["testbench", "--sim", "modelsim"]) == 2
    assert "invalid choice: 'modelsim'" in capsys.readouterr().err
    assert main(["testbench", "--write-vectors", "x.txt"]) == 2
    assert "--write-vectors needs --exhaustive" in capsys.readouterr().err
