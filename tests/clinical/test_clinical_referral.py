"""CR-19 and CR-20: the suggested procedure and the referral's payer guardrails."""

from datetime import datetime, timedelta

import pytest

from api.clinical import LevelBlock, Policy, Procedure, build_policy, referral_warnings, suggested_procedure
from tests.clinical.factories import T0, codes, level_block

MEDICARE = Policy()


def pair(**changes: str) -> list[LevelBlock]:
    return [level_block("a", 300, "positive", **changes), level_block("b", 307, "positive")]


def days(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(days=d) for d in offsets]


@pytest.mark.parametrize(
    ("joint", "procedure"),
    [
        (
            "L4-L5",
            Procedure("radiofrequency ablation", ("L3 medial branch", "L4 medial branch"), "64635", "64636"),
        ),
        (
            "l5/s1",
            Procedure("radiofrequency ablation", ("L4 medial branch", "L5 dorsal ramus"), "64635", "64636"),
        ),
        (
            "T12-L1",
            Procedure(
                "radiofrequency ablation", ("T11 medial branch", "T12 medial branch"), "64633", "64634"
            ),
        ),
        ("C2-C3", Procedure("radiofrequency ablation", ("third occipital nerve",), "64633", "64634")),
    ],
)
def test_cr19_suggested_procedure_ablates_the_same_nerves(joint: str, procedure: Procedure) -> None:
    assert suggested_procedure(joint) == procedure


def test_cr20_a_clean_pair_has_no_warnings() -> None:
    assert referral_warnings(pair(), days(300, 307), MEDICARE) == ()


def test_cr20_more_than_four_sessions_in_twelve_months() -> None:
    four = days(0, 100, 300, 307)
    five = days(0, 50, 100, 300, 307)
    assert referral_warnings(pair(), four, MEDICARE) == ()
    (note,) = referral_warnings(pair(), five, MEDICARE)
    assert note.code == "too_many_sessions"
    assert note.message.startswith("5 diagnostic sessions")


def test_cr20_session_window_is_365_days_up_to_the_second_block_inclusive() -> None:
    # The second block is on day 307: day -58 is exactly 365 days before; day -59 is outside.
    assert codes(referral_warnings(pair(), days(-58, 50, 100, 300, 307), MEDICARE)) == ["too_many_sessions"]
    assert referral_warnings(pair(), days(-59, 50, 100, 300, 307), MEDICARE) == ()


def test_cr20_sessions_after_the_second_block_do_not_count() -> None:
    assert referral_warnings(pair(), days(50, 100, 300, 307, 308), MEDICARE) == ()


def test_cr20_the_pair_counts_whether_or_not_the_caller_lists_it() -> None:
    assert codes(referral_warnings(pair(), days(10, 50, 100), MEDICARE)) == ["too_many_sessions"]
    assert referral_warnings(pair(), days(50, 100, 300, 300, 307), MEDICARE) == ()


def test_cr20_too_many_sessions_applies_under_every_profile() -> None:
    consensus = build_policy("consensus", {})
    assert codes(referral_warnings(pair(), days(0, 50, 100, 300, 307), consensus)) == ["too_many_sessions"]


@pytest.mark.parametrize(
    ("sedation", "warned"),
    [
        ("none", False),
        ("minimal", False),
        ("moderate", True),
        ("monitored_anesthesia_care", True),
        ("general", True),
    ],
)
def test_cr20_sedated_block_under_medicare(sedation: str, warned: bool) -> None:
    assert (codes(referral_warnings(pair(sedation=sedation), [], MEDICARE)) == ["sedated_block"]) is warned


@pytest.mark.parametrize(
    ("guidance", "warned"), [("fluoroscopy", False), ("ct", False), ("ultrasound", True), ("none", True)]
)
def test_cr20_guidance_not_covered_under_medicare(guidance: str, warned: bool) -> None:
    assert (
        codes(referral_warnings(pair(guidance=guidance), [], MEDICARE)) == ["guidance_not_covered"]
    ) is warned


@pytest.mark.parametrize("profile", ["consensus", "strict"])
def test_cr20_sedation_and_guidance_are_medicare_only(profile: str) -> None:
    risky = pair(sedation="general", guidance="ultrasound")
    assert referral_warnings(risky, [], build_policy(profile, {})) == ()


def test_cr18_referral_carries_the_discordance_warning() -> None:
    discordant = [
        level_block("lido", 300, "positive", relief_duration_minutes=300),
        level_block(
            "bupi", 307, "positive", agent="bupivacaine", relief_duration_minutes=200, relief_ended=True
        ),
    ]
    assert codes(referral_warnings(discordant, [], MEDICARE)) == ["discordant_comparative_blocks"]
    assert codes(referral_warnings(list(reversed(discordant)), [], MEDICARE)) == [
        "discordant_comparative_blocks"
    ]


def test_cr20_every_referral_warning_at_once() -> None:
    blocks = [
        level_block("a", 300, "positive", relief_duration_minutes=400, sedation="moderate"),
        level_block(
            "b",
            307,
            "positive",
            agent="bupivacaine",
            relief_duration_minutes=200,
            guidance="none",
            relief_ended=True,
            pain_scale="vas",
        ),
    ]
    notes = referral_warnings(blocks, days(0, 50, 100), MEDICARE)
    assert codes(notes) == [
        "too_many_sessions",
        "sedated_block",
        "guidance_not_covered",
        "discordant_comparative_blocks",
        "scale_changed",  # CR-23
    ]
