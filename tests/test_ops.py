"""Operations per update (`sim.analysis.ops`): the LNS counts follow the config (Madam, and
Adam / SGD checked against the ROMs of the elaborated RTL); float counts pinned."""

import json

import pytest

import rtl
from lns import presets
from sim.analysis.ops import LNS_KINDS, adam_ops, float_madam_ops, operation_counts


def _reads(ops, table):
    return sum(e["count"] for e in ops["entries"]
               if e["kind"] == "table_read" and e["table"] == table)


@pytest.mark.parametrize("name", presets.names("madam"))
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
    with pytest.raises(TypeError, match="^cfg must be a MadamConfig, AdamConfig or SGDConfig, "
                                        "not str$"):
        operation_counts("lns8")


# ---- the additive rules (LNS Adam, LNS SGD with momentum) ---------------------------------
ADDITIVE = ["lns8_adam", "lns12_adam", "lns12_sgd"]


def _rtl_roms(cfg):
    """The ROMs the elaborated RTL of one lane instantiates: ``{name: (read ports, bits)}``,
    recorded from `rtl.log_adder`'s ROM builder during elaboration (independent of ops)."""
    from amaranth.hdl import Fragment

    import rtl.log_adder as la
    from rtl.additive_unit import AdamUpdateUnit, SGDUpdateUnit
    unit = (AdamUpdateUnit if cfg.optimizer == "adam" else SGDUpdateUnit)(cfg)
    seen, real = {}, la.rom_read

    def record(m, name, values, *addrs):
        out = real(m, name, values, *addrs)
        values = list(values)
        seen[name] = (len(addrs), len(values) * out[0].shape().width)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(la, "rom_read", record)
        Fragment.get(unit, None)
    # RTL names: ma_/va_/wa_ adders, the v adder's look-up is "lk" (an sb table)
    role = {"ma": "m", "va": "v", "wa": "w"}
    return {f"{role[n[:2]]}_{n[3:].replace('lk_', 'sb_')}": v for n, v in seen.items()}


@pytest.mark.parametrize("name", ADDITIVE)
def test_additive_table_reads_match_the_elaborated_rtl(name):
    cfg = presets.get(name)
    ops = operation_counts(cfg)
    json.dumps(ops)
    assert ops["optimizer"] == str(cfg.optimizer) and ops["arithmetic"] == "lns"
    assert set(ops["totals"]) == set(LNS_KINDS)
    assert ops["totals"] == {k: sum(e["count"] for e in ops["entries"] if e["kind"] == k)
                             for k in LNS_KINDS}
    assert all(e["count"] > 0 and e["width"] > 0 and e["op"] for e in ops["entries"])
    reads = {}
    for e in ops["entries"]:
        if e["kind"] == "table_read":
            ports, bits = reads.get(e["table"], (0, e["rom_bits"]))
            reads[e["table"]] = (ports + e["count"], bits)
    assert reads == _rtl_roms(cfg)
    # ROM bits by role: the sidecar's table sizes (`rtl.table_summary`)
    by_role = {}
    for table, (_, bits) in reads.items():
        role = table.rsplit("_", 1)[0]
        by_role[role] = by_role.get(role, 0) + bits
    assert by_role == {k: t["bits"] for k, t in rtl.table_summary(cfg).items()}
    # one multiply per interpolated look-up: one per node ROM the RTL holds
    nodes = [t for t in reads if t.endswith("_nodes")]
    assert ops["totals"]["int_mul"] == len(nodes) > 0


def test_additive_words_follow_the_published_algorithms():
    """Adam (Kingma & Ba, Algorithm 1) reads w, g, m, v and writes w, m, v; SGD with
    momentum reads w, g, m and writes w, m; Madam (rms) reads w, g, v and writes w, v."""
    adam, sgd = presets.get("lns12_adam"), presets.get("lns12_sgd")
    madam = presets.get("lns12")
    a, s, m = operation_counts(adam), operation_counts(sgd), operation_counts(madam)
    assert a["memory"]["words"] == {"read": ["w", "g", "m", "v"], "write": ["w", "m", "v"]}
    assert s["memory"]["words"] == {"read": ["w", "g", "m"], "write": ["w", "m"]}
    W, G, M, V = adam.weight, adam.grad, adam.first_moment, adam.second_moment
    assert a["memory"]["read_bits"] == sum(f.total_bits for f in (W, G, M, V))
    assert a["memory"]["write_bits"] == sum(f.total_bits for f in (W, M, V))
    assert s["memory"]["read_bits"] == sum(f.total_bits for f in
                                           (sgd.weight, sgd.grad, sgd.momentum))
    # ordering facts at 12 bits: Adam moves more words and bits than Madam; both moment
    # adders and the weight adder make Adam read more tables and add more than Madam
    for k in ("read", "write"):
        assert len(a["memory"]["words"][k]) > len(m["memory"]["words"][k])
        assert len(s["memory"]["words"][k]) == len(m["memory"]["words"][k])
    assert a["memory"]["read_bits"] > m["memory"]["read_bits"]
    assert a["memory"]["write_bits"] > m["memory"]["write_bits"]
    for k in ("int_add", "compare_select", "table_read", "int_mul"):
        assert a["totals"][k] > s["totals"][k] > m["totals"][k], k


def test_additive_rounding_and_table_method_change_the_count():
    cfg = presets.get("lns12_adam")
    assert cfg.is_stochastic
    st, ne = operation_counts(cfg), operation_counts(cfg.replace(rounding="nearest_even"))
    lfsr = [e for e in st["entries"] if e["op"].startswith("lfsr advance")]
    assert len(lfsr) == 1 and lfsr[0]["width"] == 32
    assert not [e for e in ne["entries"] if e["op"].startswith("lfsr advance")]
    assert any(e["op"].startswith("w: RNE") for e in ne["entries"])
    assert not any(e["op"].startswith("w: RNE") for e in st["entries"])
    # direct tables: no node ROMs, no interpolation multiply, one read per table
    direct = operation_counts(presets.get("lns8_adam").replace(table="direct"))
    assert direct["totals"]["int_mul"] == 0
    assert direct["totals"]["table_read"] == len(presets.get("lns8_adam").tables)


def test_float_sgd_pinned():
    from sim.analysis.ops import float_ops_for, float_sgd_ops
    s = float_sgd_ops()
    assert s["totals"] == {"fp_mul": 2, "fp_add": 2, "fp_exp": 0, "fp_sqrt": 0, "fp_div": 0,
                           "fp_compare": 0}
    assert s["memory"]["read_bits"] == 96 and s["memory"]["write_bits"] == 64
    assert float_ops_for("adam") == adam_ops() and float_ops_for("madam") == float_madam_ops()
    from lns.errors import InvalidType
    with pytest.raises(InvalidType, match="^optimizer must be one of madam, adam, sgd, "
                                          "lion, float_adam, not 'rmsprop'$"):
        float_ops_for("rmsprop")
