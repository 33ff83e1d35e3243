"""Bad input on the command line (issue 12, item 3): one line on stderr, exit status 2,
nothing left half-written; an internal error is one line saying it is a bug (exit 70) and
how to see its traceback."""

from __future__ import annotations

import json

import pytest

import lns
from sim.cli import EXIT_BUG, main
from sim.cli import commands as cli_commands


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(err: str) -> str:
    """The message of a one-line ``lnsmadam: error: ...``."""
    assert err.count("\n") == 1 and err.startswith("lnsmadam: error: "), err
    return err[len("lnsmadam: error: "):-1]


@pytest.fixture
def cfgdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_json_config_that_is_a_list(capsys, cfgdir):
    (cfgdir / "c.json").write_text("[1, 2]")
    code, out, err = _run(capsys, "verilog", "--config", "c.json", "--out", "o")
    assert code == 2 and out == ""
    assert _one_error(err) == "config c.json must hold a table of MadamConfig fields, not a list"
    assert not (cfgdir / "o").exists()


def test_config_name_must_be_a_string_and_leaves_no_folder(capsys, cfgdir):
    (cfgdir / "c.toml").write_text("name = 42\n")
    code, out, err = _run(capsys, "verilog", "--config", "c.toml", "--out", "o")
    assert code == 2 and out == ""
    assert _one_error(err) == "config c.toml: name must be a string, not 42"
    assert not (cfgdir / "o").exists()


def test_config_that_is_not_text(capsys, cfgdir):
    (cfgdir / "c.toml").write_bytes(b"\xff\xfe\x00")
    code, _, err = _run(capsys, "cost", "--config", "c.toml", "--no-pnr")
    assert code == 2 and _one_error(err) == "config c.toml is not UTF-8 text"


@pytest.mark.parametrize("command", [
    ["verilog", "--out", "o"], ["testbench", "--vectors", "10"], ["sim", "--weights", "8"],
    ["cost", "--no-pnr"]])
@pytest.mark.parametrize("line, text", [
    ("beta = 3e-4", "config c.toml: beta must be above 0.0003384 for a moment of 10 "
                    "fractional bits (below, log2(1 - beta) rounds to 0 and the bias "
                    "correction x_bc has no bits), not 0.0003"),
    ("g_bound = 1e-9", "config c.toml: g_bound must be above 3.705e-09 for eta 2**-7 and a "
                       "weight of 7 fractional bits (the largest step, eta * g_bound, must be "
                       "at least 2**-28 weight LSBs, the smallest the step's shifter holds), "
                       "not 1e-09"),
    ("weight = {bias = -4096}", "config c.toml: weight bias must keep every non-zero "
                                "magnitude within float64's range, 2**-1074 up to below "
                                "2**1024, not -4096 (magnitudes 2**4096.01 .. 2**4111.99)"),
])
def test_configs_whose_datapath_cannot_be_built(capsys, cfgdir, command, line, text):
    (cfgdir / "c.toml").write_text(line + "\n")
    code, out, err = _run(capsys, command[0], "--preset", "lns12", "--config", "c.toml",
                          *command[1:])
    assert code == 2 and out == ""
    assert _one_error(err) == text
    assert not (cfgdir / "o").exists()


def test_report_sections_must_name_one(capsys, cfgdir):
    for arg in ("", " , "):
        code, out, err = _run(capsys, "report", "--out", "r", "--sections", arg)
        assert code == 2 and out == ""
        assert _one_error(err).startswith("--sections must name at least one of tables,")
    code, _, err = _run(capsys, "report", "--out", "r", "--sections", "ops,nope")
    assert code == 2 and _one_error(err) == ("section must be one of tables, precision, "
                                             "training, ops, synthesis, optimizers, headline, "
                                             "energy, exploration, verification, not 'nope'")
    assert not (cfgdir / "r").exists()


def test_report_out_must_be_a_folder(capsys, cfgdir):
    (cfgdir / "f").write_text("")
    code, _, err = _run(capsys, "report", "--out", "f", "--sections", "ops")
    assert code == 2 and _one_error(err).startswith("cannot write the report to f: ")
    assert (cfgdir / "f").read_text() == ""


@pytest.mark.parametrize("command", [["sweep", "--weight-bits", "8"], ["train", "--quick"]])
def test_plot_path_checked_before_the_run(capsys, cfgdir, monkeypatch, command):
    # The run itself must never start: a bad --plot would lose its results.
    import sim.analysis.sweep as sweep_mod
    import sim.analysis.training as training_mod

    def never(*a, **k):
        raise AssertionError("the run started")
    monkeypatch.setattr(sweep_mod, "precision_sweep", never)
    monkeypatch.setattr(training_mod, "run_training", never)
    (cfgdir / "f").write_text("")
    for plot, text in [
            ("no/p.png",
             f"cannot write --plot file no/p.png: folder {cfgdir / 'no'} does not exist"),
            ("f/p.png",
             f"cannot write --plot file f/p.png: folder {cfgdir / 'f'} does not exist"),
            (".", "--plot must be a file, not the folder ."),
    ]:
        code, out, err = _run(capsys, *command, "--plot", plot)
        assert code == 2 and out == ""
        assert _one_error(err) == text
    code, _, err = _run(capsys, *command, "--plot", "p.nope")
    assert code == 2 and _one_error(err).startswith("--plot must name a .png (or ")


def _raise_in_command(monkeypatch, exc):
    def run(args):
        raise exc
    monkeypatch.setattr(cli_commands.presets, "run", run)


def test_internal_error_is_a_bug_with_exit_70(capsys, monkeypatch):
    monkeypatch.delenv("LNSMADAM_TRACEBACK", raising=False)
    _raise_in_command(monkeypatch, TypeError("unsupported operand type(s)\nsecond line"))
    code, out, err = _run(capsys, "presets", "--json")
    assert code == EXIT_BUG == 70 and out == ""
    assert err == ("lnsmadam: internal error (a bug in lnsmadam, please report it): "
                   "TypeError: unsupported operand type(s); for the traceback run again as: "
                   "lnsmadam --traceback presets --json\n")
    # a plain ValueError inside is a bug too; only input errors are usage errors
    _raise_in_command(monkeypatch, ValueError("x"))
    assert main(["presets"]) == 70


def test_traceback_on_request(capsys, monkeypatch):
    _raise_in_command(monkeypatch, KeyError("k"))
    with pytest.raises(KeyError):
        main(["--traceback", "presets"])
    monkeypatch.setenv("LNSMADAM_TRACEBACK", "1")
    with pytest.raises(KeyError):
        main(["presets"])


def test_library_validation_errors_are_usage_errors(capsys, monkeypatch):
    # What lns raises on bad input stays a one-line usage error (exit 2), never a "bug".
    monkeypatch.delenv("LNSMADAM_TRACEBACK", raising=False)
    for call in (lambda: lns.encode(lns.LNSFormat(4, 3), None),
                 lambda: lns.LNSFormat(4, 40),
                 lambda: lns.presets.get("lns99"),
                 lambda: lns.MadamConfig.from_dict({"weight": {}})):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        _raise_in_command(monkeypatch, info.value)
        code, _, err = _run(capsys, "presets")
        assert code == 2 and _one_error(err) == str(info.value)
    _raise_in_command(monkeypatch, FileNotFoundError(2, "No such file or directory", "x.v"))
    code, _, err = _run(capsys, "presets")
    assert code == 2 and _one_error(err) == "cannot use x.v: No such file or directory"


def test_option_errors_stay_one_line(capsys):
    code, out, err = _run(capsys, "demo", "--steps", "0")
    assert code == 2 and _one_error(err) == "--steps and --weights must be positive, not 0 and 2000"
    code, _, err = _run(capsys, "nope")
    assert code == 2 and "invalid choice: 'nope'" in _one_error(err)


def test_valid_config_file_still_works(capsys, cfgdir):
    (cfgdir / "c.json").write_text(json.dumps({"beta": 0.99, "name": "mine"}))
    code, out, err = _run(capsys, "verilog", "--preset", "tiny", "--config", "c.json",
                          "--out", "o", "--json")
    assert code == 0 and json.loads(out)["module"] == "lnsmadam_mine_x1"
