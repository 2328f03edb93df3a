"""The (v2) amendments: CR-12's no_early_readings, CR-13's best run; and CR-5/CR-6 by name."""

from api.clinical import build_policy, evaluate_level, evaluate_target
from tests.clinical.factories import MEDICARE, block, codes, diary, level_block, verdict_of


def test_cr12_a_diary_starting_after_the_onset_window_is_indeterminate_not_negative() -> None:
    """The diary starts at 6 h: it cannot show when relief began, whatever the later readings show."""
    for posts in ([(360, 1), (420, 1)], [(360, 8), (420, 8)], [(61, 1), (120, 1)]):
        result = verdict_of("bupivacaine", 8, posts)
        assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["no_early_readings"])
    assert "360 min after the block" in verdict_of("lidocaine", 8, [(360, 1)]).reasons[0].message


def test_cr12_a_reading_exactly_at_the_window_end_is_inside_it() -> None:
    result = verdict_of("lidocaine", 8, [(60, 8), (120, 1), (180, 1)])
    assert (result.verdict, codes(result.reasons)) == ("negative", ["late_onset"])


def test_cr12_late_onset_stays_for_no_relief_inside_the_window_and_relief_later() -> None:
    result = verdict_of("lidocaine", 8, [(30, 7), (90, 1), (150, 1)])
    assert (result.verdict, codes(result.reasons)) == ("negative", ["late_onset"])


def test_cr12_no_early_readings_follows_the_policy_window() -> None:
    wide = build_policy("medicare", {"onset_window_minutes": 120})
    assert verdict_of("lidocaine", 8, [(90, 1), (150, 1)], wide).verdict == "positive"


def test_cr12_an_indeterminate_late_diary_neither_confirms_nor_resets() -> None:
    late = evaluate_target(block(), diary(8, [(360, 8), (420, 8)]), MEDICARE)
    blocks = [
        level_block("a", 0, "positive"),
        level_block("b", 7, late.verdict),
        level_block("c", 14, "positive"),
    ]
    assert evaluate_level(blocks, MEDICARE).status == "referral_recommended"


def test_cr13_best_run_is_the_qualifying_run_with_the_longest_duration() -> None:
    """Two qualifying runs: the longer one is reported (CR-18 compares durations of this same run)."""
    result = verdict_of("lidocaine", 8, [(15, 1), (60, 1), (90, 8), (120, 1), (140, 1), (300, 1)])
    # The second run starts after the onset window: the only qualifying run is the first.
    assert (result.verdict, result.relief_duration_minutes) == ("positive", 60)
    wide = build_policy("medicare", {"onset_window_minutes": 180})
    longer = verdict_of("lidocaine", 8, [(15, 1), (60, 1), (90, 8), (120, 1), (140, 1), (300, 1)], wide)
    assert (longer.verdict, longer.relief_duration_minutes) == ("positive", 300)


def test_cr13_without_a_qualifying_run_the_longest_run_in_the_window_is_reported() -> None:
    result = verdict_of("bupivacaine", 8, [(15, 1), (30, 8), (45, 1), (90, 1), (120, 8)])
    assert result.verdict == "negative"
    assert (result.relief_duration_minutes, result.relief_ended) == (90, True)


def test_cr13_relief_seen_to_end_is_reported_for_cr18() -> None:
    assert verdict_of("bupivacaine", 8, [(30, 1), (200, 1), (300, 7)]).relief_ended is True
    assert verdict_of("bupivacaine", 8, [(30, 1), (200, 1)]).relief_ended is False


def test_cr5_injections_and_therapeutic_blocks_are_evaluated_but_never_counted() -> None:
    for changes in ({"procedure": "intra_articular_injection"}, {"intent": "therapeutic"}):
        verdict = evaluate_target(block(**changes), diary(8, [(30, 1), (60, 1)]), MEDICARE)
        assert verdict.verdict == "positive"
        blocks = [level_block("a", 0, "positive", **changes), level_block("b", 7, "positive", **changes)]
        assert evaluate_level(blocks, MEDICARE).status == "no_blocks"


def test_cr6_relief_is_computed_on_the_block_scale_without_conversion() -> None:
    vas = verdict_of("lidocaine", 70, [(30, 14), (60, 14)], pain_scale="vas")
    assert (vas.verdict, vas.peak_relief_pct, vas.warnings) == ("positive", 80.0, ())
    # The minimum baseline is per scale: 7 is fine on NRS, 7 mm is low on VAS.
    low = verdict_of("lidocaine", 7, [(30, 1), (60, 1)], pain_scale="vas")
    assert codes(low.warnings) == ["low_baseline"] and "(VAS)" in low.warnings[0].message
    assert verdict_of("lidocaine", 7, [(30, 1), (60, 1)]).warnings == ()
