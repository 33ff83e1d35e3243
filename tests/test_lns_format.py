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
    # a listing row's derived "bits" is accepted when it agrees (tests/test_config_files.py)
    with pytest.raises(ValueError) as info:
        LNSFormat.from_dict({"int_bits": 4, "frac_bits": 3, "width": 8})
    assert str(info.value) == ("unknown LNS format field 'width' (the fields are int_bits, "
                               "frac_bits, bias, signed, zero, underflow; or a name, "
                               "format = \"lns12_i4f7_b14\")")
    with pytest.raises(ValueError) as info:
        LNSFormat.from_dict({"int_bits": 4, "frac_bits": 3, "bits": 9})
    assert str(info.value) == "bits must be 8 for the format lns8_i4f3, not 9"


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


@pytest.mark.parametrize("name", presets.names("madam"))
def test_presets_round_trip_and_constants(name):
    cfg = presets.get(name)
    again = MadamConfig.from_json(cfg.to_json())
    assert again == cfg and again.params == cfg.params


def test_preset_widths_cover_8_12_16_bits():
    widths = {presets.get(n).weight.total_bits for n in presets.names("madam")}
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


# ---- bad input (issue 12): every format a float64 holds, every config a buildable datapath --
def test_format_values_must_be_float64():
    with pytest.raises(ValueError) as info:
        LNSFormat(12, 12, bias=-4096)
    assert str(info.value) == (
        "bias must keep every non-zero magnitude within float64's range, 2**-1074 up to "
        "below 2**1024, not -4096 (magnitudes 2**4096 .. 2**8192)")
    with pytest.raises(ValueError, match=r"not 4096 \(magnitudes 2\*\*-4096 \.\. "):
        LNSFormat(12, 12, bias=4096)
    with pytest.raises(ValueError, match="not 2048"):
        LNSFormat(12, 3)                           # the centred bias reaches 2**2048
    # the limits are exact: 2**-1074 (the smallest subnormal) and below 2**1024
    low = LNSFormat(11, 0, bias=1075)
    assert low.x_min == -1074 and low.min_value == 5e-324
    assert lns.decode(low, low.e_min) == 5e-324 and lns.encode(low, 5e-324) == low.e_min
    with pytest.raises(ValueError, match="not 1076"):
        LNSFormat(11, 0, bias=1076)
    high = LNSFormat(11, 2, bias=1024)
    assert high.x_max == 1024 * 4 - 1 and high.max_value == 2.0 ** 1023.75
    assert lns.decode(high, high.e_max) == 2.0 ** 1023.75
    with pytest.raises(ValueError, match="not 1023"):
        LNSFormat(11, 2, bias=1023)


def test_validation_errors_are_input_errors():
    from lns.errors import InputError
    for call in (lambda: LNSFormat(4, 40), lambda: LNSFormat(4.0, 3),
                 lambda: LNSFormat(4, 3, zero="nan"), lambda: _cfg(beta=2.0),
                 lambda: _cfg(name=42), lambda: presets.get("nope"),
                 lambda: LNSFormat.from_dict({"int_bits": 4}),
                 lambda: MadamConfig.from_dict([])):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert isinstance(info.value, InputError), repr(info.value)
    with pytest.raises(ValueError) as info:
        LNSFormat.from_dict({"int_bits": 4})
    assert str(info.value) == "an LNS format needs frac_bits"


def test_config_name_must_be_a_string():
    with pytest.raises(TypeError) as info:
        _cfg(name=42)
    assert str(info.value) == "name must be a string, not 42"


def test_beta_limit_is_where_the_bias_correction_rounds_to_zero():
    import math
    limit = -math.expm1(-math.log(2) * 2.0 ** -11)           # moment frac_bits 10
    ok = _cfg(beta=limit * (1 + 1e-9))
    assert ok.bias_correction_code(1) == -1
    with pytest.raises(ValueError) as info:
        _cfg(beta=limit * (1 - 1e-9))
    assert str(info.value).startswith("beta must be above 0.0003384 for a moment of 10 "
                                      "fractional bits (below, log2(1 - beta) rounds to 0 and "
                                      "the bias correction x_bc has no bits), not 0.000338")


def test_g_bound_limits_are_the_step_range():
    with pytest.raises(ValueError) as info:
        _cfg(g_bound=1e-9)
    assert str(info.value) == (
        "g_bound must be above 3.705e-09 for eta 2**-7 and a weight of 7 fractional bits "
        "(the largest step, eta * g_bound, must be at least 2**-28 weight LSBs, the smallest "
        "the step's shifter holds), not 1e-09")
    with pytest.raises(ValueError) as info:
        _cfg(g_bound=1e14)
    assert str(info.value) == (
        "g_bound must be below 6.999e+13 for eta 2**-7 and a weight of 7 fractional bits "
        "(the largest step, eta * g_bound, must be below 2**46 weight LSBs, the model's "
        "64-bit step), not 100000000000000.0")
    # the limits are exact, on either side of l_bound's rounding (a step this small rounds
    # to 0 with nearest-even rounding, a degenerate config: opted in to reach the limit)
    lo = 2.0 ** (-28 - 2.0 ** -7)
    assert _cfg(g_bound=lo * (1 + 1e-12), allow_degenerate=True).params.l_bound == -28 * 64
    with pytest.raises(ValueError):
        _cfg(g_bound=lo * (1 - 1e-12))
    hi = 2.0 ** (46 - 2.0 ** -7)
    assert _cfg(g_bound=hi * (1 - 1e-12)).params.l_bound == 46 * 64 - 1
    with pytest.raises(ValueError):
        _cfg(g_bound=hi * (1 + 1e-12))


def test_sign_normaliser_eta_limit():
    sign = dict(weight=LNSFormat(4, 0, bias=10), normaliser="sign", exp_bits=1,
                allow_degenerate=True)         # 2**-20 LSB rounds to 0 (nearest-even)
    assert _cfg(eta_log2=-20, **sign).params.eta_shift == -20
    with pytest.raises(ValueError) as info:
        _cfg(eta_log2=-21, **sign)
    assert str(info.value) == (
        "eta_log2 must be at least -20 for a weight of 0 fractional bits with normaliser "
        "'sign' (the step, eta, must be at least 2**-20 weight LSBs, the smallest the step's "
        "shifter holds), not -21")
