"""CR-8: the integer threshold comparison of the verdict engine is the exact Fraction comparison.

runs.relief_runs (used by verdict._decide) compares (baseline - score) x 100 >= threshold x baseline
through relief.relief_meets instead of building a Fraction per reading; it must never disagree with
meets_threshold(relief_fraction(baseline, score), threshold).
"""

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from api.clinical.facts import ReadingFacts
from api.clinical.relief import meets_threshold, relief_fraction, relief_meets
from api.clinical.runs import Point, relief_runs

baselines = st.integers(min_value=1, max_value=10_000)
scores = st.integers(min_value=-100, max_value=20_000)  # beyond any scale: the rule is arithmetic
int_thresholds = st.integers(min_value=-200, max_value=200)
fraction_thresholds = st.fractions(min_value=-200, max_value=200, max_denominator=1000)


@given(baselines, scores, int_thresholds)
def test_cr8_integer_comparison_agrees_with_fraction_for_int_thresholds(
    baseline: int, score: int, threshold: int
) -> None:
    exact = meets_threshold(relief_fraction(baseline, score), threshold)
    assert relief_meets(baseline, score, threshold) is exact


@given(baselines, scores, fraction_thresholds)
def test_cr8_integer_comparison_agrees_with_fraction_for_fraction_thresholds(
    baseline: int, score: int, threshold: Fraction
) -> None:
    exact = meets_threshold(relief_fraction(baseline, score), threshold)
    assert relief_meets(baseline, score, threshold) is exact


@given(baselines, st.integers(min_value=1, max_value=100))
def test_cr8_integer_comparison_agrees_at_the_exact_boundary(baseline: int, threshold: int) -> None:
    # Scores whose relief lands on or right beside the threshold: where a rounding slip would show.
    boundary = baseline - Fraction(threshold * baseline, 100)
    for score in {int(boundary) - 1, int(boundary), int(boundary) + 1}:
        exact = meets_threshold(relief_fraction(baseline, score), threshold)
        assert relief_meets(baseline, score, threshold) is exact


@given(baselines, st.lists(st.integers(min_value=0, max_value=10_000), max_size=15), int_thresholds)
def test_cr8_relief_runs_hold_exactly_the_readings_meeting_the_threshold(
    baseline: int, post_scores: list[int], threshold: int
) -> None:
    block_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    points = []
    for i, score in enumerate(post_scores):
        after = timedelta(minutes=15 * (i + 1))
        points.append(Point(ReadingFacts(uuid4(), "post", block_at + after, score), after, baseline))
    in_runs = [point for run in relief_runs(points, threshold) for point in run]
    expected = [p for p in points if meets_threshold(relief_fraction(baseline, p.reading.score), threshold)]
    assert in_runs == expected
