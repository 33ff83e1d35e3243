"""IEEE rules as programs (`lns.rules.ieee_program`): the op table, the program checks, the
interpreter, the narrow formats' float32 path (`lns.ieee.fast`), the conversions
(`lns.ieee.convert`, `rtl.float.convert`) and the exact rational square root, each against
an oracle that shares no code with it (the exact path, SoftFloat, Fractions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pytest

from lns.errors import InvalidType, InvalidValue
from lns.ieee import FLOAT_FORMATS, FloatFormat, exact, ops
from lns.ieee.convert import convert
from lns.ieee.fast import is_narrow, round_floats, to_floats
from lns.rules.ieee_program import OPS, FloatProgram, OpSpec, op_spec, register_op

FP32, BF16, FP16 = FLOAT_FORMATS["fp32"], FLOAT_FORMATS["bf16"], FLOAT_FORMATS["fp16"]
E4M3, E5M6 = FloatFormat(4, 3), FloatFormat(5, 6)


# ---- the op table ----------------------------------------------------------------------
def test_op_table_holds_the_basic_ops_and_convert():
    assert {"add", "sub", "mul", "div", "sqrt", "convert"} <= set(OPS)
    assert OPS["sub"].kind == "fp_add" and OPS["sqrt"].arity == 1 and OPS["convert"].mixed
    with pytest.raises(InvalidValue, match="op must be one of add, sub"):
        op_spec("pow")


def test_register_op_refuses_bad_specs_and_a_second_meaning():
    model = OPS["add"].model
    with pytest.raises(InvalidValue, match="kind must be one of fp_mul"):
        register_op(OpSpec("x_test", 1, model, "m:f", "fp_pow"))
    with pytest.raises(InvalidValue, match="arity must be a positive int, not 0"):
        register_op(OpSpec("x_test", 0, model, "m:f", "fp_add"))
    with pytest.raises(InvalidValue, match="rtl must be 'module:function'"):
        register_op(OpSpec("x_test", 1, model, "mf", "fp_add"))
    with pytest.raises(InvalidValue, match="op 'add' is registered already"):
        register_op(OpSpec("add", 2, model, "m:f", "fp_add"))
    with pytest.raises(InvalidType, match="spec must be an OpSpec"):
        register_op("add")
    assert register_op(OPS["add"]) is OPS["add"]        # the same spec again: a no-op
    assert "x_test" not in OPS


def _program(**attrs):
    body = {"WORD_ROLES": {"w": "fmt", "g": "fmt"}, "OUTPUTS": {"w": "r"},
            "__annotations__": {"fmt": FloatFormat}}
    body.update(attrs)
    return dataclass(frozen=True)(type("P", (FloatProgram,), body))


def test_a_malformed_program_is_refused_when_declared():
    with pytest.raises(InvalidValue, match="r reads 'x' before it is defined"):
        _program(OPERATIONS=(("r", "add", ("w", "x")),))
    with pytest.raises(InvalidValue, match="add takes 2 operand"):
        _program(OPERATIONS=(("r", "add", ("w",)),))
    with pytest.raises(InvalidValue, match="needs its format in RESULT_ROLES"):
        _program(OPERATIONS=(("r", "convert", ("w",)),))
    with pytest.raises(InvalidValue, match="output w reads 'q'"):
        _program(OPERATIONS=(("r", "add", ("w", "g")),), OUTPUTS={"w": "q"})
    with pytest.raises(InvalidValue, match="w is defined twice"):
        _program(OPERATIONS=(("w", "add", ("w", "g")),))


def test_the_interpreter_runs_a_declared_program_op_by_op():
    # r = (w + g) * c with c = 1/3 rounded once: a program of two ops on e5m6
    P = _program(OPERATIONS=(("s", "add", ("w", "g")), ("r", "mul", ("s", "c"))),
                 CONSTANT_ROLES={"c": "fmt"}, OUTPUTS={"w": "r"},
                 _exact_constants=lambda self: {"c": Fraction(1, 3)},
                 __annotations__={"fmt": FloatFormat,
                                  "allow_degenerate": bool},
                 allow_degenerate=field(default=False))
    cfg = P(E5M6)
    assert cfg.constants["c"] == exact.round_to_format(E5M6, 0, Fraction(1, 3))
    rng = np.random.default_rng(5)
    w, g = (rng.integers(0, 1 << 12, 500) for _ in range(2))
    for ev in ("python", "numpy"):
        got = cfg.update({"w": w, "g": g}, evaluator=ev)["w"]
        want = [exact.mul(E5M6, exact.add(E5M6, int(a), int(b)), cfg.constants["c"])
                for a, b in zip(w, g)]
        assert got.tolist() == want


# ---- narrow formats computed in float32 ------------------------------------------------
def test_which_formats_are_narrow():
    assert is_narrow(E5M6) and is_narrow(E4M3) and is_narrow(FloatFormat(5, 9))
    assert not is_narrow(FP16) and not is_narrow(BF16)      # they have numpy types
    assert not is_narrow(FloatFormat(6, 6)) and not is_narrow(FloatFormat(5, 11))
    assert not is_narrow(FloatFormat(3, 4))                 # emin = -2 > -4: a subnormal root


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_float32_path_equals_the_exact_one_on_every_pair_of_e4m3(op):
    a, b = (x.ravel() for x in np.meshgrid(np.arange(256), np.arange(256)))
    assert np.array_equal(ops.apply(E4M3, op, a, b, impl="float32"),
                          ops.apply(E4M3, op, a, b, impl="exact"))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "sqrt"])
def test_float32_path_equals_the_exact_one_on_e5m6(op):
    """Every e5m6 word against 8 seeded partners, the edge pairs and ties."""
    from lns.ieee.vectors import edge_pairs, tie_pairs
    rng = np.random.default_rng(12)
    if op == "sqrt":
        a = np.arange(1 << 12)
        assert np.array_equal(ops.sqrt(E5M6, a, impl="float32"), ops.sqrt(E5M6, a,
                                                                          impl="exact"))
        return
    a = np.repeat(np.arange(1 << 12), 8)
    b = rng.integers(0, 1 << 12, a.size)
    ea, eb = edge_pairs(E5M6)
    ta, tb = tie_pairs(E5M6)
    a, b = np.concatenate([a, ea, ta]), np.concatenate([b, eb, tb])
    assert np.array_equal(ops.apply(E5M6, op, a, b), ops.apply(E5M6, op, a, b, impl="exact"))


def test_narrow_impl_errors():
    with pytest.raises(InvalidValue, match="impl must be 'exact', 'float32' or 'auto' for e4m3"):
        ops.add(E4M3, 0, 0, impl="numpy")
    with pytest.raises(InvalidValue, match="impl must be 'exact', 'numpy' or 'auto' for fp32"):
        ops.add(FP32, 0, 0, impl="float32")


@pytest.mark.parametrize("fmt", [E5M6, E4M3, FP32, BF16, FP16])
def test_round_floats_is_the_exact_rounding_of_float64(fmt):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 1, 3000) * 2.0 ** rng.integers(-160, 140, 3000),
                        [0.0, -0.0, np.inf, -np.inf, 5e-324, -1e300]])
    got = round_floats(fmt, x)
    want = [exact.round_to_format(fmt, int(np.signbit(v)), Fraction(abs(float(v))))
            if np.isfinite(v) else (fmt.pos_inf | (fmt.sign_mask if v < 0 else 0))
            for v in x]
    assert got.tolist() == want
    assert round_floats(fmt, [np.nan]).tolist() == [fmt.canonical_nan]


def test_to_floats_is_exact():
    w = np.arange(1 << 12)
    fin = [exact.decode(E5M6, int(x))[0] in ("finite", "zero") for x in w]
    vals = to_floats(E5M6, w)
    for x, f, v in zip(w.tolist(), fin, vals.tolist()):
        if f:
            assert Fraction(v) == exact.to_fraction(E5M6, x)
    assert np.isnan(vals[E5M6.canonical_nan]) and vals[E5M6.neg_inf] == -np.inf


# ---- conversions -----------------------------------------------------------------------
def _sf_convert(name, words, nbytes):
    import softfloatpy as sf
    frm = {"bf16_to_f32": sf.BFloat16, "f32_to_bf16": sf.Float32}[name]
    fn = getattr(sf, name)
    old = sf.get_rounding_mode()
    sf.set_rounding_mode(sf.RoundingMode.NEAR_EVEN)
    try:
        return [int.from_bytes(fn(frm.from_bytes(int(w).to_bytes(nbytes, "big"))).to_bytes(),
                               "big") for w in words]
    finally:
        sf.set_rounding_mode(old)


def test_bf16_to_fp32_is_softfloats_on_every_word():
    w = np.arange(1 << 16)
    got = convert(BF16, FP32, w)
    assert got.tolist() == _sf_convert("bf16_to_f32", w, 2)
    assert convert(BF16, FP32, w[::97], impl="exact").tolist() == got[::97].tolist()


def test_fp32_to_bf16_is_softfloats_rounding():
    from lns.ieee.vectors import edge_words, tie_pairs
    rng = np.random.default_rng(4)
    w = np.concatenate([rng.integers(0, 1 << 32, 20000), edge_words(FP32),
                        *tie_pairs(FP32),
                        (rng.integers(0, 1 << 16, 2000) << 16) | 0x8000])   # bf16 ties
    got = convert(FP32, BF16, w)
    assert got.tolist() == _sf_convert("f32_to_bf16", w, 4)
    assert convert(FP32, BF16, w[:3000], impl="exact").tolist() == got[:3000].tolist()
    assert convert(FP32, BF16, 0x3F808000) == 0x3F80        # 1 + 2**-8: a tie, to even
    assert convert(FP32, BF16, 0x3F818000) == 0x3F82        # 1 + 3 2**-8: a tie, to even


def test_narrow_conversions_match_the_exact_path():
    w = np.arange(1 << 12)
    for dst in (E4M3, FP32, BF16, FloatFormat(4, 8)):
        assert np.array_equal(convert(E5M6, dst, w), convert(E5M6, dst, w, impl="exact"))
    assert convert(E5M6, FP32, 0x800) == 0x80000000         # -0 stays -0
    with pytest.raises(InvalidType, match="dst must be a FloatFormat"):
        convert(FP32, "bf16", 0)
    with pytest.raises(InvalidValue, match="impl must be one of auto, exact, numpy"):
        convert(FP32, BF16, 0, impl="fast")


def test_round_sqrt_quotient_is_nearest():
    """The word is the nearest to sqrt(num/den): its value and the midpoints beside it
    compared by squares, in integers."""
    rng = np.random.default_rng(8)
    cases = [(2, 1), (1, 3), (9, 4), (1, 10 ** 40), (10 ** 40, 7)]
    cases += [(int(a), int(b)) for a, b in rng.integers(1, 1 << 60, (200, 2))]
    for fmt in (FP32, BF16, E5M6):
        for num, den in cases:
            w = exact.round_sqrt_quotient(fmt, 0, num, den)
            if w == fmt.pos_inf:
                assert Fraction(num, den) >= exact.to_fraction(fmt, fmt.max_finite) ** 2
                continue
            x2 = Fraction(num, den)
            v = exact.to_fraction(fmt, w)
            for nb in (w - 1, w + 1):
                if 0 <= nb < fmt.pos_inf:
                    mid = (v + exact.to_fraction(fmt, nb)) / 2
                    # x lies on w's side of the midpoint (a tie goes to the even word)
                    if nb > w:
                        assert x2 < mid ** 2 or (x2 == mid ** 2 and w % 2 == 0)
                    else:
                        assert x2 > mid ** 2 or (x2 == mid ** 2 and w % 2 == 0)


# ---- the convert operator in hardware --------------------------------------------------
def _rtl_convert(src, dst, words):
    """``words`` through `rtl.float.convert.float_convert` built without registers (the
    same datapath the units pipeline), in Amaranth's simulator, 16 words a settle."""
    from amaranth.hdl import Module, Signal
    from amaranth.sim import Simulator
    from rtl._common import Pipe
    from rtl.float.convert import float_convert
    lanes = 16
    m = Module()
    ins = [Signal(src.total_bits, name=f"a{i}") for i in range(lanes)]
    outs = []
    for i, a in enumerate(ins):
        pipe = Pipe(m, prefix=f"l{i}_")
        outs.append(float_convert(m, pipe, src, dst, a, name=f"c{i}"))
    got = []
    words = [int(w) for w in words]
    words += [0] * (-len(words) % lanes)

    async def bench(ctx):
        for k in range(0, len(words), lanes):
            for s, w in zip(ins, words[k:k + lanes]):
                ctx.set(s, w)
            await ctx.delay(1e-9)
            got.extend(ctx.get(o) for o in outs)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


def test_rtl_convert_bf16_to_fp32_every_word():
    w = np.arange(1 << 16)                        # (slow: ~100 s in Amaranth's simulator)
    assert _rtl_convert(BF16, FP32, w)[:len(w)] == convert(BF16, FP32, w).tolist()


def test_rtl_convert_widening_sample():
    w = np.arange(0, 1 << 16, 41)
    assert _rtl_convert(BF16, FP32, w)[:len(w)] == convert(BF16, FP32, w).tolist()


def test_rtl_convert_narrowing_edges_ties_and_randoms():
    from lns.ieee.vectors import edge_words, tie_pairs
    rng = np.random.default_rng(6)
    w = np.concatenate([edge_words(FP32), *tie_pairs(FP32), rng.integers(0, 1 << 32, 800),
                        (rng.integers(0, 1 << 16, 200) << 16) | 0x8000,
                        rng.integers(0, 1 << 16, 200)])              # fp32 subnormals
    assert _rtl_convert(FP32, BF16, w)[:len(w)] == convert(FP32, BF16, w).tolist()
    e = np.arange(1 << 12)
    assert _rtl_convert(E5M6, E4M3, e)[:len(e)] == convert(E5M6, E4M3, e).tolist()
    assert _rtl_convert(E4M3, E5M6, e[:256])[:256] == convert(E4M3, E5M6, e[:256]).tolist()


# ---- the product by a constant in hardware (shift-and-add) ---------------------------------
def _rtl_mulc(fmt, c, words):
    """``c * x`` for every ``x`` of ``words`` through `rtl.float_program.build_mulc` built
    without registers, in Amaranth's simulator."""
    from amaranth.hdl import Const, Module, Signal
    from amaranth.sim import Simulator
    from rtl._common import Pipe
    from rtl.float_program import build_mulc
    lanes = 16
    m = Module()
    ins = [Signal(fmt.total_bits, name=f"x{i}") for i in range(lanes)]
    outs = [build_mulc(m, Pipe(m, prefix=f"l{i}_"), (fmt, fmt), fmt,
                       [Const(c, fmt.total_bits), a], f"k{i}") for i, a in enumerate(ins)]
    words = [int(w) for w in words]
    words += [0] * (-len(words) % lanes)
    got = []

    async def bench(ctx):
        for k in range(0, len(words), lanes):
            for s, w in zip(ins, words[k:k + lanes]):
                ctx.set(s, w)
            await ctx.delay(1e-9)
            got.extend(ctx.get(o) for o in outs)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("c", [0x0CD, 0x8CD, 0x003, 0x3C0, 0x7BF, 0x041])
def test_rtl_mulc_is_the_correctly_rounded_product_on_e5m6(c):
    """Constants: a normal (1.203 2**-12), its negative, a subnormal, 1.0, the largest
    finite, the smallest normal's successor; x: the edge words and every 5th e5m6 word
    (NaNs, infinities, subnormals), against the exact product."""
    from lns.ieee.vectors import edge_words
    x = np.concatenate([edge_words(E5M6), np.arange(0, 1 << 12, 5)])
    want = ops.mul(E5M6, np.full(x.size, c), x, impl="exact").tolist()
    assert _rtl_mulc(E5M6, c, x)[:x.size] == want


def test_rtl_mulc_fp32_constants_on_a_sample():
    from lns.ieee.vectors import edge_words
    rng = np.random.default_rng(7)
    x = np.concatenate([edge_words(FP32), rng.integers(0, 1 << 32, 300)])
    for c in (0x3DCCCCCD, 0x3A83126F):                  # fp32 0.1 and 0.001
        assert _rtl_mulc(FP32, c, x)[:x.size] == ops.mul(FP32, np.full(x.size, c), x).tolist()
