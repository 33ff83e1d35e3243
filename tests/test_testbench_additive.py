"""`lnsmadam testbench` on the additive units (LNS Adam, SGD with momentum): every preset on
numba, python, Amaranth, Icarus and Verilator agrees; a fault in the generated Verilog is
caught by both HDL simulators and reported by who agrees with whom."""

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

import lns.word
from lns import presets
from sim.cli import main
from testbench import additive
from testbench.design import generate

PRESETS = ("lns12_adam", "lns8_adam", "lns12_sgd")


@pytest.mark.parametrize("name", PRESETS)
def test_cli_all_evaluators_agree(name, capsys):
    rc = main(["testbench", "--preset", name, "--sim", "all", "--vectors", "3000", "--json"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert rc == 0, err[-3000:]
    assert data["ok"] is True
    for ev in ("numba", "icarus", "verilator"):
        assert data[ev] == {"vectors": 3000, "mismatches": 0}
    for ev in ("python", "amaranth"):
        assert data[ev]["mismatches"] == 0 and data[ev]["vectors"] >= 300
    assert "testbench:" in err


def test_cli_lanes_table_output(capsys):
    rc = main(["testbench", "--preset", "lns8_adam", "--sim", "icarus", "--vectors", "1000",
               "--lanes", "2", "--seed", "5"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "all agree" in out and "icarus" in out


def test_exhaustive_is_a_usage_error(capsys):
    assert main(["testbench", "--preset", "lns12_sgd", "--exhaustive"]) == 2
    assert "--exhaustive is not supported" in capsys.readouterr().err


def test_edge_table_hits_the_edges():
    """The vectors hold m' = 0 by exact cancellation, w' = 0 and weights changing sign,
    saturated (max-word) m, and every step t (Adam)."""
    for name in PRESETS:
        cfg = presets.get(name)
        p = cfg.params
        groups = additive.make_groups(cfg, 3000, seed=1)
        assert sum(map(len, groups)) == 3000
        if cfg.optimizer == "adam":
            assert [g.t for g in groups] == list(additive.T_VALUES)
        zm = zw = cross = sat = 0
        for g in groups:
            out = additive.model(cfg, g.words, g.t, g.seeds)
            _, _, z_in = lns.word.unpack_all(p.m, g.words["m"])
            _, _, z_g = lns.word.unpack_all(p.g, g.words["g"])
            zm += int((lns.word.unpack_all(p.m, out["m"])[2] & ~z_in & ~z_g).sum())
            sw, _, zwi = lns.word.unpack_all(p.w, g.words["w"])
            so, _, zwo = lns.word.unpack_all(p.w, out["w"])
            zw += int((zwo & ~zwi).sum())
            cross += int(((sw != so) & ~zwi & ~zwo).sum())
            _, xm, _ = lns.word.unpack_all(p.m, g.words["m"])
            sat += int((xm == p.m.x_max).sum())
        assert zm >= 5 and zw >= 1 and cross >= 20 and sat >= 4, (name, zm, zw, cross, sat)


def _flip_table_entry(text: str, table: str, index: int) -> str:
    m = re.search(rf"({re.escape(table)}\[{index}\] = )(\d+)'h([0-9a-f]+);", text)
    assert m, f"{table}[{index}] not in the Verilog"
    width, value = int(m.group(2)), int(m.group(3), 16)
    new = value ^ (1 << (width - 2))
    return text[:m.start()] + f"{m.group(1)}{width}'h{new:x};" + text[m.end():]


def _check_caught(cfg, d, text, sims, tmp_path, n=3000):
    bad = tmp_path / "dut.v"
    bad.write_text(text)
    out = io.StringIO()
    r = additive.evaluate(cfg, sims, n, seed=1, verilog=bad, design=d, out=out)
    assert not r["ok"]
    for s in sims:
        assert r["evaluators"][s]["mismatches"] > 0, r["evaluators"]
    for s in ("numba", "python"):
        assert r["evaluators"][s]["mismatches"] == 0
    report = out.getvalue()
    assert re.search(r"numba(, python)? (agree on|says)", report), report
    assert ", ".join(sims) + (" agree on" if len(sims) > 1 else " says") in report, report


@pytest.mark.parametrize("name,table,index,sims", [
    ("lns12_sgd", "wa_db_near", 16, ("icarus",)),
    ("lns8_adam", "wa_db_near", 16, ("icarus",)),
    ("lns12_adam", "ma_db_near", 1, ("icarus",))])
def test_table_fault_is_caught(name, table, index, sims, tmp_path):
    """One bit of a db table entry flipped in the generated Verilog."""
    cfg = presets.get(name)
    d = generate(cfg, 1)
    text = _flip_table_entry(Path(d.verilog).read_text(), table, index)
    _check_caught(cfg, d, text, sims, tmp_path)


def test_rounding_fault_is_caught(tmp_path):
    """The weight's final nearest-even rounding made ties-round-up (SGD), both HDL
    simulators."""
    cfg = presets.get("lns12_sgd")
    d = generate(cfg, 1)
    text = Path(d.verilog).read_text()
    pattern = re.compile(r"(\w+_wr_x\[\d+:0\]) > (\d+)'h(8[0]*);")
    assert len(pattern.findall(text)) == 1
    text = pattern.sub(lambda m: f"{m.group(1)} >= {m.group(2)}'h{m.group(3)};", text)
    _check_caught(cfg, d, text, ("icarus", "verilator"), tmp_path)
