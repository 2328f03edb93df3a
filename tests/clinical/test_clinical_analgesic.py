"""CR-25: from the first post reading taken with an analgesic, that reading and every later one are kept
but left out of relief runs and peak relief."""

from api.clinical import ReadingFacts, TargetVerdict, evaluate_target
from tests.clinical.factories import MEDICARE, block, codes, post, pre


def verdict(*posts: ReadingFacts) -> TargetVerdict:
    return evaluate_target(block(), [pre(8), *posts], MEDICARE)


def test_cr25_a_run_completed_before_the_analgesic_stands() -> None:
    result = verdict(post(15, 1), post(30, 1), post(60, 1), post(90, 1, analgesic_taken=True), post(120, 0))
    assert (result.verdict, codes(result.reasons)) == ("positive", ["relief_sustained"])
    assert result.excluded_readings == (("post-90", "after_analgesic"), ("post-120", "after_analgesic"))
    assert result.readings_used == ("pre", "post-15", "post-30", "post-60")
    assert result.relief_duration_minutes == 60


def test_cr25_a_run_still_going_at_the_analgesic_is_indeterminate() -> None:
    result = verdict(post(15, 1), post(30, 1), post(45, 0, analgesic_taken=True), post(120, 0))
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["analgesic_confounds"])
    assert "45 min after the block while relief of 87.5% was still going" in result.reasons[0].message
    assert result.peak_relief_pct == 87.5  # the 0 taken with the analgesic does not count as 100%


def test_cr25_otherwise_cr12_applies_to_the_readings_before_it() -> None:
    result = verdict(post(15, 6), post(30, 6), post(60, 6), post(90, 0, analgesic_taken=True))
    assert (result.verdict, codes(result.reasons)) == ("negative", ["relief_below_threshold"])
    assert result.peak_relief_pct == 25.0


def test_cr25_analgesic_with_the_first_score_leaves_nothing_to_judge() -> None:
    result = verdict(post(15, 0, analgesic_taken=True), post(60, 0))
    assert (result.verdict, codes(result.reasons)) == ("indeterminate", ["analgesic_confounds"])
    assert "before any score without it" in result.reasons[0].message
    assert (result.peak_relief_pct, result.readings_used) == (None, ("pre",))
    assert len(result.excluded_readings) == 2


def test_cr25_an_analgesic_before_the_block_or_past_the_horizon_is_not_a_cut() -> None:
    baseline = pre(8)._replace(analgesic_taken=True)
    result = evaluate_target(block(), [baseline, post(30, 1), post(60, 1)], MEDICARE)
    assert (result.verdict, result.excluded_readings) == ("positive", ())
    late = verdict(post(30, 1), post(60, 1), post(25 * 60, 8, analgesic_taken=True))
    assert (late.verdict, late.excluded_readings) == ("positive", ())


def test_cr25_a_run_ended_before_the_analgesic_is_judged_as_it_was() -> None:
    result = verdict(post(15, 1), post(30, 1), post(45, 7), post(90, 1, analgesic_taken=True))
    assert (result.verdict, codes(result.reasons)) == ("negative", ["relief_too_short"])


def test_cr25_a_corrected_reading_moves_the_cut() -> None:
    """The same diary with the analgesic flag on a later reading (as after an amendment) is judged anew."""
    early = verdict(post(15, 1), post(30, 1, analgesic_taken=True), post(60, 1))
    later = verdict(post(15, 1), post(30, 1), post(60, 1, analgesic_taken=True))
    assert early.verdict == "indeterminate"
    assert later.verdict == "indeterminate"  # 60 min: the run of 15 and 30 was still short of 60 min
    corrected = verdict(post(15, 1), post(30, 1), post(60, 1), post(61, 1, analgesic_taken=True))
    assert corrected.verdict == "positive"
