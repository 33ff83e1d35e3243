"""Degenerate configs refused (issue 21): a hyperparameter whose rounded constant, the value
the hardware really holds, breaks the rule (a decay held as 1.0, an IEEE eps held as 0, a
step that always rounds to 0) is an input error naming the value it became and the smallest
format that holds it, unless the config opts in with ``allow_degenerate``; then
`Rule.caveats` says what the unit holds, and ``lnsmadam presets`` shows it."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from lns import presets
from lns.errors import InputError, InvalidType, InvalidValue
from lns.format import LNSFormat
from lns.ieee.format import FLOAT_FORMATS
from lns.optimizers import config_from_dict
from lns.rules.ieee_adam import FloatAdamConfig
from sim.cli import main
from sim.cli.commands import load_config

OPT_IN = ", or set allow_degenerate = true to build it anyway"


def _error(make) -> str:
    with pytest.raises(InvalidValue) as info:
        make()
    assert isinstance(info.value, InputError)
    return str(info.value)


def _one_error(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("lnsmadam: error: "), err
    return err[len("lnsmadam: error: "):-1]


# ---- the reported cases ---------------------------------------------------------------------
MADAM_BETA = ("beta must be below 2**-2**-11 (0.999661) for a moment of 10 fractional bits "
              "(above, log2(beta) rounds to 0: it is held as 1.0 and the second moment never "
              "decays (v' = v + (1 - beta) g**2)), not 0.9999; a moment of 12 fractional bits "
              "holds it" + OPT_IN)
MADAM_BETA_CAVEAT = ("beta 0.9999 rounds to 1.0 in a moment of 10 fractional bits: the second "
                     "moment never decays (v' = v + (1 - beta) g**2)")
ADAM_BETA2 = ("beta2 must be below 2**-2**-11 (0.999661) for a second moment of 10 fractional "
              "bits (above, log2(beta2) rounds to 0: it is held as 1.0 and the second moment "
              "never decays), not 0.9999; a second moment of 12 fractional bits holds it"
              + OPT_IN)
FP16_EPS = ("eps must be held by fp16 as more than 0, not 1e-08 (it rounds to 0: where v' = 0, "
            "sqrt(v_hat) + eps is 0 and the update divides by zero (NaN or an infinite step)); "
            "bf16 is the smallest format that holds it" + OPT_IN)
FP16_EPS_CAVEAT = ("eps 1e-08 rounds to 0 in fp16: where v' = 0, sqrt(v_hat) + eps is 0 and "
                   "the update divides by zero (NaN or an infinite step)")
BF16_BETA2 = ("beta2 must be held by bf16 as less than 1.0, not 0.999 (it rounds to 1.0: the "
              "second moment never decays); fp16 is the smallest format that holds it" + OPT_IN)


def test_madam_beta_that_rounds_to_one_is_refused():
    lns12 = presets.get("lns12")
    assert _error(lambda: lns12.replace(beta=0.9999)) == MADAM_BETA
    # the format the message names holds it: log2(0.9999) 2**12 = -0.59 rounds to -1
    wide = lns12.replace(beta=0.9999, moment=LNSFormat(5, 12, bias=100, signed=False))
    assert wide.params.c_beta == -1 and wide.caveats() == ()


def test_lns_adam_beta2_that_rounds_to_one_is_refused():
    assert _error(lambda: presets.get("lns12_adam").replace(beta2=0.9999)) == ADAM_BETA2


def test_fp16_adam_whose_eps_rounds_to_zero_is_refused():
    assert _error(lambda: FloatAdamConfig(FLOAT_FORMATS["fp16"])) == FP16_EPS
    assert FloatAdamConfig(FLOAT_FORMATS["fp16"], eps=1e-7).caveats() == ()


def test_what_the_fp16_caveat_says_happens():
    """Opted in, the unit is built and does what its caveat says: a zero gradient at t = 1
    turns w = 1.0 into NaN (0 / (sqrt(0) + 0))."""
    cfg = FloatAdamConfig(FLOAT_FORMATS["fp16"], allow_degenerate=True)
    assert cfg.caveats() == (FP16_EPS_CAVEAT,)
    words = cfg.initial_words(np.array([1.0]))
    out = cfg.update(words, 1)
    assert out["w"][0] == FLOAT_FORMATS["fp16"].canonical_nan


def test_bf16_adam_preset_opts_in_and_says_so():
    bf16 = presets.get("bf16_adam")
    assert bf16.allow_degenerate is True
    assert bf16.caveats() == ("beta2 0.999 rounds to 1.0 in bf16: the second moment never "
                              "decays",)
    assert _error(lambda: FloatAdamConfig(FLOAT_FORMATS["bf16"])) == BF16_BETA2


def test_every_other_preset_holds_its_constants():
    """Only bf16_adam and tiny (a 2-bit moment, for exhaustive checks) opt in."""
    caveats = {n: presets.get(n).caveats() for n in presets.names()}
    assert {n for n, c in caveats.items() if c} == {"bf16_adam", "tiny"}
    assert caveats["tiny"] == ("beta 0.999 rounds to 1.0 in a moment of 2 fractional bits: "
                               "the second moment never decays (v' = v + (1 - beta) g**2)",)
    assert all(presets.get(n).allow_degenerate == bool(caveats[n]) for n in caveats)


# ---- every rule's cases ----------------------------------------------------------------------
@pytest.mark.parametrize("preset, change, error, caveat", [
    ("lns12_sgd", {"mu": 0.999},
     "mu must be below 2**-2**-8 (0.99729) for a momentum of 7 fractional bits (above, "
     "log2(mu) rounds to 0: it is held as 1.0 and the momentum never decays (m' = m + g)), "
     "not 0.999; a momentum of 9 fractional bits holds it",
     "mu 0.999 rounds to 1.0 in a momentum of 7 fractional bits: the momentum never decays "
     "(m' = m + g)"),
    ("lns12_lion", {"beta2": 0.999},
     "beta2 must be below 2**-2**-8 (0.99729) for a momentum of 7 fractional bits (above, "
     "log2(beta2) rounds to 0: it is held as 1.0 and the momentum never decays "
     "(m' = m + (1 - beta2) g)), not 0.999; a momentum of 9 fractional bits holds it",
     "beta2 0.999 rounds to 1.0 in a momentum of 7 fractional bits: the momentum never "
     "decays (m' = m + (1 - beta2) g)"),
    ("lns12_lion", {"beta1": 0.999},
     "beta1 must be below 2**-2**-8 (0.99729) for a momentum of 7 fractional bits (above, "
     "log2(beta1) rounds to 0: it is held as 1.0 and the update direction takes the momentum "
     "at full weight (c = m + (1 - beta1) g)), not 0.999; a momentum of 9 fractional bits "
     "holds it",
     "beta1 0.999 rounds to 1.0 in a momentum of 7 fractional bits: the update direction "
     "takes the momentum at full weight (c = m + (1 - beta1) g)"),
    ("lns12_adam", {"beta1": 0.999},
     "beta1 must be below 2**-2**-8 (0.99729) for a first moment of 7 fractional bits (above, "
     "log2(beta1) rounds to 0: it is held as 1.0 and the first moment never decays), not "
     "0.999; a first moment of 9 fractional bits holds it",
     "beta1 0.999 rounds to 1.0 in a first moment of 7 fractional bits: the first moment "
     "never decays"),
    ("lns12_adam", {"beta2": 1 - 1e-9},
     "beta2 must be below 2**-2**-11 (0.999661) for a second moment of 10 fractional bits "
     "(above, log2(beta2) rounds to 0: it is held as 1.0 and the second moment never "
     "decays), not 0.999999999; no LNS second moment holds it (it needs more than 16 "
     "fractional bits)",
     "beta2 0.999999999 rounds to 1.0 in a second moment of 10 fractional bits: the second "
     "moment never decays"),
    ("lns12", {"eta_log2": -12},
     "eta_log2 must be at least -11 for nearest-even rounding and a weight of 7 fractional "
     "bits (below, every step rounds to 0 weight LSBs: the largest, eta * g_bound, is 0.314 "
     "LSBs, and the update never moves a weight), not -12; a weight of 8 fractional bits "
     "holds it (or rounding = \"stochastic\", which keeps it on average)",
     "eta_log2 -12 rounds every step to 0 weight LSBs with nearest-even rounding (the "
     "largest, eta * g_bound, is 0.314 LSBs of a weight of 7 fractional bits): the update "
     "never moves a weight"),
    ("fp32_adam", {"lr": 1e-50},
     "lr must be held by fp32 as more than 0, not 1e-50 (it rounds to 0: every step is 0 and "
     "the update never moves a weight); none of bf16, fp16, fp32 holds it",
     "lr 1e-50 rounds to 0 in fp32: every step is 0 and the update never moves a weight"),
    ("fp32_adam", {"lr": 1e39},
     "lr must be held by fp32 as a finite value, not 1e+39 (it rounds to inf: every step is "
     "infinite); none of bf16, fp16, fp32 holds it",
     "lr 1e+39 rounds to inf in fp32: every step is infinite"),
    ("bf16_adam", {"beta1": 1e-45, "allow_degenerate": False},
     "beta1 must be held by bf16 as more than 0, not 1e-45 (it rounds to 0: the first moment "
     "keeps no history (m' = (1 - beta1) g)); fp32 is the smallest format that holds it",
     "beta1 1e-45 rounds to 0 in bf16: the first moment keeps no history (m' = (1 - beta1) g)"),
    ("fp32_adam", {"beta1": 1 - 2.0 ** -30},
     "beta1 must be held by fp32 as less than 1.0, not 0.9999999990686774 (it rounds to 1.0: "
     "the first moment never decays); none of bf16, fp16, fp32 holds it",
     "beta1 0.9999999990686774 rounds to 1.0 in fp32: the first moment never decays"),
])
def test_degenerate_constant_of_each_rule(preset, change, error, caveat):
    base = presets.get(preset)
    assert _error(lambda: base.replace(**change)) == error + OPT_IN
    allowed = base.replace(**{**change, "allow_degenerate": True})
    assert allowed.caveats()[0] == caveat


def test_a_step_that_rounds_to_zero_is_fine_when_rounded_stochastically():
    cfg = presets.get("lns12").replace(eta_log2=-12, rounding="stochastic")
    assert cfg.caveats() == ()
    # and with nearest-even rounding, eta 2**-11 is the smallest that moves a weight
    assert presets.get("lns12").replace(eta_log2=-11).caveats() == ()


def test_the_sign_normaliser_never_reads_beta():
    sign = presets.get("lns8_sign")                     # a 2-bit moment: 0.999 would be 1.0
    assert sign.moment.frac_bits == 2 and sign.caveats() == ()


def test_allow_degenerate_must_be_a_bool():
    with pytest.raises(InvalidType) as info:
        presets.get("lns12").replace(allow_degenerate="yes")
    assert str(info.value) == "allow_degenerate must be true or false, not 'yes'"


def test_the_bias_correction_limit_comes_first_as_before():
    """A beta too small for its bias correction's port is a hard limit, not opt-in."""
    with pytest.raises(InvalidValue, match=r"^beta2 must be above 0\.0003384 for a moment"):
        presets.get("lns12_adam").replace(beta2=1e-7, allow_degenerate=True)


# ---- the opt-in round-trips ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny", "bf16_adam"])
def test_opt_in_round_trips_through_json(name):
    cfg = presets.get(name)
    for data in (cfg.to_dict(), cfg.describe()):
        data = json.loads(json.dumps(data, allow_nan=False))
        assert data["allow_degenerate"] is True
        back = config_from_dict(data)
        assert back == cfg and back.allow_degenerate and back.caveats() == cfg.caveats()
    without = {k: v for k, v in cfg.to_dict().items() if k != "allow_degenerate"}
    with pytest.raises(InvalidValue, match="set allow_degenerate = true"):
        config_from_dict(without)


def test_opt_in_does_not_change_equality_or_words():
    """allow_degenerate is not part of the arithmetic: equal configs, the same words."""
    a = presets.get("lns12")
    b = a.replace(allow_degenerate=True)
    assert a == b and a.params == b.params


def test_an_infinite_constant_is_strict_json():
    cfg = presets.get("fp32_adam").replace(lr=1e39, allow_degenerate=True)
    text = json.dumps(cfg.to_dict(), allow_nan=False)
    assert json.loads(text)["constants"]["lr"] == {"word": "0x7f800000", "value": "inf"}


# ---- the families keep their study rows ----------------------------------------------------
def test_coarse_moment_variants_opt_in_with_their_caveat():
    variants = {c.name: c for c in presets.variant_configs(12)}
    assert variants["w12_vf4"].caveats() == (
        "beta 0.999 rounds to 1.0 in a moment of 4 fractional bits: the second moment never "
        "decays (v' = v + (1 - beta) g**2)",)
    assert variants["w12_vf12"].caveats() == ()
    six = {c.name: c for c in presets.variant_configs(6)}["w6_nearest_even"]
    assert six.caveats()[0].startswith("eta_log2 -7 rounds every step to 0 weight LSBs")


def test_lion_family_keeps_the_momentum_bits_its_beta2_needs():
    """A narrow gradient's momentum would hold beta2 = 0.99 as 1.0 below 6 fractional bits:
    the family widens it (same window)."""
    cfg = presets.for_bits("lion", 12, grad_bits=8)
    assert cfg.grad.frac_bits == 2 and cfg.momentum.frac_bits == 6
    assert cfg.momentum.bias == 24 and cfg.caveats() == ()
    assert cfg.params.c_beta2 == -1
    wide = presets.for_bits("lion", 12, grad_bits=12)      # already enough: unchanged
    assert wide.momentum.frac_bits == 8


# ---- the command line --------------------------------------------------------------------
@pytest.fixture
def cfgdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("preset, toml, text", [
    ("lns12", "beta = 0.9999", MADAM_BETA),
    ("lns12_adam", "beta2 = 0.9999", ADAM_BETA2),
    ("fp32_adam", 'format = "fp16"', FP16_EPS),
    ("bf16_adam", "lr = 1e-50",
     "lr must be held by bf16 as more than 0, not 1e-50 (it rounds to 0: every step is 0 and "
     "the update never moves a weight); none of bf16, fp16, fp32 holds it" + OPT_IN),
])
def test_cli_refuses_a_degenerate_config_before_any_work(capsys, cfgdir, preset, toml, text):
    (cfgdir / "c.toml").write_text(toml + "\n")
    code = main(["verilog", "--preset", preset, "--config", "c.toml", "--out", "o"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert _one_error(err) == f"config c.toml: {text}"
    assert not (cfgdir / "o").exists()


def _load(preset, path):
    return load_config(argparse.Namespace(preset=preset, config=str(path)))


def test_cli_config_opts_in(cfgdir):
    (cfgdir / "c.toml").write_text("beta = 0.9999\nallow_degenerate = true\n")
    cfg = _load("lns12", "c.toml")
    assert cfg.beta == 0.9999 and cfg.params.c_beta == 0
    assert cfg.caveats() == (MADAM_BETA_CAVEAT,)
    assert cfg.to_dict()["allow_degenerate"] is True      # what the sidecar records


def test_a_presets_opt_in_covers_its_own_degenerate_fields_only(cfgdir):
    (cfgdir / "fast.toml").write_text("lr = 0.01\n")      # bf16's beta2 = 1.0 as before
    assert _load("bf16_adam", "fast.toml").caveats() == presets.get("bf16_adam").caveats()
    (cfgdir / "b.toml").write_text("beta2 = 0.9995\n")   # beta2 still 1.0: still covered
    assert _load("bf16_adam", "b.toml").caveats() == (
        "beta2 0.9995 rounds to 1.0 in bf16: the second moment never decays",)
    (cfgdir / "mine.toml").write_text("lr = 1e-50\nallow_degenerate = true\n")
    assert len(_load("bf16_adam", "mine.toml").caveats()) == 2
    (cfgdir / "off.toml").write_text("allow_degenerate = false\n")
    with pytest.raises(InputError, match="^config off.toml: beta2 must be held by bf16 as "):
        _load("bf16_adam", "off.toml")


def test_presets_command_shows_the_caveats(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    tail = out.split("\n\n", 1)[1].splitlines()
    assert tail == [
        "caveats (constants the hardware holds degenerate; the preset sets allow_degenerate):",
        "  tiny: beta 0.999 rounds to 1.0 in a moment of 2 fractional bits: the second moment "
        "never decays (v' = v + (1 - beta) g**2)",
        "  bf16_adam: beta2 0.999 rounds to 1.0 in bf16: the second moment never decays"]
    assert main(["presets", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["bf16_adam"]["caveats"] == list(presets.get("bf16_adam").caveats())
    assert rows["bf16_adam"]["allow_degenerate"] is True
    assert rows["lns12"]["caveats"] == [] and rows["lns12"]["allow_degenerate"] is False


def test_the_sidecar_records_the_opt_in_and_loads_back(capsys, tmp_path):
    """A design's sidecar carries ``allow_degenerate`` in its config, so a consumer of the
    files (`rtl.design.Design.load`) rebuilds the unit that was built."""
    from rtl.design import Design
    assert main(["verilog", "--preset", "tiny", "--out", str(tmp_path), "--json"]) == 0
    sidecar = json.loads(capsys.readouterr().out)["sidecar"]
    meta = json.loads(open(sidecar).read())
    assert meta["config"]["allow_degenerate"] is True
    # and says what the unit really holds: tiny's 2-bit moment holds beta = 0.999 as 1.0
    assert meta["caveats"] == ["beta 0.999 rounds to 1.0 in a moment of 2 fractional bits: "
                               "the second moment never decays (v' = v + (1 - beta) g**2)"]
    cfg = Design.load(sidecar).cfg
    assert cfg == presets.get("tiny") and cfg.caveats() == presets.get("tiny").caveats()
