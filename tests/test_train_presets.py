"""`lns.presets.additive_config_for_bits`: LNS Adam / SGD configurations for any weight width,
built by the rules LNS Madam's `config_for_bits` uses, reproducing the hand-written presets."""

import pytest

from lns import AdamConfig, InvalidType, InvalidValue, Rounding, SGDConfig
from lns import presets
from lns.presets import (additive_config_for_bits, adam_config_for_bits,
                         config_for_bits, sgd_config_for_bits)


@pytest.mark.parametrize("name,bits", [("lns8_adam", 8), ("lns12_adam", 12),
                                       ("lns16_adam", 16), ("lns12_sgd", 12)])
def test_reproduces_each_preset_at_its_width(name, bits):
    # dataclass equality compares every format, eta, rounding, table and guard (not the name)
    assert additive_config_for_bits(bits, name) == presets.get(name)
    assert config_for_bits(bits, name) == presets.get(name)     # the same via dispatch


@pytest.mark.parametrize("bits", [6, 8, 10, 12, 16])
def test_weight_and_gradient_are_madams_at_every_width(bits):
    madam = config_for_bits(bits, "lns12")
    for cfg in (adam_config_for_bits(bits), sgd_config_for_bits(bits)):
        assert cfg.weight == madam.weight and cfg.grad == madam.grad
    assert isinstance(adam_config_for_bits(bits), AdamConfig)
    assert isinstance(sgd_config_for_bits(bits), SGDConfig)


def test_weight_formats_of_other_widths_match_the_presets_of_that_width():
    # lns12_adam as the base, the weight word of 8 / 16 bits is lns8_adam's / lns16_adam's
    assert adam_config_for_bits(8).weight == presets.get("lns8_adam").weight
    assert adam_config_for_bits(16).weight == presets.get("lns16_adam").weight


def test_rounding_rule_is_the_eta_shift_threshold():
    # Adam eta 2**-10: eta_log2 + Fw = -8, -7, -5, -3, 0 at widths 6..16
    assert [adam_config_for_bits(b).rounding for b in (6, 8, 10, 12, 16)] == \
        [Rounding.STOCHASTIC] * 4 + [Rounding.NEAREST_EVEN]
    # SGD eta 2**-3: -1 at 6 bits (Fw = 2), >= 0 from 8 bits
    assert [sgd_config_for_bits(b).rounding for b in (6, 8, 16)] == \
        [Rounding.STOCHASTIC, Rounding.NEAREST_EVEN, Rounding.NEAREST_EVEN]
    assert adam_config_for_bits(12, eta_log2=-7).rounding is Rounding.NEAREST_EVEN
    assert adam_config_for_bits(12, rounding="nearest_even").rounding is Rounding.NEAREST_EVEN


def test_grad_bits_moves_the_moments_with_the_gradient():
    a = adam_config_for_bits(12, grad_bits=8)
    assert a.grad.name == config_for_bits(12, grad_bits=8).grad.name == "lns8_i5f2_b24"
    assert (a.first_moment.frac_bits, a.first_moment.bias) == (4, 24)     # Fg + 2, same bias
    s = sgd_config_for_bits(12, grad_bits=8)
    assert (s.momentum.frac_bits, s.momentum.bias) == (4, 20)             # 4 octaves higher
    assert adam_config_for_bits(10, eta_log2=-6).eta_log2 == -6


def test_bad_input_is_one_clear_error():
    with pytest.raises(InvalidValue, match="base must be one of"):
        additive_config_for_bits(12, "lns12")
    with pytest.raises(InvalidType):
        additive_config_for_bits(12, 3)
    with pytest.raises(InvalidValue, match="weight bits"):
        adam_config_for_bits(3)
    with pytest.raises(InvalidType):
        adam_config_for_bits(12.0)
    with pytest.raises(InvalidValue, match="grad bits"):
        sgd_config_for_bits(12, grad_bits=30)
    with pytest.raises(InvalidValue, match="moment_frac_bits"):
        config_for_bits(12, "lns12_adam", moment_frac_bits=8)
