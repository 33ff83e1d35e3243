"""lns.ieee.exp2 (a faithful 2**x defined in integers) against mpmath, an independent oracle:
every word of FloatFormat(5, 6), fp16 and bf16, seeded random and edge words of fp32 (and a
sample of fp64 on the exact path); its table and coefficients against mpmath; the numpy path
against the exact one word for word; the IEEE specials; the error texts."""

import time
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from lns.errors import InvalidType, InvalidValue
from lns.ieee import FloatFormat, exact, get_format
from lns.ieee.exp2 import exp2, exp2_coeffs, exp2_params, exp2_table, numpy_supported
from lns.ieee.vectors import edge_words, random_operands

E5M6 = FloatFormat(5, 6)
FP16, BF16, FP32 = get_format("fp16"), get_format("bf16"), get_format("fp32")
FP64 = FloatFormat(11, 52)


def _value(fmt, word):
    """The exact value of a finite word as an mpmath number (exact at 256 bits)."""
    return mpmath.mpf(exact.to_fraction(fmt, word).numerator) / \
        exact.to_fraction(fmt, word).denominator


def oracle(fmt, word):
    """``(nearest, below, above)``: the correctly rounded word of 2**x and the two words
    around it (equal when 2**x is representable), from mpmath at 256 bits, or a single
    word for NaN, infinities and the far ranges (2**x above 2**(emax + 1): +inf; below
    2**(emin - p - 2), under half the smallest subnormal: +0)."""
    cls, s, _, _ = exact.decode(fmt, word)
    if cls == exact.NAN:
        return fmt.canonical_nan
    if cls == exact.INF:
        return 0 if s else fmt.pos_inf
    x = exact.to_fraction(fmt, word)
    if x > fmt.emax + 1:
        return fmt.pos_inf
    if x < fmt.emin - fmt.frac_bits - 2:
        return 0
    with mpmath.workprec(256):
        v = mpmath.power(2, mpmath.mpf(x.numerator) / x.denominator)
        fr = Fraction(int(v.man)) * Fraction(2) ** int(v.exp)
    c = exact.round_to_format(fmt, 0, fr)
    if c == fmt.pos_inf:
        return c, fmt.max_finite, c
    vc = exact.to_fraction(fmt, c)
    if vc == fr:
        return c, c, c
    return (c, c, c + 1) if vc < fr else (c, c - 1, c)


def check_against_oracle(fmt, words, got):
    """``(checked, not correctly rounded)``; asserts every result faithful (one of the two
    words around 2**x) and every special exact."""
    unfaithful, not_cr, n = [], 0, 0
    for w, g in zip(np.asarray(words).tolist(), np.asarray(got).tolist()):
        o = oracle(fmt, w)
        if isinstance(o, int):
            assert g == o, f"{fmt.name} exp2({w:#x}) = {g:#x}, want {o:#x}"
            continue
        n += 1
        c, lo, hi = o
        if g not in (lo, hi):
            unfaithful.append(f"{w:#x} -> {g:#x} (around 2**x: {lo:#x}, {hi:#x})")
        not_cr += g != c
    assert not unfaithful, f"{len(unfaithful)} unfaithful: {unfaithful[:5]}"
    return n, not_cr


def test_widths_of_the_documented_formats():
    """The widths the module docstring states: W = p + 8; fp32 a 1024-word table and a
    quadratic; fp16 64 words; FloatFormat(5, 6) 16 words; fp64 a higher degree."""
    got = {f.name: (exp2_params(f).work_bits, exp2_params(f).table_bits,
                    exp2_params(f).degree, exp2_params(f).range_bits)
           for f in (FP32, FP16, E5M6, FP64)}
    assert got == {"fp32": (31, 10, 2, 8), "fp16": (18, 6, 2, 5), "e5m6": (14, 4, 2, 5),
                   "e11m52": (60, 9, 5, 11)}
    assert [numpy_supported(f) for f in (FP32, FP16, E5M6, BF16, FP64)] == [True] * 4 + [False]


@pytest.mark.parametrize("fmt", [E5M6, FP16, FP32], ids=lambda f: f.name)
def test_table_and_coefficients_against_mpmath(fmt):
    """T[i] = round(2**(i/2**k) 2**W) and C_j = round(ln(2)**j / j! 2**W), from mpmath."""
    prm = exp2_params(fmt)
    k, w = prm.table_bits, prm.work_bits
    table = exp2_table(fmt)
    assert len(table) == 1 << k
    with mpmath.workprec(200):
        for i in range(0, 1 << k, max(1, (1 << k) // 64)):
            want = int(mpmath.nint(mpmath.power(2, mpmath.mpf(i) / (1 << k) + w)))
            assert table[i] == want, i
        want = [int(mpmath.nint(mpmath.ln(2) ** j / mpmath.factorial(j) * 2 ** w))
                for j in range(prm.degree + 1)]
    assert list(exp2_coeffs(fmt)) == want
    assert all(1 << w <= t < 2 << w for t in table)


def test_every_e5m6_word_is_faithful():
    """All 4,096 words of FloatFormat(5, 6): the 2,458 whose 2**x is neither 0 nor inf by
    range faithful, 2 of them (0.08%) not correctly rounded; the others exact."""
    words = np.arange(E5M6.word_mask + 1)
    n, not_cr = check_against_oracle(E5M6, words, exp2(E5M6, words))
    assert n > 2_000
    assert not_cr <= n // 100


@pytest.mark.parametrize("fmt", [FP16, BF16], ids=lambda f: f.name)
def test_every_16_bit_word_is_faithful(fmt):
    """All 65,536 words of fp16 (of the 39,554 checked against mpmath, 150 (0.38%) not
    correctly rounded) and of bf16 (4 of 34,313)."""
    words = np.arange(fmt.word_mask + 1)
    n, not_cr = check_against_oracle(fmt, words, exp2(fmt, words))
    assert not_cr <= n // 100


def _fp32_words(n, seed):
    """Edge words, uniform bit patterns, and x uniform in [-160, 130] (the subnormal,
    normal and overflow results) and in +-[2**-40, 2**-20] (results next to 1)."""
    rng = np.random.default_rng(seed)
    (uni,) = random_operands(FP32, n, rng, arity=1)
    band = rng.uniform(-160, 130, n).astype(np.float32).view(np.uint32)
    tiny = (rng.choice([-1, 1], n) * 2.0 ** rng.uniform(-40, -20, n))
    tiny = tiny.astype(np.float32).view(np.uint32)
    ints = np.arange(-152, 130, dtype=np.float32).view(np.uint32)      # 2**n exactly
    return np.concatenate([edge_words(FP32), ints, uni, band, tiny]).astype(np.uint32)


def test_fp32_random_and_edge_words_are_faithful():
    """13 of these 10,626 results are not correctly rounded (of 100,000 x uniform in
    [-150, 128]: 321, 0.32%)."""
    words = _fp32_words(4_000, 2026)
    got = exp2(FP32, words)
    n, not_cr = check_against_oracle(FP32, words, got)
    assert n > 8_000 and not_cr <= n // 100
    # integers give 2**n exactly (a normal, a subnormal, or 0 / inf past the range)
    ints = np.arange(-152, 130)
    want = [exact.round_to_format(FP32, 0, Fraction(2) ** int(v)) for v in ints]
    assert exp2(FP32, ints.astype(np.float32).view(np.uint32)).tolist() == want


def test_fp64_on_the_exact_path():
    """The exact path takes any format: fp64 (degree 5, 512 words) on a sample."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-1080, 1030, 150), rng.uniform(-1, 1, 50)])
    words = x.view(np.uint64)
    got = exp2(FP64, words)
    check_against_oracle(FP64, words, got)
    with pytest.raises(InvalidValue, match="impl must be 'exact' or 'auto' for e11m52"):
        exp2(FP64, words, impl="numpy")


@pytest.mark.parametrize("fmt", [E5M6, FP16, BF16, FloatFormat(3, 2), FloatFormat(2, 1)],
                         ids=lambda f: f.name)
def test_numpy_path_equals_the_exact_one_on_every_word(fmt):
    words = np.arange(fmt.word_mask + 1)
    a = exp2(fmt, words, impl="exact")
    b = exp2(fmt, words, impl="numpy")
    assert a.dtype == b.dtype
    assert np.array_equal(a, b), np.nonzero(a != b)[0][:5]


def test_numpy_path_equals_the_exact_one_on_fp32():
    words = _fp32_words(40_000, 7)
    assert np.array_equal(exp2(FP32, words, impl="exact"), exp2(FP32, words, impl="numpy"))


def test_a_million_fp32_words_take_seconds():
    """The testbench's load: 1,000,000 fp32 words on the numpy path: ~0.9 s on an idle
    2-core machine, ~3-4 s while both cores build simulators; the bound is seconds, not
    minutes (the exact path takes ~35 us a word: ~35 s)."""
    words = np.random.default_rng(1).integers(0, 1 << 32, 1_000_000, dtype=np.uint64)
    words = words.astype(np.uint32)
    exp2(FP32, words[:10])                                  # the table, once
    t = time.perf_counter()
    out = exp2(FP32, words)
    assert time.perf_counter() - t < 20.0
    assert out.shape == words.shape and out.dtype == np.uint32


@pytest.mark.parametrize("fmt", [E5M6, FP16, FP32], ids=lambda f: f.name)
def test_specials(fmt):
    one = fmt.bias << fmt.frac_bits
    nan_words = [fmt.canonical_nan, fmt.pos_inf | 1, fmt.neg_inf | fmt.frac_mask]
    cases = {0: one, fmt.sign_mask: one,                    # 2**(+-0) = 1
             fmt.pos_inf: fmt.pos_inf, fmt.neg_inf: 0,      # 2**inf, 2**-inf
             fmt.max_finite: fmt.pos_inf,                   # overflow
             fmt.max_finite | fmt.sign_mask: 0,             # underflow past the subnormals
             1: one, 1 | fmt.sign_mask: one,                # 2**(+-tiny) rounds to 1
             one: one + (1 << fmt.frac_bits)}               # 2**1 = 2
    cases.update({w: fmt.canonical_nan for w in nan_words})
    for impl in ("exact", "numpy"):
        for w, want in cases.items():
            assert exp2(fmt, w, impl=impl) == want, (impl, hex(w))
            assert isinstance(exp2(fmt, w, impl=impl), int)
    # the smallest subnormal result: 2**(emin - p) exactly
    x = exact.round_to_format(fmt, 1, Fraction(fmt.frac_bits - fmt.emin))
    assert exp2(fmt, x) == 1
    # 2**(emin - p - 1) is half the smallest subnormal: a tie, to the even +0
    x = exact.round_to_format(fmt, 1, Fraction(fmt.frac_bits + 1 - fmt.emin))
    assert exp2(fmt, x) == 0


def test_arrays_keep_their_shape():
    words = np.arange(24, dtype=np.uint16).reshape(2, 3, 4) + 0x3C00
    for impl in ("exact", "numpy"):
        out = exp2(FP16, words, impl=impl)
        assert out.shape == (2, 3, 4) and out.dtype == np.uint16
    assert exp2(FP16, np.array([], dtype=np.uint16)).shape == (0,)


def test_bad_arguments():
    with pytest.raises(InvalidType, match="^fmt must be a FloatFormat, not str$"):
        exp2("fp32", 0)
    with pytest.raises(InvalidValue, match="^impl must be one of auto, exact, numpy, not 'x'$"):
        exp2(FP32, 0, impl="x")
    with pytest.raises(InvalidValue, match="x_words must be a fp16 word in 0..0xffff, not -1"):
        exp2(FP16, -1)
    with pytest.raises(InvalidType, match="x_words must be an int word or an integer array"):
        exp2(FP16, 1.5)
    with pytest.raises(InvalidType, match="^fmt must be a FloatFormat, not int$"):
        exp2_params(3)
