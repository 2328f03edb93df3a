"""Pure clinical logic: nomenclature, relief, verdicts, level status and policy profiles.

No web framework, no database: plain values in, plain values out, each rule named by its CR id
from shared/design/clinical-rules.md.
"""

from api.clinical.levels import (
    LevelBlock,
    LevelStatus,
    Procedure,
    evaluate_level,
    referral_warnings,
    suggested_procedure,
)
from api.clinical.nomenclature import (
    JOINTS,
    NomenclatureError,
    expand_side,
    joint_sort_key,
    nerves_of,
    normalise_joint,
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
from api.clinical.relief import meets_threshold, relief_fraction, report_pct
from api.clinical.verdict import BlockFacts, ReadingFacts, TargetVerdict, block_warnings, evaluate_target

__all__ = [
    "AGENTS",
    "JOINTS",
    "PROFILES",
    "BlockFacts",
    "LevelBlock",
    "LevelStatus",
    "NomenclatureError",
    "Note",
    "Policy",
    "PolicyError",
    "Procedure",
    "ReadingFacts",
    "TargetVerdict",
    "block_warnings",
    "build_policy",
    "evaluate_level",
    "evaluate_target",
    "expand_side",
    "joint_sort_key",
    "meets_threshold",
    "nerves_of",
    "normalise_joint",
    "policy_from_dict",
    "policy_to_dict",
    "referral_warnings",
    "region_of",
    "relief_fraction",
    "report_pct",
    "required_minutes_for",
    "rfa_cpt_codes",
    "suggested_procedure",
]
