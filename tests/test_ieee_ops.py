"""The IEEE reference operations (`lns.ieee.ops`, `lns.ieee.exact`).

Oracles, independent of the code under test:
* a brute-force nearest-word search over the sorted table of every finite value of a small
  format (`Fractions`, ties to the even word, a virtual ``2**(emax+1)`` standing for the
  overflow to infinity), with the class and sign of the result (NaN, infinity, signed zero)
  taken from float64 arithmetic on the decoded operands, which for these formats is exact in
  class and sign;
* hand-worked words;
* the exact path against the numpy path (two different computations of one definition).
SoftFloat is in `test_ieee_softfloat.py`.
"""

from __future__ import annotations

import bisect
from fractions import Fraction

import numpy as np
import pytest

from lns.errors import InvalidType, InvalidValue
from lns.ieee import FLOAT_FORMATS, FloatFormat, exact, ops, vectors

FP32, BF16, FP16 = FLOAT_FORMATS["fp32"], FLOAT_FORMATS["bf16"], FLOAT_FORMATS["fp16"]
FP64 = FloatFormat(11, 52, "fp64")
E3M2, E4M3, E5M2 = FloatFormat(3, 2), FloatFormat(4, 3), FloatFormat(5, 2)
ALL_OPS = ops.BINARY_OPS + ops.UNARY_OPS


# ---- the brute-force oracle ---------------------------------------------------------------
def _value(fmt, w):
    """Exact value of a finite non-negative word, from the IEEE definition (format docs)."""
    big_e, t = (w >> fmt.frac_bits) & fmt.exp_max, w & fmt.frac_mask
    if big_e == 0:
        return Fraction(t, 1 << fmt.frac_bits) * Fraction(2) ** (1 - fmt.bias)
    return (1 + Fraction(t, 1 << fmt.frac_bits)) * Fraction(2) ** (big_e - fmt.bias)


class Oracle:
    def __init__(self, fmt):
        self.fmt = fmt
        self.words = list(range(fmt.pos_inf)) + [fmt.pos_inf]
        self.values = [_value(fmt, w) for w in range(fmt.pos_inf)]
        self.values.append(Fraction(2) ** (fmt.bias + 1))    # inf stands at 2**(emax+1)

    def nearest(self, cmp):
        """The word nearest to a positive x, given ``cmp(v)`` = -1, 0, 1 as v <, =, > x."""
        vals = self.values
        lo, hi = 0, len(vals)                  # the first value not below x
        while lo < hi:
            mid = (lo + hi) // 2
            if cmp(vals[mid]) < 0:
                lo = mid + 1
            else:
                hi = mid
        if lo == len(vals):
            return self.fmt.pos_inf            # beyond 2**(emax+1)
        if lo == 0 or cmp(vals[lo]) == 0:
            return self.words[lo]
        c = cmp((vals[lo - 1] + vals[lo]) / 2)
        if c == 0:                             # a tie: the even word
            return self.words[lo - 1] if self.words[lo - 1] % 2 == 0 else self.words[lo]
        return self.words[lo] if c < 0 else self.words[lo - 1]

    def _float(self, w):
        fmt = self.fmt
        s, big_e, t = fmt.fields(w)
        if big_e == fmt.exp_max:
            return float("nan") if t else (-1.0) ** s * float("inf")
        return (-1.0) ** s * float(_value(fmt, w & ~fmt.sign_mask))

    def __call__(self, op, a, b=None):
        fmt = self.fmt
        x, y = self._float(a), (None if b is None else self._float(b))
        with np.errstate(all="ignore"):
            fx, fy = np.float64(x), (None if y is None else np.float64(y))
            r = {"add": lambda: fx + fy, "sub": lambda: fx - fy, "mul": lambda: fx * fy,
                 "div": lambda: fx / fy, "sqrt": lambda: np.sqrt(fx)}[op]()
        if np.isnan(r):
            return fmt.canonical_nan
        sign = fmt.sign_mask if np.signbit(r) else 0
        if np.isinf(r):
            return sign | fmt.pos_inf
        if r == 0:
            return sign
        ex, ey = Fraction(x), (None if y is None else Fraction(y))
        if op == "sqrt":
            return sign | self.nearest(lambda v: _sgn(v * v - ex))
        target = abs({"add": lambda: ex + ey, "sub": lambda: ex - ey, "mul": lambda: ex * ey,
                      "div": lambda: ex / ey}[op]())
        return sign | self.nearest(lambda v: _sgn(v - target))


def _sgn(q):
    return (q > 0) - (q < 0)


_ORACLES = {}


def oracle(fmt):
    if fmt not in _ORACLES:
        _ORACLES[fmt] = Oracle(fmt)
    return _ORACLES[fmt]


def _operands(fmt, op, n, seed):
    """Random and edge operands for one op (edge pairs for binary ops, edge words for sqrt)."""
    rng = np.random.default_rng(seed)
    if op in ops.UNARY_OPS:
        (a,) = vectors.random_operands(fmt, n, rng, arity=1)
        return (np.concatenate([vectors.edge_words(fmt), a]),)
    a, b = vectors.random_operands(fmt, n, rng)
    ea, eb = vectors.edge_pairs(fmt)
    return np.concatenate([ea, a]), np.concatenate([eb, b])


def _check_against_oracle(fmt, op, args, impl):
    got = ops.apply(fmt, op, *args, impl=impl)
    orc = oracle(fmt)
    bad = []
    for i in range(len(got)):
        operands = [int(x[i]) for x in args]
        want = orc(op, *operands)
        if int(got[i]) != want:
            bad.append(([hex(o) for o in operands], hex(int(got[i])), hex(want)))
    assert not bad, f"{fmt.name} {op} {impl}: {len(bad)} mismatches, first {bad[:5]}"


# ---- exhaustive on tiny formats, brute force on random operands for 16-bit formats ----------
@pytest.mark.parametrize("fmt", [E3M2, FloatFormat(2, 1), FloatFormat(2, 3)],
                         ids=lambda f: f.name)
@pytest.mark.parametrize("op", ALL_OPS)
def test_exact_path_exhaustive_on_tiny_formats(fmt, op):
    """Every operand pair.  e2m3 (bias 1, emin 0, p 3) has square roots that are subnormal,
    which no standard format has."""
    w = np.arange(fmt.word_mask + 1)
    args = (w,) if op == "sqrt" else tuple(x.ravel() for x in np.meshgrid(w, w))
    _check_against_oracle(fmt, op, args, "exact")


@pytest.mark.parametrize("fmt", [E4M3, E5M2], ids=lambda f: f.name)
def test_exact_path_exhaustive_sqrt_and_sampled_pairs_on_fp8_formats(fmt):
    _check_against_oracle(fmt, "sqrt", (np.arange(fmt.word_mask + 1),), "exact")
    for op in ops.BINARY_OPS:
        _check_against_oracle(fmt, op, _operands(fmt, op, 1500, seed=1), "exact")


@pytest.mark.parametrize("fmt", [BF16, FP16], ids=lambda f: f.name)
@pytest.mark.parametrize("op", ALL_OPS)
def test_both_paths_against_brute_force_on_16_bit_formats(fmt, op):
    args = _operands(fmt, op, 1500, seed=2)
    for impl in ("exact", "numpy"):
        _check_against_oracle(fmt, op, args, impl)


# ---- the numpy path against the exact path ------------------------------------------------
@pytest.mark.parametrize("fmt", [FP32, BF16, FP16, FP64], ids=lambda f: f.name)
@pytest.mark.parametrize("op", ALL_OPS)
def test_numpy_path_equals_exact_path(fmt, op):
    args = _operands(fmt, op, 20_000, seed=3)
    e = ops.apply(fmt, op, *args, impl="exact")
    f = ops.apply(fmt, op, *args, impl="numpy")
    bad = np.flatnonzero(e != f)
    assert bad.size == 0, [(tuple(hex(int(x[i])) for x in args), hex(int(e[i])), hex(int(f[i])))
                           for i in bad[:5]]


@pytest.mark.parametrize("fmt", [BF16, FP16], ids=lambda f: f.name)
def test_numpy_sqrt_exhaustive_on_16_bit_formats(fmt):
    w = np.arange(fmt.word_mask + 1)
    assert np.array_equal(ops.sqrt(fmt, w, impl="numpy"), ops.sqrt(fmt, w, impl="exact"))


@pytest.mark.parametrize("fmt", [BF16, FP16], ids=lambda f: f.name)
@pytest.mark.parametrize("op", ["add", "mul", "div"])
def test_numpy_path_where_the_result_is_subnormal(fmt, op):
    """The double-rounding argument's delicate part (bf16 subnormals are float32 subnormals):
    every positive finite word against operands that put the result at the bottom of the
    range (cancellation onto the subnormals, tiny products, quotients by huge divisors),
    numpy path against exact path."""
    a = np.arange(1, fmt.pos_inf)
    s = fmt.sign_mask
    second = {"add": [fmt.min_normal | s, (fmt.min_normal + 5) | s, 3 | s],
              "mul": [fmt.min_normal, fmt.min_normal | 0x5, 0x3],
              "div": [fmt.max_finite, (fmt.exp_max - 2) << fmt.frac_bits | 0x3]}[op]
    for b in second:
        bb = np.full_like(a, b)
        assert np.array_equal(ops.apply(fmt, op, a, bb, impl="numpy"),
                              ops.apply(fmt, op, a, bb, impl="exact")), hex(b)


# ---- hand-worked cases --------------------------------------------------------------------
@pytest.mark.parametrize("impl", ["exact", "numpy"])
def test_hand_worked_fp32(impl):
    f = FP32
    one, two, three, half = 0x3F800000, 0x40000000, 0x40400000, 0x3F000000
    assert ops.add(f, one, one, impl=impl) == two
    assert ops.sub(f, three, one, impl=impl) == two
    assert ops.mul(f, three, half, impl=impl) == 0x3FC00000                 # 1.5
    assert ops.div(f, one, three, impl=impl) == 0x3EAAAAAB                  # 1/3 rounds up
    assert ops.sqrt(f, two, impl=impl) == 0x3FB504F3                        # sqrt 2
    assert ops.add(f, one, 0x33800000, impl=impl) == one        # 1 + 2**-24: tie, to even 1
    assert ops.add(f, 0x3F800001, 0x33800000, impl=impl) == 0x3F800002     # tie, up to even
    assert ops.mul(f, 0x7F7FFFFF, two, impl=impl) == f.pos_inf              # overflow
    assert ops.mul(f, 0x00000001, half, impl=impl) == 0                     # tie to even 0
    assert ops.mul(f, 0x00000003, half, impl=impl) == 0x00000002            # 1.5 -> 2
    assert ops.mul(f, 0x80000001, half, impl=impl) == 0x80000000            # -0 underflow
    assert ops.div(f, 0x00800000, two, impl=impl) == 0x00400000             # to subnormal


@pytest.mark.parametrize("fmt", [FP32, BF16, FP16, E4M3], ids=lambda f: f.name)
def test_special_cases(fmt):
    impls = ["exact"] + (["numpy"] if fmt.numpy_dtype is not None else [])
    pz, nz, inf, ninf, nan = 0, fmt.sign_mask, fmt.pos_inf, fmt.neg_inf, fmt.canonical_nan
    one = fmt.bias << fmt.frac_bits
    payload_nan = fmt.pos_inf | fmt.sign_mask | 1               # negative, signalling
    for impl in impls:
        def op(name, *a):
            return ops.apply(fmt, name, *a, impl=impl)
        assert op("sub", one, one) == pz                         # x - x = +0
        assert op("add", nz, nz) == nz and op("add", nz, pz) == pz
        assert op("sub", nz, pz) == nz and op("sub", pz, pz) == pz
        assert op("mul", nz, one) == nz and op("mul", nz, nz) == pz
        assert op("div", pz, one | fmt.sign_mask) == nz
        assert op("sqrt", nz) == nz and op("sqrt", pz) == pz and op("sqrt", inf) == inf
        assert op("div", one, pz) == inf and op("div", one, nz) == ninf
        assert op("div", one, inf) == pz and op("div", one | fmt.sign_mask, inf) == nz
        assert op("add", inf, one) == inf and op("mul", ninf, one) == ninf
        for name, a in [("sub", (inf, inf)), ("add", (inf, ninf)), ("mul", (inf, pz)),
                        ("mul", (nz, ninf)), ("div", (pz, nz)), ("div", (inf, ninf)),
                        ("sqrt", (one | fmt.sign_mask,)), ("sqrt", (ninf,)),
                        ("add", (payload_nan, one)), ("mul", (one, payload_nan)),
                        ("sqrt", (payload_nan,)), ("div", (nan, pz))]:
            assert op(name, *a) == nan, (impl, name, a)


def test_scalar_in_scalar_out_and_broadcasting():
    r = ops.add(FP32, 0x3F800000, 0x3F800000)
    assert type(r) is int and r == 0x40000000
    a = np.array([[0x3F800000], [0x40000000]], dtype=np.uint32)
    b = np.array([0x3F800000, 0x40000000, 0x40400000], dtype=np.uint32)
    for impl in ("exact", "numpy"):
        out = ops.mul(FP32, a, b, impl=impl)
        assert out.shape == (2, 3) and out.dtype == np.uint32
        assert out[1, 2] == 0x40C00000                            # 2 * 3 = 6
    assert ops.sqrt(BF16, np.array([0x4080], dtype=np.uint16)).tolist() == [0x4000]
    assert ops.add(E4M3, np.array([0x38]), 0x38).dtype == np.uint8   # 1 + 1, exact path
    assert int(ops.add(E4M3, np.array([0x38]), 0x38)[0]) == 0x40


def test_round_to_format_against_brute_force():
    rng = np.random.default_rng(4)
    for fmt in (BF16, E4M3):
        orc = oracle(fmt)
        for _ in range(3000):
            num = int(rng.integers(1, 1 << 40))
            # half the time a dyadic value (its expansion ends: exact ties happen)
            den = int(rng.integers(1, 1 << 40)) if rng.integers(2) else 1 << int(rng.integers(40))
            x = Fraction(num, den) * Fraction(2) ** int(rng.integers(-fmt.bias - fmt.frac_bits - 3,
                                                                    fmt.bias + 3))
            want = orc.nearest(lambda v: _sgn(v - x))
            assert exact.round_to_format(fmt, 0, x) == want, (fmt.name, x)
            assert exact.round_to_format(fmt, 1, x) == want | fmt.sign_mask
        assert exact.round_to_format(fmt, 1, Fraction(0)) == fmt.sign_mask


def test_decode_and_to_fraction():
    assert exact.to_fraction(FP32, 0x3F800000) == 1
    assert exact.to_fraction(FP32, 0x00000001) == Fraction(1, 2 ** 149)
    assert exact.to_fraction(BF16, 0xC0C0) == -6
    with pytest.raises(InvalidValue, match="finite"):
        exact.to_fraction(BF16, BF16.pos_inf)


def test_bad_input_is_one_clear_error():
    with pytest.raises(InvalidType, match="FloatFormat"):
        ops.add("fp32", 0, 0)
    with pytest.raises(InvalidValue, match="word in"):
        ops.add(BF16, 0x10000, 0)
    with pytest.raises(InvalidValue, match="word in"):
        ops.sqrt(BF16, -1)
    with pytest.raises(InvalidValue, match="words in"):
        ops.mul(BF16, np.array([0, 70000]), 0)
    with pytest.raises(InvalidType, match="integer array"):
        ops.add(FP32, np.array([1.0]), 0)
    with pytest.raises(InvalidType, match="bool"):
        ops.add(FP32, True, 0)
    with pytest.raises(InvalidValue, match="impl"):
        ops.add(FP32, 0, 0, impl="fast")
    with pytest.raises(InvalidValue, match="no numpy type"):
        ops.add(E4M3, 0, 0, impl="numpy")
    with pytest.raises(InvalidValue, match="op must be"):
        ops.apply(FP32, "pow", 0, 0)
    with pytest.raises(InvalidValue, match="operand"):
        ops.apply(FP32, "sqrt", 0, 0)
    with pytest.raises(InvalidType, match="exact"):
        exact.round_to_format(FP32, 0, 0.5)


@pytest.mark.parametrize("fmt", [BF16, FP16, E4M3], ids=lambda f: f.name)
def test_tie_pairs_are_ties(fmt):
    """Each tie pair's exact sum or product is a midpoint of two neighbouring values (the
    virtual 2**(emax+1) included: the overflow threshold), so the edge table does test ties."""
    orc = oracle(fmt)
    vals = orc.values
    a, b = vectors.tie_pairs(fmt)
    assert len(a) >= 8
    for x, y in zip(a.tolist(), b.tolist()):
        fx, fy = (exact.to_fraction(fmt, w) for w in (x, y))
        ties = 0
        for r in (abs(fx + fy), abs(fx * fy)):
            i = bisect.bisect_left(vals, r)           # vals[i - 1] < r <= vals[i]
            ties += 0 < i < len(vals) and (vals[i - 1] + vals[i]) / 2 == r
        assert ties >= 1, (hex(x), hex(y))


@pytest.mark.parametrize("fmt", [BF16, FP16], ids=lambda f: f.name)
@pytest.mark.parametrize("op", ALL_OPS)
def test_native_narrow_dtype_arithmetic_matches(fmt, op):
    """ml_dtypes' own bfloat16 and numpy's own float16 arithmetic (what other code may call
    directly) give the reference's words, NaNs aside (their NaN is not canonical)."""
    args = _operands(fmt, op, 20_000, seed=9)
    want = ops.apply(fmt, op, *args, impl="exact")
    dt = fmt.numpy_dtype
    fl = [x.view(dt) for x in args]
    with np.errstate(all="ignore"):
        got = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
               "sqrt": np.sqrt}[op](*fl)
    nan = np.isnan(got.astype(np.float32))
    assert np.array_equal(got.view(want.dtype)[~nan], want[~nan])
    assert np.all(want[nan] == fmt.canonical_nan)
