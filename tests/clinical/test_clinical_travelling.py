"""CR-23: a level awaiting confirmation or recommended, and its referral, carry its qualifying blocks' own
warnings (each naming its block) and the pair's: a changed pain scale and a long interval."""

from datetime import timedelta

from api.clinical import LevelBlock, Note, Policy, build_policy, evaluate_level, referral_warnings
from tests.clinical.factories import codes, level_block

MEDICARE = Policy()
SEDATED = Note("sedation_confounds", "Sedation (moderate) can blur the pain report after a diagnostic block.")
LOW = Note("low_baseline", "Baseline pain of 3 is below the policy minimum of 4 (NRS).")
WORSE = Note("pain_worse", "Pain rose above the baseline of 6 after the block (worst 7, relief -16.7%).")
PLACEBO = Note("placebo_response", "This saline placebo block gave qualifying relief.")


def test_cr23_awaiting_confirmation_carries_its_block_warnings() -> None:
    result = evaluate_level([level_block("a", 0, "positive", warnings=(SEDATED, LOW))], MEDICARE)
    assert result.status == "awaiting_confirmation"
    assert [(n.code, n.block_id) for n in result.warnings] == [
        ("sedation_confounds", "a"),
        ("low_baseline", "a"),
    ]
    assert result.warnings[0].message.startswith("Block of 2025-03-10 09:00 UTC: Sedation (moderate)")


def test_cr23_referral_recommended_carries_both_blocks_warnings() -> None:
    blocks = [
        level_block("a", 0, "positive", warnings=(SEDATED,)),
        level_block("b", 7, "positive", warnings=(WORSE,)),
    ]
    result = evaluate_level(blocks, MEDICARE)
    assert [(n.code, n.block_id) for n in result.warnings] == [
        ("sedation_confounds", "a"),
        ("pain_worse", "b"),
    ]
    carried = referral_warnings(blocks, [], MEDICARE)
    assert [(n.code, n.block_id) for n in carried] == [("sedation_confounds", "a"), ("pain_worse", "b")]


def test_cr23_only_qualifying_blocks_warnings_travel() -> None:
    blocks = [
        level_block("old", 0, "negative", warnings=(SEDATED,)),
        level_block("a", 7, "positive"),
        level_block("b", 14, "positive"),
    ]
    assert evaluate_level(blocks, MEDICARE).warnings == ()


def test_cr23_not_indicated_and_pending_levels_carry_no_block_warnings() -> None:
    assert evaluate_level([level_block("a", 0, "negative", warnings=(SEDATED,))], MEDICARE).warnings == ()
    assert (
        evaluate_level([level_block("a", 0, "indeterminate", warnings=(SEDATED,))], MEDICARE).warnings == ()
    )


def test_cr23_warnings_outside_cr9_cr10_cr14_do_not_travel() -> None:
    result = evaluate_level([level_block("a", 0, "positive", warnings=(PLACEBO,))], MEDICARE)
    assert result.warnings == ()


def test_cr23_scale_changed_between_the_two_blocks() -> None:
    blocks = [level_block("a", 0, "positive"), level_block("b", 7, "positive", pain_scale="vas")]
    result = evaluate_level(blocks, MEDICARE)
    assert result.status == "referral_recommended"  # a warning, not a gate
    [note] = result.warnings
    assert (note.code, note.block_id) == ("scale_changed", None)
    assert "NRS" in note.message and "VAS" in note.message
    assert codes(referral_warnings(blocks, [], MEDICARE)) == ["scale_changed"]


def pair(days_apart: float, policy: Policy = MEDICARE) -> tuple[str, list[str], list[str]]:
    blocks = [level_block("a", 0, "positive"), level_block("b", days_apart, "positive")]
    result = evaluate_level(blocks, policy)
    return result.status, codes(result.reasons), codes(result.warnings)


def test_cr23_pair_exactly_180_days_apart_is_not_long() -> None:
    assert pair(180) == ("referral_recommended", ["two_positive_blocks"], [])


def test_cr23_pair_a_minute_over_180_days_is_warned() -> None:
    minute = 1 / (24 * 60)
    status, _reasons, warnings = pair(180 + minute)
    assert (status, warnings) == ("referral_recommended", ["long_pair_interval"])


def test_cr23_enforced_interval_keeps_the_pair_from_qualifying() -> None:
    enforced = build_policy("medicare", {"enforce_pair_interval": True})
    assert pair(180, enforced)[0] == "referral_recommended"
    status, reasons, _warnings = pair(181, enforced)
    assert (status, reasons) == ("awaiting_confirmation", ["pair_too_far_apart"])
    result = evaluate_level([level_block("a", 0, "positive"), level_block("b", 181, "positive")], enforced)
    assert result.qualifying_block_ids == (
        "b",
    )  # the later block waits for its own confirmation, as in CR-17


def test_cr23_interval_follows_the_policy() -> None:
    short = build_policy("medicare", {"max_pair_interval_days": 30})
    assert pair(30, short)[2] == []
    assert pair(31, short)[2] == ["long_pair_interval"]


def test_cr23_a_referral_carries_the_pair_and_block_warnings_with_the_guardrails() -> None:
    blocks: list[LevelBlock] = [
        level_block("a", 0, "positive", sedation="moderate", warnings=(SEDATED,)),
        level_block("b", 200, "positive", pain_scale="vas"),
    ]
    notes = referral_warnings(blocks, [], MEDICARE)
    assert [(n.code, n.block_id) for n in notes] == [
        ("sedated_block", None),
        ("scale_changed", None),
        ("long_pair_interval", None),
        ("sedation_confounds", "a"),
    ]
    assert all(n.message for n in notes)
    assert blocks[1].performed_at - blocks[0].performed_at == timedelta(days=200)
