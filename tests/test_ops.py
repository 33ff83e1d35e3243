"""Operations per update (`sim.analysis.ops`): every rule counted one way, through the
registry; the LNS counts follow the config (Madam, and the additive rules checked against the
ROMs of the elaborated RTL); the IEEE unit's and the published algorithms' counts pinned
against the papers, typed here."""

import json
import re

import pytest

import rtl
from lns import presets, registry
from lns.errors import InvalidType, InvalidValue
from lns.modes import Optimizer
from sim.analysis.ops import (AS_WRITTEN, FLOAT_KINDS, LNS_KINDS, as_written, baselines,
                              operation_counts)

# The words one update of each algorithm reads and writes, from the papers: Madam
# (Bernstein et al. 2020) w, g, v -> w, v; Adam (Kingma & Ba 2015, Algorithm 1) w, g, m, v ->
# w, m, v; SGD with momentum and Lion (Chen et al. 2023) w, g, m -> w, m.
WORDS = {"madam": (["w", "g", "v"], ["w", "v"]), "adam": (["w", "g", "m", "v"], ["w", "m", "v"]),
         "sgd": (["w", "g", "m"], ["w", "m"]), "lion": (["w", "g", "m"], ["w", "m"]),
         "float_adam": (["w", "g", "m", "v"], ["w", "m", "v"]),
         "float_adam_fast": (["w", "g", "m", "v"], ["w", "m", "v"]),
         # mixed precision also writes the narrow copy of the weight (Micikevicius et al. 2018)
         "mp_adam": (["w", "g", "m", "v"], ["w", "m", "v", "wlow"]),
         # Bernstein et al. 2020: w, g, v -> w, v
         "float_madam": (["w", "g", "v"], ["w", "v"])}


def _reads(ops, table):
    return sum(e["count"] for e in ops["entries"]
               if e["kind"] == "table_read" and e["table"] == table)


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_of_every_rule_is_counted_one_way(name):
    cfg = presets.get(name)
    ops = operation_counts(cfg)
    json.dumps(ops)
    # the registry's count, with the registry's label: one way for every rule
    count = registry.load(cfg, "operations")
    if count is not operation_counts:             # (Madam's entry names the entry itself)
        assert ops == dict(count(cfg), label=ops["label"])
    assert ops["label"] == f"{registry.entry(cfg).label} ({name})"
    assert ops["optimizer"] == str(cfg.optimizer) and ops["name"] == name
    kinds = LNS_KINDS if registry.entry(cfg).number_system == "lns" else FLOAT_KINDS
    assert set(ops["totals"]) == set(kinds)
    assert ops["totals"] == {k: sum(e["count"] for e in ops["entries"] if e["kind"] == k)
                             for k in kinds}
    assert all(e["count"] > 0 and e["width"] > 0 and e["op"] for e in ops["entries"])
    # the words of the published algorithm (Madam's sign normaliser stores no v)
    read, write = WORDS[str(cfg.optimizer)]
    sign = getattr(cfg, "normaliser", "rms") == "sign"
    if sign:
        read, write = read[:-1], write[:-1]
    assert ops["memory"]["words"] == {"read": read, "write": write}
    fmt = cfg.word_formats
    assert ops["memory"]["read_bits"] == sum(fmt[k].total_bits for k in read)
    assert ops["memory"]["write_bits"] == sum(fmt[k].total_bits for k in write)
    # every ROM the datapath reads is one the RTL's sidecar lists, with its bits (the sign
    # normaliser reads none: L = 0 makes the exp2 read a constant of the config)
    by_role = {}
    for e in ops["entries"]:
        if e["kind"] == "table_read":
            by_role.setdefault(re.sub(r"_(near|nodes)$", "", e["table"]), {})[e["table"]] = \
                e["rom_bits"]
    tables = {k: t["bits"] for k, t in rtl.table_summary(cfg).items() if t["bits"]}
    if registry.entry(cfg).number_system == "ieee":
        # an IEEE unit's ROM lies inside one of its operators (float Madam's exp2 table),
        # priced with that operation's kind: the ROM's role is an op the count lists
        assert not by_role
        assert set(tables) <= {op for _, op, _ in cfg.operations}
        return
    assert {k: sum(v.values()) for k, v in by_role.items()} == ({} if sign else tables)


def test_sign_has_no_second_moment_work():
    # lns8_sign's unused moment (2 fractional bits) holds beta = 0.999 as 1.0: opted in, as
    # only the operation counts are asked for
    sign = presets.get("lns8_sign")
    rms = sign.replace(normaliser="rms", allow_degenerate=True)
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
    # (eta 2**-5 is below one LSB of the 3-bit fraction: every step rounds to 0, opted in)
    sign_ne = operation_counts(presets.get("lns8_sign").replace(rounding="nearest_even",
                                                                 allow_degenerate=True))
    assert not [e for e in sign_ne["entries"]
                if e["step"] == "3 exp step" and e["kind"] == "int_add"]
    assert any("Delta is a constant" in n for n in sign_ne["notes"])


def test_widths_follow_the_formats():
    ops = operation_counts(presets.get("lns16"))
    add = next(e for e in ops["entries"] if e["op"] == "e -+ Delta (add/subtract)")
    assert add["width"] == presets.get("lns16").weight.log_bits + 1
    assert operation_counts(presets.get("lns16"))["memory"]["read_bits"] == 16 + 15 + 20


def test_float_counts_pinned():
    m, a = as_written(Optimizer.MADAM), as_written("adam")
    json.dumps([m, a])
    assert m["totals"] == {"fp_mul": 6, "fp_add": 1, "fp_exp": 1, "fp_sqrt": 1, "fp_div": 2,
                           "fp_compare": 6}
    # Kingma & Ba, Algorithm 1: the bias corrections divide; three divisions in all
    assert a["totals"] == {"fp_mul": 6, "fp_add": 4, "fp_exp": 0, "fp_sqrt": 1, "fp_div": 3,
                           "fp_compare": 0}
    assert m["memory"]["read_bits"] == 96 and m["memory"]["write_bits"] == 64
    assert a["memory"]["read_bits"] == 128 and a["memory"]["write_bits"] == 96
    assert "Bernstein" in m["source"] and "Kingma" in a["source"]
    assert m["name"] == m["label"] == "float32 Madam as written"
    assert a["name"] == "float32 Adam as written"


@pytest.mark.parametrize("name,bits", [("fp32_adam", 32), ("bf16_adam", 16)])
def test_the_ieee_unit_is_its_operation_table(name, bits):
    """The IEEE Adam unit: m' = b1 m + c1 g, v' = b2 v + c2 g g, mh = m' k1, vh = v' k2,
    d = sqrt(vh) + eps, w' = w - (lr mh) / d: 8 multiplies, 3 adds and a subtract, one
    square root and one division, each of the format's width."""
    ops = operation_counts(presets.get(name))
    assert ops["totals"] == {"fp_mul": 8, "fp_add": 4, "fp_exp": 0, "fp_sqrt": 1, "fp_div": 1,
                             "fp_compare": 0}
    assert {e["width"] for e in ops["entries"]} == {bits}
    assert ops["arithmetic"] == name.split("_")[0]
    assert ops["memory"]["read_bits"] == 4 * bits and ops["memory"]["write_bits"] == 3 * bits


def test_baselines_one_per_algorithm_the_unit_where_built():
    b = baselines()
    json.dumps(b)
    # one per float reference of the registry, plus Adam as written beside the FP32 unit
    refs = dict.fromkeys(e.reference for e in registry.RULES.values())
    assert set(refs) <= set(AS_WRITTEN)
    assert list(b) == ["float32_madam", "float32_madam_as_written", "float32_adam",
                       "float32_adam_as_written", "float32_sgd", "float32_lion"]
    # FP32 Madam is the IEEE unit built (fp32_madam, its program), Madam as written beside
    assert b["float32_madam"] == operation_counts(presets.get("fp32_madam"))
    assert b["float32_madam"]["totals"]["fp_exp"] == 1
    assert b["float32_madam_as_written"] == as_written("madam")
    # FP32 Adam is the IEEE unit the project builds, counted from its table: one way
    assert b["float32_adam"] == operation_counts(presets.get("fp32_adam"))
    assert b["float32_adam"]["totals"]["fp_div"] == 1
    assert b["float32_adam_as_written"] == as_written("adam")
    assert b["float32_adam_as_written"]["totals"]["fp_div"] == 3
    for key in ("float32_madam_as_written", "float32_sgd", "float32_lion"):
        assert b[key]["name"].endswith("as written")
        assert {e["width"] for e in b[key]["entries"]} == {32}


def test_error_text():
    with pytest.raises(InvalidType, match=r"^cfg must be a rule's configuration "
                                          r"\(lns.rule.Rule\), not str$"):
        operation_counts("lns8")
    from sim.analysis.ops import additive_operation_counts, madam_operation_counts
    with pytest.raises(InvalidType, match="^cfg must be a configuration of a rule "
                                          "madam_operation_counts counts, not AdamConfig$"):
        madam_operation_counts(presets.get("lns12_adam"))
    with pytest.raises(InvalidType, match="additive_operation_counts counts, not MadamConfig$"):
        additive_operation_counts(presets.get("lns12"))


# ---- the additive rules (LNS Adam, LNS SGD with momentum, LNS Lion) -----------------------
ADDITIVE = ["lns8_adam", "lns12_adam", "lns12_sgd", "lns12_lion"]


def _rtl_roms(cfg):
    """The ROMs the elaborated RTL of one lane instantiates: ``{name: (read ports, bits)}``,
    recorded from `rtl.log_adder`'s ROM builder during elaboration (independent of ops)."""
    from amaranth.hdl import Fragment

    import rtl.log_adder as la
    unit = registry.load(cfg, "unit")(cfg)
    seen, real = {}, la.rom_read

    def record(m, name, values, *addrs):
        out = real(m, name, values, *addrs)
        values = [int(v) for v in values]
        if name.endswith("_nodes"):
            # rtl.log_adder._node_rom puts len(near) >> seg zero words in front of the
            # nodes (read only where the near ROM is selected); a node is never 0 (sb > 0,
            # db < 0 beyond the near range), so the table's own words start at the first
            # nonzero one: the bits are the table's, as the sidecar counts them
            first = next(i for i, v in enumerate(values) if v)
            values = values[first:]
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


def test_float_sgd_and_lion_pinned():
    s, lion = as_written("sgd"), as_written(Optimizer.LION)
    assert s["totals"] == {"fp_mul": 2, "fp_add": 2, "fp_exp": 0, "fp_sqrt": 0, "fp_div": 0,
                           "fp_compare": 0}
    # c = b1 m + (1 - b1) g, w - lr sign(c), m = b2 m + (1 - b2) g
    assert lion["totals"] == {"fp_mul": 4, "fp_add": 3, "fp_exp": 0, "fp_sqrt": 0,
                              "fp_div": 0, "fp_compare": 2}
    for c in (s, lion):
        assert c["memory"]["read_bits"] == 96 and c["memory"]["write_bits"] == 64
    # a rule of the same algorithm shares it; a configuration asks for its own
    assert as_written("float_adam") == as_written("adam") == \
        as_written(presets.get("lns12_adam"))
    with pytest.raises(InvalidValue, match="^optimizer must be one of madam, adam, sgd, "
                                           "lion, float_adam, float_adam_fast, mp_adam, "
                                           "float_madam, not 'rmsprop'$"):
        as_written("rmsprop")
