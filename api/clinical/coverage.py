"""Coverage gates (CR-24): a diagnostic block that misses the payer's criteria keeps its verdict but does
not count toward a referral, unless a clinician overrides it."""

from __future__ import annotations

from collections.abc import Iterable

from api.clinical.block_checks import COVERED_GUIDANCE
from api.clinical.clinic_time import format_when
from api.clinical.facts import LevelBlock
from api.clinical.notes import Note
from api.clinical.policy import Policy

__all__ = ["GATED_SEDATION", "coverage_failures", "gate", "not_counted_note", "override_notes"]

# CR-24: only sedation that removes the patient's own report gates; moderate sedation is a warning (CR-14).
GATED_SEDATION = frozenset({"monitored_anesthesia_care", "general"})
_SEDATION_LABEL = {"monitored_anesthesia_care": "monitored anesthesia care", "general": "general anaesthesia"}


def coverage_failures(block: LevelBlock, policy: Policy) -> tuple[str, ...]:
    """CR-24: the criteria this block (for this level's target) misses, in words; () when it meets them."""
    failures = []
    if block.sedation in GATED_SEDATION:
        failures.append(_SEDATION_LABEL[block.sedation])
    if block.guidance not in COVERED_GUIDANCE:
        failures.append(f"{block.guidance} guidance" if block.guidance != "none" else "no image guidance")
    minimum = policy.min_baseline.get(block.pain_scale)
    # Baseline 0 or none already leaves the verdict indeterminate (CR-9): nothing to gate.
    if block.baseline is not None and minimum is not None and 0 < block.baseline < minimum:
        failures.append(f"baseline {block.baseline} below {minimum} ({block.pain_scale.upper()})")
    return tuple(failures)


def gate(block: LevelBlock, policy: Policy) -> tuple[str, ...]:
    """The failures that keep the block out of the level's count: none unless the policy enforces the
    criteria (the setting alone decides) and no clinician has overridden them for this block."""
    if not policy.enforce_coverage_criteria or block.coverage_override is not None:
        return ()
    return coverage_failures(block, policy)


def not_counted_note(block: LevelBlock, failures: tuple[str, ...], policy: Policy) -> Note:
    return Note(
        "coverage_criteria_not_met",
        f"The block on {format_when(block.performed_at, policy.time_zone)} is not counted: "
        f"{'; '.join(failures)} does not meet the coverage criteria. A clinician may record an override.",
        block.block_id,
    )


def override_notes(blocks: Iterable[LevelBlock], policy: Policy) -> list[Note]:
    """CR-24: blocks that count only because of an override, so the level and referral say so."""
    notes = []
    for block in blocks:
        override = block.coverage_override
        if override is None or not policy.enforce_coverage_criteria:
            continue
        failures = coverage_failures(block, policy)
        if failures:
            by = f" by {override.by}" if override.by else ""
            notes.append(
                Note(
                    "coverage_override",
                    f"The block on {format_when(block.performed_at, policy.time_zone)} misses the coverage "
                    f"criteria ({'; '.join(failures)}) and counts on an override{by} of "
                    f"{format_when(override.at, policy.time_zone)}: {override.reason}",
                    block.block_id,
                )
            )
    return notes
