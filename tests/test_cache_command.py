"""``lnsmadam cache``: the cache root, entries and size of each kind; ``cache clean [KIND]``
removes them and says what it freed.  Every test runs on a private cache."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from sim.cli import main

KINDS = ["designs", "builds", "synthesis", "runs", "failures"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("LNSMADAM_CACHE", str(root))
    return root


def _cli(capsys, *argv):
    code = main(["cache", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _file(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid                       # names no running process now


def _fill(root, *, tagged=True):
    """Two designs (3,000 B), a testbench and a cycle build (2,500 B), one synthesis result
    (100 B), a run folder of a dead process (10 B) and of a running one (20 B); the root
    tagged as every run of lnsmadam tags it (`rtl.cache.TAG`)."""
    if tagged:
        from rtl.cache import cache_dir
        assert cache_dir() == root
    _file(root / "designs" / "a" / "m.v", 1000)
    _file(root / "designs" / "b" / "m.v", 2000)
    _file(root / "testbench" / "builds" / "icarus-x" / "sim.vvp", 500)
    _file(root / "sim" / "builds" / "verilator-y" / "obj" / "Vsim", 2000)
    _file(root / "cost" / "k.json", 100)
    _file(root / "testbench" / "runs" / f"icarus-{_dead_pid()}" / "v.mem", 10)
    _file(root / "testbench" / "runs" / f"icarus-{os.getppid()}-0badcafe" / "v.mem", 20)


def test_info_on_an_empty_cache_names_the_root_and_every_kind(capsys, cache):
    code, out, err = _cli(capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"cache: {cache}"
    assert lines[1].split() == ["kind", "entries", "size", "what"]
    assert [ln.split()[:3] for ln in lines[2:-1]] == [[k, "0", "0"] for k in KINDS]
    assert lines[-1].split() == ["total", "0", "0", "B"]
    assert not cache.exists()                         # looking creates nothing


def test_info_counts_entries_and_bytes_by_kind(capsys, cache):
    _fill(cache)
    code, out, _ = _cli(capsys, "info")
    rows = {ln.split()[0]: ln.split()[1:4] for ln in out.splitlines()[2:]}
    assert rows["designs"] == ["2", "3.0", "kB"]
    assert rows["builds"] == ["2", "2.5", "kB"]
    assert rows["synthesis"] == ["1", "100", "B"]
    assert rows["runs"] == ["2", "30", "B"]
    assert rows["failures"] == ["0", "0", "B"]
    assert rows["total"] == ["7", "5.6", "kB"]


def test_info_json_is_strict_json(capsys, cache):
    _fill(cache)
    code, out, _ = _cli(capsys, "--json")
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert code == 0 and data["root"] == str(cache) and data["bytes"] == 5630
    assert list(data["kinds"]) == KINDS
    assert data["kinds"]["designs"] == {"what": "generated Verilog and sidecars",
                                        "entries": 2, "bytes": 3000,
                                        "folders": [str(cache / "designs")]}
    code, out, _ = _cli(capsys, "info", "synthesis", "--json")
    assert list(json.loads(out)["kinds"]) == ["synthesis"]


def test_clean_one_kind_removes_only_it_and_says_what_it_freed(capsys, cache):
    _fill(cache)
    code, out, err = _cli(capsys, "clean", "designs")
    assert code == 0 and err == ""
    assert out.splitlines() == ["designs: removed 2 entries, 3.0 kB",
                                f"freed 3.0 kB in {cache}"]
    assert list((cache / "designs").iterdir()) == []
    assert (cache / "cost" / "k.json").exists()


def test_clean_everything_keeps_what_a_running_process_uses(capsys, cache):
    _fill(cache)
    code, out, err = _cli(capsys, "clean")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "designs: removed 2 entries, 3.0 kB",
        "builds: removed 2 entries, 2.5 kB",
        "synthesis: removed 1 entry, 100 B",
        "runs: removed 1 entry, 10 B; kept 1 in use by a running process",
        "failures: removed 0 entries, 0 B",
        f"freed 5.6 kB in {cache}"]
    left = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert left == ["CACHEDIR.TAG", f"testbench/runs/icarus-{os.getppid()}-0badcafe/v.mem"]


def test_clean_json(capsys, cache):
    _fill(cache)
    code, out, _ = _cli(capsys, "clean", "builds", "--json")
    assert code == 0
    assert json.loads(out) == {"root": str(cache), "bytes": 2500,
                               "kinds": {"builds": {"entries": 2, "bytes": 2500, "kept": 0}}}


def test_an_unknown_kind_is_one_line_and_exit_2(capsys, cache):
    code, out, err = _cli(capsys, "clean", "everything")
    assert code == 2 and out == ""
    assert err == ("lnsmadam: error: argument KIND: invalid choice: 'everything' (choose "
                   "from 'designs', 'builds', 'synthesis', 'runs', 'failures')\n")
    code, out, err = _cli(capsys, "purge")
    assert code == 2 and err == ("lnsmadam: error: argument ACTION: invalid choice: 'purge' "
                                 "(choose from 'info', 'clean')\n")


def test_a_cache_root_that_is_a_file_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch):
    root = tmp_path / "file"
    root.write_text("not a folder")
    monkeypatch.setenv("LNSMADAM_CACHE", str(root))
    for argv in ((), ("clean",)):
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and out == ""
        assert err == (f"lnsmadam: error: cache root {root} is not a folder (set "
                       f"LNSMADAM_CACHE to a folder)\n")
    assert root.read_text() == "not a folder"


def test_clean_removes_nothing_under_a_root_without_the_cache_tag(capsys, cache):
    # LNSMADAM_CACHE pointed at a folder of the user's by mistake: nothing of it goes
    _fill(cache, tagged=False)
    before = sorted(cache.rglob("*"))
    code, out, err = _cli(capsys, "clean")
    assert code == 2 and out == ""
    assert err == (f"lnsmadam: error: {cache} has no CACHEDIR.TAG, so it is not a cache "
                   f"lnsmadam made; nothing was removed (check LNSMADAM_CACHE)\n")
    assert sorted(cache.rglob("*")) == before


def test_every_run_tags_the_cache_root(capsys, cache):
    from rtl.cache import cache_dir
    cache_dir("designs")
    assert (cache / "CACHEDIR.TAG").read_text().startswith(
        "Signature: 8a477f597d28d172789f06886806bc55\n")
