"""`lnsmadam sim --vcd`: the waveforms of both RTL engines open in a standard VCD reader
(pyvcd's, which stops at the first name that begins with ``$``), with the same timescale
and clock, and show the same port values at every rising edge of the first K cycles."""

from __future__ import annotations

import json

import vcd.reader as vcd_reader      # pyvcd: installed with amaranth, never skipped

from sim.cli import main

# The ports compared; the handshake, the data in and out, and the per-step inputs.
PORTS = ("clk", "in_valid", "in_ready", "out_valid", "out_ready", "in_w", "in_g", "in_v",
         "out_w", "out_v", "x_bc", "clip")
K = 60


def read_vcd(path):
    """Every token of ``path`` through pyvcd's reader (it raises on anything it cannot
    parse); ``(timescale (magnitude, unit), {name: [(depth, scope, id)]}, {id: [(time,
    value)]})``."""
    TK = vcd_reader.TokenKind
    scope, names, changes, timescale, t = [], {}, {}, None, 0
    with open(path, "rb") as f:
        for tok in vcd_reader.tokenize(f):
            kind = tok.kind
            if kind is TK.TIMESCALE:
                timescale = (tok.timescale.magnitude.value, tok.timescale.unit.value)
            elif kind is TK.SCOPE:
                scope.append(tok.scope.ident)
            elif kind is TK.UPSCOPE:
                scope.pop()
            elif kind is TK.VAR:
                names.setdefault(tok.var.reference, []).append(
                    (len(scope), tuple(scope), tok.var.id_code))
            elif kind is TK.CHANGE_TIME:
                t = tok.time_change
            elif kind is TK.CHANGE_SCALAR:
                changes.setdefault(tok.scalar_change.id_code, []).append(
                    (t, tok.scalar_change.value))
            elif kind is TK.CHANGE_VECTOR:
                changes.setdefault(tok.vector_change.id_code, []).append(
                    (t, tok.vector_change.value))
    return timescale, names, changes


def _port(names, changes, name):
    """The changes of port ``name``: the shallowest variable of that name (the top's)."""
    _, _, ident = min(names[name])
    return [(t, int(v) if isinstance(v, str) and v in "01" else v) for t, v in changes[ident]]


def _at(changes, t):
    value = None
    for when, v in changes:
        if when > t:
            break
        value = v
    return value


def _run(tmp_path, engine, capsys):
    path = tmp_path / f"{engine}.vcd"
    code = main(["sim", "--preset", "lns8", "--lanes", "2", "--weights", "41", "--steps", "2",
                 "--engine", engine, "--stall-prob", "0.2", "--mem-bytes-per-cycle", "4",
                 "--vcd", str(path), "--vcd-cycles", str(K), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    r = json.loads(out)
    assert r["mismatches"] == 0 and r["cycles"] > K
    return path, r


def test_both_engines_waveforms_agree(tmp_path, capsys):
    runs = {e: _run(tmp_path, e, capsys) for e in ("amaranth", "verilator")}
    keys = ("cycles", "stall_cycles", "bandwidth_wait_cycles", "latency_min", "latency_max")
    assert {k: runs["amaranth"][1][k] for k in keys} == {k: runs["verilator"][1][k] for k in keys}
    parsed = {e: read_vcd(p) for e, (p, _) in runs.items()}
    for engine, (timescale, names, changes) in parsed.items():
        # names a reader takes: none begins with "$" (Amaranth's anonymous nets)
        assert not [n for n in names if n.startswith("$")], engine
        assert all(p in names for p in PORTS), (engine, [p for p in PORTS if p not in names])
    # the same timescale (Amaranth's 1 fs) and the same 10 ns clock, rising at 5 ns + c T
    assert parsed["amaranth"][0] == parsed["verilator"][0] == (1, "fs")
    period = 10_000_000
    for engine, (_, names, changes) in parsed.items():
        clk = _port(names, changes, "clk")
        rising = [t for t, v in clk if v == 1]
        assert rising[:K] == [period // 2 + c * period for c in range(K)], engine
        falling = [t for t, v in clk if v == 0]
        assert falling[:K] == [c * period for c in range(K)], engine
    # every port's value at each rising edge of the first K cycles (sampled in the low half
    # of the cycle: the Verilator harness changes its inputs with the falling edge,
    # Amaranth's testbench right after the rising one).  The output data only where
    # out_valid is high: the data registers have no reset, and the harness's reset edge
    # (not in the VCD) loads them once before cycle 0, where Amaranth's simulator starts
    # from their initial values, so they differ until the first beat passes.
    a_valid = _port(*parsed["amaranth"][1:], "out_valid")
    valid = 0
    for name in PORTS:
        a = _port(*parsed["amaranth"][1:], name)
        v = _port(*parsed["verilator"][1:], name)
        for c in range(K):
            t = c * period + period // 4
            if name in ("out_w", "out_v") and _at(a_valid, t) != 1:
                continue
            valid += name == "out_w"
            assert _at(a, t) == _at(v, t), (name, c)
    assert valid >= 8              # beats came out in the window: data was compared
