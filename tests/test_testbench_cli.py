"""`lnsmadam testbench`: exit status, --json, and a missing simulator named with its fix."""

import json

from sim.cli import main


def test_cli_json_all_agree(capsys):
    rc = main(["testbench", "--preset", "tiny", "--sim", "all", "--vectors", "3000",
               "--seed", "2", "--json"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert rc == 0
    assert set(data) == {"numba", "python", "icarus", "verilator", "amaranth",
                         "vectors_per_second"}
    assert data["vectors_per_second"] > 0
    assert data["icarus"] == {"vectors": 3000, "mismatches": 0}
    assert data["verilator"] == {"vectors": 3000, "mismatches": 0}
    assert "testbench:" in err                                    # progress on stderr


def test_cli_table_output(capsys):
    rc = main(["testbench", "--preset", "lns8_sign", "--sim", "icarus", "--vectors", "2000",
               "--lanes", "2"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "all agree" in out and "icarus" in out


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
