"""CR-2 and CR-15..CR-18: the referral status of one (joint, side)."""

import pytest

from api.clinical import LevelBlock, Policy, build_policy, evaluate_level, evaluate_target, expand_side
from tests.clinical.factories import at, block, codes, diary, level_block

MEDICARE = Policy()


def status_of(*blocks: LevelBlock, policy: Policy = MEDICARE) -> tuple[str, tuple[object, ...], list[str]]:
    result = evaluate_level(blocks, policy)
    return result.status, result.qualifying_block_ids, codes(result.reasons)


def test_cr16_two_positives_a_week_apart_recommend_referral() -> None:
    result = evaluate_level([level_block("a", 0, "positive"), level_block("b", 7, "positive")], MEDICARE)
    assert (result.status, result.qualifying_block_ids) == ("referral_recommended", ("a", "b"))
    assert codes(result.reasons) == ["two_positive_blocks"]
    assert result.warnings == ()


def test_cr16_positive_then_negative_is_not_indicated() -> None:
    assert status_of(level_block("a", 0, "positive"), level_block("b", 7, "negative")) == (
        "not_indicated",
        (),
        ["negative_block"],
    )


def test_cr16_single_positive_awaits_confirmation() -> None:
    assert status_of(level_block("a", 0, "positive")) == (
        "awaiting_confirmation",
        ("a",),
        ["awaiting_second_block"],
    )


def test_cr16_negative_between_two_positives_resets_the_count() -> None:
    blocks = (
        level_block("a", 0, "positive"),
        level_block("b", 7, "negative"),
        level_block("c", 14, "positive"),
    )
    assert status_of(*blocks) == ("awaiting_confirmation", ("c",), ["awaiting_second_block"])


def test_cr16_indeterminate_between_two_positives_is_ignored() -> None:
    blocks = (
        level_block("a", 0, "positive"),
        level_block("b", 7, "indeterminate"),
        level_block("c", 14, "positive"),
    )
    assert status_of(*blocks) == ("referral_recommended", ("a", "c"), ["two_positive_blocks"])


def test_cr16_indeterminate_after_the_last_decided_block_is_noted() -> None:
    status, ids, reasons = status_of(level_block("a", 0, "positive"), level_block("b", 7, "indeterminate"))
    assert (status, ids, reasons) == (
        "awaiting_confirmation",
        ("a",),
        ["awaiting_second_block", "awaiting_data"],
    )


def test_cr16_only_indeterminate_blocks_are_pending() -> None:
    assert status_of(level_block("a", 0, "indeterminate")) == ("pending", (), ["awaiting_data"])


def test_cr16_no_blocks() -> None:
    assert status_of() == ("no_blocks", (), ["no_blocks"])


def test_cr16_voided_blocks_are_ignored() -> None:
    voided = level_block("v", 3, "negative", voided=True)
    assert status_of(voided) == ("no_blocks", (), ["no_blocks"])
    blocks = (level_block("a", 0, "positive"), voided, level_block("c", 7, "positive"))
    assert status_of(*blocks)[:2] == ("referral_recommended", ("a", "c"))


@pytest.mark.parametrize(
    "changes",
    [{"intent": "therapeutic"}, {"procedure": "intra_articular_injection"}],
    ids=["therapeutic", "ia"],
)
def test_cr16_only_diagnostic_medial_branch_blocks_count(changes: dict[str, str]) -> None:
    others = (level_block("x", 0, "positive", **changes), level_block("y", 7, "positive", **changes))
    assert status_of(*others) == ("no_blocks", (), ["not_a_diagnostic_mbb"])
    mixed = (level_block("a", 0, "positive"), others[0], level_block("c", 14, "negative", **changes))
    assert status_of(*mixed) == ("awaiting_confirmation", ("a",), ["awaiting_second_block"])


def test_cr16_blocks_are_taken_in_time_order_whatever_the_input_order() -> None:
    blocks = [
        level_block("b", 7, "negative"),
        level_block("c", 14, "positive"),
        level_block("a", 0, "positive"),
    ]
    assert status_of(*blocks)[:2] == ("awaiting_confirmation", ("c",))


def test_cr16_last_two_positives_count_after_a_long_run() -> None:
    blocks = [level_block(name, day, "positive") for name, day in (("a", 0), ("b", 7), ("c", 14))]
    assert status_of(*blocks)[:2] == ("referral_recommended", ("b", "c"))


def test_cr17_second_block_12_hours_later_is_too_soon() -> None:
    status, ids, reasons = status_of(level_block("a", 0, "positive"), level_block("b", 0.5, "positive"))
    assert (status, ids, reasons) == ("awaiting_confirmation", ("b",), ["second_block_too_soon"])


def test_cr17_exactly_min_gap_apart_is_fine() -> None:
    assert (
        status_of(level_block("a", 0, "positive"), level_block("b", 1, "positive"))[0]
        == "referral_recommended"
    )


def test_cr17_min_gap_follows_the_policy() -> None:
    policy = build_policy("medicare", {"min_gap_hours": 72})
    blocks = (level_block("a", 0, "positive"), level_block("b", 2, "positive"))
    assert status_of(*blocks, policy=policy)[2] == ["second_block_too_soon"]


def test_cr17_same_instant_is_one_session_even_with_no_minimum_gap() -> None:
    policy = build_policy("medicare", {"min_gap_hours": 0})
    blocks = (level_block("a", 0, "positive"), level_block("b", 0, "positive"))
    assert status_of(*blocks, policy=policy)[2] == ["second_block_too_soon"]


def test_cr17_too_soon_block_waits_for_its_own_confirmation() -> None:
    blocks = (
        level_block("a", 0, "positive"),
        level_block("b", 0.5, "positive"),
        level_block("c", 7, "positive"),
    )
    assert status_of(*blocks)[:2] == ("referral_recommended", ("b", "c"))


def test_cr15_positive_placebo_resets_the_count() -> None:
    placebo = level_block("p", 7, "positive", agent="saline_placebo")
    assert status_of(level_block("a", 0, "positive"), placebo) == ("not_indicated", (), ["placebo_response"])
    after = (level_block("a", 0, "positive"), placebo, level_block("c", 14, "positive"))
    assert status_of(*after) == ("awaiting_confirmation", ("c",), ["awaiting_second_block"])
    restarted = (*after, level_block("d", 21, "positive"))
    assert status_of(*restarted)[:2] == ("referral_recommended", ("c", "d"))


def test_cr15_negative_placebo_neither_counts_nor_resets() -> None:
    placebo = level_block("p", 7, "negative", agent="saline_placebo")
    blocks = (level_block("a", 0, "positive"), placebo, level_block("c", 14, "positive"))
    assert status_of(*blocks)[:2] == ("referral_recommended", ("a", "c"))
    assert status_of(level_block("a", 0, "positive"), placebo)[:2] == ("awaiting_confirmation", ("a",))
    assert status_of(placebo) == ("pending", (), ["placebo_no_relief"])


def test_cr15_positive_placebo_never_counts_as_relief() -> None:
    placebo = level_block("p", 0, "positive", agent="saline_placebo")
    assert status_of(placebo, level_block("b", 7, "positive"))[:2] == ("awaiting_confirmation", ("b",))


def _comparative(lido_minutes: int, bupi_minutes: int, ended: bool = True) -> list[LevelBlock]:
    """CR-18 (v2): `ended` says whether the long-acting block's relief was seen to end."""
    return [
        level_block("lido", 0, "positive", relief_duration_minutes=lido_minutes),
        level_block(
            "bupi",
            7,
            "positive",
            agent="bupivacaine",
            relief_duration_minutes=bupi_minutes,
            relief_ended=ended,
        ),
    ]


def test_cr18_discordant_comparative_blocks_warn() -> None:
    result = evaluate_level(_comparative(240, 200), MEDICARE)
    assert result.status == "referral_recommended"
    assert codes(result.warnings) == ["discordant_comparative_blocks"]
    assert "240 min" in result.warnings[0].message


@pytest.mark.parametrize(("lido", "bupi"), [(90, 300), (200, 200)])
def test_cr18_concordant_comparative_blocks_do_not_warn(lido: int, bupi: int) -> None:
    assert evaluate_level(_comparative(lido, bupi), MEDICARE).warnings == ()


def test_cr18_require_concordance_keeps_a_discordant_pair_from_qualifying() -> None:
    policy = build_policy("medicare", {"require_concordance": True})
    result = evaluate_level(_comparative(240, 200), policy)
    assert (result.status, result.qualifying_block_ids) == ("awaiting_confirmation", ("bupi",))
    assert codes(result.reasons) == ["discordant_comparative_blocks"]
    assert codes(result.warnings) == ["discordant_comparative_blocks"]
    assert evaluate_level(_comparative(90, 300), policy).status == "referral_recommended"


def test_cr18_ropivacaine_is_a_long_acting_agent_too() -> None:
    blocks = _comparative(240, 200)
    ropi = [blocks[0], blocks[1]._replace(agent="ropivacaine")]
    assert codes(evaluate_level(ropi, MEDICARE).warnings) == ["discordant_comparative_blocks"]
    assert "ropivacaine's 200 min" in evaluate_level(ropi, MEDICARE).warnings[0].message


def test_cr18_a_long_acting_run_still_going_at_its_last_reading_is_not_evidence() -> None:
    assert evaluate_level(_comparative(240, 200, ended=False), MEDICARE).warnings == ()
    policy = build_policy("medicare", {"require_concordance": True})
    assert evaluate_level(_comparative(240, 200, ended=False), policy).status == "referral_recommended"


@pytest.mark.parametrize("agents", [("lidocaine", "lidocaine"), ("bupivacaine", "ropivacaine")])
def test_cr18_only_lidocaine_against_a_long_acting_agent_is_compared(agents: tuple[str, str]) -> None:
    blocks = [b._replace(agent=a) for b, a in zip(_comparative(240, 200), agents, strict=True)]
    assert evaluate_level(blocks, MEDICARE).warnings == ()


def test_cr2_bilateral_block_gives_one_level_per_side_and_they_can_differ() -> None:
    """One bilateral L4-L5 session, left side relieved, right side not: two levels, two statuses."""
    first_diaries = {"left": diary(8, [(30, 1), (60, 1)]), "right": diary(8, [(30, 1), (60, 1)])}
    second_diaries = {"left": diary(7, [(30, 0), (90, 1)]), "right": diary(7, [(30, 6), (60, 7)])}
    statuses = {}
    for side in expand_side("bilateral"):
        level = []
        for name, days, diaries in (("first", 0, first_diaries), ("second", 7, second_diaries)):
            when = at(days * 24 * 60)
            readings = [r._replace(recorded_at=r.recorded_at + (when - at(0))) for r in diaries[side]]
            verdict = evaluate_target(block(performed_at=when), readings, MEDICARE)
            level.append(
                level_block(
                    name, days, verdict.verdict, relief_duration_minutes=verdict.relief_duration_minutes
                )
            )
        statuses[side] = evaluate_level(level, MEDICARE).status
    assert statuses == {"left": "referral_recommended", "right": "not_indicated"}
