"""CR-26: blocks_required. With 1, one positive decided block recommends the referral; profiles fix it,
only `custom` chooses."""

import pytest

from api.clinical import Policy, PolicyError, build_policy, evaluate_level, referral_warnings
from tests.clinical.factories import T0, codes, level_block

CONSENSUS = build_policy("consensus", {})
ONE = build_policy("custom", {"threshold_pct": 80, "blocks_required": 1})


@pytest.mark.parametrize(("profile", "required"), [("medicare", 2), ("strict", 2), ("consensus", 1)])
def test_cr26_profiles_fix_blocks_required(profile: str, required: int) -> None:
    assert build_policy(profile, {}).blocks_required == required
    assert build_policy(profile, {"blocks_required": required}).blocks_required == required
    with pytest.raises(PolicyError) as error:
        build_policy(profile, {"blocks_required": 3 - required})
    assert error.value.field == "blocks_required"


def test_cr26_consensus_is_50_percent_with_one_block() -> None:
    assert (CONSENSUS.threshold_pct, CONSENSUS.blocks_required) == (50, 1)


@pytest.mark.parametrize(
    ("value", "ok"), [(1, True), (2, True), (0, False), (3, False), (True, False), ("1", False)]
)
def test_cr26_custom_chooses_one_or_two(value: object, ok: bool) -> None:
    if ok:
        assert (
            build_policy("custom", {"threshold_pct": 50, "blocks_required": value}).blocks_required == value
        )
        return
    with pytest.raises(PolicyError):
        build_policy("custom", {"threshold_pct": 50, "blocks_required": value})


def test_cr26_custom_defaults_to_two_blocks() -> None:
    assert build_policy("custom", {"threshold_pct": 50}).blocks_required == 2


@pytest.mark.parametrize("policy", [CONSENSUS, ONE])
def test_cr26_one_positive_block_recommends_and_holds_that_block(policy: Policy) -> None:
    result = evaluate_level([level_block("a", 0, "positive")], policy)
    assert (result.status, result.qualifying_block_ids) == ("referral_recommended", ("a",))
    assert codes(result.reasons) == ["one_positive_block"]


def test_cr26_awaiting_confirmation_is_not_used_with_one_block() -> None:
    blocks = [
        level_block("a", 0, "positive"),
        level_block("b", 7, "negative"),
        level_block("c", 14, "positive"),
    ]
    result = evaluate_level(blocks, CONSENSUS)
    assert (result.status, result.qualifying_block_ids) == ("referral_recommended", ("c",))


def test_cr26_a_negative_last_block_still_resets() -> None:
    blocks = [level_block("a", 0, "positive"), level_block("b", 7, "negative")]
    assert evaluate_level(blocks, CONSENSUS).status == "not_indicated"


def test_cr26_a_placebo_response_is_never_the_one_block() -> None:
    result = evaluate_level([level_block("p", 0, "positive", agent="saline_placebo")], CONSENSUS)
    assert (result.status, codes(result.reasons)) == ("not_indicated", ["placebo_response"])


def test_cr26_pending_until_a_block_is_decided() -> None:
    assert evaluate_level([level_block("a", 0, "indeterminate")], CONSENSUS).status == "pending"


def test_cr26_a_one_block_referral_counts_sessions_up_to_that_block() -> None:
    from datetime import timedelta

    sessions = [T0 + timedelta(days=d) for d in (-300, -200, -100, -50)]
    notes = referral_warnings([level_block("a", 0, "positive")], sessions, CONSENSUS)
    assert codes(notes) == ["too_many_sessions"]
    assert referral_warnings([level_block("a", 0, "positive")], sessions[1:], CONSENSUS) == ()
