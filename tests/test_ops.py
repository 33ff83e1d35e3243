"""Operations per update (`sim.analysis.ops`): the LNS counts follow the config; float counts pinned."""

import json

import pytest

import rtl
from lns import presets
from sim.analysis.ops import LNS_KINDS, adam_ops, float_madam_ops, operation_counts


def _reads(ops, table):
    return sum(e["count"] for e in ops["entries"]
               if e["kind"] == "table_read" and e["table"] == table)


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_is_counted_and_serialisable(name):
    cfg = presets.get(name)
    ops = operation_counts(cfg)
    json.dumps(ops)
    assert set(ops["totals"]) == set(LNS_KINDS)
    assert ops["totals"] == {k: sum(e["count"] for e in ops["entries"] if e["kind"] == k)
                             for k in LNS_KINDS}
    assert all(e["count"] > 0 and e["width"] > 0 and e["op"] for e in ops["entries"])
    # every ROM the datapath reads is one the RTL's sidecar lists, with its bits
    tables = rtl.table_summary(cfg)
    roms = {e["table"]: e["rom_bits"] for e in ops["entries"] if e["kind"] == "table_read"}
    if cfg.normaliser == "rms":
        assert roms.get("sb_near", 0) + roms.get("sb_nodes", 0) == tables["sb"]["bits"]
        assert roms["exp2"] == tables["exp2"]["bits"]
    else:
        assert roms == {}


def test_sign_has_no_second_moment_work():
    sign, rms = presets.get("lns8_sign"), presets.get("lns8_sign").replace(normaliser="rms")
    s, r = operation_counts(sign), operation_counts(rms)
    assert s["table"] == "none" and r["table"] == "direct"
    assert _reads(s, "sb_near") == 0 and _reads(r, "sb_near") == 1
    # L = 0: the exp2 read and the shifter are constants of the config
    assert s["totals"]["table_read"] == 0 and s["totals"]["shift"] == 0
    assert r["totals"]["table_read"] == 2
    assert not [e for e in s["entries"] if e["step"] in ("1 moment", "2 normalise")]
    assert s["memory"]["words"] == {"read": ["w", "g"], "write": ["w"]}
    assert r["memory"]["words"] == {"read": ["w", "g", "v"], "write": ["w", "v"]}
    assert s["memory"]["read_bits"] == sign.weight.total_bits + sign.grad.total_bits
    for k in ("int_add", "compare_select"):
        assert s["totals"][k] < r["totals"][k]
    assert any("no second-moment" in n for n in s["notes"])


def test_interp_adds_a_multiply_and_two_node_reads():
    cfg = presets.get("tiny")
    direct, interp = operation_counts(cfg), operation_counts(cfg.replace(table="interp"))
    assert cfg.table == "direct"
    assert direct["totals"]["int_mul"] == 0 and interp["totals"]["int_mul"] == 1
    assert _reads(direct, "sb_near") == 1 and _reads(direct, "sb_nodes") == 0
    assert _reads(interp, "sb_nodes") == 2
    mul = next(e for e in interp["entries"] if e["kind"] == "int_mul")
    t = cfg.replace(table="interp").sb_table
    assert mul["operand_bits"] == [t.node_width + 1, t.seg_bits]
    assert interp["totals"]["int_add"] > direct["totals"]["int_add"]


def test_rounding_changes_the_count():
    ne = presets.get("lns12")
    st = ne.replace(rounding="stochastic")
    a, b = operation_counts(ne), operation_counts(st)
    lfsr = [e for e in b["entries"] if e["op"].startswith("lfsr advance")]
    assert len(lfsr) == 1 and lfsr[0]["width"] == 32
    assert not [e for e in a["entries"] if e["op"].startswith("lfsr advance")]
    assert any("tie test of the fraction" in e["op"] for e in a["entries"])
    assert not any("tie test of the fraction" in e["op"] for e in b["entries"])
    # sign with nearest-even rounding: Delta is a constant, no add in the exp step
    sign_ne = operation_counts(presets.get("lns8_sign").replace(rounding="nearest_even"))
    assert not [e for e in sign_ne["entries"]
                if e["step"] == "3 exp step" and e["kind"] == "int_add"]
    assert any("Delta is a constant" in n for n in sign_ne["notes"])


def test_widths_follow_the_formats():
    ops = operation_counts(presets.get("lns16"))
    add = next(e for e in ops["entries"] if e["op"] == "e -+ Delta (add/subtract)")
    assert add["width"] == presets.get("lns16").weight.log_bits + 1
    assert operation_counts(presets.get("lns16"))["memory"]["read_bits"] == 16 + 15 + 20


def test_float_counts_pinned():
    m, a = float_madam_ops(), adam_ops()
    json.dumps([m, a])
    assert m["totals"] == {"fp_mul": 6, "fp_add": 1, "fp_exp": 1, "fp_sqrt": 1, "fp_div": 2,
                           "fp_compare": 6}
    assert a["totals"] == {"fp_mul": 6, "fp_add": 4, "fp_exp": 0, "fp_sqrt": 1, "fp_div": 3,
                           "fp_compare": 0}
    assert m["memory"]["read_bits"] == 96 and m["memory"]["write_bits"] == 64
    assert a["memory"]["read_bits"] == 128 and a["memory"]["write_bits"] == 96
    assert "Bernstein" in m["source"] and "Kingma" in a["source"]


def test_error_text():
    with pytest.raises(TypeError, match="^cfg must be a MadamConfig, not str$"):
        operation_counts("lns8")
