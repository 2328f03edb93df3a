"""CR-29: the RFA plan. Live referrals per payer family, joints head to foot two at a time, nerves once,
the primary code once and the add-on for the second joint, modifier 50 for both sides."""

from api.clinical import PlanReferral, rfa_plan
from api.clinical.rfa_plan import Code, FamilyPlan


def plan(*targets: tuple[str, str]) -> list[FamilyPlan]:
    return rfa_plan([PlanReferral(f"{joint} {side}", joint, side) for joint, side in targets])


def test_cr29_adjacent_lumbar_joints_share_nerves_once() -> None:
    [family] = plan(("L5-S1", "left"), ("L4-L5", "left"))
    [session] = family.sessions
    assert family.payer_family == "lumbar_sacral"
    assert session.targets == (("L4-L5", "left"), ("L5-S1", "left"))
    assert session.nerves == ("L3 medial branch", "L4 medial branch", "L5 dorsal ramus")
    assert session.codes == (Code("64635", "LT", 1), Code("64636", "LT", 1))
    assert session.referral_ids == ("L4-L5 left", "L5-S1 left")


def test_cr29_both_sides_of_a_joint_are_one_level_with_modifier_50() -> None:
    [family] = plan(("L4-L5", "right"), ("L4-L5", "left"))
    [session] = family.sessions
    assert session.targets == (("L4-L5", "left"), ("L4-L5", "right"))
    assert session.codes == (Code("64635", "50", 1),)  # one joint: the primary code only
    assert session.nerves == ("L3 medial branch", "L4 medial branch")


def test_cr29_a_bilateral_three_joint_session_becomes_two_sessions_not_six_first_joints() -> None:
    targets = [(j, s) for j in ("L3-L4", "L4-L5", "L5-S1") for s in ("left", "right")]
    [family] = plan(*targets)
    first, second = family.sessions
    assert [t[0] for t in first.targets] == ["L3-L4", "L3-L4", "L4-L5", "L4-L5"]
    assert first.codes == (Code("64635", "50", 1), Code("64636", "50", 1))
    assert second.targets == (("L5-S1", "left"), ("L5-S1", "right"))
    assert second.codes == (Code("64635", "50", 1),)
    assert sum(len(s.referral_ids) for s in family.sessions) == 6


def test_cr29_each_joint_takes_its_own_modifier() -> None:
    [family] = plan(("C5-C6", "right"), ("C6-C7", "left"), ("C6-C7", "right"))
    [session] = family.sessions
    assert session.codes == (Code("64633", "RT", 1), Code("64634", "50", 1))
    assert session.nerves == ("C5 medial branch", "C6 medial branch", "C7 medial branch")


def test_cr29_families_are_planned_apart() -> None:
    families = plan(("T12-L1", "left"), ("L1-L2", "left"))
    assert [(f.payer_family, [s.targets for s in f.sessions]) for f in families] == [
        ("cervical_thoracic", [(("T12-L1", "left"),)]),
        ("lumbar_sacral", [(("L1-L2", "left"),)]),
    ]
    assert families[0].sessions[0].codes == (Code("64633", "LT", 1),)


def test_cr29_no_live_referral_no_plan() -> None:
    assert plan() == []


def test_cr29_third_occipital_nerve_for_c2_c3() -> None:
    [family] = plan(("C2-C3", "left"), ("C3-C4", "left"))
    assert family.sessions[0].nerves == ("third occipital nerve", "C3 medial branch", "C4 medial branch")
