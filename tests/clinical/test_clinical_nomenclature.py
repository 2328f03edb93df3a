"""CR-1..CR-4 and the CR-19 CPT codes: joints, sides, regions, nerves."""

import pytest

from api.clinical import (
    JOINTS,
    NomenclatureError,
    expand_side,
    joint_sort_key,
    nerves_of,
    normalise_joint,
    region_of,
    rfa_cpt_codes,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("l4-l5", "L4-L5"),
        ("L4/L5", "L4-L5"),
        ("L4-5", "L4-L5"),
        ("l4-5", "L4-L5"),
        ("l4/5", "L4-L5"),
        (" L4-L5 ", "L4-L5"),
        ("c7-t1", "C7-T1"),
        ("C7/T1", "C7-T1"),
        ("t12-l1", "T12-L1"),
        ("T11-12", "T11-T12"),
        ("l5-s1", "L5-S1"),
        ("c2-3", "C2-C3"),
    ],
)
def test_cr1_normalises_case_separator_and_short_form(raw: str, canonical: str) -> None:
    assert normalise_joint(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "L6-S1",
        "C1-C2",
        "L4-L3",
        "l4l5",
        "l5s1",
        "L5-L6",
        "T12-T13",
        "C7-C8",
        "S1-S2",
        "L04-L05",
        "L4 L5",
        "",
        "L4",
    ],
)
def test_cr1_rejects_what_is_not_a_facet_joint_and_lists_the_valid_form(raw: str) -> None:
    with pytest.raises(NomenclatureError) as error:
        normalise_joint(raw)
    message = str(error.value)
    assert repr(raw) in message
    assert "<upper>-<lower>" in message
    assert "C2-C3 ... C7-T1, T1-T2 ... T12-L1, L1-L2 ... L5-S1" in message


def test_cr1_nomenclature_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalise_joint("L6-S1")


def test_cr1_joints_are_the_23_facet_levels_in_anatomical_order() -> None:
    assert len(JOINTS) == 23
    assert JOINTS[:2] == ("C2-C3", "C3-C4")
    assert JOINTS[5:7] == ("C7-T1", "T1-T2")
    assert JOINTS[17:19] == ("T12-L1", "L1-L2")
    assert JOINTS[-1] == "L5-S1"
    assert [joint_sort_key(j) for j in JOINTS] == list(range(23))


def test_cr1_output_is_always_canonical() -> None:
    for joint in JOINTS:
        assert normalise_joint(joint) == joint
        assert normalise_joint(joint.lower().replace("-", "/")) == joint


def test_cr1_sort_key_accepts_any_spelling() -> None:
    assert sorted(["l5-s1", "C2-3", "T12/L1"], key=joint_sort_key) == ["C2-3", "T12/L1", "l5-s1"]


@pytest.mark.parametrize(
    ("side", "expanded"),
    [("left", ["left"]), ("right", ["right"]), ("bilateral", ["left", "right"])],
)
def test_cr2_bilateral_expands_into_one_target_per_side(side: str, expanded: list[str]) -> None:
    assert expand_side(side) == expanded


@pytest.mark.parametrize("side", ["both", "midline", "", "l"])
def test_cr2_rejects_unknown_side(side: str) -> None:
    with pytest.raises(NomenclatureError, match="left, right or bilateral"):
        expand_side(side)


@pytest.mark.parametrize(
    ("joint", "region"),
    [
        ("C2-C3", "cervical"),
        ("C7-T1", "cervical"),
        ("T1-T2", "thoracic"),
        ("T12-L1", "thoracic"),
        ("L1-L2", "lumbar"),
        ("L5-S1", "lumbar"),
        ("l4-5", "lumbar"),
    ],
)
def test_cr3_region_of_joint(joint: str, region: str) -> None:
    assert region_of(joint) == region


def test_cr3_region_sizes() -> None:
    regions = [region_of(j) for j in JOINTS]
    assert (regions.count("cervical"), regions.count("thoracic"), regions.count("lumbar")) == (6, 12, 5)


@pytest.mark.parametrize(
    ("joint", "nerves"),
    [
        ("L4-L5", ["L3 medial branch", "L4 medial branch"]),
        ("T12-L1", ["T11 medial branch", "T12 medial branch"]),
        ("L1-L2", ["T12 medial branch", "L1 medial branch"]),
        ("L5-S1", ["L4 medial branch", "L5 dorsal ramus"]),
        ("C5-C6", ["C5 medial branch", "C6 medial branch"]),
        ("C3-C4", ["C3 medial branch", "C4 medial branch"]),
        ("C7-T1", ["C7 medial branch", "C8 medial branch"]),
        ("T1-T2", ["C8 medial branch", "T1 medial branch"]),
        ("T2-T3", ["T1 medial branch", "T2 medial branch"]),
        ("C2-C3", ["third occipital nerve"]),
    ],
)
def test_cr4_nerves_are_derived_from_the_joint(joint: str, nerves: list[str]) -> None:
    assert nerves_of(joint) == nerves


def test_cr4_adjacent_joints_share_a_nerve() -> None:
    shared = dict.fromkeys(nerves_of("L4-L5") + nerves_of("L5-S1"))
    assert list(shared) == ["L3 medial branch", "L4 medial branch", "L5 dorsal ramus"]


def test_cr4_every_joint_has_one_or_two_nerves() -> None:
    for joint in JOINTS:
        assert 1 <= len(nerves_of(joint)) <= 2


def test_cr4_rejects_invalid_joint() -> None:
    with pytest.raises(NomenclatureError):
        nerves_of("L6-S1")


@pytest.mark.parametrize(
    ("joint", "codes"),
    [
        ("C2-C3", ("64633", "64634")),
        ("C7-T1", ("64633", "64634")),
        ("T6-T7", ("64633", "64634")),
        ("T12-L1", ("64633", "64634")),
        ("L1-L2", ("64635", "64636")),
        ("L5-S1", ("64635", "64636")),
    ],
)
def test_cr19_rfa_cpt_codes_by_region(joint: str, codes: tuple[str, str]) -> None:
    assert rfa_cpt_codes(joint) == codes
