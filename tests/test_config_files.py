"""Config files and the lns API's own errors (issue 21): format names wherever a format
table is accepted, a preset's ``lnsmadam presets --json`` entry loads as ``--config``, an
unknown field names the valid ones, the parser is chosen by suffix (TOML and JSON), and the
public functions of `lns` meet big-endian, read-only and empty arrays with their own
behaviour or error, never numpy's or Numba's."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

import lns
from lns import presets
from lns.errors import InputError, InvalidValue
from lns.format import LNSFormat
from lns.ieee.format import FLOAT_FORMATS, FloatFormat
from lns.optimizers import config_from_dict
from sim.cli import main
from sim.cli.commands import load_config

NAME_PATTERN = "[u]lns<bits>_i<int_bits>f<frac_bits>[_b<bias>|_bm<-bias>][_nz][_us]"


@pytest.fixture
def cfgdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _load(preset, path):
    return load_config(argparse.Namespace(preset=preset, config=str(path)))


def _cli_error(capsys, cfgdir, preset, name, text) -> str:
    """``lnsmadam verilog`` on the config file ``name`` holding ``text``: exit 2, one line,
    nothing written; returns the message."""
    (cfgdir / name).write_text(text)
    code = main(["verilog", "--preset", preset, "--config", name, "--out", "o"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and not (cfgdir / "o").exists()
    assert err.count("\n") == 1 and err.startswith("lnsmadam: error: "), err
    return err[len("lnsmadam: error: "):-1]


# ---- format names ----------------------------------------------------------------------------
def test_lns_format_names_as_printed_everywhere_load(cfgdir):
    (cfgdir / "c.toml").write_text('weight = "lns12_i4f7_b14"\nmoment = "ulns17_i7f10_b100"\n'
                                   'grad = "lns11_i5f5_b24"\n')
    cfg = _load("lns12", "c.toml")
    assert cfg == presets.get("lns12") and cfg.name == "lns12_c"
    (cfgdir / "c.json").write_text(json.dumps({"weight": "lns16_i5f10_b30"}))
    assert _load("lns12_adam", "c.json").weight == presets.get("lns16").weight


@pytest.mark.parametrize("name", ["lns12_i4f7_b14", "ulns17_i7f10_b100", "lns8_i4f3",
                                  "lns6_i3f2_nz", "lns8_i4f3_bm2_us", "lns5_i3f1"])
def test_every_name_reads_back_as_its_format(name):
    fmt = LNSFormat.from_name(name)
    assert fmt.name == name and LNSFormat.from_dict(name) == fmt


@pytest.mark.parametrize("value, text", [
    ('"lns12"', f"weight format must be a name like lns12_i4f7_b14 ({NAME_PATTERN}), "
                "not 'lns12'"),
    ('"lns13_i4f7_b14"', "weight format lns13_i4f7_b14 must be 12 bits wide (1 sign + 4 "
                         "integer + 7 fractional), not 13"),
    ("{ width = 8 }", "weight unknown LNS format field 'width' (the fields are int_bits, "
                      "frac_bits, bias, signed, zero, underflow; or a name, "
                      "format = \"lns12_i4f7_b14\")"),
    ("3", "weight an LNS format must be a table of int_bits, frac_bits, bias, signed, zero, "
          "underflow or a name like lns12_i4f7_b14, not int"),
])
def test_a_bad_format_name_is_one_line(capsys, cfgdir, value, text):
    assert _cli_error(capsys, cfgdir, "lns12", "c.toml",
                      f"weight = {value}\n") == f"config c.toml: {text}"


def test_ieee_format_names(cfgdir):
    (cfgdir / "c.toml").write_text('format = "fp16"\neps = 1e-7\n')
    assert _load("fp32_adam", "c.toml").fmt == FLOAT_FORMATS["fp16"]
    (cfgdir / "c.toml").write_text('format = "e5m6"\neps = 1e-5\nbeta2 = 0.9\n')
    assert _load("fp32_adam", "c.toml").fmt == FloatFormat(5, 6)


def test_a_bad_ieee_format_is_one_line(capsys, cfgdir):
    assert _cli_error(capsys, cfgdir, "fp32_adam", "c.toml", 'format = "fp8"\n') == (
        "config c.toml: format must be one of fp32, bf16, fp16, a name like e5m10 "
        "(e<exp_bits>m<frac_bits>) or a table with exp_bits and frac_bits, not 'fp8'")


# ---- a preset's JSON entry loads as --config -----------------------------------------------
@pytest.mark.parametrize("name", presets.names())
def test_each_presets_json_entry_loads_as_config(capsys, cfgdir, name):
    assert main(["presets", "--json"]) == 0
    row = {r["name"]: r for r in json.loads(capsys.readouterr().out)}[name]
    (cfgdir / "p.json").write_text(json.dumps(row))
    cfg = _load(name, "p.json")
    assert cfg == presets.get(name) and cfg.name == name
    assert config_from_dict(row) == presets.get(name)                 # and through the API


def test_an_edited_derived_field_is_not_ignored(capsys, cfgdir):
    row = presets.get("lns12").describe()
    row["eta"] = 0.01
    assert _cli_error(capsys, cfgdir, "lns12", "p.json", json.dumps(row)) == (
        "config p.json: eta must be 0.0078125 (it follows from the other fields; set those "
        "instead), not 0.01")
    row = presets.get("lns12").describe()
    row["weight"]["frac_bits"] = 8
    assert _cli_error(capsys, cfgdir, "lns12", "p.json", json.dumps(row)) == (
        "config p.json: weight frac_bits must be 7 for the format lns12_i4f7_b14, not 8")


def test_another_rules_entry_names_the_presets_it_fits(capsys, cfgdir):
    row = presets.get("lns12_adam").describe()
    assert _cli_error(capsys, cfgdir, "lns12", "p.json", json.dumps(row)) == (
        "config p.json is for optimizer 'adam', but --preset lns12 is for 'madam': pass "
        "--preset with one of lns8_adam, lns12_adam, lns16_adam")


def test_the_whole_listing_is_refused_with_a_hint(capsys, cfgdir):
    rows = [presets.get(n).describe() for n in presets.names()]
    assert _cli_error(capsys, cfgdir, "lns12", "all.json", json.dumps(rows)) == (
        f"config all.json must hold one configuration, not a list of {len(rows)} (from "
        "lnsmadam presets --json? keep one entry)")


@pytest.mark.parametrize("preset, text", [
    ("lns12", "config c.toml: unknown config field 'foo' (the fields of MadamConfig are "
              "weight, grad, moment, eta_log2, beta, g_bound, p_scale, normaliser, rounding, "
              "table, step_frac_bits, exp_bits, name, allow_degenerate)"),
    ("lns12_sgd", "config c.toml: unknown config field 'foo' (the fields of SGDConfig are "
                  "weight, grad, momentum, eta_log2, mu, rounding, table, guard_bits, name, "
                  "allow_degenerate)"),
    ("bf16_adam", "config c.toml: unknown float Adam config field(s): foo (the fields of "
                  "FloatAdamConfig are name, format, lr, beta1, beta2, eps, "
                  "allow_degenerate)"),
])
def test_an_unknown_field_lists_the_valid_ones(capsys, cfgdir, preset, text):
    assert _cli_error(capsys, cfgdir, preset, "c.toml", "foo = 1\n") == text


# ---- the parser by suffix ------------------------------------------------------------------
@pytest.mark.parametrize("name, why", [("c.yaml", "not .yaml"), ("c", "not a name without one"),
                                       ("c.txt", "not .txt")])
def test_only_toml_and_json_files_are_read(capsys, cfgdir, name, why):
    text = _cli_error(capsys, cfgdir, "lns12", name, 'weight = "lns12_i4f7_b14"\n')
    assert text == (f"config {name} must be named .toml or .json (lnsmadam reads TOML and "
                    f"JSON config files, by suffix), {why}")


def test_the_suffix_picks_the_parser(capsys, cfgdir):
    assert _cli_error(capsys, cfgdir, "lns12", "c.toml", '{"beta": 0.99}') == (
        "config c.toml is not valid TOML: Invalid statement (at line 1, column 1)")
    assert _cli_error(capsys, cfgdir, "lns12", "c.json", "beta = 0.99\n") == (
        "config c.json is not valid JSON: Expecting value: line 1 column 1 (char 0)")
    (cfgdir / "C.TOML").write_text("beta = 0.99\n")
    assert _load("lns12", "C.TOML").beta == 0.99


# ---- the lns API: big-endian, read-only and empty arrays ------------------------------------
def _words(cfg):
    words = cfg.initial_words(np.array([0.1, 0.2, -0.3, 0.05]))
    words["g"] = cfg.encode_words("g", np.array([0.01, -0.02, 0.0, 0.3]))
    return words


def _same_update(cfg, words, given):
    want = cfg.update(words, 1, lfsr_state=cfg.lane_state(2, 1))
    for evaluator in cfg.EVALUATORS:
        got = cfg.update(given, 1, lfsr_state=cfg.lane_state(2, 1), evaluator=evaluator)
        assert {k: v.tolist() for k, v in got.items()} == \
            {k: v.tolist() for k, v in want.items()}, evaluator


@pytest.mark.parametrize("name", presets.names())
def test_every_rules_update_takes_big_endian_words(name):
    cfg = presets.get(name)
    words = _words(cfg)
    _same_update(cfg, words, {k: v.astype(">i8") for k, v in words.items()})


@pytest.mark.parametrize("name", presets.names())
def test_every_rules_update_only_reads_read_only_words(name):
    # (slow on a cold Numba cache: read-only arrays are a kernel signature of their own)
    cfg = presets.get(name)
    words = _words(cfg)
    frozen = {k: v.copy() for k, v in words.items()}
    for v in frozen.values():
        v.setflags(write=False)
    _same_update(cfg, words, frozen)


def test_madam_update_big_endian_on_the_fast_path():
    cfg = presets.get("lns12")
    w = _words(cfg)
    want = lns.madam_update(cfg, w["w"], w["g"], w["v"], 1)
    for dt in (">i8", ">i4", ">u2"):
        got = lns.madam_update(cfg, *(w[k].astype(dt) for k in "wgv"), 1)
        assert [a.tolist() for a in got] == [a.tolist() for a in want], dt


def test_out_arrays_the_update_cannot_write_are_refused():
    cfg = presets.get("lns12")
    w = _words(cfg)
    frozen = np.zeros(4, np.int64)
    frozen.setflags(write=False)
    for out in ((frozen, np.zeros(4, np.int64)), (np.zeros(4, ">i8"), np.zeros(4, np.int64))):
        with pytest.raises(InvalidValue) as info:
            lns.madam_update(cfg, w["w"], w["g"], w["v"], 1, out=out)
        assert str(info.value) == ("out_w must be a writeable C-contiguous array in the "
                                   "machine's byte order")


@pytest.mark.parametrize("name", ["lns8", "lns12_adam", "lns8_lion"])
def test_a_read_only_lfsr_state_is_refused(name):
    cfg = presets.get(name)
    state = cfg.lane_state(2, 1)
    state.setflags(write=False)
    with pytest.raises(InvalidValue) as info:
        cfg.update(_words(cfg), 1, lfsr_state=state)
    assert str(info.value) == ("lfsr_state must be a writeable array (it is advanced in "
                               "place), not a read-only one")


def test_float_words_are_refused_by_the_ieee_update():
    cfg = presets.get("fp32_adam")
    words = {k: v.astype(np.float64) for k, v in _words(cfg).items()}
    with pytest.raises(InputError) as info:
        cfg.update(words, 1)
    assert str(info.value) == "w must be an int word or an integer array, not ndarray of float64"


def test_empty_input_gives_empty_output():
    fmt = presets.get("lns12").weight
    for got in (lns.decode(fmt, []), lns.encode(fmt, []), lns.mul(fmt, [], []),
                lns.add(fmt, [], []), lns.sqrt(fmt, [])):
        assert got.shape == (0,)
    assert lns.decode(fmt, []).dtype == np.float64
    for name in presets.names():
        cfg = presets.get(name)
        out = cfg.update({k: [] for k in cfg.WORD_ROLES}, 1, lfsr_state=cfg.lane_state(1))
        assert all(v.shape == (0,) for v in out.values()), name


def test_codec_takes_big_endian_arrays():
    fmt = presets.get("lns12").weight
    x = np.array([0.5, -0.25, 3.0])
    codes = lns.encode(fmt, x)
    assert lns.encode(fmt, x.astype(">f8")).tolist() == codes.tolist()
    assert lns.decode(fmt, codes.astype(">i8")).tolist() == lns.decode(fmt, codes).tolist()
