"""Pure clinical logic: nomenclature, relief, verdicts, level status, ablations and policy profiles.

No web framework, no database: plain values in, plain values out, each rule named by its CR id
from shared/design/clinical-rules.md.
"""

from api.clinical.ablation import ReferralChange, StoredReferral, referral_changes
from api.clinical.clinic_time import DEFAULT_TIME_ZONE, TimeZoneError, canonical_time_zone, format_when
from api.clinical.coverage import coverage_failures
from api.clinical.facts import RFA, CoverageOverride, LevelBlock, LevelStatus
from api.clinical.levels import evaluate_level
from api.clinical.nomenclature import (
    FAMILY_OF,
    JOINTS,
    PAYER_FAMILIES,
    NomenclatureError,
    expand_side,
    joint_sort_key,
    nerves_of,
    normalise_joint,
    payer_family_of,
    region_of,
    rfa_cpt_codes,
)
from api.clinical.notes import Note
from api.clinical.policy import (
    AGENTS,
    PROFILES,
    Policy,
    PolicyError,
    build_policy,
    policy_from_dict,
    policy_to_dict,
    required_minutes_for,
)
from api.clinical.referral import Procedure, referral_warnings, suggested_procedure
from api.clinical.relief import meets_threshold, relief_fraction, report_pct
from api.clinical.rfa_plan import PlanReferral, rfa_plan
from api.clinical.verdict import BlockFacts, ReadingFacts, TargetVerdict, block_warnings, evaluate_target

__all__ = [
    "AGENTS",
    "DEFAULT_TIME_ZONE",
    "FAMILY_OF",
    "JOINTS",
    "PAYER_FAMILIES",
    "PROFILES",
    "RFA",
    "BlockFacts",
    "CoverageOverride",
    "LevelBlock",
    "LevelStatus",
    "NomenclatureError",
    "Note",
    "PlanReferral",
    "Policy",
    "PolicyError",
    "Procedure",
    "ReadingFacts",
    "ReferralChange",
    "StoredReferral",
    "TargetVerdict",
    "TimeZoneError",
    "block_warnings",
    "build_policy",
    "canonical_time_zone",
    "coverage_failures",
    "evaluate_level",
    "evaluate_target",
    "expand_side",
    "format_when",
    "joint_sort_key",
    "meets_threshold",
    "nerves_of",
    "normalise_joint",
    "payer_family_of",
    "policy_from_dict",
    "policy_to_dict",
    "referral_changes",
    "referral_warnings",
    "region_of",
    "relief_fraction",
    "report_pct",
    "required_minutes_for",
    "rfa_cpt_codes",
    "rfa_plan",
    "suggested_procedure",
]
