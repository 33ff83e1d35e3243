"""Flush to zero (`lns.ieee.ftz`, issue 18 item 1): the definition on chosen words, the exact
and numpy evaluations against each other and against an oracle written from the definition
alone (seeded fp32 samples, the edge table and the 2**emin boundary; every operand pair of
e3m2), the rule's field (`FloatAdamFastConfig.ftz`, JSON, the degenerate check), the
operators with ``daz``/``ftz`` in Amaranth's simulator against the model, the unit
``fp32_adam_fast_ftz`` on Icarus (and a flipped constant caught), and the Verilog of a
configuration without the mode unchanged by it."""

from __future__ import annotations

import json
import re
from fractions import Fraction

import numpy as np
import pytest

from lns import presets
from lns.errors import InvalidType, InvalidValue
from lns.ieee import FLOAT_FORMATS, FloatFormat, exact, ftz
from lns.ieee.convert import convert_exact
from lns.ieee.vectors import edge_pairs, edge_words
from lns.rules.ieee_adam_fast import FP12, FP12_EPS, FloatAdamFastConfig

FP32, BF16 = FLOAT_FORMATS["fp32"], FLOAT_FORMATS["bf16"]
E3M2 = FloatFormat(3, 2)
BINARY = ("add", "sub", "mul", "div")
ONE = 0x3F800000
MIN_NORMAL = 0x00800000                       # fp32 2**-126
NEG = FP32.sign_mask


def _op(op, *words, fmt=FP32, impl="exact"):
    return ftz.apply(op, (fmt,) * len(words), fmt, *words, impl=impl)


def _w(x: float) -> int:
    """An fp32 word from a float (exact for the values used here)."""
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


# ---- an oracle written from the definition alone ----------------------------------------
_IEEE = {"add": exact.add, "sub": exact.sub, "mul": exact.mul, "div": exact.div,
         "sqrt": exact.sqrt}


def _oracle(op, in_fmts, out_fmt, *words):
    """DAZ by the exponent field, the IEEE result of the DAZ'd operands, and a flush where
    the exact rational result is not 0 and below 2**emin (a square root compared squared)."""
    dazed = []
    for f, w in zip(in_fmts, words):
        s, e, _ = f.fields(int(w))
        dazed.append(s << (f.total_bits - 1) if e == 0 else int(w))
    r = (convert_exact(in_fmts[0], out_fmt, dazed[0]) if op == "convert"
         else _IEEE[op](out_fmt, *dazed))
    classes = [exact.decode(f, w)[0] for f, w in zip(in_fmts, dazed)]
    if any(c in ("inf", "nan") for c in classes):
        return r
    x = [exact.to_fraction(f, w) for f, w in zip(in_fmts, dazed)]
    if op == "sqrt":
        v = x[0] if x[0] > 0 else Fraction(0)
        tiny = 0 < v < Fraction(2) ** (2 * out_fmt.emin)
    else:
        if op == "div" and x[1] == 0:
            return r
        v = {"add": lambda: x[0] + x[1], "sub": lambda: x[0] - x[1],
             "mul": lambda: x[0] * x[1], "div": lambda: x[0] / x[1],
             "convert": lambda: x[0]}[op]()
        tiny = v != 0 and abs(v) < Fraction(2) ** out_fmt.emin
    return r & out_fmt.sign_mask if tiny else r


# ---- the definition on chosen words -------------------------------------------------------
def test_a_subnormal_operand_reads_as_the_zero_of_its_sign():
    sub = 0x00400000                                        # 2**-127
    big = _w(2.0 ** 100)
    assert exact.mul(FP32, sub, big) == _w(2.0 ** -27)      # IEEE: a normal product
    assert _op("mul", sub, big) == 0                        # FTZ: 0 * 2**100
    assert _op("mul", sub | NEG, big) == NEG                # -0
    assert _op("add", sub, ONE) == ONE
    assert _op("add", sub | NEG, 0x00000001 | NEG) == NEG   # -0 + -0 = -0
    assert _op("sub", sub, 0x00000001) == 0                 # 0 - 0 = +0
    assert _op("div", ONE, sub) == FP32.pos_inf             # x / 0
    assert _op("div", ONE, sub | NEG) == FP32.neg_inf
    assert _op("div", sub, sub) == FP32.canonical_nan       # 0 / 0
    assert _op("mul", sub, FP32.pos_inf) == FP32.canonical_nan   # 0 * inf
    assert _op("sqrt", sub | NEG) == NEG                    # sqrt(-0) = -0, not NaN
    assert _op("sqrt", sub) == 0
    # a bf16 subnormal widened to fp32 is a zero (IEEE keeps it: fp32 holds it)
    assert ftz.apply("convert", (BF16,), FP32, 0x8001) == NEG
    assert convert_exact(BF16, FP32, 0x8001) != NEG


def test_a_tiny_exact_result_flushes_with_its_sign():
    a, b = _w(1.5 * 2.0 ** -126), _w(1.25 * 2.0 ** -126)
    assert exact.sub(FP32, a, b) == 0x00200000              # IEEE: a subnormal 2**-128
    assert _op("sub", a, b) == 0
    assert _op("sub", b, a) == NEG
    assert _op("mul", _w(-2.0 ** -100), _w(2.0 ** -30)) == NEG
    assert _op("div", MIN_NORMAL, _w(4.0)) == 0
    assert _op("div", MIN_NORMAL | NEG, _w(4.0)) == NEG
    fp64 = FloatFormat(11, 52, "fp64")
    x = int(np.array([-(2.0 ** -130)]).view(np.uint64)[0])
    assert convert_exact(fp64, FP32, x) == NEG | 0x00080000  # IEEE: an fp32 subnormal
    assert ftz.apply("convert", (fp64,), FP32, x) == NEG


def test_a_result_that_rounds_up_to_2_emin_from_below_is_flushed():
    pred_one = 0x3F7FFFFF                                   # 1 - 2**-24
    # (1 - 2**-24) 2**emin: the tie below 2**emin, IEEE rounds it up (to even)
    assert exact.mul(FP32, pred_one, MIN_NORMAL) == MIN_NORMAL
    assert _op("mul", pred_one, MIN_NORMAL) == 0
    assert _op("mul", pred_one | NEG, MIN_NORMAL) == NEG
    # (1 - 2**-23)(1 + 2**-23) 2**emin = (1 - 2**-46) 2**emin: no tie, still rounds up
    assert exact.mul(FP32, 0x3F7FFFFE, MIN_NORMAL + 1) == MIN_NORMAL
    assert _op("mul", 0x3F7FFFFE, MIN_NORMAL + 1) == 0
    # the quotient (2**(emin+1) - quantum) / 2: the tie 2**emin - quantum/2
    assert exact.div(FP32, 0x00FFFFFF, _w(2.0)) == MIN_NORMAL
    assert _op("div", 0x00FFFFFF, _w(2.0)) == 0
    # a conversion to a narrower exponent range: fp32 (1 - 2**-8) 2**-14 to e5m6
    word = _w((1 - 2.0 ** -8) * 2.0 ** -14)
    assert convert_exact(FP32, FP12, word) == 1 << FP12.frac_bits
    assert ftz.apply("convert", (FP32,), FP12, word) == 0


def test_exactly_2_emin_and_above_are_kept():
    assert _op("mul", _w(0.5), _w(2.0 ** -125)) == MIN_NORMAL
    assert _op("sub", _w(2.0 ** -125), MIN_NORMAL) == MIN_NORMAL
    assert _op("sub", MIN_NORMAL, _w(2.0 ** -125)) == MIN_NORMAL | NEG
    assert _op("div", _w(2.0 ** -125), _w(2.0)) == MIN_NORMAL
    assert _op("mul", ONE, MIN_NORMAL + 1) == MIN_NORMAL + 1
    assert _op("sub", _w(2.0 ** -125) + 1, MIN_NORMAL) == MIN_NORMAL + 2
    assert _op("sqrt", MIN_NORMAL) == _w(2.0 ** -63)
    assert ftz.apply("convert", (FP32,), FP12, _w(2.0 ** -14)) == 1 << FP12.frac_bits
    # specials stand
    assert _op("add", FP32.pos_inf, FP32.neg_inf) == FP32.canonical_nan
    assert _op("mul", _w(2.0 ** 100), _w(2.0 ** 100)) == FP32.pos_inf
    assert _op("sub", ONE, ONE) == 0


def test_is_tiny_and_daz_edges():
    assert ftz.daz(FP32, 0x807FFFFF) == NEG and ftz.daz(FP32, MIN_NORMAL) == MIN_NORMAL
    arr = np.array([1, 0x807FFFFF, MIN_NORMAL, ONE], dtype=np.uint32)
    assert ftz.daz(FP32, arr).tolist() == [0, NEG, MIN_NORMAL, ONE]
    assert not ftz.is_tiny("sub", (FP32, FP32), FP32, ONE, ONE)     # exact 0: not tiny
    assert not ftz.is_tiny("sqrt", (FP32,), FP32, MIN_NORMAL)       # a root never is
    assert not ftz.is_tiny("div", (FP32, FP32), FP32, ONE, 0)
    with pytest.raises(InvalidValue, match="op must be one of add"):
        ftz.apply("pow", (FP32,), FP32, 1)


# ---- exact and numpy evaluations, and the oracle -----------------------------------------
def _boundary_words(fmt, rng, n):
    """Operands whose results land near 2**emin: small exponent fields for sums, exponent
    pairs summing to about emin for products and quotients, subnormals among them."""
    p, bias = fmt.frac_bits, fmt.bias
    frac = rng.integers(0, 1 << p, (6, n))
    sign = rng.integers(0, 2, (2, n)) << (fmt.total_bits - 1)
    noise = rng.integers(-2, 3, n)
    e_a = rng.integers(1, bias + 1, n)

    def word(e, f, s):
        return (np.clip(e, 0, fmt.exp_max - 1) << p) | f | s

    sums = (word(rng.integers(0, 4, n), frac[0], sign[0]),
            word(rng.integers(0, 4, n), frac[1], sign[1]))
    # (e_a - bias) + (e_b - bias) ~ emin = 1 - bias
    prods = (word(e_a, frac[2], sign[0]), word(bias + 1 - e_a + noise, frac[3], sign[1]))
    # (e_a - bias) - (e_b - bias) ~ emin
    quots = (word(e_a, frac[4], sign[0]), word(e_a + bias - 1 + noise, frac[5], sign[1]))
    return sums, prods, quots


def _fp32_pins():
    """Pinned fp32 operand pairs at the 2**emin boundary (among them the one division tie
    that rounds up to 2**emin: 0x00FFFFFF / 2)."""
    return [(0x3F7FFFFF, MIN_NORMAL), (0x3F7FFFFE, MIN_NORMAL + 1), (0x00FFFFFF, _w(2.0)),
            (_w(2.0 ** -125), MIN_NORMAL), (_w(1.5 * 2.0 ** -126), MIN_NORMAL)]


@pytest.mark.parametrize("op", BINARY)
def test_exact_and_numpy_agree_on_fp32_samples_edges_and_the_boundary(op):
    rng = np.random.default_rng(18)
    sums, prods, quots = _boundary_words(FP32, rng, 3000)
    a, b = {"add": sums, "sub": sums, "mul": prods, "div": quots}[op]
    ea, eb = edge_pairs(FP32)
    ra, rb = (rng.integers(0, 1 << 32, 1000) for _ in range(2))
    pins = _fp32_pins()
    a = np.concatenate([a, ea, ra, [x for x, _ in pins]]).astype(np.uint32)
    b = np.concatenate([b, eb, rb, [y for _, y in pins]]).astype(np.uint32)
    fast = _op(op, a, b, impl="auto")
    slow = _op(op, a, b, impl="exact")
    assert np.array_equal(fast, slow)
    want = [_oracle(op, (FP32, FP32), FP32, x, y) for x, y in zip(a.tolist(), b.tolist())]
    assert slow.tolist() == want
    # the sample reaches the mode: flushed results, and results kept at 2**emin
    plain = np.array([_IEEE[op](FP32, int(ftz.daz(FP32, int(x))), int(ftz.daz(FP32, int(y))))
                      for x, y in zip(a, b)], dtype=np.int64) & ~NEG
    assert ((plain > 0) & (plain < MIN_NORMAL)).sum() > 20
    assert ((plain == MIN_NORMAL) & (slow.astype(np.int64) & ~NEG == MIN_NORMAL)).any()
    if op in ("mul", "div"):                 # rounded up to 2**emin, then flushed
        assert ((plain == MIN_NORMAL) & (slow.astype(np.int64) & ~NEG == 0)).any()


def test_exact_and_numpy_agree_on_fp32_sqrt_and_convert():
    rng = np.random.default_rng(19)
    a = np.concatenate([edge_words(FP32), rng.integers(0, 1 << 32, 3000),
                        rng.integers(0, 1 << 25, 500)]).astype(np.uint32)
    assert np.array_equal(_op("sqrt", a, impl="auto"), _op("sqrt", a, impl="exact"))
    # fp32 -> e5m6 around e5m6's 2**-14 and fp32 subnormals; bf16 -> fp32
    near = ((rng.integers(100, 115, 3000) << 23) | rng.integers(0, 1 << 23, 3000)
            | (rng.integers(0, 2, 3000) << 31))
    a = np.concatenate([a, near]).astype(np.uint32)
    fast = ftz.apply("convert", (FP32,), FP12, a)
    slow = ftz.apply("convert", (FP32,), FP12, a, impl="exact")
    assert np.array_equal(fast, slow)
    assert slow.tolist() == [_oracle("convert", (FP32,), FP12, x) for x in a.tolist()]
    w = np.arange(1 << 16, dtype=np.uint16)
    assert np.array_equal(ftz.apply("convert", (BF16,), FP32, w),
                          ftz.apply("convert", (BF16,), FP32, w, impl="exact"))


@pytest.mark.parametrize("op", BINARY)
def test_every_pair_of_e3m2_words(op):
    a, b = (x.ravel() for x in np.meshgrid(np.arange(64), np.arange(64)))
    fast = ftz.apply(op, (E3M2, E3M2), E3M2, a, b)
    slow = ftz.apply(op, (E3M2, E3M2), E3M2, a, b, impl="exact")
    assert np.array_equal(fast, slow)
    assert slow.tolist() == [_oracle(op, (E3M2, E3M2), E3M2, x, y)
                             for x, y in zip(a.tolist(), b.tolist())]


def test_every_e3m2_root_and_every_e5m6_to_e3m2_conversion():
    a = np.arange(64)
    assert np.array_equal(ftz.apply("sqrt", (E3M2,), E3M2, a),
                          ftz.apply("sqrt", (E3M2,), E3M2, a, impl="exact"))
    w = np.arange(1 << 12)
    slow = ftz.apply("convert", (FP12,), E3M2, w, impl="exact")
    assert np.array_equal(ftz.apply("convert", (FP12,), E3M2, w), slow)
    assert slow.tolist() == [_oracle("convert", (FP12,), E3M2, x) for x in w.tolist()]


@pytest.mark.parametrize("op", BINARY)
def test_every_pair_of_e4m3_words(op):
    e4m3 = FloatFormat(4, 3)
    a, b = (x.ravel() for x in np.meshgrid(np.arange(256), np.arange(256)))
    fast = ftz.apply(op, (e4m3, e4m3), e4m3, a, b)
    assert np.array_equal(fast, ftz.apply(op, (e4m3, e4m3), e4m3, a, b, impl="exact"))


# ---- the rule ---------------------------------------------------------------------------
def test_the_preset_and_its_json_round_trip():
    cfg = presets.get("fp32_adam_fast_ftz")
    assert cfg.ftz and cfg.fmt == FP32 and "fp32_adam_fast_ftz" in presets.names()
    plain = presets.get("fp32_adam_fast")
    assert not plain.ftz and cfg == plain.replace(ftz=True, name="fp32_adam_fast_ftz")
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["ftz"] is True and plain.to_dict()["ftz"] is False
    assert FloatAdamFastConfig.from_dict(d) == cfg
    assert FloatAdamFastConfig(FP32, ftz=True).name == "fp32_adam_fast_ftz"
    assert cfg.at_width(16).name == "bf16_adam_fast_ftz" and cfg.at_width(16).ftz
    with pytest.raises(InvalidType, match="ftz must be a bool, not int"):
        FloatAdamFastConfig(FP32, ftz=1)


def test_a_held_word_read_as_zero_is_degenerate_with_ftz():
    # fp12's eps_t at step 1 (~1.9e-6) is an e5m6 subnormal: with ftz the unit reads 0
    FloatAdamFastConfig(FP12, eps=FP12_EPS)
    with pytest.raises(ValueError, match="eps_t.*flushed subnormal"):
        FloatAdamFastConfig(FP12, eps=FP12_EPS, ftz=True)


def _update_rows(cfg, t):
    from testbench.recipes import Group, float_adam
    e = float_adam.edges(cfg, Group.of(t))
    r = float_adam.randoms(cfg, Group.of(t), np.random.default_rng(t), 500)
    return {k: np.concatenate([e[k], r[k]]) for k in e}


@pytest.mark.parametrize("t", [1, 1000])
def test_the_update_python_and_numpy_agree_and_the_mode_acts(t):
    cfg = presets.get("fp32_adam_fast_ftz")
    words = _update_rows(cfg, t)
    a = cfg.update(words, t, evaluator="numpy")
    b = cfg.update(words, t, evaluator="python")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    plain = presets.get("fp32_adam_fast").update(words, t, evaluator="numpy")
    assert any((a[k] != plain[k]).any() for k in a)
    for k in a:                                  # no subnormal is ever written
        mag = a[k].astype(np.int64) & ~NEG
        assert not ((mag > 0) & (mag < MIN_NORMAL)).any()


def test_the_edges_reach_the_boundary_in_the_program():
    """The recipe's ftz rows make results rounded up to 2**emin and then flushed (in the
    products by constants, the step ``alpha_t m'`` and the quotient) and results of exactly
    2**emin that are kept."""
    from lns.rules.ieee_program import OPS
    from testbench.recipes import float_adam
    cfg = presets.get("fp32_adam_fast_ftz")
    up, kept = set(), set()
    for t in (1, 1000):
        words = float_adam.flush_words(cfg, t, np.random.default_rng(t))
        env = {**cfg.constants, **cfg.held(t), **words}
        n = len(words["w"])
        for result, op, args in cfg.OPERATIONS:
            ins = [np.broadcast_to(np.asarray(env[x], dtype=np.uint32), (n,)) for x in args]
            env[result] = OPS[op].ftz((FP32,) * len(args), FP32, *ins)
            plain = OPS[op].model((FP32,) * len(args), FP32,
                                  *(ftz.daz(FP32, x) for x in ins)).astype(np.int64) & ~NEG
            got = env[result].astype(np.int64) & ~NEG
            if ((plain == MIN_NORMAL) & (got == 0)).any():
                up.add(result)
            if ((plain == MIN_NORMAL) & (got == MIN_NORMAL)).any():
                kept.add(result)
    assert {"c2dv", "n", "q"} <= up
    assert {"dm", "c1dm", "c2dv", "n", "q"} <= kept


def test_an_op_without_a_flush_form_is_refused():
    from lns.rules.ieee_program import run_program
    from lns.rules.ieee_madam import FloatMadamConfig
    cfg = FloatMadamConfig(FP32)
    object.__setattr__(cfg, "ftz", True)         # the rule has no such field: forced
    with pytest.raises(InvalidValue, match="no flush-to-zero form"):
        run_program(cfg, {k: 0 for k in (*cfg.WORD_ROLES, *cfg.HELD)})


# ---- the operators in the RTL --------------------------------------------------------------
def _rtl_op(op, in_fmts, out_fmt, a, b=None, const=None):
    """``op`` built combinationally (a `Pipe` without registers) with ``ftz=True``, every
    operand set through Amaranth's simulator."""
    from amaranth.hdl import Const, Module, Signal
    from amaranth.sim import Simulator
    from rtl._common import Pipe
    from rtl.float_program import builder
    m = Module()
    ins = [Signal(f.total_bits, name=f"in{i}") for i, f in enumerate(in_fmts)]
    operands = [Const(const, in_fmts[0].total_bits), ins[1]] if op == "mulc" else ins
    driven = [ins[1]] if op == "mulc" else ins        # the signals a (and b) drive
    columns = [a] if b is None else [a, b]
    y = Signal(out_fmt.total_bits)
    try:
        m.d.comb += y.eq(builder(op)(m, Pipe(m), in_fmts, out_fmt, operands, "t", None,
                                     ftz=True))
    except InvalidValue:
        m._MustUse__silence = True            # refused, not forgotten: no warning later
        raise
    out = []

    async def bench(ctx):
        for i in range(len(a)):
            for sig, col in zip(driven, columns):
                ctx.set(sig, int(col[i]))
            out.append(ctx.get(y))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("op", BINARY)
def test_rtl_operators_with_ftz_on_every_pair_of_e3m2(op):
    a, b = (x.ravel() for x in np.meshgrid(np.arange(64), np.arange(64)))
    want = ftz.apply(op, (E3M2, E3M2), E3M2, a, b, impl="exact").tolist()
    assert _rtl_op(op, (E3M2, E3M2), E3M2, a, b) == want


def test_rtl_sqrt_convert_and_mulc_with_ftz():
    a = np.arange(64)
    assert _rtl_op("sqrt", (E3M2,), E3M2, a) == ftz.apply("sqrt", (E3M2,), E3M2, a).tolist()
    w = np.arange(1 << 12)
    assert (_rtl_op("convert", (FP12,), E3M2, w)
            == ftz.apply("convert", (FP12,), E3M2, w).tolist())
    for c in (0b001101, 0b011010, 0b101111):    # normal constants, both signs
        want = ftz.apply("mul", (E3M2, E3M2), E3M2, np.full(64, c), a).tolist()
        assert _rtl_op("mulc", (E3M2, E3M2), E3M2, a, const=c) == want
    with pytest.raises(InvalidValue, match="mulc with ftz needs a normal constant"):
        _rtl_op("mulc", (E3M2, E3M2), E3M2, a, const=0b000011)


@pytest.mark.parametrize("op", BINARY)
def test_rtl_fp32_operators_with_ftz_at_the_boundary(op):
    rng = np.random.default_rng(20)
    sums, prods, quots = _boundary_words(FP32, rng, 150)
    a, b = {"add": sums, "sub": sums, "mul": prods, "div": quots}[op]
    ea, eb = edge_pairs(FP32)
    pins = _fp32_pins()
    a = np.concatenate([a, ea[:150], [x for x, _ in pins]]).astype(np.uint32)
    b = np.concatenate([b, eb[:150], [y for _, y in pins]]).astype(np.uint32)
    assert _rtl_op(op, (FP32, FP32), FP32, a, b) == _op(op, a, b, impl="auto").tolist()


def test_verilog_without_the_mode_is_the_presets_and_with_it_is_smaller():
    """ftz off builds what fp32_adam_fast always built (the same config built afresh from
    its fields, ftz given as False); ftz on builds no leading-zero count of an operand."""
    from rtl.design import _convert
    plain = presets.get("fp32_adam_fast")
    again = FloatAdamFastConfig(FP32, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                name="fp32_adam_fast", ftz=False)
    text, _ = _convert(plain, 1)
    assert _convert(again, 1)[0] == text
    on, _ = _convert(presets.get("fp32_adam_fast_ftz"), 1)
    # the operands' leading-zero counts (`normal_significands`' registers ``*_lz<i>``) and
    # the stage they need are gone: fewer registers
    assert re.search(r"_lz\d", text) and not re.search(r"_lz\d", on)
    assert on.count("always") < text.count("always")


# ---- the unit on a simulator ----------------------------------------------------------------
def test_fp32_adam_fast_ftz_on_icarus_and_a_flipped_constant_is_caught(tmp_path):
    from testbench import evaluate, faults, vectors
    from testbench.tools import Simulator
    cfg = presets.get("fp32_adam_fast_ftz")
    vs = vectors.generate(cfg, 2000, seed=5)
    r = evaluate.evaluate(vs, (Simulator.ICARUS,), python_sample=64)
    assert r["ok"], r
    assert r["evaluators"]["icarus"]["mismatches"] == 0
    path = faults.faulty_verilog(cfg, "constant", tmp_path, constant="c2", bit=0)
    r = evaluate.evaluate(vs, (Simulator.ICARUS,), verilog=path, python_sample=16)
    assert not r["ok"] and r["evaluators"]["icarus"]["mismatches"] > 0


def test_the_weight_range_starts_at_the_smallest_normal_under_ftz(capsys):
    from sim.cli import main
    on, off = presets.get("fp32_adam_fast_ftz"), presets.get("fp32_adam_fast")
    assert on.weight_range() == (2.0 ** -126, off.weight_range()[1])
    assert off.weight_range()[0] == 2.0 ** -149                 # the smallest subnormal
    assert main(["presets"]) == 0
    rows = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.strip()}
    assert "1.18e-38..3.4e+38" in rows["fp32_adam_fast_ftz"]
    assert "1.40e-45..3.4e+38" in rows["fp32_adam_fast"]
