"""Frame-mapping arithmetic: exact, property-based."""

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsvfi.timing import output_length, position, to_fraction

ratios = st.builds(Fraction, st.integers(1, 2000), st.integers(1, 1000)).filter(lambda r: r >= 1)


@given(st.integers(2, 100_000), ratios)
def test_output_length_keeps_duration(n_src, ratio):
    m = output_length(n_src, ratio)
    assert m == math.floor(n_src * ratio)
    # The output lasts no longer than the source, and less than one output frame shorter.
    assert Fraction(m) / ratio <= n_src < Fraction(m + 1) / ratio


@given(st.integers(0, 10**7), ratios)
def test_position_is_exact(n, ratio):
    i, t = position(n, ratio)
    assert 0 <= t < 1
    assert i + t == Fraction(n) / ratio
    assert i == math.floor(Fraction(n) / ratio)


@given(st.integers(2, 5000), st.integers(1, 16))
def test_integer_ratio_passes_through_every_source_frame(n_src, k):
    ratio = Fraction(k)
    passed = [position(n, ratio)[0] for n in range(output_length(n_src, ratio)) if position(n, ratio)[1] == 0]
    assert passed == list(range(n_src))


@given(ratios.filter(lambda r: r <= 40), st.integers(2, 500))
def test_pass_through_positions(ratio, n_src):
    # t == 0 exactly where n * den is a multiple of num; those are the only source frames kept.
    for n in range(output_length(n_src, ratio)):
        i, t = position(n, ratio)
        assert (t == 0) == (n * ratio.denominator % ratio.numerator == 0)


def test_ntsc_rates_are_exact():
    src = Fraction(24000, 1001)
    ratio = Fraction(60000, 1001) / src
    assert ratio == Fraction(5, 2)
    assert src * ratio == Fraction(60000, 1001)
    # 24000/1001 -> 60000/1001: each source frame is hit every 5 output frames, timesteps 0, .4, .8, .2, .6
    assert [position(n, ratio) for n in range(5)] == [(0, 0), (0, Fraction(2, 5)), (0, Fraction(4, 5)),
                                                       (1, Fraction(1, 5)), (1, Fraction(3, 5))]
    assert position(5 * 10**6, ratio) == (2 * 10**6, 0)
    # 25 -> 59.94 keeps the exact rational ratio 2400/1001 (no float drift after 10^6 frames)
    r = Fraction(60000, 1001) / 25
    assert position(2400 * 10**6, r) == (1001 * 10**6, 0)


@pytest.mark.parametrize("value, expected", [
    (2, Fraction(2)), (2.5, Fraction(5, 2)), ("5/2", Fraction(5, 2)), (" 60000/1001 ", Fraction(60000, 1001)),
    (Fraction(7, 3), Fraction(7, 3)), ("59.94", Fraction(2997, 50)), (59.94, Fraction(2997, 50)),
])
def test_to_fraction(value, expected):
    assert to_fraction(value, "ratio") == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "abc", "1/0", None, True, [2], ""])
def test_to_fraction_rejects(value):
    with pytest.raises(ValueError, match="ratio"):
        to_fraction(value, "ratio")
