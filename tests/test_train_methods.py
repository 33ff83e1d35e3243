"""sim.analysis.training.methods: a training method is a registered LNS rule in a number system
(LNS or float); its key, label, configuration and float reference come from the registry
and the rule contract, for every registered rule."""

import numpy as np
import pytest

from lns import presets, registry
from lns.errors import InvalidValue
from lns.modes import Optimizer
from python_ref import SGD, Lion, Madam
from sim.analysis.training import FLOAT_METHODS, LABELS, LNS_METHODS, METHODS, Method
from sim.analysis.training.methods import lns_rules, moves_zero


def test_every_registered_lns_rule_has_an_lns_and_a_float_method():
    rules = lns_rules()
    assert rules == [r for r in registry.rules() if registry.entry(r).number_system == "lns"]
    assert Optimizer.LION in rules and Optimizer.FLOAT_ADAM not in rules
    assert [m.rule for m in LNS_METHODS] == rules                  # registry order
    assert {m.rule for m in FLOAT_METHODS} == set(rules)
    assert METHODS == FLOAT_METHODS + LNS_METHODS
    for m in LNS_METHODS:
        assert m.label == registry.entry(m.rule).label
        assert type(m.config(8)) is registry.config_class(m.rule)
        assert m.config(8).weight.total_bits == 8
    for m in FLOAT_METHODS:
        assert m.reference is registry.load(m.rule, "reference")


def test_keys_and_labels_are_those_the_rows_have_always_had():
    assert LABELS == {"adam": "Adam", "sgd": "SGD", "lion": "Lion", "madam": "Madam, base 2",
                      "lns": "LNS Madam", "lns_adam": "LNS Adam", "lns_sgd": "LNS SGD",
                      "lns_lion": "LNS Lion"}
    assert [m.key for m in METHODS] == list(LABELS)
    assert Method.parse("lns_madam") == Method.parse("lns") == Method(Optimizer.MADAM, "lns")
    assert Method.parse("lns_lion") == Method("lion", "lns")
    assert Method(Optimizer.LION, "lns").alias == "lns_lion"
    assert Method(Optimizer.MADAM, "lns").alias == "lns_madam" and str(Method("adam", "float")) == "adam"
    assert Method("lion", "float").twin == Method("lion", "lns")
    with pytest.raises(InvalidValue, match="method must be one of adam, sgd, lion, madam, lns"):
        Method.parse("rmsprop")
    with pytest.raises(InvalidValue, match="rule must be one of madam, adam, sgd, lion"):
        Method(Optimizer.FLOAT_ADAM, "lns")
    with pytest.raises(InvalidValue, match="number_system"):
        Method("adam", "ieee")


def test_only_madam_cannot_move_a_zero_weight():
    assert {r: moves_zero(r) for r in lns_rules()} == {
        Optimizer.MADAM: False, Optimizer.ADAM: True, Optimizer.SGD: True, Optimizer.LION: True}


def test_float_references_take_the_hyperparameters_they_name():
    w0 = np.full(4, 0.1)
    lion = Method("lion", "float").float_optimizer(w0, 2.0 ** -12)
    assert isinstance(lion, Lion) and lion.lr == 2.0 ** -12
    assert (lion.beta1, lion.beta2, lion.weight_decay) == (0.9, 0.99, 0.0)  # LNS Lion's betas
    madam = Method("madam", "float").float_optimizer(w0, 2.0 ** -7, p_scale=None)
    assert isinstance(madam, Madam) and madam.eta == 2.0 ** -7 and np.isinf(madam.sigma_star)
    sgd = Method("sgd", "float").float_optimizer(w0, 0.1, momentum=0.0)
    assert isinstance(sgd, SGD) and sgd.momentum == 0.0
    assert Method("sgd", "float").takes_momentum and not Method("lion", "float").takes_momentum
    assert not Method("sgd", "lns").takes_momentum
    # untuned rates: Adam 1e-3, SGD 0.1, Madam and Lion their 12-bit LNS preset's eta
    assert [m.default_lr for m in FLOAT_METHODS] == [1e-3, 0.1, 2.0 ** -11, 2.0 ** -7]
    assert Method("lion", "lns").default_lr == presets.get("lns12_lion").eta
    with pytest.raises(InvalidValue, match="not a float method"):
        Method("lion", "lns").float_optimizer(w0, 1e-3)
