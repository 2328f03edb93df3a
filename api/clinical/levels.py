"""The referral signal per (patient, joint, side): its status from its blocks and ablations (CR-15..CR-18,
CR-23, CR-24, CR-26..CR-28). The sequence of diagnostic blocks is sequence.py's; this module adds what
an ablation changes."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime

from api.clinical.ablation import (
    INDICATED,
    MAX_RFA_SESSIONS,
    ablated_status,
    is_rfa,
    no_referral_note,
    rfa_session_counts,
    too_many_rfa_note,
)
from api.clinical.clinic_time import format_when
from api.clinical.facts import LevelBlock, LevelStatus
from api.clinical.notes import Note
from api.clinical.policy import Policy
from api.clinical.referral import Procedure, referral_warnings, suggested_procedure
from api.clinical.sequence import sequence_status

__all__ = [
    "LevelBlock",
    "LevelStatus",
    "Procedure",
    "evaluate_level",
    "referral_warnings",
    "suggested_procedure",
]


def _when(block: LevelBlock) -> tuple[datetime, str]:
    """Time order; two blocks at one instant (an ablation recorded twice, say) by id, so every caller sees
    them in the same order whatever order its rows came in."""
    return block.performed_at, str(block.block_id)


def evaluate_level(
    blocks: Sequence[LevelBlock], policy: Policy, rfa_session_times: Sequence[datetime] = ()
) -> LevelStatus:
    """The status of one (joint, side) from its blocks, in any order.

    `rfa_session_times`: the patient's ablation sessions in this level's payer family, at any level
    (CR-28 counts them); the level's own ablations are counted whether or not they are listed.
    """
    ordered = sorted(blocks, key=_when)
    rfas = [b for b in ordered if is_rfa(b)]
    if not rfas:  # the common case: no ablation here
        return sequence_status(ordered, policy)
    counts = rfa_session_counts(rfas, rfa_session_times)
    frequent = {i for i, n in counts.items() if n > MAX_RFA_SESSIONS}
    barred = frequent if policy.enforce_coverage_criteria else set()
    counting = [r for r in rfas if r.block_id not in barred]
    status = _since_last_ablation(ordered, counting, policy)
    notes = {r.block_id: _rfa_notes(r, ordered, counts, policy, rfa_session_times) for r in rfas}
    since = counting[-1].performed_at if counting else None
    shown = [n for r in rfas if since is None or r.performed_at >= since for n in notes[r.block_id]]
    return LevelStatus(
        status.status,
        status.qualifying_block_ids,
        status.reasons,
        (*status.warnings, *shown),
        tuple(notes.items()),
        tuple((r.block_id, r.performed_at) for r in counting),
    )


def _since_last_ablation(
    ordered: Sequence[LevelBlock], counting: Sequence[LevelBlock], policy: Policy
) -> LevelStatus:
    """CR-27: after an ablation, only the diagnostic blocks after it count; until one is decided the
    level is ablated (or eligible for a repeat, CR-28)."""
    if not counting:
        return sequence_status(ordered, policy)
    last = counting[-1]
    after = sequence_status([b for b in ordered if b.performed_at > last.performed_at], policy)
    if after.status in ("no_blocks", "pending"):
        return ablated_status(last, after, policy)
    note = Note(
        "after_ablation",
        f"Only the blocks after the ablation on {format_when(last.performed_at, policy.time_zone)} count.",
        last.block_id,
    )
    return LevelStatus(after.status, after.qualifying_block_ids, (*after.reasons, note), after.warnings)


def _rfa_notes(
    rfa: LevelBlock,
    ordered: Sequence[LevelBlock],
    counts: dict[Hashable, int],
    policy: Policy,
    rfa_session_times: Sequence[datetime],
) -> tuple[Note, ...]:
    """CR-27/CR-28: the ablation's own warnings at this level, from what came before it."""
    notes = []
    if counts[rfa.block_id] > MAX_RFA_SESSIONS:
        notes.append(too_many_rfa_note(rfa, counts[rfa.block_id], policy))
    before = evaluate_level(
        [b for b in ordered if b.performed_at < rfa.performed_at], policy, rfa_session_times
    )
    if before.status not in INDICATED:
        notes.append(no_referral_note(rfa, before, policy))
    return tuple(notes)
