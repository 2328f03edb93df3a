"""Payer warnings on a block as a whole (CR-14), shown on its outcome; an ablation's (CR-27) too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction

from api.clinical.facts import RFA, BlockFacts, ReadingFacts
from api.clinical.nomenclature import FAMILY_OF, joint_sort_key, normalise_joint
from api.clinical.notes import Note
from api.clinical.policy import Policy, required_minutes_for

__all__ = ["COVERED_GUIDANCE", "DEEP_SEDATION", "block_warnings"]

# CR-14/CR-20: "moderate or deeper"; minimal sedation does not blur the pain report.
DEEP_SEDATION = frozenset({"moderate", "monitored_anesthesia_care", "general"})
COVERED_GUIDANCE = frozenset({"fluoroscopy", "ct"})
MAX_VOLUME_ML_PER_NERVE = Fraction(1, 2)  # CR-14: more than this spreads past the medial branch
MAX_JOINTS_PER_SESSION = 2


def _technique_notes(block: BlockFacts, policy: Policy) -> list[Note]:
    """CR-14: sedation, image guidance and volume, which can make a block falsely positive."""
    notes = []
    if block.sedation in DEEP_SEDATION:
        message = f"Sedation ({block.sedation}) can blur the pain report after a diagnostic block."
        notes.append(Note("sedation_confounds", message))
    if policy.profile == "medicare" and block.guidance not in COVERED_GUIDANCE:
        message = (
            f"Medicare covers facet blocks under fluoroscopy or CT only; this one used {block.guidance}."
        )
        notes.append(Note("guidance_not_covered", message))
    volume = block.volume_ml_per_nerve
    if volume is not None and volume > MAX_VOLUME_ML_PER_NERVE:
        message = f"{float(volume):g} mL per nerve is above 0.5 mL; it may spread past the medial branch."
        notes.append(Note("high_volume", message))
    return notes


def _session_notes(block: BlockFacts) -> list[Note]:
    """CR-14: too many joints, or more than one payer family (CR-22), in one session."""
    notes = []
    joints = sorted({normalise_joint(j) for j in block.joints}, key=joint_sort_key)
    if len(joints) > MAX_JOINTS_PER_SESSION:
        message = f"{len(joints)} joints ({', '.join(joints)}) in one session; payers allow at most 2."
        notes.append(Note("too_many_levels", message))
    families = list(dict.fromkeys(FAMILY_OF[j] for j in joints))
    if len(families) > 1:
        message = (
            f"Targets span both payer families ({' and '.join(families)}) in one session; "
            "payers code and count them apart."
        )
        notes.append(Note("multiple_regions", message))
    return notes


def _analgesic_notes(block: BlockFacts, readings: Sequence[ReadingFacts], policy: Policy) -> list[Note]:
    """CR-14: an analgesic inside the required window means the relief may not be the block's."""
    required = required_minutes_for(block.agent, block.expected_relief_minutes, policy)
    end = block.performed_at + timedelta(minutes=required)
    taken = [
        r
        for r in readings
        if r.phase == "post" and r.analgesic_taken and block.performed_at <= r.recorded_at <= end
    ]
    if not taken:
        return []
    message = (
        f"An analgesic was taken within the {required} min after the block ({len(taken)} reading(s)); "
        "the relief may not be the block's."
    )
    return [Note("analgesic_taken", message)]


def block_warnings(block: BlockFacts, readings: Sequence[ReadingFacts], policy: Policy) -> tuple[Note, ...]:
    """CR-14: the block's payer warnings; `readings` are the active readings of all its targets.

    An ablation (CR-27) keeps the ones that bear on it: image guidance and the joints and families of the
    session. Sedation, volume and an analgesic in the anaesthetic's window speak to a diagnostic block's
    relief, not to an ablation's months of follow-up.
    """
    if block.procedure == RFA:
        guidance = [n for n in _technique_notes(block, policy) if n.code == "guidance_not_covered"]
        return tuple(guidance + _session_notes(block))
    return tuple(
        _technique_notes(block, policy) + _session_notes(block) + _analgesic_notes(block, readings, policy)
    )
