"""The RFA plan (CR-29): a patient's live referrals as ablation sessions, with nerves and codes.

Per payer family (CR-22), joints in head-to-foot order are taken two at a time: payers cover at most two
joint levels per session, and both sides of one joint are one level (billed once with modifier 50).
Nerves shared by adjacent joints are ablated once (L4-L5 + L5-S1 -> L3 MB, L4 MB, L5 DR).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from api.clinical.nomenclature import FAMILY_OF, PAYER_FAMILIES, joint_sort_key, nerves_of, rfa_cpt_codes

__all__ = ["JOINTS_PER_SESSION", "Code", "FamilyPlan", "PlanReferral", "PlanSession", "rfa_plan"]

JOINTS_PER_SESSION = 2  # CR-29: under every profile
_MODIFIER = {"left": "LT", "right": "RT"}


@dataclass(frozen=True)
class PlanReferral:
    id: Hashable
    joint: str  # canonical
    side: str  # left | right


@dataclass(frozen=True)
class Code:
    cpt: str
    modifier: str  # 50 (both sides), RT or LT
    units: int


@dataclass(frozen=True)
class PlanSession:
    targets: tuple[tuple[str, str], ...]  # (joint, side), head to foot, left before right
    nerves: tuple[str, ...]
    codes: tuple[Code, ...]
    referral_ids: tuple[Hashable, ...]


@dataclass(frozen=True)
class FamilyPlan:
    payer_family: str
    sessions: tuple[PlanSession, ...]


def _modifier(sides: set[str]) -> str:
    return "50" if sides == {"left", "right"} else _MODIFIER[next(iter(sides))]


def _session(joints: Sequence[str], by_joint: dict[str, list[PlanReferral]]) -> PlanSession:
    primary, add_on = rfa_cpt_codes(joints[0])
    # The primary code for the first joint, the add-on for the second (zip stops at a lone joint).
    codes = [
        Code(cpt, _modifier({r.side for r in by_joint[j]}), 1)
        for cpt, j in zip((primary, add_on), joints, strict=False)
    ]
    ordered = [r for j in joints for r in sorted(by_joint[j], key=lambda r: r.side)]
    return PlanSession(
        targets=tuple((r.joint, r.side) for r in ordered),
        nerves=tuple(dict.fromkeys(n for j in joints for n in nerves_of(j))),
        codes=tuple(codes),
        referral_ids=tuple(r.id for r in ordered),
    )


def rfa_plan(referrals: Sequence[PlanReferral]) -> list[FamilyPlan]:
    """CR-29: the sessions that ablate every given (live) referral, per payer family."""
    plans = []
    for family in PAYER_FAMILIES:
        by_joint: dict[str, list[PlanReferral]] = {}
        for referral in referrals:
            if FAMILY_OF[referral.joint] == family:
                by_joint.setdefault(referral.joint, []).append(referral)
        joints = sorted(by_joint, key=joint_sort_key)
        sessions = [
            _session(joints[i : i + JOINTS_PER_SESSION], by_joint)
            for i in range(0, len(joints), JOINTS_PER_SESSION)
        ]
        if sessions:
            plans.append(FamilyPlan(family, tuple(sessions)))
    return plans
