"""CR-14: payer warnings on the block itself."""

from fractions import Fraction

import pytest

from api.clinical import Policy, block_warnings, build_policy
from tests.clinical.factories import block, codes, post, pre

MEDICARE = Policy()


def test_cr14_a_clean_block_has_no_warnings() -> None:
    assert block_warnings(block(), [pre(8), post(30, 1, analgesic_taken=False)], MEDICARE) == ()


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
def test_cr14_sedation_confounds_when_moderate_or_deeper(sedation: str, warned: bool) -> None:
    assert (codes(block_warnings(block(sedation=sedation), [], MEDICARE)) == ["sedation_confounds"]) is warned


@pytest.mark.parametrize(
    ("guidance", "warned"), [("fluoroscopy", False), ("ct", False), ("ultrasound", True), ("none", True)]
)
def test_cr14_guidance_not_covered_under_medicare(guidance: str, warned: bool) -> None:
    assert (
        codes(block_warnings(block(guidance=guidance), [], MEDICARE)) == ["guidance_not_covered"]
    ) is warned


@pytest.mark.parametrize("profile", ["consensus", "strict"])
def test_cr14_guidance_is_not_a_warning_outside_medicare(profile: str) -> None:
    assert block_warnings(block(guidance="ultrasound"), [], build_policy(profile, {})) == ()


@pytest.mark.parametrize(
    ("volume", "warned"),
    [
        (None, False),
        (Fraction("0.25"), False),
        (Fraction("0.5"), False),
        (Fraction("0.51"), True),
        (Fraction(1), True),
    ],
)
def test_cr14_high_volume_above_half_a_millilitre(volume: Fraction | None, warned: bool) -> None:
    assert (
        codes(block_warnings(block(volume_ml_per_nerve=volume), [], MEDICARE)) == ["high_volume"]
    ) is warned


def test_cr14_high_volume_message_keeps_the_exact_volume() -> None:
    (note,) = block_warnings(block(volume_ml_per_nerve=Fraction("0.75")), [], MEDICARE)
    assert note.message.startswith("0.75 mL per nerve")


def test_cr14_too_many_levels_above_two_joints() -> None:
    assert block_warnings(block(joints=("L4-L5", "L5-S1")), [], MEDICARE) == ()
    (note,) = block_warnings(block(joints=("L5-S1", "L3-L4", "L4-L5")), [], MEDICARE)
    assert note.code == "too_many_levels"
    assert "L3-L4, L4-L5, L5-S1" in note.message


def test_cr14_joints_are_counted_once_whatever_the_spelling() -> None:
    assert block_warnings(block(joints=("L4-L5", "l4/5", "L5-S1")), [], MEDICARE) == ()


def test_cr14_multiple_regions() -> None:
    assert codes(block_warnings(block(joints=("T12-L1", "L1-L2")), [], MEDICARE)) == ["multiple_regions"]
    assert block_warnings(block(joints=("C6-C7", "C7-T1")), [], MEDICARE) == ()


def test_cr14_three_joints_in_two_regions_warn_twice() -> None:
    joints = ("T12-L1", "L1-L2", "L2-L3")
    assert codes(block_warnings(block(joints=joints), [], MEDICARE)) == [
        "too_many_levels",
        "multiple_regions",
    ]


@pytest.mark.parametrize(
    ("agent", "minutes", "warned"),
    [
        ("lidocaine", 30, True),
        ("lidocaine", 60, True),
        ("lidocaine", 61, False),
        ("bupivacaine", 61, True),
        ("bupivacaine", 180, True),
        ("bupivacaine", 181, False),
    ],
)
def test_cr14_analgesic_taken_inside_the_required_window(agent: str, minutes: int, warned: bool) -> None:
    readings = [pre(8), post(minutes, 2, analgesic_taken=True)]
    assert (codes(block_warnings(block(agent), readings, MEDICARE)) == ["analgesic_taken"]) is warned


def test_cr14_analgesic_before_the_block_or_not_taken_does_not_warn() -> None:
    before = pre(8)
    readings = [type(before)(before.id, "pre", before.recorded_at, 8, analgesic_taken=True), post(30, 2)]
    assert block_warnings(block(), readings, MEDICARE) == ()


def test_cr14_every_warning_at_once() -> None:
    risky = block(
        "other",
        expected_relief_minutes=120,
        sedation="general",
        guidance="none",
        volume_ml_per_nerve=Fraction(2),
        joints=("T11-T12", "T12-L1", "L1-L2"),  # CR-22: T12-L1 and L1-L2 are two payer families
    )
    notes = block_warnings(risky, [post(100, 1, analgesic_taken=True)], MEDICARE)
    assert codes(notes) == [
        "sedation_confounds",
        "guidance_not_covered",
        "high_volume",
        "too_many_levels",
        "multiple_regions",
        "analgesic_taken",
    ]
    assert all(note.message.endswith(".") for note in notes)
