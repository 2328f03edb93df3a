"""CR-28: an ablation's follow-up diary and the durable response that makes a repeat eligible."""

import pytest

from api.clinical import build_policy
from tests.clinical.factories import DAY, codes, follow_up

MINUTE = 1 / DAY  # in days


def test_cr28_relief_to_exactly_180_days_is_a_durable_response() -> None:
    result = follow_up(8, [(7, 3), (30, 2), (90, 3), (180, 4)])
    assert (result.verdict, codes(result.reasons)) == ("positive", ["durable_response"])
    assert (result.relief_duration_minutes, result.required_minutes) == (180 * DAY, 180 * DAY)
    assert result.reasons[0].message.startswith("Relief of 50% or more lasted 180 days after the ablation")


def test_cr28_a_minute_short_of_180_days_and_still_going_is_too_soon_to_tell() -> None:
    result = follow_up(8, [(7, 3), (90, 3), (180 - MINUTE, 4)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["diary_too_short"])
    assert "179 days after the ablation" in result.reasons[0].message


def test_cr28_relief_that_ended_before_180_days_is_not_durable() -> None:
    result = follow_up(8, [(7, 2), (90, 3), (150, 7), (200, 7)])
    assert (result.verdict, codes(result.reasons)) == ("negative", ["relief_too_short"])
    assert "lasted 90 days" in result.reasons[0].message
    assert result.relief_ended is True


def test_cr28_a_run_starting_exactly_at_30_days_counts() -> None:
    assert follow_up(8, [(30, 3), (200, 3)]).verdict == "positive"


def test_cr28_a_run_starting_after_30_days_is_late() -> None:
    result = follow_up(8, [(14, 7), (30 + MINUTE, 3), (200, 3)])
    assert (result.verdict, codes(result.reasons)) == ("negative", ["late_onset"])


def test_cr28_a_follow_up_starting_after_30_days_cannot_tell() -> None:
    result = follow_up(8, [(31, 2), (200, 2)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["no_early_readings"])


def test_cr28_relief_below_the_threshold_is_not_durable() -> None:
    result = follow_up(8, [(7, 5), (200, 5)])  # 37.5%
    assert (result.verdict, codes(result.reasons)) == ("negative", ["relief_below_threshold"])


def test_cr28_exactly_the_threshold_is_enough() -> None:
    assert follow_up(8, [(7, 4), (200, 4)]).verdict == "positive"  # 50% >= 50%


def test_cr28_readings_past_400_days_are_ignored() -> None:
    result = follow_up(8, [(7, 2), (401, 2)])  # only the day-7 reading is read: too short and too thin
    assert (result.verdict, codes(result.reasons)) == (
        "indeterminate",
        ["diary_too_short", "diary_too_sparse"],
    )
    assert follow_up(8, [(7, 2), (400, 2)]).verdict == "positive"


@pytest.mark.parametrize(
    ("overrides", "verdict"),
    [({"repeat_rfa_threshold_pct": 80}, "negative"), ({"repeat_rfa_min_days": 365}, "indeterminate")],
)
def test_cr28_threshold_and_days_follow_the_policy(overrides: dict, verdict: str) -> None:
    assert follow_up(8, [(7, 3), (200, 3)], build_policy("medicare", overrides)).verdict == verdict


@pytest.mark.parametrize(("baseline", "reason"), [(None, "no_baseline"), (0, "baseline_zero")])
def test_cr28_a_follow_up_without_a_usable_baseline_cannot_tell(baseline: int | None, reason: str) -> None:
    result = follow_up(baseline, [(7, 0), (200, 0)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", [reason])


def test_cr28_missing_follow_up_diary() -> None:
    result = follow_up(8, [])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["no_post_readings"])
    assert "400 days" in result.reasons[0].message


def test_cr28_an_analgesic_does_not_cut_a_follow_up() -> None:
    """CR-25 speaks to an anaesthetic's window; a year of follow-up keeps its readings."""
    from api.clinical import evaluate_target
    from tests.clinical.factories import post, pre, rfa_block

    readings = [pre(8), post(7 * DAY, 3, analgesic_taken=True), post(200 * DAY, 3)]
    result = evaluate_target(rfa_block(), readings, build_policy("medicare", {}))
    assert (result.verdict, result.excluded_readings) == ("positive", ())
