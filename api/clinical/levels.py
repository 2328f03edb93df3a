"""The referral signal per (patient, joint, side): level status, RFA suggestion, guardrails (CR-15..CR-20)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.clinical.block_checks import COVERED_GUIDANCE, DEEP_SEDATION
from api.clinical.nomenclature import nerves_of, rfa_cpt_codes
from api.clinical.notes import Note, format_when
from api.clinical.policy import Policy

__all__ = [
    "LevelBlock",
    "LevelStatus",
    "Procedure",
    "evaluate_level",
    "referral_warnings",
    "suggested_procedure",
]

SESSION_LOOKBACK = timedelta(days=365)  # CR-20: "the rolling 12 months"
MAX_SESSIONS_PER_REGION = 4  # CR-20: more than this is a payer warning


@dataclass(frozen=True)
class LevelBlock:
    """One block as seen from one level: its verdict for that level's target."""

    block_id: Hashable
    performed_at: datetime
    agent: str
    procedure: str
    intent: str
    voided: bool
    verdict: str  # positive | negative | indeterminate
    relief_duration_minutes: int
    sedation: str
    guidance: str


@dataclass(frozen=True)
class LevelStatus:
    status: str  # no_blocks | pending | awaiting_confirmation | referral_recommended | not_indicated
    qualifying_block_ids: tuple[Hashable, ...]
    reasons: tuple[Note, ...]
    warnings: tuple[Note, ...]


@dataclass(frozen=True)
class Procedure:
    name: str
    nerves: tuple[str, ...]
    cpt_first_joint: str
    cpt_each_additional_joint: str


def _counts(block: LevelBlock) -> bool:
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


def _waiting_notes(counted: Sequence[LevelBlock], decided: Sequence[LevelBlock]) -> list[Note]:
    """Indeterminate blocks after the last decided one: they may still change the status."""
    since = decided[-1].performed_at if decided else None
    waiting = [
        b for b in counted if b.verdict == "indeterminate" and (since is None or b.performed_at > since)
    ]
    return [
        Note("awaiting_data", f"The block on {format_when(b.performed_at)} waits for diary data.")
        for b in waiting
    ]


def _discordant(pair: Sequence[LevelBlock]) -> list[Note]:
    """CR-18: a lidocaine block outlasting a bupivacaine one is discordant (Lord 1995)."""
    by_agent = {b.agent: b for b in pair}
    if len(pair) != 2 or set(by_agent) != {"lidocaine", "bupivacaine"}:
        return []
    lido, bupi = by_agent["lidocaine"], by_agent["bupivacaine"]
    if lido.relief_duration_minutes <= bupi.relief_duration_minutes:
        return []
    return [
        Note(
            "discordant_comparative_blocks",
            f"Lidocaine relief lasted {lido.relief_duration_minutes} min, longer than bupivacaine's "
            f"{bupi.relief_duration_minutes} min; the comparative blocks are discordant.",
        )
    ]


def _pair_status(first: LevelBlock, second: LevelBlock, policy: Policy, extra: list[Note]) -> LevelStatus:
    """CR-16..CR-18: two positives in a row, unless too close together or (optionally) discordant."""
    gap = second.performed_at - first.performed_at
    # CR-17: inclusive, so exactly min_gap_hours apart is fine; the same instant is one session.
    if gap <= timedelta(0) or gap < timedelta(hours=policy.min_gap_hours):
        hours = f"{gap // timedelta(minutes=1) / 60:g}"
        note = Note(
            "second_block_too_soon",
            f"The block on {format_when(second.performed_at)} came {hours} h after the positive one on "
            f"{format_when(first.performed_at)}; the policy needs {policy.min_gap_hours} h between "
            "sessions, so it waits for its own confirmation.",
        )
        return LevelStatus("awaiting_confirmation", (second.block_id,), (note, *extra), ())
    discordant = _discordant((first, second))
    if discordant and policy.require_concordance:
        return LevelStatus(
            "awaiting_confirmation", (second.block_id,), (*discordant, *extra), tuple(discordant)
        )
    note = Note(
        "two_positive_blocks",
        f"Two positive diagnostic blocks in a row ({format_when(first.performed_at)} and "
        f"{format_when(second.performed_at)}); radiofrequency ablation is indicated.",
    )
    return LevelStatus(
        "referral_recommended", (first.block_id, second.block_id), (note, *extra), tuple(discordant)
    )


def _after_positive(decided: Sequence[LevelBlock], policy: Policy, extra: list[Note]) -> LevelStatus:
    last = decided[-1]
    previous = decided[-2] if len(decided) > 1 else None
    if previous is not None and previous.verdict == "positive" and not _is_placebo(previous):
        return _pair_status(previous, last, policy, extra)
    note = Note(
        "awaiting_second_block",
        f"The block on {format_when(last.performed_at)} was positive; a second positive block on "
        "another day must confirm it.",
    )
    return LevelStatus("awaiting_confirmation", (last.block_id,), (note, *extra), ())


def evaluate_level(blocks: Sequence[LevelBlock], policy: Policy) -> LevelStatus:
    """CR-15..CR-18: the referral status of one (joint, side) from its blocks, in any order."""
    counted = sorted((b for b in blocks if _counts(b)), key=lambda b: b.performed_at)
    if not counted:
        return _no_blocks(blocks)
    # CR-15: a placebo without relief is expected: it neither counts nor resets the sequence.
    decided = [
        b for b in counted if b.verdict == "positive" or (b.verdict == "negative" and not _is_placebo(b))
    ]
    extra = _waiting_notes(counted, decided)
    if not decided:
        if any(_is_placebo(b) and b.verdict == "negative" for b in counted):
            extra.append(Note("placebo_no_relief", "The saline placebo block gave no relief, as expected."))
        return LevelStatus("pending", (), tuple(extra), ())
    last = decided[-1]
    when = format_when(last.performed_at)
    if _is_placebo(last):
        # CR-15: relief from saline is a placebo response; it acts as a negative block.
        note = Note(
            "placebo_response",
            f"The saline placebo block on {when} gave relief: a placebo response resets the count.",
        )
        return LevelStatus("not_indicated", (), (note, *extra), ())
    if last.verdict == "negative":
        note = Note("negative_block", f"The block on {when} was negative; a negative block resets the count.")
        return LevelStatus("not_indicated", (), (note, *extra), ())
    return _after_positive(decided, policy, extra)


def suggested_procedure(joint: str) -> Procedure:
    """CR-19: radiofrequency ablation of the same nerves that were blocked (CR-4)."""
    first, additional = rfa_cpt_codes(joint)
    return Procedure("radiofrequency ablation", tuple(nerves_of(joint)), first, additional)


def _sessions_note(pair: Sequence[LevelBlock], region_session_times: Sequence[datetime]) -> list[Note]:
    """CR-20: more than 4 diagnostic sessions in the region in the 365 days up to the second block."""
    second = max(b.performed_at for b in pair)
    # A set: the pair may or may not be among the times given, and one instant is one session.
    times = {*region_session_times, *(b.performed_at for b in pair)}
    count = sum(1 for t in times if second - SESSION_LOOKBACK <= t <= second)
    if count <= MAX_SESSIONS_PER_REGION:
        return []
    return [
        Note(
            "too_many_sessions",
            f"{count} diagnostic sessions in this region in the 12 months up to "
            f"{format_when(second)}; payers allow at most {MAX_SESSIONS_PER_REGION}.",
        )
    ]


def _medicare_notes(pair: Sequence[LevelBlock]) -> list[Note]:
    """CR-20: Medicare guardrails on each qualifying block."""
    notes = []
    sedated = [b for b in pair if b.sedation in DEEP_SEDATION]
    if sedated:
        which = ", ".join(f"{format_when(b.performed_at)} ({b.sedation})" for b in sedated)
        notes.append(
            Note("sedated_block", f"Qualifying block(s) given with moderate or deeper sedation: {which}.")
        )
    unguided = [b for b in pair if b.guidance not in COVERED_GUIDANCE]
    if unguided:
        which = ", ".join(f"{format_when(b.performed_at)} ({b.guidance})" for b in unguided)
        notes.append(
            Note(
                "guidance_not_covered",
                f"Medicare needs fluoroscopy or CT guidance; qualifying block(s): {which}.",
            )
        )
    return notes


def referral_warnings(
    pair: Sequence[LevelBlock], region_session_times: Sequence[datetime], policy: Policy
) -> tuple[Note, ...]:
    """CR-18 and CR-20: the payer guardrails a referral carries, self-contained."""
    ordered = sorted(pair, key=lambda b: b.performed_at)
    notes = _sessions_note(ordered, region_session_times)
    if policy.profile == "medicare":
        notes += _medicare_notes(ordered)
    return tuple(notes + _discordant(ordered))
