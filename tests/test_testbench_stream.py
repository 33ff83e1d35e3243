"""The stream path: cocotb 2.1 through its Python runner on Icarus and Verilator, random
valid gaps and ready back-pressure, scoreboard against the model, for any rule's unit."""

import pytest

from lns import presets
from testbench import design, stream, vectors
from testbench.compare import Outputs, compare


def _stream(sim, preset, n, lanes, **kw):
    vs = vectors.generate(presets.get(preset), n, seed=7, lanes=lanes)
    d = design.generate(vs.cfg, lanes)
    run = stream.run_stream(sim, d, vs, **kw)
    outputs = Outputs.checked_against(vs, run.details, run.mismatches, run.vectors,
                                      run.protocol)
    s = compare(vs, {vs.cfg.reference_evaluator: Outputs.full(vs.expected),
                     f"cocotb-{sim}": outputs})
    return vs, run, s


@pytest.mark.parametrize("sim,preset,lanes", [
    ("icarus", "lns12", 1), ("icarus", "lns8_sign", 2), ("icarus", "lns12_adam", 1),
    ("icarus", "lns12_lion", 1), ("verilator", "lns8_sign", 2)])
def test_stream_with_backpressure(sim, preset, lanes):
    vs, run, s = _stream(sim, preset, 1500, lanes, gap=0.25, bp=0.4)
    assert run.received == len(vs) and not run.protocol
    assert s["ok"], s


def test_stream_scoreboard_catches_a_fault(tmp_path):
    """The cocotb scoreboard fails on a design that ignores back-pressure."""
    from testbench import faults
    d = design.generate(presets.get("lns8_sign"), 2)
    m = next(m for m in faults.handshake_mutants(d.verilog.read_text(), d)
             if "ignores back-pressure" in m.description)
    (tmp_path / d.verilog.name).write_text(m.text)
    (tmp_path / d.sidecar.name).write_text(d.sidecar.read_text())
    bad = design.Design.load(tmp_path / d.sidecar.name)
    vs = vectors.generate(bad.cfg, 400, seed=7, lanes=2)
    run = stream.run_stream("icarus", bad, vs, gap=0.1, bp=0.5)
    assert run.mismatches > 0


def test_a_damaged_cocotb_build_is_rebuilt_once(tmp_path, monkeypatch, capsys):
    """The cocotb build (built in place: its makefiles hold the folder's path) is sealed
    after it is built; a truncated simulation image is found on the next use and the
    folder built again, with one line saying so; the run after that reuses it quietly."""
    monkeypatch.setenv("LNSMADAM_CACHE", str(tmp_path / "cache"))
    _stream("icarus", "lns8_sign", 200, 1)
    builds = [d for d in (tmp_path / "cache" / "testbench" / "cocotb").iterdir()]
    assert len(builds) == 1
    image = next(p for p in builds[0].rglob("*") if p.is_file() and p.suffix == ".vvp")
    image.write_bytes(image.read_bytes()[:100])                   # a truncated build
    capsys.readouterr()
    vs, run, s = _stream("icarus", "lns8_sign", 200, 1)
    err = capsys.readouterr().err
    assert s["ok"] and run.received == len(vs)
    assert f"lnsmadam: cache entry {builds[0]} was incomplete or damaged (" in err
    assert err.rstrip().endswith("); rebuilt") and err.count("rebuilt") == 1
    _stream("icarus", "lns8_sign", 200, 1)
    assert "rebuilt" not in capsys.readouterr().err
