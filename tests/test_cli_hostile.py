"""Hostile input on the command line (issue 21): every bad input is one line and exit 2
before any long work, sizes that would not fit in memory are refused with their limit and
reason, an interrupted report leaves nothing half-written, a closed output pipe ends
quietly, and every JSON the commands write is strict (RFC 8259: no ``Infinity``/``NaN``).

The long work a case must never reach is replaced by a stand-in that fails the test if it
runs (an ``AssertionError`` would be exit 70)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from sim.cli import main

# The limits, written out: the messages that name them are pinned here.
SEED_MAX = 2**32 - 1
EXIT_PIPE = 141

LNSMADAM = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]
ROOT = Path(__file__).resolve().parents[1]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(err: str) -> str:
    """The message of a one-line ``lnsmadam: error: ...``."""
    assert err.count("\n") == 1 and err.startswith("lnsmadam: error: "), err
    return err[len("lnsmadam: error: "):-1]


def _interrupted(err: str) -> bool:
    """Whether stderr ends with the one line of an interrupt (progress lines before it)."""
    return err.endswith("\nlnsmadam: interrupted\n") and err.count("lnsmadam:") == 1


def _never(*_, **__):
    raise AssertionError("the long work ran before the bad input was refused")


def _strict_json(text: str):
    """``text`` parsed by a strict reader: ``Infinity``, ``-Infinity`` and ``NaN`` are not
    JSON (RFC 8259), and Python's `json` would accept them."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


# ---- seeds -----------------------------------------------------------------------------------
SEED_ERROR = (f"argument --seed: -1 is not a seed: a seed is a whole number from 0 to "
              f"{SEED_MAX}")


@pytest.mark.parametrize("argv", [
    ["demo"], ["testbench"], ["testbench", "--preset", "lns12_adam"], ["sweep"],
    ["report", "--out", "r", "--sections", "tables"], ["sim", "--weights", "8"]],
    ids=["demo", "testbench", "testbench-adam", "sweep", "report", "sim"])
@pytest.mark.parametrize("value", ["-1", str(SEED_MAX + 1)])
def test_a_seed_out_of_range_is_one_line(capsys, tmp_path, monkeypatch, argv, value):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, *argv, "--seed", value)
    assert code == 2 and out == ""
    if value == "-1":
        assert _one_error(err) == SEED_ERROR
    else:
        assert _one_error(err) == (f"argument --seed: {value} is not a seed: a seed is a "
                                   f"whole number from 0 to {SEED_MAX}")
    assert not (tmp_path / "r").exists()


# ---- sizes that would not fit in memory -------------------------------------------------------
WEIGHTS_WHY = "a tracking run holds about 240 bytes a weight: 2.4 GB at the limit"


@pytest.mark.parametrize("command", ["demo", "sweep"])
def test_weights_of_a_tracking_run_are_bounded(capsys, monkeypatch, command):
    import sim.analysis.demo
    import sim.analysis.sweep
    monkeypatch.setattr(sim.analysis.demo, "quick_look", _never)
    monkeypatch.setattr(sim.analysis.sweep, "precision_sweep", _never)
    code, out, err = _run(capsys, command, "--weights", "1000000000000")
    assert code == 2 and out == ""
    assert _one_error(err) == ("argument --weights: 1,000,000,000,000 is above the largest "
                               f"value, 10,000,000 ({WEIGHTS_WHY})")


def test_the_stated_bytes_per_weight_hold():
    """The memory the limit's reason states, measured: a tracking run's peak allocation a
    weight (every Madam preset but the test format) stays under it."""
    from lns import presets
    from lns.modes import Optimizer
    from sim.analysis.tracking import track
    from sim.cli.options import TRACKED_BYTES_PER_WEIGHT, TRACKED_WEIGHTS_MAX
    assert (TRACKED_BYTES_PER_WEIGHT, TRACKED_WEIGHTS_MAX) == (240, 10**7)   # WEIGHTS_WHY
    n = 200_000
    for name in presets.names(Optimizer.MADAM):
        if name == "tiny":
            continue
        track(presets.get(name), steps=1, weights=10)         # compile outside the count
        tracemalloc.start()
        try:
            track(presets.get(name), steps=2, weights=n)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert 100 < peak / n <= TRACKED_BYTES_PER_WEIGHT, (name, peak / n)


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "101"], "argument --seeds: 101 is above the largest value, 100 (every run "
                         "keeps its per-epoch curves: about 1.5 GB at both limits)"),
    (["--epochs", "1001"], "argument --epochs: 1,001 is above the largest value, 1,000 "
                           "(every run keeps its per-epoch curves: about 1.5 GB at both "
                           "limits)"),
    (["--seeds", "10000000000000"], "argument --seeds: 10,000,000,000,000 is above the "
                                    "largest value, 100 (every run keeps its per-epoch "
                                    "curves: about 1.5 GB at both limits)"),
])
def test_train_sizes_are_bounded(capsys, monkeypatch, argv, message):
    import sim.analysis.training as T
    for name in ("run_training", "run_sigma_sweep", "run_schedule"):
        monkeypatch.setattr(T, name, _never)
    code, out, err = _run(capsys, "train", *argv)
    assert code == 2 and out == "" and _one_error(err) == message


# ---- checks before long work ------------------------------------------------------------------
@pytest.fixture
def no_synthesis(monkeypatch):
    import sim.analysis.headline
    monkeypatch.setattr(sim.analysis.headline, "compare_number_systems", _never)


def test_headline_plot_format_is_checked_before_synthesis(capsys, tmp_path, no_synthesis):
    code, out, err = _run(capsys, "headline", "--plot", str(tmp_path / "h.txt"))
    assert code == 2 and out == ""
    message = _one_error(err)
    assert message.startswith("--plot must name a .png (or ") and ".pdf, " in message
    assert message.endswith(f" file, not {str(tmp_path / 'h.txt')!r}")
    assert not (tmp_path / "h.txt").exists()


def test_headline_plot_without_place_and_route_is_refused(capsys, tmp_path, no_synthesis):
    code, out, err = _run(capsys, "headline", "--no-pnr", "--plot", str(tmp_path / "h.png"))
    assert code == 2 and out == ""
    assert _one_error(err) == ("--plot draws area against Fmax, which --no-pnr does not "
                               "measure: leave out one of them")


@pytest.mark.parametrize("option", ["--plot", "--convergence-plot"])
def test_train_plot_format_is_checked_before_training(capsys, tmp_path, monkeypatch, option):
    import sim.analysis.training as T
    monkeypatch.setattr(T, "run_training", _never)
    path = tmp_path / "p.docx"
    code, out, err = _run(capsys, "train", "--table", option, str(path))
    assert code == 2 and out == ""
    assert _one_error(err).startswith(f"{option} must name a .png (or ")


@pytest.fixture
def no_testbench_run(monkeypatch):
    import testbench.evaluate
    import testbench.streaming
    monkeypatch.setattr(testbench.streaming, "stream", _never)
    monkeypatch.setattr(testbench.evaluate, "evaluate", _never)


def test_failures_under_a_file_is_refused_at_start(capsys, tmp_path, no_testbench_run):
    plain = tmp_path / "plain"
    plain.write_text("not a folder")
    code, out, err = _run(capsys, "testbench", "--sim", "amaranth", "--vectors", "10",
                          "--failures", str(plain / "x"))
    assert code == 2 and out == ""
    assert _one_error(err) == (f"--failures: cannot create output directory {plain / 'x'}: "
                               "Not a directory")
    code, out, err = _run(capsys, "testbench", "--sim", "amaranth", "--vectors", "10",
                          "--failures", str(plain))
    assert code == 2 and _one_error(err) == (f"--failures: output directory {plain} is not "
                                             "a directory")
    assert plain.read_text() == "not a folder"


def test_failures_where_no_folder_can_be_made_is_refused_at_start(capsys, no_testbench_run):
    # /proc passes os.access for root (CI runs as root) but takes no new folder: the check
    # makes and removes a probe folder instead of trusting the access bits
    code, out, err = _run(capsys, "testbench", "--sim", "amaranth", "--vectors", "10",
                          "--failures", "/proc/lnsmadam-x")
    assert code == 2 and out == ""
    assert _one_error(err) == ("--failures: cannot create output directory /proc/lnsmadam-x: "
                               "Permission denied")


def test_write_vectors_folder_is_checked_before_the_vectors(capsys, tmp_path, monkeypatch,
                                                            no_testbench_run):
    import testbench.vectors
    monkeypatch.setattr(testbench.vectors, "exhaustive", _never)
    path = tmp_path / "missing" / "v.hex"
    code, out, err = _run(capsys, "testbench", "--preset", "tiny", "--exhaustive", "--sim",
                          "amaranth", "--write-vectors", str(path))
    assert code == 2 and _one_error(err) == (f"cannot write --write-vectors file {path}: "
                                             f"folder {path.parent} does not exist")


def test_testbench_lanes_are_bounded_before_generation(capsys, monkeypatch, no_testbench_run):
    import testbench.design
    monkeypatch.setattr(testbench.design, "generate", _never)
    code, out, err = _run(capsys, "testbench", "--lanes", "100000")
    assert code == 2 and _one_error(err) == "--lanes must be at most 64, not 100000"


def test_vcd_cycles_without_vcd(capsys):
    code, out, err = _run(capsys, "sim", "--weights", "8", "--vcd-cycles", "50")
    assert code == 2 and out == ""
    assert _one_error(err) == "--vcd-cycles sets the cycles of a waveform: it needs --vcd FILE"


@pytest.mark.parametrize("command, option", [("sweep", "--weight-bits"), ("train", "--bits")])
def test_a_backward_range_is_named(capsys, monkeypatch, command, option):
    import sim.analysis.sweep
    import sim.analysis.training as T
    monkeypatch.setattr(sim.analysis.sweep, "precision_sweep", _never)
    monkeypatch.setattr(T, "run_training", _never)
    code, out, err = _run(capsys, command, option, "16..6")
    assert code == 2 and _one_error(err) == f"{option} range 16..6 runs backwards: write 6..16"
    code, out, err = _run(capsys, command, option, "8,12-10")
    assert code == 2 and _one_error(err) == f"{option} range 12..10 runs backwards: write 10..12"


def test_a_huge_range_is_refused_without_expanding_it():
    """Checked before the range is expanded: in a process held to 1 GB of address space (it
    used to build a set of 10**12 widths: MemoryError, exit 70, or the machine's memory)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    proc = subprocess.run([*LNSMADAM, "sweep", "--weight-bits", "4..1000000000000"], cwd=ROOT,
                          preexec_fn=limit, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert _one_error(proc.stderr) == ("--weight-bits must be between 4 and 22 bits, not "
                                       "'4..1000000000000'")


# ---- the report: nothing half-written ---------------------------------------------------------
def _interrupting_report(monkeypatch):
    """The report's sections replaced by two stand-ins: ``ops`` draws a plot file and
    returns, ``energy`` is interrupted (Ctrl-C while it runs)."""
    import dataclasses

    from sim.report import build

    def ops(ctx):
        return {"value": "ops"}

    def plot(value, out):
        (out / "ops.png").write_bytes(b"\x89PNG new")
        return {"ops": "ops.png"}

    def energy(ctx):
        raise KeyboardInterrupt

    def stub(s):
        run = {"ops": ops, "energy": energy}.get(s.name, ops)
        return dataclasses.replace(s, run=run, markdown=lambda v: "stub",
                                   plots=plot if s.name == "ops" else None)
    monkeypatch.setattr(build, "REPORT", tuple(stub(s) for s in build.REPORT))


def test_an_interrupted_report_leaves_no_folder(capsys, tmp_path, monkeypatch):
    _interrupting_report(monkeypatch)
    code, out, err = _run(capsys, "report", "--out", str(tmp_path / "new" / "rep"),
                          "--sections", "ops,energy")
    assert code == 130 and _interrupted(err), err
    assert list(tmp_path.iterdir()) == []          # neither the report nor its work folder


def test_an_interrupted_report_keeps_the_earlier_one(capsys, tmp_path, monkeypatch):
    rep = tmp_path / "rep"
    rep.mkdir()
    before = {"report.json": '{"plots": {"ops": "ops.png"}}', "report.md": "old",
              "ops.png": "old plot", "notes.txt": "mine"}
    for name, text in before.items():
        (rep / name).write_text(text)
    _interrupting_report(monkeypatch)
    code, out, err = _run(capsys, "report", "--out", str(rep), "--sections", "ops,energy")
    assert code == 130 and _interrupted(err), err
    assert {p.name: p.read_bytes().decode("latin-1") for p in rep.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_a_finished_report_replaces_the_earlier_one(tmp_path, monkeypatch):
    from sim.report import build_report
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "report.json").write_text('{"plots": {"old": "gone.png"}}')
    (rep / "gone.png").write_text("a plot the new report does not draw")
    (rep / "notes.txt").write_text("mine")
    _interrupting_report(monkeypatch)
    build_report(rep, sections=("ops",), progress=False)
    assert sorted(p.name for p in rep.iterdir()) == ["notes.txt", "ops.png", "report.json",
                                                     "report.md"]
    assert (rep / "ops.png").read_bytes() == b"\x89PNG new"
    assert _strict_json((rep / "report.json").read_text())["plots"] == {"ops": "ops.png"}
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_report_under_a_file_writes_nothing(capsys, tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("")
    code, out, err = _run(capsys, "report", "--out", str(plain / "r"), "--sections", "ops")
    assert code == 2
    assert _one_error(err) == f"cannot write the report to {plain / 'r'}: Not a directory"
    assert [p.name for p in tmp_path.iterdir()] == ["plain"]


def test_ctrl_c_stops_a_report_and_leaves_nothing(tmp_path):
    """A real SIGINT to a real run, once its first section has started (its progress line
    on stderr is the event waited for)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out = tmp_path / "rep"
    proc = subprocess.Popen([*LNSMADAM, "report", "--out", str(out), "--sections",
                             "precision"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stderr:                   # wait for the section to start
            lines.append(line)
            if "precision" in line:
                break
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        rest = proc.communicate(timeout=30)[1]
        stopped = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, "".join(lines) + rest
    assert rest.splitlines()[-1] == "lnsmadam: interrupted"
    assert stopped < 2.0
    assert list(tmp_path.iterdir()) == []


# ---- a closed pipe ----------------------------------------------------------------------------
def test_a_closed_output_pipe_ends_quietly():
    """``lnsmadam presets | head -c 0``: the reader is gone before the first write (made
    certain here by closing the pipe's read end before the command starts)."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([*LNSMADAM, "presets"], cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == EXIT_PIPE
    assert proc.stderr == ""


def test_another_broken_pipe_is_still_an_error(capsys, monkeypatch):
    """A broken pipe to something else (a simulator's stdin) while stdout is fine stays
    the one-line error it was."""
    from sim.cli.commands import presets

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(presets, "run", broken)
    code, out, err = _run(capsys, "presets")
    assert code == 2 and _one_error(err) == "[Errno 32] Broken pipe"


# ---- strict JSON ------------------------------------------------------------------------------
NON_FINITE = {"big": math.inf, "small": -math.inf, "none": math.nan, "ok": 1.5}
NON_FINITE_JSON = {"big": "Infinity", "small": "-Infinity", "none": "NaN", "ok": 1.5}


def test_strict_maps_non_finite_floats_and_numpy():
    import numpy as np

    from sim.cli.jsonout import dumps, strict
    value = {"a": [math.inf, (np.float32(-np.inf), np.float64(np.nan))], "b": np.int64(3),
             "c": np.array([1.0, np.inf]), "d": Path("x/y"), "e": None, "f": True}
    assert strict(value) == {"a": ["Infinity", ["-Infinity", "NaN"]],
                             "b": 3, "c": [1.0, "Infinity"], "d": "x/y", "e": None,
                             "f": True}
    assert _strict_json(dumps(value))["c"] == [1.0, "Infinity"]
    assert float(_strict_json(dumps(NON_FINITE))["small"]) == -math.inf
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        dumps({"x": object()})


def _demo_result(*_, **__):
    return {"preset": {}, "tensor": {"python_agrees": 1, "python_checked": 1, **NON_FINITE},
            "tracking": []}


def _sim_result(*_, **__):
    return {"mismatches": 0, **NON_FINITE}


@pytest.mark.parametrize("argv, target, fake, where", [
    (["demo", "--json"], "sim.analysis.demo.quick_look", _demo_result, ("tensor",)),
    (["sweep", "--json", "--presets", ""], "sim.analysis.sweep.precision_sweep",
     lambda *a, **k: dict(NON_FINITE), ()),
    (["train", "--schedule", "--json"], "sim.analysis.training.run_schedule",
     lambda *a, **k: dict(NON_FINITE), ("schedule",)),
    (["headline", "--json"], "sim.analysis.headline.compare_number_systems",
     lambda *a, **k: dict(NON_FINITE), ()),
    (["sim", "--weights", "8", "--json"], "sim.cycle.simulate", _sim_result, ()),
], ids=["demo", "sweep", "train", "headline", "sim"])
def test_json_output_is_strict(capsys, monkeypatch, argv, target, fake, where):
    monkeypatch.setattr(target, fake)
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    data = _strict_json(out)
    for key in where:
        data = data[key]
    assert {k: data[k] for k in NON_FINITE} == NON_FINITE_JSON


def test_report_json_is_strict(capsys, tmp_path, monkeypatch):
    import dataclasses

    from sim.report import build
    monkeypatch.setattr(build, "REPORT", tuple(
        dataclasses.replace(s, run=lambda ctx: dict(NON_FINITE), markdown=lambda v: "x",
                            plots=None) for s in build.REPORT))
    code, out, err = _run(capsys, "report", "--out", str(tmp_path / "r"), "--sections", "ops",
                          "--json")
    assert code == 0, err
    assert _strict_json(out)["ops"] == NON_FINITE_JSON
    assert _strict_json((tmp_path / "r" / "report.json").read_text())["ops"] == NON_FINITE_JSON
    # the folder built aside and renamed in has the mode any new folder gets (not a
    # temporary folder's 0700)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o777 & ~umask


# ---- the testbench's rate ---------------------------------------------------------------------
def test_vectors_per_second_leaves_out_the_build(capsys, tmp_path, monkeypatch):
    """A build made 2 s slower (a stand-in wraps the design's generation) shows in
    ``build_seconds``, not in the rate: vectors/s is the simulation's alone."""
    import testbench.design
    generate = testbench.design.generate

    def slow_generate(*args, **kw):
        time.sleep(2.0)                       # the cost of a build, not a synchronisation
        return generate(*args, **kw)
    monkeypatch.setattr(testbench.design, "generate", slow_generate)
    t0 = time.perf_counter()
    code, out, err = _run(capsys, "testbench", "--sim", "icarus", "--vectors", "300",
                          "--failures", "", "--json")
    wall = time.perf_counter() - t0
    assert code == 0, err
    data = _strict_json(out)
    assert data["build_seconds"] >= 2.0
    assert data["simulation_seconds"] <= wall - 2.0
    # the JSON gives the rate to 0.1 vectors/s: on a machine loaded enough to simulate 3
    # vectors a second that rounding is more than 1 %
    assert data["vectors_per_second"] == pytest.approx(300 / data["simulation_seconds"],
                                                       rel=1e-2, abs=0.05)
    code, out, err = _run(capsys, "testbench", "--sim", "icarus", "--vectors", "300",
                          "--failures", "")
    rate = [ln for ln in out.splitlines() if "vectors/s" in ln]
    assert len(rate) == 1 and " s of simulation; build " in rate[0], out


# ---- what the command-line fuzz test (tests/test_cli_fuzz.py) found -------------------------
def test_no_command_is_one_line_naming_the_commands(capsys):
    code, out, err = _run(capsys)
    assert code == 2 and out == ""
    msg = _one_error(err)
    assert msg.startswith("a command is needed, one of: ") and msg.endswith(
        " (lnsmadam --help says what each does)")
    for name in ("demo", "testbench", "campaign", "cache", "presets"):
        assert f" {name}," in msg or f" {name} (" in msg


@pytest.mark.parametrize("argv, message", [
    (["--vectors", "9223372036854775808"],
     "--vectors must be at most 100,000,000,000,000 (the summary's totals over every preset "
     "stay exact in JSON), not 9,223,372,036,854,775,808"),
    (["--vectors", "8", "--chunk-blocks", "1000000000"],
     "--chunk-blocks must be at most 1,024 (a chunk holds its blocks of 65,536 vectors in "
     "memory at once), not 1,000,000,000"),
    (["--vectors", "8", "--max-errors", "100000000000000000000"],
     "--max-errors must be at most 1,000 (each failing case kept is held in memory and saved "
     "as a file), not 100,000,000,000,000,000,000"),
])
def test_testbench_counts_are_bounded_like_the_campaigns(capsys, no_testbench_run, argv,
                                                         message):
    code, out, err = _run(capsys, "testbench", "--sim", "icarus", *argv)
    assert code == 2 and out == "" and _one_error(err) == message


@pytest.mark.parametrize("command", ["demo", "sweep"])
def test_tracking_work_is_bounded(capsys, monkeypatch, command):
    import sim.analysis.tracking as tracking
    monkeypatch.setattr(tracking, "track", _never)
    code, out, err = _run(capsys, command, "--steps", "100000000000000000000", "--weights", "1")
    assert code == 2 and out == ""
    assert _one_error(err) == (
        "--weights x --steps must be at most 1,000,000,000,000 (a tracking run updates 3-7 M "
        "weights a second: 2-4 days at the limit), not 100,000,000,000,000,000,000")


@pytest.mark.parametrize("value", ["1e308", "1e20", "inf"])
def test_memory_rate_above_any_beat_is_refused(capsys, value):
    code, out, err = _run(capsys, "sim", "--weights", "2", "--mem-bytes-per-cycle", value)
    assert code == 2 and out == ""
    assert _one_error(err).startswith(
        "--mem-bytes-per-cycle must be at most 1,048,576 (more than any beat moves: leave it "
        "out for no limit), not ")


def test_vcd_over_something_not_a_regular_file_is_refused(capsys, tmp_path):
    # the waveform is renamed into place at the end: over a device it would replace it
    link = tmp_path / "null.vcd"
    link.symlink_to(os.devnull)
    code, out, err = _run(capsys, "sim", "--weights", "3", "--engine", "amaranth",
                          "--vcd", str(link))
    assert code == 2 and out == ""
    assert _one_error(err) == f"cannot write VCD file {link}: it is not a regular file"
    assert link.is_symlink() and os.readlink(link) == os.devnull


def test_a_sweep_with_nothing_to_track_fails_before_any_run(capsys):
    # 4-bit weights hold no value near sigma 0.05: one weight flushes to zero
    code, out, err = _run(capsys, "sweep", "--weight-bits", "4", "--presets", "",
                          "--variants-at", "0", "--steps", "1", "--weights", "1")
    assert code == 2 and out == ""
    assert _one_error(err) == ("every one of the 1 initial weights (normal, sigma 0.05) is "
                               "zero in lns4_i3f0_b6: nothing to track; use more weights or "
                               "a wider weight format")


def test_weight_widths_name_the_families_widest(capsys):
    code, out, err = _run(capsys, "sweep", "--weight-bits", "23")
    assert code == 2 and _one_error(err) == "--weight-bits must be between 4 and 22 bits, not '23'"


def test_a_plot_where_no_file_can_be_made_is_refused_before_the_sweep(capsys, monkeypatch):
    # root passes os.access on /proc: the check makes and removes a probe file instead
    import sim.analysis.tracking as tracking
    monkeypatch.setattr(tracking, "track", _never)
    code, out, err = _run(capsys, "sweep", "--weight-bits", "6", "--steps", "2", "--weights",
                          "3", "--presets", "", "--variants-at", "0",
                          "--plot", "/proc/lnsmadam-x.png")
    assert code == 2 and out == ""
    assert _one_error(err) == ("cannot write --plot file /proc/lnsmadam-x.png: folder /proc is "
                               "not writable")


def test_started_with_stdout_closed_is_not_an_internal_error():
    proc = subprocess.run([*LNSMADAM, "presets"], cwd=ROOT, capture_output=False,
                          stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0 and proc.stderr == ""
