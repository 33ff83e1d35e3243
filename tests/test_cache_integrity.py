"""Cache entries verify themselves (`rtl.cache`): a generated design or a simulator build
that is truncated, garbled or half written is found on its next use, rebuilt, and said in
one line on stderr; the command then succeeds as if the cache were cold.  Each test runs on
a private cache (``LNSMADAM_CACHE``)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from rtl import cache as rtl_cache
from sim.cli import main

PRESET, MODULE = "tiny", "lnsmadam_tiny_x1"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache root, and no design remembered from before in this process (each
    command of these tests reads the cache as a new process would)."""
    import rtl.design
    root = tmp_path / "cache"
    monkeypatch.setenv("LNSMADAM_CACHE", str(root))
    monkeypatch.setattr(rtl.design, "_MEMO", {})
    return root


def _forget():
    import rtl.design
    rtl.design._MEMO.clear()


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _verilog(capsys, out_dir):
    return _cli(capsys, "verilog", "--preset", PRESET, "--out", str(out_dir))


def _entry(cache):
    (entry,) = (cache / "designs").iterdir()
    return entry


def _rebuilt(entry, why):
    return f"lnsmadam: cache entry {entry} was incomplete or damaged ({why}); rebuilt"


def _generated(capsys, cache, tmp_path):
    """The design generated once into the cache: (entry folder, Verilog bytes, sidecar
    bytes)."""
    code, _, _ = _verilog(capsys, tmp_path / "first")
    assert code == 0
    entry = _entry(cache)
    return entry, (entry / f"{MODULE}.v").read_bytes(), (entry / f"{MODULE}.json").read_bytes()


def test_a_design_entry_is_sealed_with_the_checksums_of_its_files(capsys, cache, tmp_path):
    entry, verilog, sidecar = _generated(capsys, cache, tmp_path)
    marker = json.loads((entry / rtl_cache.MARKER).read_text())
    import hashlib
    assert marker["files"] == {
        f"{MODULE}.json": [len(sidecar), hashlib.sha256(sidecar).hexdigest()],
        f"{MODULE}.v": [len(verilog), hashlib.sha256(verilog).hexdigest()]}
    assert rtl_cache.problem(entry) is None
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name]   # no temporary


def test_a_truncated_cached_verilog_is_regenerated_not_copied(capsys, cache, tmp_path):
    # (was: the 100 bytes copied to --out, exit 0)
    entry, verilog, _ = _generated(capsys, cache, tmp_path)
    (entry / f"{MODULE}.v").write_bytes(verilog[:100])
    code, out, err = _verilog(capsys, tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out" / f"{MODULE}.v").read_bytes() == verilog
    assert _rebuilt(entry, f"{MODULE}.v has 100 bytes, not {len(verilog):,}") in \
        err.splitlines()
    assert (entry / f"{MODULE}.v").read_bytes() == verilog
    assert rtl_cache.problem(entry) is None


def test_a_truncated_cached_sidecar_is_regenerated_not_an_internal_error(capsys, cache,
                                                                          tmp_path):
    # (was: JSONDecodeError, exit 70, on every command of the preset)
    entry, _, sidecar = _generated(capsys, cache, tmp_path)
    (entry / f"{MODULE}.json").write_bytes(sidecar[:100])
    code, out, err = _verilog(capsys, tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out" / f"{MODULE}.json").read_bytes() == sidecar
    assert err.splitlines().count(
        _rebuilt(entry, f"{MODULE}.json has 100 bytes, not {len(sidecar):,}")) == 1
    code, out, err = _verilog(capsys, tmp_path / "again")             # then used as is
    assert code == 0 and "incomplete or damaged" not in err


def test_a_garbled_cached_verilog_of_the_same_size_is_found_by_its_checksum(capsys, cache,
                                                                           tmp_path):
    entry, verilog, _ = _generated(capsys, cache, tmp_path)
    garbled = bytearray(verilog)
    garbled[len(garbled) // 2] ^= 0x20
    (entry / f"{MODULE}.v").write_bytes(bytes(garbled))
    code, out, err = _verilog(capsys, tmp_path / "out")
    assert code == 0, err
    assert _rebuilt(entry, f"{MODULE}.v does not match its checksum") in err.splitlines()
    assert (tmp_path / "out" / f"{MODULE}.v").read_bytes() == verilog


def test_a_design_entry_without_its_marker_is_regenerated(capsys, cache, tmp_path):
    # an entry left by a run killed half way through writing it (or by an older layout)
    entry, verilog, _ = _generated(capsys, cache, tmp_path)
    (entry / rtl_cache.MARKER).unlink()
    (entry / f"{MODULE}.v").write_bytes(verilog[:100])
    code, out, err = _verilog(capsys, tmp_path / "out")
    assert code == 0, err
    assert _rebuilt(entry, "no completeness marker") in err.splitlines()
    assert (tmp_path / "out" / f"{MODULE}.v").read_bytes() == verilog


def test_damage_within_one_process_is_found_too(cache):
    from lns import presets
    from rtl.design import design
    d1 = design(presets.get(PRESET))
    good = d1.verilog.read_bytes()
    d1.verilog.write_bytes(good[:10])
    d2 = design(presets.get(PRESET))
    assert d2.verilog.read_bytes() == good


def test_a_sealed_sidecar_that_does_not_load_is_regenerated(capsys, cache, tmp_path):
    entry, _, sidecar = _generated(capsys, cache, tmp_path)
    data = json.loads(sidecar)
    del data["ports"]
    (entry / f"{MODULE}.json").write_text(json.dumps(data))
    rtl_cache.seal(entry)                 # the checksums agree: the content is what fails
    _forget()                             # (a new process)
    code, out, err = _verilog(capsys, tmp_path / "out")
    assert code == 0, err
    (line,) = [x for x in err.splitlines() if "incomplete or damaged" in x]
    assert line.startswith(f"lnsmadam: cache entry {entry} was incomplete or damaged (its "
                           f"sidecar does not load: sidecar ")
    assert "must have a 'ports' entry); rebuilt" in line
    assert (tmp_path / "out" / f"{MODULE}.json").read_bytes() == sidecar


# ---- simulator builds -----------------------------------------------------------------------
def _testbench(capsys, sim, vectors=300):
    return _cli(capsys, "testbench", "--preset", PRESET, "--sim", sim, "--vectors",
                str(vectors), "--failures", "")


def _build(cache, prefix):
    (build,) = [p for p in (cache / "testbench" / "builds").iterdir()
                if p.name.startswith(prefix)]
    return build


def test_a_truncated_icarus_build_is_rebuilt_once(capsys, cache):
    # (was: "icarus printed no SUMMARY", exit 2, on every later run, never rebuilt)
    code, out, err = _testbench(capsys, "icarus")
    assert code == 0, err
    build = _build(cache, "icarus-")
    vvp = build / "sim.vvp"
    size = vvp.stat().st_size
    vvp.write_bytes(vvp.read_bytes()[:50])
    code, out, err = _testbench(capsys, "icarus")
    assert code == 0, err
    assert err.splitlines().count(
        _rebuilt(build, f"sim.vvp has 50 bytes, not {size:,}")) == 1
    assert "all agree" in out
    code, out, err = _testbench(capsys, "icarus")
    assert code == 0 and "incomplete or damaged" not in err and "building" not in err


def test_an_icarus_run_leaves_no_run_folder_and_removes_those_of_dead_processes(capsys,
                                                                               cache):
    # (was: an empty testbench/runs/icarus-<pid> folder after every run)
    dead = subprocess.Popen(["true"])
    dead.wait()                           # its process id now names no running process
    runs = cache / "testbench" / "runs"
    left = runs / f"icarus-{dead.pid}"
    left.mkdir(parents=True)
    (left / "vectors-1.mem").write_text("0\n")
    alive = runs / f"icarus-{os.getppid()}-0badcafe"      # a running process's: kept
    alive.mkdir()
    code, out, err = _testbench(capsys, "icarus")
    assert code == 0, err
    assert sorted(p.name for p in runs.iterdir()) == [alive.name]


def test_a_truncated_verilator_build_is_rebuilt_once_and_keeps_no_intermediates(capsys,
                                                                                cache):
    code, out, err = _testbench(capsys, "verilator")
    assert code == 0, err
    build = _build(cache, "stream-")
    # the precompiled headers, objects and generated C++ are gone: the executable stays
    assert sorted(p.name for p in (build / "obj").iterdir()) == ["Vstream"]
    exe = build / "obj" / "Vstream"
    size = exe.stat().st_size
    exe.write_bytes(exe.read_bytes()[:4096])
    code, out, err = _testbench(capsys, "verilator")
    assert code == 0, err
    assert err.splitlines().count(
        _rebuilt(build, f"obj/Vstream has 4,096 bytes, not {size:,}")) == 1
    assert "all agree" in out and rtl_cache.problem(build) is None
