"""Named configurations: one table for every rule's presets (`PRESETS`, `get`, `names`),
and the families built from them (`for_bits`: one rule at one weight width).

Window choices (``bias``): a weight's magnitude lives below its clip sigma* (about 3 x the
Xavier scale, well under 1), so weight formats reach a little above 1 and far below;
gradients reach above 1; second moments (about g**2) span twice the gradient's log range.
The rms presets with wide second moments hold ``sb`` by interpolation: the direct ROM at
``Fv = 10..12`` is 0.2-0.7 Mbit.

Families of configurations built from a preset live here too: `config_for_bits` (one
weight width, the rest from a base preset) and `variant_configs` (the datapath choices
around it), used by the precision sweep and the training emulation.
"""

from __future__ import annotations

import numpy as np

from .rules.additive import AdditiveConfigMixin
from .rules.adam import AdamConfig
from .rules.madam import MadamConfig
from .errors import InvalidType, InvalidValue
from .format import LNSFormat
from .rules.ieee_adam import FloatAdamConfig
from .rules.ieee_adam_fast import FP12, FP12_EPS, FloatAdamFastConfig
from .rules.ieee_mp_adam import MixedAdamConfig
from .rules.ieee_madam import FloatMadamConfig
from .ieee.format import FLOAT_FORMATS
from .rules.lion import LionConfig
from .modes import Normaliser, Optimizer, Rounding, TableMethod, parse
from .registry import config_class
from .rule import Rule
from .rules.sgd import SGDConfig

__all__ = ["PRESETS", "get", "names", "for_bits", "DEFAULT", "config_for_bits",
           "variant_configs", "describe_config", "additive_config_for_bits",
           "adam_config_for_bits", "sgd_config_for_bits", "WEIGHT_BITS_MAX"]

DEFAULT = "lns12"


def _cfg(name, weight, grad, moment, **kw):
    return MadamConfig(weight=weight, grad=grad, moment=moment, name=name, **kw)


PRESETS: dict[str, Rule] = {
    # Small enough to enumerate every (w, g, v): 64 x 32 x 64 = 131,072 inputs a step.  Its
    # moment's 2 fractional bits hold beta = 0.999 as 1.0 (the moment never decays): kept for
    # the exhaustive checks of the datapath, which it exercises all the same; opts in.
    "tiny": _cfg("tiny",
                 LNSFormat(3, 2, bias=6), LNSFormat(3, 1, bias=4),
                 LNSFormat(4, 2, bias=12, signed=False),
                 eta_log2=-2, step_frac_bits=3, exp_bits=5, allow_degenerate=True),
    # 8-bit weights with the bounded sign update and stochastic rounding: no second moment.
    "lns8_sign": _cfg("lns8_sign",
                      LNSFormat(4, 3, bias=14), LNSFormat(4, 3, bias=12),
                      LNSFormat(5, 2, bias=24, signed=False),
                      eta_log2=-5, normaliser=Normaliser.SIGN, rounding=Rounding.STOCHASTIC,
                      step_frac_bits=3, exp_bits=8),
    # 8-bit weights, published rms normaliser, stochastic rounding of the step.
    "lns8": _cfg("lns8",
                 LNSFormat(4, 3, bias=14), LNSFormat(5, 3, bias=24),
                 LNSFormat(7, 10, bias=100, signed=False),
                 eta_log2=-5, rounding=Rounding.STOCHASTIC, table=TableMethod.INTERP,
                 step_frac_bits=4, exp_bits=8),
    # 12-bit weights: eta = 2**-7 with 7 fractional bits is LNS-Madam's one LSB per |g_hat|.
    "lns12": _cfg("lns12",
                  LNSFormat(4, 7, bias=14), LNSFormat(5, 5, bias=24),
                  LNSFormat(7, 10, bias=100, signed=False),
                  eta_log2=-7, table=TableMethod.INTERP, step_frac_bits=6, exp_bits=10),
    # 16-bit weights: eta = 2**-7 is 8 LSBs per |g_hat|.
    "lns16": _cfg("lns16",
                  LNSFormat(5, 10, bias=30), LNSFormat(6, 8, bias=40),
                  LNSFormat(8, 12, bias=200, signed=False),
                  eta_log2=-7, table=TableMethod.INTERP, step_frac_bits=8, exp_bits=12),
}


# ---- families: one weight width, and the variants around it --------------------------
def _int_bits_for(bits: int) -> int:
    # Octaves of weight range: 8 below 4 for 6-7 bit words, 16 up to 13 bits, 32 above; the
    # presets' choices (tiny i3, lns8/lns12 i4, lns16 i5).
    return 3 if bits <= 7 else 4 if bits <= 13 else 5


#: The widest weight of the families at their own integer bits (5 above 13 bits): an
#: `lns.LNSFormat` holds at most 16 fractional bits, so 1 + 5 + 16 = 22.
WEIGHT_BITS_MAX = 22


def _weight_format(bits, int_bits=None) -> LNSFormat:
    """The ``bits``-bit weight format of every family (see `config_for_bits`)."""
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool):
        raise InvalidType(f"bits must be an int, not {bits!r}")
    bits = int(bits)
    ib = _int_bits_for(bits) if int_bits is None else int(int_bits)
    if int_bits is None and not 4 <= bits <= WEIGHT_BITS_MAX:
        raise InvalidValue(f"weight bits must be between 4 and {WEIGHT_BITS_MAX}, not {bits}")
    if not 4 <= bits <= 25 or not 0 <= bits - 1 - ib <= 16:
        raise InvalidValue(f"a {bits}-bit weight with {ib} integer bits has {bits - 1 - ib} "
                           f"fractional bits: weight bits must be between 4 and 25 and the "
                           f"fractional bits between 0 and 16")
    return LNSFormat(ib, bits - 1 - ib, bias=(1 << ib) - 2)


def _grad_format(base_grad: LNSFormat, grad_bits=None) -> LNSFormat:
    """``base_grad``, or the ``grad_bits``-bit ``i5`` gradient with bias 24 (2**-24..2**8)."""
    if grad_bits is None:
        return base_grad
    if not isinstance(grad_bits, (int, np.integer)) or isinstance(grad_bits, bool):
        raise InvalidType(f"grad bits must be an int, not {grad_bits!r}")
    if not 7 <= grad_bits <= 22:
        raise InvalidValue(f"grad bits must be between 7 and 22, not {grad_bits}")
    return LNSFormat(5, int(grad_bits) - 6, bias=24)


def config_for_bits(bits: int, base: str | MadamConfig = "lns12", *, eta_log2: int | None = None,
                    rounding: str | None = None, grad_bits: int | None = None,
                    moment_frac_bits: int | None = None, table: str | None = None,
                    int_bits: int | None = None) -> MadamConfig:
    """A `MadamConfig` with a ``bits``-bit weight word, the rest from ``base``.

    Weight format: one sign bit, ``int_bits`` (3 for 6-7 bits, 4 up to 13, 5 above: 8, 16 or
    32 octaves) and ``frac_bits = bits - 1 - int_bits``; ``bias = 2**int_bits - 2``, so the
    largest magnitude is 4 (above any clip sigma*) and the window reaches 2**-(bias) below.
    This reproduces the weight formats of the presets lns8, lns12 and lns16.

    eta: ``base``'s (LNS-Madam's 2**-7) unless given, the same at every width, so the float
    reference is the same optimizer at every width.  One unit of ``|g_hat|`` is then
    ``eta_lsb = 2**(eta_log2 + frac_bits)`` weight LSBs; where that is below 1, nearest
    rounding would drop most steps (a systematic error), so the step is rounded
    stochastically (unbiased) unless ``rounding`` says otherwise.

    Step datapath: ``step_frac_bits = clip(eta_log2 + frac_bits + 6, 6, 12)`` bits of
    ``log2|g_hat|`` keep the largest step (``eta_lsb * g_bound``) within about 0.05 LSB and
    the expected stochastic step within 1 %; the ``2**frac`` table has 4 bits more.

    Second moment: ``base``'s, with ``max(Fv, min(10 + eta_log2 + frac_bits, 12))``
    fractional bits unless ``moment_frac_bits`` is given.  A step of ``eta_lsb |g_hat|``
    LSBs needs ``log2|g_hat|`` (so ``log2 v``) the more precise the more LSBs one unit is:
    with lns12's moment (Fv = 10) a 16-bit weight (8 LSBs a unit) is off the rounded float
    step in about a fifth of the steps, with Fv = 12 in about 1 %.

    A ``moment_frac_bits`` the caller fixes may hold ``beta`` as 1.0 (lns12's 0.999 needs 9
    bits): such a configuration studies the moment's precision, so it opts in
    (``allow_degenerate``; its `caveats` say that the moment never decays).

    grad_bits: a ``grad_bits``-bit gradient word ``i5`` with bias 24 (2**-24..2**8) instead
    of ``base``'s.  table: the ``sb`` method.

    Another rule's ``base`` (a preset name or configuration) gives that rule's
    configuration at ``bits`` (``base.at_width``: `additive_config_for_bits` for LNS Adam,
    SGD and Lion).
    """
    if isinstance(base, str):
        base = get(base)
    if not isinstance(base, Rule):
        raise InvalidType(f"base must be a preset name or a MadamConfig, not {type(base).__name__}")
    kw = dict(eta_log2=eta_log2, rounding=rounding, grad_bits=grad_bits, table=table,
              int_bits=int_bits)
    if moment_frac_bits is not None:
        kw["moment_frac_bits"] = moment_frac_bits
    return base.at_width(bits, **kw)


def madam_at_width(base: MadamConfig, bits: int, *, eta_log2: int | None = None,
                   rounding: str | None = None, grad_bits: int | None = None,
                   moment_frac_bits: int | None = None, table: str | None = None,
                   int_bits: int | None = None) -> MadamConfig:
    """`config_for_bits` of a Madam ``base`` (`MadamConfig.at_width`)."""
    weight = _weight_format(bits, int_bits)
    bits, fw = int(bits), weight.frac_bits
    grad = _grad_format(base.grad, grad_bits)
    eta = base.eta_log2 if eta_log2 is None else int(eta_log2)
    eta_shift = eta + fw
    moment = base.moment
    fv = moment_frac_bits
    if fv is None:
        fv = max(moment.frac_bits, min(10 + eta_shift, 12))
    fv = max(fv, grad.frac_bits - 1)            # the update needs g**2 on the moment grid
    if fv != moment.frac_bits:
        moment = LNSFormat(moment.int_bits, fv, bias=moment.bias, signed=False)
    if rounding is None:
        rounding = base.rounding if eta_shift >= 0 else Rounding.STOCHASTIC
    fs = min(max(eta_shift + 6, 6), 12)
    name = f"w{bits}"
    if grad_bits is not None:
        name += f"_g{grad_bits}"
    if moment_frac_bits is not None:
        name += f"_vf{moment_frac_bits}"
    allow = base.allow_degenerate or moment_frac_bits is not None   # a study of the moment
    return base.replace(weight=weight, grad=grad, moment=moment, eta_log2=eta,
                        rounding=rounding, table=table or base.table, step_frac_bits=fs,
                        exp_bits=fs + 4, name=name, allow_degenerate=allow)


def variant_configs(bits: int = 12, base: str | MadamConfig = "lns12") -> list[MadamConfig]:
    """The datapath choices that matter at one weight width: the ``sb`` table held direct or
    interpolated, the second moment's fractional bits, the gradient's width, and the
    rounding of the step.

    Some of them are degenerate on purpose (`lns.degenerate`): a coarse moment holds beta
    as 1.0 (`config_for_bits` opts those in), and nearest-even rounding at a narrow weight
    rounds every step to 0 (below 7 bits with lns12's eta); each opts in, and its `caveats`
    say what it holds."""
    if isinstance(base, str):
        base = get(base)
    ref = config_for_bits(bits, base)
    out = []
    other = TableMethod.DIRECT if ref.table is TableMethod.INTERP else TableMethod.INTERP
    out.append(config_for_bits(bits, base, table=other).replace(name=f"w{bits}_{other}"))
    for fv in (4, 6, 8, 12):
        if fv != ref.moment.frac_bits:
            out.append(config_for_bits(bits, base, moment_frac_bits=fv))
    for gb in (8, 9, 14):
        out.append(config_for_bits(bits, base, grad_bits=gb))
    rnd = Rounding.STOCHASTIC if ref.rounding is Rounding.NEAREST_EVEN else Rounding.NEAREST_EVEN
    study = base.replace(allow_degenerate=True)        # the rounding compared, degenerate or not
    out.append(config_for_bits(bits, study, rounding=rnd).replace(name=f"w{bits}_{rnd}"))
    return out


def describe_config(cfg: MadamConfig) -> dict:
    """The fields of a configuration a precision row needs (JSON)."""
    return {"name": cfg.name, "weight_bits": cfg.weight.total_bits, "weight": cfg.weight.name,
            "weight_frac_bits": cfg.weight.frac_bits, "grad": cfg.grad.name,
            "moment": cfg.moment.name, "table": cfg.table, "rounding": cfg.rounding,
            "normaliser": cfg.normaliser, "eta_log2": cfg.eta_log2,
            "eta_lsb": 2.0 ** (cfg.eta_log2 + cfg.weight.frac_bits),
            "step_frac_bits": cfg.step_frac_bits, "exp_bits": cfg.exp_bits}


# ---- the additive rules (Adam, SGD with momentum) ------------------------------------------
# Weight formats are the Madam presets' of the same width; gradients too.  The first
# moment (signed, zero) keeps two more fractional bits than the gradient (g lands on its grid
# exactly, and m' = beta1 m + (1 - beta1) g is summed a little finer than g is stored); the
# second moment is Madam's.  eta = 2**-10 (Adam's 1e-3), beta1 0.9, beta2 0.999, eps 1e-8 as
# a floor of sqrt(v_hat); SGD eta = 2**-3 (the seed's 0.1), mu 0.9, its momentum window four
# octaves higher (m ~ g / (1 - mu)).  guard_bits put the step's log and the weight adder at
# Fa = 7, 11, 13 bits; every table is interpolated (faithful), as the Madam presets' sb.
# Rounding: an additive step near convergence is a fraction of a weight LSB, which nearest
# rounding drops (swamping); on a noisy quadratic (2000 weights, 2000 steps) lns12_adam with
# nearest-even stalls at rms(w - target) 0.014 where float Adam reaches 0.0030, and with
# stochastic rounding reaches 0.0029; lns16_adam reaches 0.0030 either way, so it keeps
# nearest-even (no LFSR).
PRESETS.update({
    "lns8_adam": AdamConfig(
        weight=LNSFormat(4, 3, bias=14), grad=LNSFormat(5, 3, bias=24),
        first_moment=LNSFormat(5, 5, bias=24), second_moment=LNSFormat(7, 10, bias=100,
                                                                       signed=False),
        eta_log2=-10, rounding=Rounding.STOCHASTIC, table=TableMethod.INTERP, guard_bits=4,
        name="lns8_adam"),
    "lns12_adam": AdamConfig(
        weight=LNSFormat(4, 7, bias=14), grad=LNSFormat(5, 5, bias=24),
        first_moment=LNSFormat(5, 7, bias=24), second_moment=LNSFormat(7, 10, bias=100,
                                                                       signed=False),
        eta_log2=-10, rounding=Rounding.STOCHASTIC, table=TableMethod.INTERP, guard_bits=4,
        name="lns12_adam"),
    "lns16_adam": AdamConfig(
        weight=LNSFormat(5, 10, bias=30), grad=LNSFormat(6, 8, bias=40),
        first_moment=LNSFormat(6, 10, bias=40), second_moment=LNSFormat(8, 12, bias=200,
                                                                        signed=False),
        eta_log2=-10, table=TableMethod.INTERP, guard_bits=3, name="lns16_adam"),
    "lns12_sgd": SGDConfig(
        weight=LNSFormat(4, 7, bias=14), grad=LNSFormat(5, 5, bias=24),
        momentum=LNSFormat(5, 7, bias=20), eta_log2=-3, mu=0.9, table=TableMethod.INTERP,
        guard_bits=4, name="lns12_sgd"),
})

# ---- LNS Lion (`lns.rules.lion`) -------------------------------------------------------------------
# Weight and gradient formats: the 12- and 8-bit additive presets' (lns12_sgd / lns8_adam;
# there is no lns8_sgd).  Lion's m is an EMA of g (m ~ g), not SGD's sum (m ~ g / (1 - mu)),
# so the momentum window sits where the gradient's does (bias 24, as Adam's first moment),
# with 7 fractional bits in both: log2(0.99) = -0.0145 rounds to the code 0 below Fm = 6 (m
# would never decay), to -2 (beta2 = 0.98923) at Fm = 7.  eta: a weight of magnitude |w|
# moves by eta 2**Fw / (|w| ln 2) weight LSBs.
#   lns12_lion, nearest even: eta = 2**-11 (half LNS Adam's 2**-10) moves |w| <= 0.18 by at
#     least half an LSB (so nearest rounding keeps it); typical weights sit there.
#   lns8_lion, stochastic: eta = 2**-12 (a quarter of Adam's, Lion-sized) is 0.023 LSB at
#     |w| = 1/8; stochastic rounding keeps it on average, resolved to 2**-guard LSB: guard 6
#     (Fa = 9) keeps the step's log above half an Fa LSB up to |w| ~ 0.35.
PRESETS.update({
    "lns12_lion": LionConfig(
        weight=LNSFormat(4, 7, bias=14), grad=LNSFormat(5, 5, bias=24),
        momentum=LNSFormat(5, 7, bias=24), eta_log2=-11, rounding=Rounding.NEAREST_EVEN,
        table=TableMethod.INTERP, guard_bits=4, name="lns12_lion"),
    "lns8_lion": LionConfig(
        weight=LNSFormat(4, 3, bias=14), grad=LNSFormat(5, 3, bias=24),
        momentum=LNSFormat(5, 7, bias=24), eta_log2=-12, rounding=Rounding.STOCHASTIC,
        table=TableMethod.INTERP, guard_bits=6, name="lns8_lion"),
})

# ---- the IEEE float Adam units (`lns.rules.ieee_adam`) ---------------------------------------------
# bf16 holds beta2 = 0.999 as 1.0 (its second moment never decays): the unit as a bf16 Adam
# is built, and compared, with that caveat (`Rule.caveats`), so the preset opts in.
PRESETS.update({
    "fp32_adam": FloatAdamConfig(FLOAT_FORMATS["fp32"], name="fp32_adam"),
    "bf16_adam": FloatAdamConfig(FLOAT_FORMATS["bf16"], name="bf16_adam",
                                 allow_degenerate=True),
})
# The efficient IEEE Adam (`lns.rules.ieee_adam_fast`; ``_ftz``: subnormals flushed to zero,
# `lns.ieee.ftz`), mixed-precision Adam
# (`lns.rules.ieee_mp_adam`) and the 12-bit float of the matched-width comparison.
PRESETS.update({
    "fp32_adam_fast": FloatAdamFastConfig(FLOAT_FORMATS["fp32"], name="fp32_adam_fast"),
    # the same with subnormals flushed to zero, as FPGA vendors' float cores offer it
    "fp32_adam_fast_ftz": FloatAdamFastConfig(FLOAT_FORMATS["fp32"], ftz=True,
                                              name="fp32_adam_fast_ftz"),
    "mp_adam": MixedAdamConfig(FLOAT_FORMATS["fp32"], low=FLOAT_FORMATS["bf16"],
                               name="mp_adam"),
    "fp12_adam": FloatAdamFastConfig(FP12, eps=FP12_EPS, name="fp12_adam"),
})
# Float Madam, base 2 (`lns.rules.ieee_madam`): FP32 and the 12-bit float (FP12 as above).
PRESETS.update({
    "fp32_madam": FloatMadamConfig(FLOAT_FORMATS["fp32"], name="fp32_madam"),
    "fp12_madam": FloatMadamConfig(FP12, name="fp12_madam"),
})


def names(rule=None) -> list[str]:
    """Every preset's name, or those of one ``rule`` (a `lns.modes.Optimizer` or its
    string)."""
    if rule is None:
        return list(PRESETS)
    rule = parse(Optimizer, "rule", rule)
    return [n for n, cfg in PRESETS.items() if cfg.optimizer is rule]


def get(name: str) -> Rule:
    """The preset called ``name`` (any rule); ValueError naming the choices otherwise."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise InvalidValue(f"preset must be one of {', '.join(PRESETS)}, not {name!r}") from None


def for_bits(rule, bits: int, *, base=None, **overrides) -> Rule:
    """``rule``'s configuration with a ``bits``-bit weight word, the rest from ``base`` (a
    preset name or configuration of that rule; default the rule's `FAMILY_BASE` preset):
    ``base.at_width(bits, **overrides)`` (Madam: `config_for_bits`; the additive rules:
    `additive_config_for_bits`; IEEE: the format of that width)."""
    cls = config_class(rule)
    if base is None:
        base = cls.FAMILY_BASE
    if isinstance(base, str):
        base = get(base)
    if not isinstance(base, cls):
        raise InvalidValue(f"base must be a {parse(Optimizer, 'rule', rule)} preset or "
                           f"configuration, not {getattr(base, 'name', base)!r}")
    return base.at_width(bits, **overrides)




# ---- families of the additive rules: one weight width, the rest from an Adam / SGD preset --
def additive_config_for_bits(bits: int, base="lns12_adam", *, eta_log2: int | None = None,
                             rounding: str | None = None, grad_bits: int | None = None,
                             table: str | None = None, guard_bits: int | None = None,
                             int_bits: int | None = None):
    """An `AdamConfig` or `SGDConfig` (the kind of ``base``) with a ``bits``-bit weight word.

    ``base``: the name of an additive rule's preset or such a configuration.  Each format
    follows the rule `config_for_bits` applies to LNS Madam at the same width, so an LNS
    Adam, SGD and Madam row of the same width differ only in the update rule:

    weight
        Madam's at ``bits`` (the same ``int_bits``, ``frac_bits`` and bias).
    grad
        ``base``'s (``config_for_bits`` keeps its base's too), or with ``grad_bits`` the
        ``grad_bits``-bit ``i5`` word with bias 24 Madam's rows use.
    first moment (Adam's ``first_moment``, SGD's ``momentum``)
        ``base``'s while the gradient is ``base``'s; otherwise the gradient's format moved
        as ``base``'s moment sits against ``base``'s gradient (the presets: two fractional
        bits more, the same bias for Adam, four octaves higher for SGD's ``m ~ g/(1-mu)``).
    second moment (Adam)
        ``base``'s, with at least ``grad.frac_bits - 1`` fractional bits (``g**2`` on its grid).
    eta
        ``base``'s (Adam 2**-10, SGD 2**-3) unless ``eta_log2`` is given.
    guard_bits, table
        ``base``'s unless given.

    Rounding, unless ``rounding`` is given: nearest-even where ``eta_log2 + Fw >= 0``,
    stochastic below (the threshold `config_for_bits` uses for Madam).  A full-size step
    (``|m_hat / sqrt(v_hat)|`` about 1 for Adam) moves a weight of magnitude ``|w| <= 1``
    by ``eta`` or more, at least ``2**(eta_log2 + Fw) / ln 2`` LSBs of its log; where that
    reaches one LSB, nearest rounding keeps the step; below it, nearest rounding drops
    most steps (swamping, a systematic stall) and the unbiased stochastic rounding is
    chosen.  This picks the presets' choices: lns8_adam (-10 + 3) and lns12_adam (-10 + 7)
    stochastic, lns16_adam (-10 + 10) and lns12_sgd (-3 + 7) nearest-even; each preset is
    reproduced by ``additive_config_for_bits(its width, its name)``.
    """
    additive = [n for n, c in PRESETS.items() if isinstance(c, AdditiveConfigMixin)]
    if isinstance(base, str):
        if base not in additive:
            raise InvalidValue(f"base must be one of {', '.join(additive)}, not {base!r}")
        base = PRESETS[base]
    if not isinstance(base, AdditiveConfigMixin):
        raise InvalidType(f"base must be an additive rule's preset name or config, not "
                          f"{type(base).__name__}")
    weight = _weight_format(bits, int_bits)
    m_role = base.MOMENT_ROLE
    grad = _grad_format(base.grad, grad_bits)
    m = getattr(base, m_role)
    if grad != base.grad:
        g0 = base.grad
        m = LNSFormat(grad.int_bits + m.int_bits - g0.int_bits,
                      grad.frac_bits + m.frac_bits - g0.frac_bits,
                      bias=grad.bias + m.bias - g0.bias)
    changes = {"weight": weight, "grad": grad, m_role: _holding_decays(base, m_role, m)}
    changes.update(base.second_moment_at(grad))
    eta = base.eta_log2 if eta_log2 is None else int(eta_log2)
    if rounding is None:
        rounding = Rounding.NEAREST_EVEN if eta + weight.frac_bits >= base.NEAREST_FROM \
            else Rounding.STOCHASTIC
    kind = str(base.optimizer)
    name = f"w{int(bits)}_{kind}" + (f"_g{grad_bits}" if grad_bits is not None else "")
    return base.replace(**changes, eta_log2=eta, rounding=rounding, table=table or base.table,
                        guard_bits=base.guard_bits if guard_bits is None else int(guard_bits),
                        name=name)


def _holding_decays(base, role: str, fmt: LNSFormat) -> LNSFormat:
    """``fmt`` (the ``role`` format of a family member), with the fractional bits its decays
    need so none is held as 1.0 (`lns.degenerate`: LNS Lion's beta2 = 0.99 needs 6, which a
    narrow gradient's momentum would not have); the same window (int bits and bias)."""
    from .degenerate import decay_frac_bits
    need = [decay_frac_bits(getattr(base, name), fmt.frac_bits)
            for name, (r, _) in base.DECAYS.items() if r == role]
    frac = max([fmt.frac_bits] + [f for f in need if f is not None])
    if frac == fmt.frac_bits:
        return fmt
    return LNSFormat(fmt.int_bits, frac, bias=fmt.bias, signed=fmt.signed, zero=fmt.zero,
                     underflow=fmt.underflow)


def adam_config_for_bits(bits: int, base="lns12_adam", **kw):
    """`additive_config_for_bits` for LNS Adam (default base ``lns12_adam``)."""
    return additive_config_for_bits(bits, base, **kw)


def sgd_config_for_bits(bits: int, base="lns12_sgd", **kw):
    """`additive_config_for_bits` for LNS SGD with momentum (default base ``lns12_sgd``)."""
    return additive_config_for_bits(bits, base, **kw)


