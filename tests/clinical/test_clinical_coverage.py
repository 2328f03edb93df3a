"""CR-24: coverage gates. A block missing the criteria keeps its verdict but does not count, unless a
clinician overrides it; the policy setting alone decides whether the gates apply."""

from dataclasses import replace

import pytest

from api.clinical import CoverageOverride, LevelBlock, Policy, build_policy, coverage_failures, evaluate_level
from tests.clinical.factories import T0, codes, level_block

MEDICARE = Policy()  # enforce_coverage_criteria on
OVERRIDE = CoverageOverride("Cannot lie prone without anaesthesia; diary reviewed.", "Dr Okafor", T0)


def status_of(*blocks: LevelBlock, policy: Policy = MEDICARE) -> tuple[str, tuple[object, ...], list[str]]:
    result = evaluate_level(blocks, policy)
    return result.status, result.qualifying_block_ids, codes(result.reasons)


@pytest.mark.parametrize(
    ("changes", "failures"),
    [
        ({"sedation": "monitored_anesthesia_care"}, ("monitored anesthesia care",)),
        ({"sedation": "general"}, ("general anaesthesia",)),
        ({"guidance": "ultrasound"}, ("ultrasound guidance",)),
        ({"guidance": "none"}, ("no image guidance",)),
        ({"baseline": 3}, ("baseline 3 below 4 (NRS)",)),
        ({"baseline": 39, "pain_scale": "vas"}, ("baseline 39 below 40 (VAS)",)),
        (
            {"sedation": "general", "guidance": "none", "baseline": 2},
            ("general anaesthesia", "no image guidance", "baseline 2 below 4 (NRS)"),
        ),
    ],
)
def test_cr24_each_criterion_is_named(changes: dict, failures: tuple[str, ...]) -> None:
    assert coverage_failures(level_block("a", 0, "positive", **changes), MEDICARE) == failures


@pytest.mark.parametrize(
    "changes",
    [
        {"sedation": "moderate"},  # a warning (CR-14, CR-20), not a gate
        {"sedation": "minimal"},
        {"guidance": "ct"},
        {"baseline": 4},  # exactly at the minimum
        {"baseline": 0},  # CR-9 already leaves it indeterminate: nothing to gate
        {"baseline": None},
    ],
)
def test_cr24_what_meets_the_criteria(changes: dict) -> None:
    assert coverage_failures(level_block("a", 0, "positive", **changes), MEDICARE) == ()


def test_cr24_gated_positive_does_not_confirm() -> None:
    gated = level_block("b", 7, "positive", sedation="general")
    status, qualifying, reasons = status_of(level_block("a", 0, "positive"), gated)
    assert (status, qualifying) == ("awaiting_confirmation", ("a",))
    assert reasons == ["awaiting_second_block", "coverage_criteria_not_met"]
    result = evaluate_level([level_block("a", 0, "positive"), gated], MEDICARE)
    [note] = [n for n in result.reasons if n.code == "coverage_criteria_not_met"]
    assert note.block_id == "b"
    assert "general anaesthesia" in note.message and "2025-03-17 09:00 UTC" in note.message


def test_cr24_gated_negative_does_not_reset() -> None:
    blocks = (
        level_block("a", 0, "positive"),
        level_block("b", 7, "negative", guidance="ultrasound"),
        level_block("c", 14, "positive"),
    )
    assert status_of(*blocks)[:2] == ("referral_recommended", ("a", "c"))


def test_cr24_low_baseline_gates_that_target_only() -> None:
    """A bilateral block: the left baseline is 3, the right 7; each side is its own level."""
    left = [level_block("a", 0, "positive", baseline=3), level_block("b", 7, "positive")]
    right = [level_block("a", 0, "positive", baseline=7), level_block("b", 7, "positive")]
    assert status_of(*left)[:2] == ("awaiting_confirmation", ("b",))
    assert status_of(*right)[:2] == ("referral_recommended", ("a", "b"))


def test_cr24_a_level_whose_blocks_are_all_uncounted_is_pending() -> None:
    blocks = (
        level_block("a", 0, "positive", sedation="general"),
        level_block("b", 7, "negative", baseline=2),
    )
    assert status_of(*blocks) == ("pending", (), ["coverage_criteria_not_met", "coverage_criteria_not_met"])


def test_cr24_override_added_counts_the_block_and_then_removed_does_not() -> None:
    gated = level_block("b", 7, "positive", guidance="ultrasound")
    with_override = gated._replace(coverage_override=OVERRIDE)
    result = evaluate_level([level_block("a", 0, "positive"), with_override], MEDICARE)
    assert (result.status, result.qualifying_block_ids) == ("referral_recommended", ("a", "b"))
    [note] = [n for n in result.warnings if n.code == "coverage_override"]
    assert note.block_id == "b"
    assert "ultrasound guidance" in note.message and "Dr Okafor" in note.message
    assert "Cannot lie prone" in note.message
    # Removed again: the block is gated as before.
    assert status_of(level_block("a", 0, "positive"), gated)[:2] == ("awaiting_confirmation", ("a",))


def test_cr24_an_override_on_a_block_meeting_the_criteria_says_nothing() -> None:
    clean = level_block("b", 7, "positive", coverage_override=OVERRIDE)
    result = evaluate_level([level_block("a", 0, "positive"), clean], MEDICARE)
    assert result.status == "referral_recommended"
    assert "coverage_override" not in codes(result.warnings)


@pytest.mark.parametrize(
    ("profile", "overrides", "gated"),
    [
        ("medicare", {}, True),
        ("medicare", {"enforce_coverage_criteria": False}, False),
        ("consensus", {}, False),
        ("consensus", {"enforce_coverage_criteria": True}, True),
        ("strict", {"enforce_coverage_criteria": True}, True),
        ("custom", {"threshold_pct": 80}, False),
    ],
)
def test_cr24_the_setting_alone_decides_whatever_the_profile(
    profile: str, overrides: dict, gated: bool
) -> None:
    policy = replace(build_policy(profile, overrides), blocks_required=2)
    blocks = (level_block("a", 0, "positive"), level_block("b", 7, "positive", sedation="general"))
    assert (status_of(*blocks, policy=policy)[0] == "awaiting_confirmation") is gated
