"""CR-8: relief arithmetic is exact, compared with >=, reported to one decimal."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.clinical import meets_threshold, relief_fraction, report_pct

baselines = st.integers(min_value=1, max_value=100)


def test_cr8_nrs_5_to_1_is_exactly_80_percent_and_passes_at_80() -> None:
    relief = relief_fraction(5, 1)
    assert relief == Fraction(80)
    assert isinstance(relief, Fraction)
    assert meets_threshold(relief, 80)


def test_cr8_vas_just_below_threshold_fails() -> None:
    assert relief_fraction(100, 21) == 79
    assert not meets_threshold(relief_fraction(100, 21), 80)
    assert not meets_threshold(Fraction(7999, 100), 80)


def test_cr8_threshold_may_be_a_fraction() -> None:
    assert meets_threshold(Fraction(200, 3), Fraction(200, 3))
    assert not meets_threshold(Fraction(66), Fraction(200, 3))


@pytest.mark.parametrize("baseline", [0, -1])
def test_cr8_baseline_must_be_above_zero(baseline: int) -> None:
    with pytest.raises(ValueError, match="baseline"):
        relief_fraction(baseline, 0)


def test_cr8_score_above_baseline_is_negative_relief() -> None:
    assert relief_fraction(6, 8) == Fraction(-100, 3)


@pytest.mark.parametrize(
    ("value", "reported"),
    [
        (Fraction(175, 2), 87.5),
        (Fraction(200, 3), 66.7),
        (Fraction(100, 3), 33.3),
        (Fraction(80), 80.0),
        (Fraction(1, 20), 0.1),
        (Fraction(-100, 3), -33.3),
        (Fraction(-49, 4), -12.3),
        (Fraction(1225, 100), 12.3),
    ],
)
def test_cr8_reported_to_one_decimal_half_up(value: Fraction, reported: float) -> None:
    assert report_pct(value) == reported


@given(baselines, st.integers(0, 100), st.integers(0, 100))
def test_cr8_relief_is_monotone_in_the_score(baseline: int, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert relief_fraction(baseline, low) >= relief_fraction(baseline, high)


@given(baselines, st.integers(0, 100))
def test_cr8_relief_exactly_at_threshold_passes(baseline: int, score: int) -> None:
    relief = relief_fraction(baseline, score)
    assert meets_threshold(relief, relief)
    assert not meets_threshold(relief - Fraction(1, 10**9), relief)


@given(st.integers(1, 20))
def test_cr8_one_fifth_of_baseline_is_exactly_80_percent(k: int) -> None:
    assert relief_fraction(5 * k, k) == 80
    assert meets_threshold(relief_fraction(5 * k, k), 80)


@given(baselines, st.integers(0, 200))
def test_cr8_report_is_within_half_a_tenth(baseline: int, score: int) -> None:
    relief = relief_fraction(baseline, score)
    reported = report_pct(relief)
    assert abs(Fraction(reported) - relief) <= Fraction(1, 20) + Fraction(1, 10**9)
    assert round(reported * 10) == pytest.approx(reported * 10)
