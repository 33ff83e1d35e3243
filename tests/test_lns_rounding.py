import numpy as np
import pytest

from lns.lfsr import (RANDOM_BITS, STEPS_PER_UPDATE, TAP_MASK, lane_seeds, lfsr_advance,
                      lfsr_advance_ref)
from lns.rounding import (round_shift_rne, round_shift_rne_array, round_shift_rne_ref,
                          round_shift_rtz, round_shift_rtz_ref, round_shift_stochastic,
                          round_shift_stochastic_ref)

RULES = {
    "rne": (round_shift_rne_ref, round_shift_rne),
    "rtz": (round_shift_rtz_ref, round_shift_rtz),
}


@pytest.mark.parametrize("rule", RULES)
def test_kernel_equals_reference_exhaustively(rule):
    ref, kern = RULES[rule]
    for s in range(-3, 9):
        for x in range(-300, 301):
            assert kern(x, s) == ref(x, s), (x, s)


def test_rne_ties_go_to_even():
    for impl in (round_shift_rne, round_shift_rne_ref):
        assert impl(5, 1) == 2          # 2.5 -> 2
        assert impl(7, 1) == 4          # 3.5 -> 4
        assert impl(-5, 1) == -2        # -2.5 -> -2
        assert impl(-7, 1) == -4
        assert impl(6, 2) == 2          # 1.5 -> 2
        assert impl(10, 2) == 2         # 2.5 -> 2
        assert impl(11, 2) == 3         # 2.75 -> 3


def test_rtz():
    assert round_shift_rtz(-7, 1) == -3 and round_shift_rtz(7, 1) == 3


@pytest.mark.parametrize("rbits", [1, 3, 8])
def test_stochastic_kernel_equals_reference(rbits):
    for s in range(-2, 14):
        for x in range(0, 200, 3):
            for r in range(0, 1 << rbits, max(1, (1 << rbits) // 8)):
                assert round_shift_stochastic(x, s, r, rbits) == \
                    round_shift_stochastic_ref(x, s, r, rbits), (x, s, r)


def test_stochastic_is_unbiased_over_all_random_values():
    # Averaged over every r, floor(x/2^s + r/2^rbits) equals x/2^s to within 2^-rbits.
    rbits = 8
    for x, s in [(5, 2), (1, 3), (77, 4), (3, 10)]:
        mean = np.mean([round_shift_stochastic(x, s, r, rbits) for r in range(1 << rbits)])
        assert abs(mean - x / 2 ** s) <= 2 ** -rbits


def test_lfsr_kernel_equals_reference_and_is_not_trivial():
    state = 0xACE1
    seen = set()
    for _ in range(2000):
        a, b = lfsr_advance(state), lfsr_advance_ref(state)
        assert a == b
        state = a
        assert 0 < state < 2 ** 32
        seen.add(state)
    assert len(seen) == 2000
    assert STEPS_PER_UPDATE >= RANDOM_BITS and TAP_MASK == 0x80200003


def test_lfsr_low_bits_are_roughly_uniform():
    state, counts = 1, np.zeros(16, int)
    for _ in range(16000):
        state = lfsr_advance(state)
        counts[(state & 0xFFFF) >> 12] += 1
    assert counts.min() > 850 and counts.max() < 1150


def test_lane_seeds():
    s = lane_seeds(7, 4)
    assert len(set(s.tolist())) == 4 and np.all(s > 0) and np.all(s < 2 ** 32)
    assert np.array_equal(s, lane_seeds(7, 4))
    assert not np.array_equal(s, lane_seeds(8, 4))
    with pytest.raises(ValueError, match="lanes must be a positive int, not 0"):
        lane_seeds(1, 0)


def test_rne_array_is_the_kernel_over_an_array():
    x = np.arange(-300, 301, dtype=np.int64)
    for s in range(-3, 9):
        out = round_shift_rne_array(x, s)
        assert out.dtype == np.int64
        assert out.tolist() == [round_shift_rne_ref(int(v), s) for v in x], s
