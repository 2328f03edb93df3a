"""CR-9..CR-13 and CR-15: the verdict of one block for one target."""

from datetime import timedelta, timezone

import pytest

from api.clinical import ReadingFacts, build_policy, evaluate_target
from tests.clinical.factories import T0, at, block, codes, diary, post, pre, verdict_of


@pytest.mark.parametrize(
    ("agent", "baseline", "posts", "verdict", "reason", "peak", "sustained", "duration"),
    [
        (
            "lidocaine",
            8,
            [(15, 1), (30, 1), (60, 1), (120, 5)],
            "positive",
            "relief_sustained",
            87.5,
            87.5,
            60,
        ),
        ("lidocaine", 5, [(30, 1), (60, 1)], "positive", "relief_sustained", 80.0, 80.0, 60),
        ("lidocaine", 10, [(30, 3), (60, 3)], "negative", "relief_below_threshold", 70.0, None, 0),
        (
            "bupivacaine",
            8,
            [(30, 0), (60, 1), (120, 1)],
            "indeterminate",
            "diary_too_short",
            100.0,
            87.5,
            120,
        ),
        (
            "bupivacaine",
            8,
            [(30, 1), (60, 1), (120, 6), (180, 6)],
            "negative",
            "relief_too_short",
            87.5,
            87.5,
            60,
        ),
    ],
    ids=[
        "lido-87.5-positive",
        "lido-exactly-80-positive",
        "lido-70-negative",
        "bupi-too-short-diary",
        "bupi-short",
    ],
)
def test_cr12_table_examples(
    agent: str,
    baseline: int,
    posts: list[tuple[int, int]],
    verdict: str,
    reason: str,
    peak: float,
    sustained: float | None,
    duration: int,
) -> None:
    result = verdict_of(agent, baseline, posts)
    assert result.verdict == verdict
    assert codes(result.reasons) == [reason]
    assert (result.peak_relief_pct, result.sustained_relief_pct) == (peak, sustained)
    assert result.relief_duration_minutes == duration
    assert result.baseline == baseline
    assert result.warnings == ()


def test_cr13_positive_reason_reads_as_a_sentence() -> None:
    result = verdict_of("bupivacaine", 8, [(30, 1), (60, 1), (240, 1)])
    assert result.required_minutes == 180
    assert result.reasons[0].message == "Relief of 87.5% lasted 240 min; bupivacaine needs 180 min."


def test_cr11_run_qualifies_exactly_at_required_minutes() -> None:
    assert verdict_of("lidocaine", 8, [(30, 1), (60, 1)]).verdict == "positive"
    short = verdict_of("lidocaine", 8, [(30, 1), (59, 1), (90, 8)])
    assert (short.verdict, codes(short.reasons)) == ("negative", ["relief_too_short"])


def test_cr11_run_qualifies_when_onset_is_exactly_at_the_window_end() -> None:
    assert verdict_of("lidocaine", 8, [(60, 1), (90, 1)]).verdict == "positive"


def test_cr12_late_onset_is_negative() -> None:
    result = verdict_of("lidocaine", 8, [(30, 8), (61, 1), (120, 1)])
    assert (result.verdict, codes(result.reasons)) == ("negative", ["late_onset"])
    assert "61 min" in result.reasons[0].message
    assert (result.relief_duration_minutes, result.sustained_relief_pct) == (0, None)


def test_cr12_single_reading_is_indeterminate_too_short_and_too_sparse() -> None:
    result = verdict_of("lidocaine", 8, [(30, 1)])
    assert result.verdict == "indeterminate"
    assert codes(result.reasons) == ["diary_too_short", "diary_too_sparse"]


def test_cr12_single_reading_at_required_minutes_is_too_sparse() -> None:
    result = verdict_of("lidocaine", 8, [(60, 1)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["diary_too_sparse"])


def test_cr12_diary_that_stops_early_is_indeterminate() -> None:
    result = verdict_of("lidocaine", 8, [(15, 1), (30, 1)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["diary_too_short"])
    assert result.relief_duration_minutes == 30


def test_cr12_lone_good_reading_that_ended_is_negative() -> None:
    result = verdict_of("lidocaine", 8, [(15, 6), (60, 1), (90, 8)])
    assert (result.verdict, codes(result.reasons)) == ("negative", ["relief_too_short"])
    assert "1 reading(s) in a row" in result.reasons[0].message


def test_cr12_no_post_readings_is_indeterminate() -> None:
    result = verdict_of("lidocaine", 8, [])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["no_post_readings"])
    assert (result.baseline, result.peak_relief_pct, result.sustained_relief_pct) == (8, None, None)
    assert result.readings_used == ("pre",)


def test_cr9_missing_baseline_is_indeterminate() -> None:
    result = verdict_of("lidocaine", None, [(30, 1), (60, 1)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["no_baseline"])
    assert (result.baseline, result.peak_relief_pct, result.relief_duration_minutes) == (None, None, 0)
    assert result.readings_used == ("post-30", "post-60")


def test_cr9_missing_baseline_and_no_diary_gives_both_reasons() -> None:
    result = verdict_of("lidocaine", None, [])
    assert (result.verdict, codes(result.reasons), result.readings_used) == (
        "indeterminate",
        ["no_baseline", "no_post_readings"],
        (),
    )


def test_cr9_baseline_zero_is_indeterminate() -> None:
    result = verdict_of("lidocaine", 0, [(30, 0), (60, 0)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["baseline_zero"])
    assert (result.baseline, result.peak_relief_pct) == (0, None)
    assert "low_baseline" not in codes(result.warnings)


def test_cr9_baseline_is_the_latest_pre_reading_at_or_before_the_block() -> None:
    readings = [
        pre(9, minutes_before=60, id="early"),
        pre(5, minutes_before=0, id="at-block"),
        post(30, 1),
        post(60, 1),
    ]
    result = evaluate_target(block(), readings, build_policy("medicare", {}))
    assert result.baseline == 5
    assert result.readings_used == ("at-block", "post-30", "post-60")


@pytest.mark.parametrize(
    ("scale", "baseline", "posts"), [("nrs", 3, [(30, 0), (60, 0)]), ("vas", 39, [(30, 5), (60, 5)])]
)
def test_cr9_low_baseline_warns_but_does_not_gate(
    scale: str, baseline: int, posts: list[tuple[int, int]]
) -> None:
    result = verdict_of("lidocaine", baseline, posts, pain_scale=scale)
    assert result.verdict == "positive"
    assert codes(result.warnings) == ["low_baseline"]


def test_cr9_baseline_at_the_minimum_is_not_low() -> None:
    assert verdict_of("lidocaine", 4, [(30, 0), (60, 0)]).warnings == ()


def test_cr9_low_baseline_follows_the_policy() -> None:
    policy = build_policy("medicare", {"min_baseline": {"nrs": 6}})
    assert codes(verdict_of("lidocaine", 5, [(30, 1), (60, 1)], policy).warnings) == ["low_baseline"]


def test_cr9_stale_baseline_warns_after_24_hours() -> None:
    stale = [pre(8, minutes_before=24 * 60 + 1), post(30, 1), post(60, 1)]
    fresh = [pre(8, minutes_before=24 * 60), post(30, 1), post(60, 1)]
    stale_result = evaluate_target(block(), stale, build_policy("medicare", {}))
    assert (stale_result.verdict, codes(stale_result.warnings)) == ("positive", ["stale_baseline"])
    assert evaluate_target(block(), fresh, build_policy("medicare", {})).warnings == ()


def test_cr9_stale_baseline_warns_even_without_post_readings() -> None:
    result = evaluate_target(block(), [pre(8, minutes_before=48 * 60)], build_policy("medicare", {}))
    assert (result.verdict, codes(result.warnings)) == ("indeterminate", ["stale_baseline"])


def test_cr10_pain_worse_reports_negative_relief_with_a_warning() -> None:
    result = verdict_of("lidocaine", 6, [(30, 8), (60, 7)])
    assert (result.verdict, codes(result.reasons)) == ("negative", ["relief_below_threshold"])
    assert result.peak_relief_pct == -16.7
    assert codes(result.warnings) == ["pain_worse"]
    assert "-33.3%" in result.warnings[0].message


def test_cr11_readings_past_the_horizon_are_kept_out() -> None:
    posts = [(30, 1), (60, 1), (120, 1), (24 * 60 + 1, 1)]
    result = verdict_of("bupivacaine", 8, posts)
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["diary_too_short"])
    assert result.readings_used == ("pre", "post-30", "post-60", "post-120")


def test_cr11_horizon_is_inclusive_and_follows_the_policy() -> None:
    at_horizon = verdict_of("bupivacaine", 8, [(30, 1), (60, 1), (24 * 60, 1)])
    assert at_horizon.verdict == "positive"
    short_horizon = build_policy("medicare", {"diary_horizon_hours": 2})
    result = verdict_of("bupivacaine", 8, [(30, 1), (60, 1), (180, 1)], short_horizon)
    assert result.verdict == "indeterminate"


def test_cr11_only_post_readings_past_horizon_is_no_post_readings() -> None:
    result = verdict_of("lidocaine", 8, [(25 * 60, 1)])
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["no_post_readings"])


def test_cr11_min_readings_follows_the_policy() -> None:
    policy = build_policy("medicare", {"min_readings": 3})
    result = verdict_of("lidocaine", 8, [(30, 1), (60, 1), (90, 8)], policy)
    assert (result.verdict, codes(result.reasons)) == ("negative", ["relief_too_short"])
    assert verdict_of("lidocaine", 8, [(15, 1), (30, 1), (60, 1)], policy).verdict == "positive"


def test_cr13_best_run_is_the_longest_starting_in_the_onset_window() -> None:
    result = verdict_of("lidocaine", 8, [(15, 0), (30, 1), (45, 8), (50, 1), (120, 1)])
    assert result.verdict == "positive"
    assert (result.relief_duration_minutes, result.sustained_relief_pct, result.peak_relief_pct) == (
        120,
        87.5,
        100.0,
    )


def test_cr13_a_positive_reports_its_qualifying_run_not_a_thinner_later_one() -> None:
    result = verdict_of("lidocaine", 8, [(15, 0), (60, 0), (90, 8), (100, 1)])
    assert result.verdict == "positive"
    assert (result.relief_duration_minutes, result.sustained_relief_pct) == (60, 100.0)


def test_cr13_duration_is_floored_to_whole_minutes() -> None:
    result = verdict_of("lidocaine", 8, [(30, 1), (90.99, 1)])
    assert result.relief_duration_minutes == 90


def test_cr13_readings_used_are_in_time_order_whatever_the_input_order() -> None:
    readings = diary(8, [(15, 1), (30, 1), (60, 1), (120, 5)])
    result = evaluate_target(block(), list(reversed(readings)), build_policy("medicare", {}))
    assert result.readings_used == ("pre", "post-15", "post-30", "post-60", "post-120")


def test_cr7_post_readings_at_or_before_the_block_and_late_pre_readings_are_ignored() -> None:
    stray = [
        ReadingFacts("post-at-block", "post", T0, 0),
        ReadingFacts("pre-after", "pre", T0 + timedelta(minutes=5), 0),
    ]
    result = evaluate_target(block(), diary(8, [(30, 1), (60, 1)]) + stray, build_policy("medicare", {}))
    assert result.baseline == 8
    assert result.readings_used == ("pre", "post-30", "post-60")


def test_cr10_other_agent_is_judged_on_its_given_minutes() -> None:
    result = verdict_of("other", 8, [(30, 1), (90, 1)], expected_relief_minutes=120)
    assert (result.verdict, result.required_minutes) == ("indeterminate", 120)
    assert "the agent given needs 120 min" in result.reasons[0].message


def test_cr15_positive_placebo_is_reported_honestly_with_a_warning() -> None:
    result = verdict_of("saline_placebo", 8, [(30, 1), (60, 1)])
    assert (result.verdict, result.required_minutes) == ("positive", 60)
    assert codes(result.warnings) == ["placebo_response"]


def test_cr15_placebo_without_relief_has_no_placebo_warning() -> None:
    result = verdict_of("saline_placebo", 8, [(30, 7), (60, 8)])
    assert (result.verdict, result.warnings) == ("negative", ())


@pytest.mark.parametrize(("profile", "verdict"), [("consensus", "positive"), ("medicare", "negative")])
def test_cr21_threshold_follows_the_profile(profile: str, verdict: str) -> None:
    assert verdict_of("lidocaine", 10, [(30, 3), (60, 3)], build_policy(profile, {})).verdict == verdict


def test_cr21_strict_profile_needs_complete_relief() -> None:
    strict = build_policy("strict", {})
    assert verdict_of("lidocaine", 8, [(30, 0), (60, 0)], strict).verdict == "positive"
    assert verdict_of("lidocaine", 8, [(30, 0), (60, 1)], strict).verdict == "negative"


def test_cr11_times_compare_across_timezone_offsets() -> None:
    elsewhere = timezone(timedelta(hours=-5))
    readings = diary(8, [(30, 1)]) + [ReadingFacts("tz", "post", at(60).astimezone(elsewhere), 1)]
    assert evaluate_target(block(), readings, build_policy("medicare", {})).verdict == "positive"
