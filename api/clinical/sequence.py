"""The referral signal of one level's diagnostic blocks in time order (CR-15, CR-16, CR-24, CR-26).

The blocks given are one stretch of the level's history: all of it, or those after its last ablation
(CR-27). Ablations themselves are handled by levels.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.clinical.clinic_time import format_when
from api.clinical.coverage import gate, not_counted_note, override_notes
from api.clinical.facts import LevelBlock, LevelStatus
from api.clinical.notes import Note
from api.clinical.pairs import pair_status, travelling_warnings
from api.clinical.policy import Policy

__all__ = ["is_diagnostic", "sequence_status"]


def is_diagnostic(block: LevelBlock) -> bool:
    """CR-5/CR-16: only non-voided diagnostic medial branch blocks move the referral signal."""
    return not block.voided and block.procedure == "medial_branch_block" and block.intent == "diagnostic"


def _is_placebo(block: LevelBlock) -> bool:
    return block.agent == "saline_placebo"


def _no_blocks(blocks: Sequence[LevelBlock]) -> LevelStatus:
    live = [b for b in blocks if not b.voided]
    if live:
        note = Note(
            "not_a_diagnostic_mbb",
            f"None of the {len(live)} block(s) here is a diagnostic medial branch block; "
            "intra-articular and therapeutic blocks never qualify for an ablation referral.",
        )
    elif blocks:
        note = Note("no_blocks", "Every block at this level was voided.")
    else:
        note = Note("no_blocks", "No diagnostic medial branch block at this level yet.")
    return LevelStatus("no_blocks", (), (note,), ())


def _waiting_notes(
    counted: Sequence[LevelBlock], decided: Sequence[LevelBlock], policy: Policy
) -> list[Note]:
    """Indeterminate blocks after the last decided one: they may still change the status."""
    since = decided[-1].performed_at if decided else None
    return [
        Note(
            "awaiting_data",
            f"The block on {format_when(b.performed_at, policy.time_zone)} waits for diary data.",
            b.block_id,
        )
        for b in counted
        if b.verdict == "indeterminate" and (since is None or b.performed_at > since)
    ]


def _after_positive(decided: Sequence[LevelBlock], policy: Policy, extra: list[Note]) -> LevelStatus:
    last = decided[-1]
    if policy.blocks_required == 1:
        # CR-26: one positive decided block is enough; awaiting_confirmation is not used.
        note = Note(
            "one_positive_block",
            f"The block on {format_when(last.performed_at, policy.time_zone)} was positive and the policy "
            "needs one positive block; "
            "radiofrequency ablation is indicated.",
            last.block_id,
        )
        return LevelStatus("referral_recommended", (last.block_id,), (note, *extra), ())
    previous = decided[-2] if len(decided) > 1 else None
    if previous is not None and previous.verdict == "positive" and not _is_placebo(previous):
        return pair_status(previous, last, policy, extra)
    note = Note(
        "awaiting_second_block",
        f"The block on {format_when(last.performed_at, policy.time_zone)} was positive; a second positive "
        "block on another day must confirm it.",
        last.block_id,
    )
    return LevelStatus("awaiting_confirmation", (last.block_id,), (note, *extra), ())


def _decided_status(decided: Sequence[LevelBlock], policy: Policy, extra: list[Note]) -> LevelStatus:
    last = decided[-1]
    if last.verdict == "positive" and not _is_placebo(last):
        return _after_positive(decided, policy, extra)
    when = format_when(last.performed_at, policy.time_zone)
    if _is_placebo(last):
        # CR-15: relief from saline is a placebo response; it acts as a negative block.
        note = Note(
            "placebo_response",
            f"The saline placebo block on {when} gave relief: a placebo response resets the count.",
            last.block_id,
        )
        return LevelStatus("not_indicated", (), (note, *extra), ())
    note = Note(
        "negative_block",
        f"The block on {when} was negative; a negative block resets the count.",
        last.block_id,
    )
    return LevelStatus("not_indicated", (), (note, *extra), ())


def _with_travel(status: LevelStatus, blocks: Sequence[LevelBlock], policy: Policy) -> LevelStatus:
    """CR-23: awaiting or recommended, the level carries its qualifying blocks' warnings; CR-24: and
    says which blocks count only by an override."""
    travel: list[Note] = []
    if status.status in ("awaiting_confirmation", "referral_recommended"):
        qualifying = [b for b in blocks if b.block_id in status.qualifying_block_ids]
        travel = travelling_warnings(qualifying, policy)
    overridden = override_notes(blocks, policy)
    if not travel and not overridden:
        return status
    return LevelStatus(
        status.status, status.qualifying_block_ids, status.reasons, (*status.warnings, *travel, *overridden)
    )


def sequence_status(blocks: Sequence[LevelBlock], policy: Policy) -> LevelStatus:
    """CR-15, CR-16, CR-24, CR-26: the status of a stretch of one level's blocks, in time order."""
    diagnostic = [b for b in blocks if is_diagnostic(b)]
    if not diagnostic:
        return _no_blocks(blocks)
    gated = {b.block_id: failures for b in diagnostic if (failures := gate(b, policy))}
    counted = [b for b in diagnostic if b.block_id not in gated] if gated else diagnostic
    # CR-15: a placebo without relief is expected: it neither counts nor resets the sequence.
    decided = [
        b for b in counted if b.verdict == "positive" or (b.verdict == "negative" and not _is_placebo(b))
    ]
    extra = _waiting_notes(counted, decided, policy)
    extra += [not_counted_note(b, gated[b.block_id], policy) for b in diagnostic if b.block_id in gated]
    if not decided:
        if any(_is_placebo(b) and b.verdict == "negative" for b in counted):
            extra.append(Note("placebo_no_relief", "The saline placebo block gave no relief, as expected."))
        return _with_travel(LevelStatus("pending", (), tuple(extra), ()), diagnostic, policy)
    return _with_travel(_decided_status(decided, policy, extra), diagnostic, policy)
