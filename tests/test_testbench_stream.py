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
