"""CR-22: payer families. CR-3's regions stay for display; session warnings, counts and plans use families."""

from datetime import timedelta

import pytest

from api.clinical import (
    JOINTS,
    PAYER_FAMILIES,
    NomenclatureError,
    block_warnings,
    payer_family_of,
    referral_warnings,
    region_of,
    rfa_cpt_codes,
)
from tests.clinical.factories import MEDICARE, T0, block, codes, level_block


@pytest.mark.parametrize(
    ("joint", "family"),
    [
        ("C2-C3", "cervical_thoracic"),
        ("C7-T1", "cervical_thoracic"),
        ("T1-T2", "cervical_thoracic"),
        ("T12-L1", "cervical_thoracic"),
        ("l1/l2", "lumbar_sacral"),
        ("L5-S1", "lumbar_sacral"),
    ],
)
def test_cr22_family_of_each_boundary_joint(joint: str, family: str) -> None:
    assert payer_family_of(joint) == family


def test_cr22_families_cover_every_joint_and_regions_stay_three() -> None:
    families = {payer_family_of(j) for j in JOINTS}
    assert families == set(PAYER_FAMILIES)
    assert sum(payer_family_of(j) == "cervical_thoracic" for j in JOINTS) == 18  # 6 cervical + 12 thoracic
    assert region_of("T12-L1") == "thoracic"  # CR-3 unchanged for display


def test_cr22_rejects_what_is_not_a_joint() -> None:
    with pytest.raises(NomenclatureError):
        payer_family_of("L6-S1")


def test_cr22_cervical_and_thoracic_in_one_session_is_one_family() -> None:
    assert "multiple_regions" not in codes(block_warnings(block(joints=("C2-C3", "T1-T2")), [], MEDICARE))


def test_cr22_t12_l1_with_l1_l2_spans_two_families() -> None:
    notes = block_warnings(block(joints=("T12-L1", "L1-L2")), [], MEDICARE)
    assert codes(notes) == ["multiple_regions"]
    assert "cervical_thoracic and lumbar_sacral" in notes[0].message


def test_cr22_rfa_codes_follow_the_family() -> None:
    assert rfa_cpt_codes("T12-L1") == ("64633", "64634")
    assert rfa_cpt_codes("L1-L2") == ("64635", "64636")


def test_cr22_session_count_is_per_family() -> None:
    """CR-20 counts diagnostic sessions in the level's family: thoracic and cervical sessions add up."""
    pair = [level_block("a", 300, "positive"), level_block("b", 307, "positive")]
    # The service passes the sessions of the level's family: three more cervical/thoracic ones make five.
    family_sessions = [T0 + timedelta(days=d) for d in (100, 150, 200)]
    assert codes(referral_warnings(pair, family_sessions, MEDICARE)) == ["too_many_sessions"]
    assert "in this payer family" in referral_warnings(pair, family_sessions, MEDICARE)[0].message
    assert referral_warnings(pair, family_sessions[:2], MEDICARE) == ()
