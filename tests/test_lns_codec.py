import math

import numpy as np
import pytest

import lns
from lns import LNSFormat
from lns.codec import fields_ref, join, split, store_ref
from lns.word import pack, unpack

FORMATS = [LNSFormat(4, 3), LNSFormat(4, 7, bias=14), LNSFormat(5, 10, bias=30),
           LNSFormat(3, 2, zero="none", underflow="saturate"),
           LNSFormat(6, 4, bias=40, signed=False, underflow="saturate")]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_encode_matches_mpmath_reference(fmt):
    rng = np.random.default_rng(1)
    lo, hi = math.log2(fmt.min_value) - 2, math.log2(fmt.max_value) + 2
    mags = np.exp2(rng.uniform(lo, hi, 3000))
    signs = rng.choice([-1.0, 1.0], 3000) if fmt.signed else np.ones(3000)
    x = np.concatenate([mags * signs, [0.0, fmt.min_value, fmt.max_value, 1.0, 2.0 ** -30]])
    fast = lns.encode(fmt, x)
    ref = np.array([lns.encode_ref(fmt, float(v)) for v in x])
    assert np.array_equal(fast, ref)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_decode_encode_round_trip_every_word(fmt):
    words = np.arange(1 << fmt.total_bits)
    vals = lns.decode(fmt, words)
    again = lns.encode(fmt, vals)
    zero = (words & ((1 << fmt.log_bits) - 1) == 0) & fmt.has_zero
    assert np.array_equal(again[~zero], words[~zero])
    assert np.all(again[zero] == 0) and np.all(vals[zero] == 0)


def test_decode_matches_reference_and_exact_powers():
    fmt = LNSFormat(4, 3)
    words = np.arange(256)
    assert np.array_equal(lns.decode(fmt, words), [lns.decode_ref(fmt, int(w)) for w in words])
    # X = 8 (one whole log unit above 1) is exactly 2.0; the sign bit negates.
    assert lns.decode(fmt, fmt.offset + 8) == 2.0
    assert lns.decode(fmt, (1 << 7) | (fmt.offset + 8)) == -2.0


def test_encode_rounds_to_nearest_in_the_log_domain():
    fmt = LNSFormat(4, 3)
    # The boundary between X = 0 and X = 1 lies at 2**(1/16); just below and above it.
    b = 2 ** (1 / 16)
    assert lns.encode(fmt, b * (1 - 1e-12)) == fmt.offset
    assert lns.encode(fmt, b * (1 + 1e-12)) == fmt.offset + 1


def test_saturation_and_underflow_policies():
    flush = LNSFormat(4, 3)
    sat = LNSFormat(4, 3, underflow="saturate")
    assert lns.encode(flush, 1e30) == flush.e_max
    assert lns.encode(flush, -1e30) == (1 << 7) | flush.e_max
    assert lns.encode(flush, 1e-30) == 0
    assert lns.encode(sat, 1e-30) == sat.e_min
    assert lns.encode(sat, -1e-30) == (1 << 7) | sat.e_min
    assert lns.encode(flush, 0.0) == 0 and lns.encode(flush, -0.0) == 0
    nz = LNSFormat(3, 2, zero="none", underflow="saturate")
    assert lns.encode(nz, 0.0) == 0 and lns.decode(nz, 0) == nz.min_value


@pytest.mark.parametrize("bad, exc, text", [
    (float("nan"), ValueError, "x must be finite, not nan"),
    ([1.0, float("inf")], ValueError, "x must be finite, not inf"),
    ("abc", TypeError, "x must be real numbers, not str"),
    (None, TypeError, "x must be real numbers, not NoneType"),
    (True, TypeError, "x must be real numbers, not bool"),
    (np.array([1.0, 0.0]) > 0, TypeError, "x must be real numbers, not an array of bool"),
    (1 + 2j, TypeError, "x must be real numbers, not complex"),
    ([1.0, None], TypeError, "x must be real numbers, not list"),
])
def test_encode_errors_pinned(bad, exc, text):
    with pytest.raises(exc) as info:
        lns.encode(LNSFormat(4, 3), bad)
    assert str(info.value) == text


def test_encode_negative_in_unsigned_format():
    with pytest.raises(ValueError) as info:
        lns.encode(LNSFormat(4, 3, signed=False), [1.0, -2.0])
    assert str(info.value) == "x must be non-negative for the unsigned format ulns7_i4f3, not -2.0"


def test_decode_errors_pinned():
    fmt = LNSFormat(4, 3)
    with pytest.raises(ValueError) as info:
        lns.decode(fmt, [1, 256])
    assert str(info.value) == "codes must be codes of lns8_i4f3 (0..255), not 256"
    with pytest.raises(TypeError) as info:
        lns.decode(fmt, [1.5])
    assert str(info.value) == "codes must be integer codes, not float64"
    with pytest.raises(TypeError, match="fmt must be an LNSFormat, not str"):
        lns.decode("lns8", [1])


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_one_pack_and_unpack_for_scalars_and_arrays(fmt):
    """`lns.word` called from Python, over arrays (`split`/`join`) and by the scalar
    references gives one answer, and it is the documented rule."""
    p = fmt.params
    xs = np.arange(fmt.x_min - 5, fmt.x_max + 6, dtype=np.int64)
    for sign in ((0, 1) if fmt.signed else (0,)):
        words = join(fmt, np.full(xs.shape, sign), xs)
        for x, word in zip(xs.tolist(), words.tolist()):
            assert pack(sign, x, p) == store_ref(fmt, sign, x) == word
            if x > fmt.x_max:
                expect = fmt.word(sign, fmt.e_max)
            elif x < fmt.x_min:
                expect = 0 if fmt.underflow == "flush" else fmt.word(sign, fmt.e_min)
            else:
                expect = fmt.word(sign, x + fmt.offset)
            assert word == expect, (sign, x)
    every = np.arange(1 << fmt.total_bits, dtype=np.int64)
    sign, x, zero = split(fmt, every)
    for w in every.tolist():
        s, xx, z = unpack(w, p)
        assert (s, xx, bool(z)) == fields_ref(fmt, w) == (sign[w], x[w], zero[w])
        e = w & ((1 << fmt.log_bits) - 1)
        assert xx == e - fmt.offset and bool(z) == (fmt.has_zero and e == 0)
    assert store_ref(fmt, 1, None) == (0 if fmt.has_zero else fmt.word(0, fmt.e_min))


def test_encode_ref_rejects_what_encode_rejects():
    with pytest.raises(TypeError, match="^x must be real numbers, not bool$"):
        lns.encode_ref(LNSFormat(4, 3), True)
    assert lns.encode_ref(LNSFormat(4, 3), np.float32(2)) == lns.encode(LNSFormat(4, 3), 2.0)


def test_codes_of_unsigned_dtypes_are_checked_unwrapped():
    fmt = LNSFormat(4, 3)
    with pytest.raises(ValueError) as info:
        lns.decode(fmt, np.array([3, 2**64 - 1], dtype=np.uint64))
    assert str(info.value) == "codes must be codes of lns8_i4f3 (0..255), not 18446744073709551615"
    assert lns.decode(fmt, np.array([72], dtype=np.uint64))[0] == 2.0
    assert lns.decode(fmt, np.array([72], dtype=np.uint8))[0] == 2.0
