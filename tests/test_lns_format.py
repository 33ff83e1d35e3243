import json

import pytest

import lns
from lns import LNSFormat, MadamConfig, presets


def test_derived_properties():
    f = LNSFormat(4, 3)
    assert f.bias == 8                      # centred like an IEEE bias
    assert f.log_bits == 7 and f.total_bits == 8
    assert f.offset == 64
    assert f.x_min == 1 - 64 and f.x_max == 127 - 64
    assert f.min_value == 2.0 ** (-63 / 8)
    assert f.max_value == 2.0 ** (63 / 8)
    assert f.name == "lns8_i4f3"


def test_name_marks_bias_zero_and_sign():
    assert LNSFormat(4, 7, bias=14).name == "lns12_i4f7_b14"
    assert LNSFormat(4, 2, bias=-3).name == "lns7_i4f2_bm3"
    assert LNSFormat(5, 2, signed=False).name == "ulns7_i5f2"
    assert LNSFormat(3, 2, zero="none", underflow="saturate").name == "lns6_i3f2_nz"
    assert LNSFormat(3, 2, underflow="saturate").name == "lns6_i3f2_us"


def test_no_zero_code_moves_the_floor():
    f = LNSFormat(3, 2, zero="none", underflow="saturate")
    assert f.e_min == 0 and f.x_min == -f.offset


def test_frozen():
    f = LNSFormat(4, 3)
    with pytest.raises(Exception):
        f.frac_bits = 2


@pytest.mark.parametrize("fmt", [LNSFormat(4, 3), LNSFormat(5, 10, bias=30, signed=False),
                                 LNSFormat(3, 2, zero="none", underflow="saturate")])
def test_json_round_trip(fmt):
    assert LNSFormat.from_json(fmt.to_json()) == fmt
    assert json.loads(fmt.to_json())["frac_bits"] == fmt.frac_bits


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(int_bits=4, frac_bits=40), ValueError, "frac_bits must be between 0 and 16, not 40"),
    (dict(int_bits=0, frac_bits=3), ValueError, "int_bits must be between 1 and 12, not 0"),
    (dict(int_bits=4.0, frac_bits=3), TypeError, "int_bits must be an int, not 4.0"),
    (dict(int_bits=12, frac_bits=16), ValueError, "int_bits + frac_bits must be at most 24, not 28"),
    (dict(int_bits=4, frac_bits=3, zero="nan"), ValueError,
     "zero must be one of reserved, none, not 'nan'"),
    (dict(int_bits=4, frac_bits=3, underflow="wrap"), ValueError,
     "underflow must be one of flush, saturate, not 'wrap'"),
    (dict(int_bits=4, frac_bits=3, zero="none"), ValueError,
     "underflow 'flush' needs a zero code, not zero='none'"),
    (dict(int_bits=4, frac_bits=3, bias=10**6), ValueError,
     "bias must be between -4096 and 4096, not 1000000"),
])
def test_format_errors_pinned(kwargs, exc, text):
    with pytest.raises(exc) as info:
        LNSFormat(**kwargs)
    assert str(info.value) == text


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown LNS format field 'bits'"):
        LNSFormat.from_dict({"int_bits": 4, "frac_bits": 3, "bits": 8})


# ---- MadamConfig --------------------------------------------------------------------------
def _cfg(**kw):
    base = dict(weight=LNSFormat(4, 7, bias=14), grad=LNSFormat(5, 5, bias=24),
                moment=LNSFormat(7, 10, bias=100, signed=False))
    base.update(kw)
    return MadamConfig(**base)


@pytest.mark.parametrize("kwargs, text", [
    (dict(weight=LNSFormat(4, 7, signed=False)), "weight format must be signed, not ulns11_i4f7"),
    (dict(moment=LNSFormat(7, 10, bias=100)), "moment format must be unsigned, not lns18_i7f10_b100"),
    (dict(grad=LNSFormat(5, 5, zero="none", underflow="saturate")),
     "grad format must have a zero code, not lns11_i5f5_nz"),
    (dict(moment=LNSFormat(7, 3, bias=100, signed=False)),
     "moment frac_bits must be at least grad frac_bits - 1 = 4, not 3"),
    (dict(beta=1.0), "beta must be strictly between 0.0 and 1.0, not 1.0"),
    (dict(g_bound=-1), "g_bound must be a positive finite number, not -1"),
    (dict(eta_log2=3), "eta_log2 must be between -24 and 0, not 3"),
    (dict(normaliser="adam"), "normaliser must be one of rms, sign, not 'adam'"),
    (dict(rounding="up"), "rounding must be one of nearest_even, stochastic, not 'up'"),
    (dict(table="cordic"), "table must be one of direct, interp, not 'cordic'"),
    (dict(step_frac_bits=20), "step_frac_bits must be between 0 and 12, not 20"),
])
def test_config_errors_pinned(kwargs, text):
    with pytest.raises(ValueError) as info:
        _cfg(**kwargs)
    assert str(info.value) == text


def test_config_from_dict_names_the_role():
    d = _cfg().to_dict()
    d["weight"]["frac_bits"] = 40
    with pytest.raises(ValueError) as info:
        MadamConfig.from_dict(d)
    assert str(info.value) == "weight frac_bits must be between 0 and 16, not 40"


@pytest.mark.parametrize("name", presets.names())
def test_presets_round_trip_and_constants(name):
    cfg = presets.get(name)
    again = MadamConfig.from_json(cfg.to_json())
    assert again == cfg and again.params == cfg.params


def test_preset_widths_cover_8_12_16_bits():
    widths = {presets.get(n).weight.total_bits for n in presets.names()}
    assert {8, 12, 16} <= widths


def test_unknown_preset():
    with pytest.raises(ValueError, match="preset must be one of tiny, .* not 'lns99'"):
        presets.get("lns99")


def test_constants_match_their_definitions():
    import math
    cfg = presets.get("lns16")
    p = cfg.params
    fv = cfg.moment.frac_bits
    assert abs(p.c_beta - math.log2(cfg.beta) * 2 ** fv) <= 0.5
    assert abs(p.c_one_minus_beta - math.log2(1 - cfg.beta) * 2 ** fv) <= 0.5
    assert abs(p.l_bound - math.log2(cfg.g_bound) * 2 ** cfg.step_frac_bits) <= 0.5
    # At t = 1 the bias correction is exactly the (1 - beta) constant: g_hat = +-1 exactly.
    assert cfg.bias_correction_code(1) == p.c_one_minus_beta
    assert cfg.bias_correction_code(10 ** 6) == 0
    with pytest.raises(ValueError, match="t must be an int >= 1, not 0"):
        cfg.bias_correction_code(0)


def test_exp_table_width_follows_its_entries():
    # Usually exp_bits + 1 bits; when the last entry rounds up to 2**(exp_bits + 1) the ROM
    # needs one more (here 2**(7/8) * 2 = 3.67 rounds to 4).
    wide = _cfg(step_frac_bits=3, exp_bits=1)
    assert int(wide.exp_table[-1]) == 4 and wide.exp_table_width == 3
    assert wide.exp_table_bits == 8 * 3
    lns12 = presets.get("lns12")
    assert lns12.exp_table_width == lns12.exp_bits + 1
    assert lns12.exp_table_bits == 64 * 11


def test_modes_are_enums_that_serialise_as_their_strings():
    cfg = _cfg(normaliser="sign", rounding="stochastic", table="interp")
    assert cfg.normaliser is lns.Normaliser.SIGN and cfg.rounding is lns.Rounding.STOCHASTIC
    assert cfg.table is lns.TableMethod.INTERP
    fmt = LNSFormat(3, 2, zero="none", underflow="saturate")
    assert fmt.zero is lns.Zero.NONE and fmt.underflow is lns.Underflow.SATURATE
    d = cfg.to_dict()
    # plain strings at the edge: the same JSON as before the enums
    assert type(d["normaliser"]) is str and d["normaliser"] == "sign"
    assert type(d["weight"]["zero"]) is str
    assert json.loads(cfg.to_json())["rounding"] == "stochastic"
    assert f"{cfg.table}" == "interp" and json.dumps(cfg.table) == '"interp"'
    assert MadamConfig.from_json(cfg.to_json()) == cfg


def test_facts_of_the_config():
    rms, sign = presets.get("lns12"), presets.get("lns8_sign")
    assert rms.has_second_moment and not sign.has_second_moment
    assert not rms.is_stochastic and sign.is_stochastic
    assert rms.sb_table is not None and sign.sb_table is None
    assert rms.update_words == (("w", "g", "v"), ("w", "v"))
    assert sign.update_words == (("w", "g"), ("w",))
    assert rms.update_bits == (12 + 11 + 17, 12 + 17)
    assert sign.update_bits == (8 + 8, 8)


def test_replace_validates_like_the_constructor():
    cfg = _cfg()
    assert cfg.replace(beta=0.9).beta == 0.9 and cfg.replace(name="x").name == "x"
    with pytest.raises(ValueError, match="beta must be strictly between 0.0 and 1.0, not 1.5"):
        cfg.replace(beta=1.5)
