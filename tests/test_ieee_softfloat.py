"""The IEEE reference against Berkeley SoftFloat (`lns.ieee.softfloat`, via softfloatpy).

A seeded slice of the million-per-operation benchmark (`benchmarks/bench_ieee_softfloat.py`):
the edge table and 20,000 random operands per operation and format, both paths of
`lns.ieee.ops` compared bit for bit, NaNs included.
"""

from __future__ import annotations

import numpy as np
import pytest
import softfloatpy as sf

from lns.errors import InvalidValue
from lns.ieee import FLOAT_FORMATS, FloatFormat, ops
from lns.ieee.softfloat import cross_check, softfloat_apply

ALL_OPS = ops.BINARY_OPS + ops.UNARY_OPS


@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("op", ALL_OPS)
def test_reference_agrees_with_softfloat(name, op):
    fmt = FLOAT_FORMATS[name]
    r = cross_check(fmt, op, 20_000, seed=11, impls=("numpy", "exact"))
    assert r.mismatches == {"numpy": 0, "exact": 0} and r.nan_class_mismatches == 0, r
    assert r.ok and r.vectors == 20_000 and r.edge >= 38
    assert r.nan_results > 0                 # NaNs were compared too


def test_softfloat_default_nan_is_the_canonical_nan():
    """The claim that lets results compare bit for bit: SoftFloat's (RISC-V) default NaN is
    `FloatFormat.canonical_nan` and no payload propagates."""
    for name in ("fp32", "bf16", "fp16"):
        fmt = FLOAT_FORMATS[name]
        payload = fmt.pos_inf | fmt.sign_mask | 3                  # negative signalling NaN
        got = softfloat_apply(fmt, "add", np.array([fmt.pos_inf, payload]),
                              np.array([fmt.neg_inf, 0]))
        assert got.tolist() == [fmt.canonical_nan] * 2
    assert sf.f32_to_bf16(sf.Float32.from_bytes(bytes.fromhex("ffc01234"))).to_bytes() == \
        bytes.fromhex("7fc0")


def test_softfloat_adapter_reads_words_correctly():
    """Hand-worked words through the adapter, so agreement is not two identical mistakes."""
    fp32, bf16, fp16 = (FLOAT_FORMATS[k] for k in ("fp32", "bf16", "fp16"))
    assert softfloat_apply(fp32, "div", np.array([0x3F800000]), np.array([0x40400000]))[0] \
        == 0x3EAAAAAB                                            # 1/3
    assert softfloat_apply(bf16, "div", np.array([0x3F80]), np.array([0x4040]))[0] == 0x3EAB
    assert softfloat_apply(fp16, "sqrt", np.array([0x4000]))[0] == 0x3DA8       # sqrt 2
    assert softfloat_apply(bf16, "mul", np.array([0x0001]), np.array([0x3F00]))[0] == 0


def test_cross_check_reports_a_difference():
    """A cross-check that cannot fail proves nothing: an operation that differs (sub for add)
    must show mismatches."""
    fmt = FLOAT_FORMATS["bf16"]
    from lns.ieee import softfloat as module
    real = module.softfloat_apply
    try:
        module.softfloat_apply = lambda f, op, *w: real(f, "sub" if op == "add" else op, *w)
        r = cross_check(fmt, "add", 2000, seed=1)
    finally:
        module.softfloat_apply = real
    assert r.mismatches["numpy"] > 1000 and len(r.first_mismatches) == 5 and not r.ok


def test_cross_check_bad_input():
    with pytest.raises(InvalidValue, match="SoftFloat"):
        cross_check(FloatFormat(4, 3), "add", 10)
    with pytest.raises(InvalidValue, match="n must be"):
        cross_check(FLOAT_FORMATS["fp32"], "add", -1)
    with pytest.raises(InvalidValue, match="impls"):
        cross_check(FLOAT_FORMATS["fp32"], "add", 1, impls="numpy")
    with pytest.raises(InvalidValue, match="op must be"):
        softfloat_apply(FLOAT_FORMATS["fp32"], "pow", np.array([0]), np.array([0]))
