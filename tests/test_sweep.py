"""sim.analysis.sweep: update precision across weight bits against float Madam, table precision, the
`lnsmadam sweep` command."""

import dataclasses
import json

import pytest

from lns import presets
from lns.presets import config_for_bits
from lns.tables import exp2_table, gauss_table, rom_bits
from sim.analysis import sweep
from sim.analysis.sweep import exp2_precision, table_precision, table_sweep, update_sweep
from sim.cli import main


@pytest.mark.parametrize("bits,preset", [(8, "lns8"), (12, "lns12"), (16, "lns16")])
def test_config_for_bits_reproduces_the_preset_weight_formats(bits, preset):
    cfg = config_for_bits(bits)
    assert cfg.weight == presets.get(preset).weight
    assert cfg.weight.total_bits == bits
    assert cfg.grad == presets.get("lns12").grad and cfg.eta_log2 == -7


def test_config_for_bits_rounding_and_moment():
    # eta = 2**-7: below 7 fractional bits a unit |g_hat| is under one LSB -> stochastic
    assert [config_for_bits(b).rounding for b in (8, 11, 12, 16)] == \
        ["stochastic", "stochastic", "nearest_even", "nearest_even"]
    assert [config_for_bits(b).moment.frac_bits for b in (8, 12, 13, 16)] == [10, 10, 11, 12]
    assert config_for_bits(12, moment_frac_bits=6).moment.frac_bits == 6
    assert config_for_bits(12, grad_bits=8).grad.name == "lns8_i5f2_b24"
    assert config_for_bits(4).weight.name == "lns4_i3f0_b6"
    with pytest.raises(ValueError, match="weight bits must be between 4 and 22, not 3"):
        config_for_bits(3)


@pytest.fixture(scope="module")
def rows():
    return {r["weight_bits"]: r for r in update_sweep((8, 12, 16), preset_names=(),
                                                       variants_at=None, steps=150,
                                                       weights=400, seed=1)}


def test_relative_error_falls_with_weight_bits(rows):
    rel = [rows[b]["final_rel_err"] for b in (8, 12, 16)]
    assert rel[0] > 4 * rel[1] > 16 * rel[2] > 0
    assert rows[8]["final_rel_err"] > 0.1 and rows[16]["final_rel_err"] < 0.01


def test_wide_formats_step_like_the_rounded_float_step(rows):
    for b in (12, 16):
        r = rows[b]
        assert r["rounding"] == "nearest_even"
        assert r["step_mismatch_share"] < 0.03              # a few % at most
        assert 0.25 <= r["step_rms_lsb"] <= 0.32            # rounding: 1/sqrt(12)
        assert r["step_max_lsb"] < 0.75
        assert abs(r["step_mean_lsb"]) < 0.01               # no bias per step
        assert r["steps_compared"] > 0.9 * 150 * 400
    # stochastic rounding at 8 bits: eta is 1/16 LSB, the steps are 0 or +-1, and unbiased
    assert rows[8]["rounding"] == "stochastic" and rows[8]["step_max_lsb"] <= 1.0
    assert abs(rows[8]["step_mean_lsb"]) < 0.01


def test_a_coarse_moment_is_measurably_worse():
    base, coarse = (update_sweep((12,), preset_names=(), variants_at=None, steps=300,
                                 weights=400, seed=0)[0],
                    sweep._row(config_for_bits(12, moment_frac_bits=4), "variant", 300, 400, 0))
    assert coarse["step_mismatch_share"] > 2 * base["step_mismatch_share"]
    assert coarse["step_max_lsb"] > base["step_max_lsb"] + 0.2


@pytest.mark.parametrize("kind", ["sb", "db"])
@pytest.mark.parametrize("frac_bits", [4, 7, 10])
def test_table_precision(kind, frac_bits):
    d = table_precision(kind, frac_bits, "direct")
    assert d["correctly_rounded_share"] == 1.0 and d["max_err_ulp"] < 0.5 and d["faithful"]
    assert 0.2 < d["mean_err_ulp"] < 0.3                  # uniform in +-1/2: mean 1/4
    assert d["bits"] == d["direct_bits"] == gauss_table(kind, frac_bits, "direct").bits
    i = table_precision(kind, frac_bits, "interp")
    assert i["faithful"] and 0.5 < i["max_err_ulp"] < 1.0
    assert 0.7 < i["correctly_rounded_share"] < 1.0
    assert i["bits"] == gauss_table(kind, frac_bits, "interp").bits < i["direct_bits"]
    assert i["entries"] == d["entries"] == gauss_table(kind, frac_bits).end - (kind == "db")


def test_table_precision_catches_a_wrong_entry(monkeypatch):
    good = gauss_table("sb", 6, "direct")
    near = good.near.copy()
    near[100] += 1
    bad = dataclasses.replace(good, near=near)
    monkeypatch.setattr(sweep, "gauss_table", lambda kind, f, m="direct": bad)
    r = table_precision("sb", 6, "direct")
    assert r["correctly_rounded_share"] == 1 - 1 / r["entries"]
    assert 0.5 < r["max_err_ulp"] < 1.5


def test_exp2_precision():
    r = exp2_precision(6, 10)
    assert r["correctly_rounded_share"] == 1.0 and r["max_err_ulp"] < 0.5
    assert r["entries"] == 64 and r["bits"] == rom_bits(exp2_table(6, 10)) == 64 * 11


def test_table_sweep_names_the_tables_in_use():
    rows = table_sweep([presets.get("lns12"), presets.get("lns8_sign")])
    used = {(r["table"], r["frac_bits"], r["method"]): r["used_by"] for r in rows}
    assert used[("sb", 10, "interp")] == ["lns12"] and used[("sb", 10, "direct")] == []
    assert ("db", 10, "direct") in used and ("sb", 2, "direct") not in used   # sign: no moment
    assert used[("exp2", 6, "direct")] == ["lns12"] and used[("exp2", 3, "direct")] == ["lns8_sign"]


def test_cli_json(capsys, tmp_path):
    png = tmp_path / "sweep.png"
    rc = main(["sweep", "--weight-bits", "8,12", "--presets", "lns16", "--variants-at", "0",
               "--steps", "20", "--weights", "100", "--json", "--plot", str(png)])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert rc == 0
    assert set(data) == {"base", "steps", "weights", "seed", "weight_bits", "rows", "tables", "plot"}
    assert data["weight_bits"] == [8, 12]
    assert [(r["kind"], r["name"]) for r in data["rows"]] == [("bits", "w8"), ("bits", "w12"),
                                                              ("preset", "lns16")]
    assert {"step_rms_lsb", "step_max_lsb", "step_mean_lsb", "step_mismatch_share",
            "final_rms_lsb", "final_rel_err", "mean_drift_lsb", "eta_lsb"} <= set(data["rows"][0])
    assert {"table", "frac_bits", "method", "bits", "direct_bits", "max_err_ulp", "mean_err_ulp",
            "correctly_rounded_share", "faithful", "used_by"} <= set(data["tables"][0])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_text(capsys):
    rc = main(["sweep", "--weight-bits", "12", "--presets", "", "--variants-at", "0",
               "--steps", "10", "--weights", "50"])
    out = capsys.readouterr().out
    assert rc == 0 and "w12" in out and "lns12_i4f7_b14" in out and "sb      10 interp" in out


@pytest.mark.parametrize("argv,message", [
    (["--weight-bits", "3..8"], "--weight-bits must be between 4 and 22 bits, not '3..8'"),
    (["--weight-bits", "eight"], "--weight-bits must be a width, a range A..B or a list A,B,C, "
                                 "not 'eight'"),
    (["--presets", "lns9"], "preset must be one of tiny, lns8_sign, lns8, lns12, lns16, not 'lns9'"),
    (["--steps", "0"], "--steps and --weights must be positive, not 0 and 2000"),
    (["--variants-at", "30"], "--variants-at must be between 4 and 22 bits (or 0), not 30"),
])
def test_cli_errors(capsys, argv, message):
    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err
    assert err == f"lnsmadam: error: {message}\n"
