"""What a referral suggests and carries: the ablation of the same nerves (CR-19), the payer guardrails
(CR-20), and its qualifying blocks' travelling warnings (CR-23, CR-24)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.clinical.block_checks import COVERED_GUIDANCE, DEEP_SEDATION
from api.clinical.clinic_time import format_when
from api.clinical.coverage import override_notes
from api.clinical.facts import LevelBlock
from api.clinical.nomenclature import nerves_of, rfa_cpt_codes
from api.clinical.notes import Note
from api.clinical.pairs import discordant, pair_warnings, travelling_warnings
from api.clinical.policy import Policy

__all__ = ["Procedure", "referral_warnings", "suggested_procedure"]

SESSION_LOOKBACK = timedelta(days=365)  # CR-20: "the rolling 12 months"
MAX_SESSIONS_PER_FAMILY = 4  # CR-20: more than this is a payer warning


@dataclass(frozen=True)
class Procedure:
    name: str
    nerves: tuple[str, ...]
    cpt_first_joint: str
    cpt_each_additional_joint: str


def suggested_procedure(joint: str) -> Procedure:
    """CR-19: radiofrequency ablation of the same nerves that were blocked (CR-4)."""
    first, additional = rfa_cpt_codes(joint)
    return Procedure("radiofrequency ablation", tuple(nerves_of(joint)), first, additional)


def _sessions_note(
    blocks: Sequence[LevelBlock], session_times: Sequence[datetime], policy: Policy
) -> list[Note]:
    """CR-20 (CR-22): more than 4 diagnostic sessions in the payer family in the 365 days up to the last
    qualifying block."""
    last = max(b.performed_at for b in blocks)
    # A set: the blocks may or may not be among the times given, and one instant is one session.
    times = {*session_times, *(b.performed_at for b in blocks)}
    count = sum(1 for t in times if last - SESSION_LOOKBACK <= t <= last)
    if count <= MAX_SESSIONS_PER_FAMILY:
        return []
    return [
        Note(
            "too_many_sessions",
            f"{count} diagnostic sessions in this payer family in the 12 months up to "
            f"{format_when(last, policy.time_zone)}; payers allow at most {MAX_SESSIONS_PER_FAMILY}.",
        )
    ]


def _medicare_notes(blocks: Sequence[LevelBlock], policy: Policy) -> list[Note]:
    """CR-20: Medicare guardrails on each qualifying block."""
    notes = []
    zone = policy.time_zone
    sedated = [b for b in blocks if b.sedation in DEEP_SEDATION]
    if sedated:
        which = ", ".join(f"{format_when(b.performed_at, zone)} ({b.sedation})" for b in sedated)
        notes.append(
            Note("sedated_block", f"Qualifying block(s) given with moderate or deeper sedation: {which}.")
        )
    unguided = [b for b in blocks if b.guidance not in COVERED_GUIDANCE]
    if unguided:
        which = ", ".join(f"{format_when(b.performed_at, zone)} ({b.guidance})" for b in unguided)
        notes.append(
            Note(
                "guidance_not_covered",
                f"Medicare needs fluoroscopy or CT guidance; qualifying block(s): {which}.",
            )
        )
    return notes


def referral_warnings(
    qualifying: Sequence[LevelBlock], session_times: Sequence[datetime], policy: Policy
) -> tuple[Note, ...]:
    """What a referral carries, self-contained: CR-20's guardrails, CR-18's discordance, CR-23's pair
    warnings and its qualifying blocks' own warnings (each naming its block), CR-24's overrides.

    `session_times`: the patient's diagnostic sessions in the level's payer family (CR-22).
    """
    ordered = sorted(qualifying, key=lambda b: (b.performed_at, str(b.block_id)))  # ties: as levels.py
    notes = _sessions_note(ordered, session_times, policy)
    if policy.profile == "medicare":
        notes += _medicare_notes(ordered, policy)
    notes += discordant(ordered, policy)
    if len(ordered) == 2:
        notes += pair_warnings(ordered[0], ordered[1], policy)
    notes += travelling_warnings(ordered, policy)
    return tuple(notes + override_notes(ordered, policy))
