"""Two positive blocks in a row (CR-17, CR-18, CR-23): when they confirm each other, and what the pair and
its blocks carry to the level and the referral."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from api.clinical.clinic_time import format_when
from api.clinical.facts import LevelBlock, LevelStatus
from api.clinical.notes import Note
from api.clinical.policy import Policy
from api.clinical.runs import span

__all__ = [
    "LONG_ACTING",
    "TRAVELLING_CODES",
    "discordant",
    "pair_status",
    "pair_warnings",
    "travelling_warnings",
]

LONG_ACTING = frozenset({"bupivacaine", "ropivacaine"})  # CR-18
# CR-23: the block warnings (CR-9, CR-10, CR-14) that travel with a qualifying block to its level and
# referral.
TRAVELLING_CODES = frozenset(
    {
        "sedation_confounds",
        "guidance_not_covered",
        "high_volume",
        "too_many_levels",
        "multiple_regions",
        "analgesic_taken",
        "low_baseline",
        "stale_baseline",
        "pain_worse",
    }
)


def discordant(pair: Sequence[LevelBlock], policy: Policy) -> list[Note]:
    """CR-18: lidocaine relief outlasting a long-acting block's relief that was seen to end (Lord 1995).

    A long-acting run still going at its last reading is not evidence: its diary stopped, not its relief.
    """
    lido = [b for b in pair if b.agent == "lidocaine"]
    long_acting = [b for b in pair if b.agent in LONG_ACTING]
    if len(pair) != 2 or len(lido) != 1 or len(long_acting) != 1:
        return []
    short, long = lido[0], long_acting[0]
    if not long.relief_ended or short.relief_duration_minutes <= long.relief_duration_minutes:
        return []
    return [
        Note(
            "discordant_comparative_blocks",
            f"Lidocaine relief lasted {short.relief_duration_minutes} min "
            f"({format_when(short.performed_at, policy.time_zone)}), longer than {long.agent}'s "
            f"{long.relief_duration_minutes} min ({format_when(long.performed_at, policy.time_zone)}), "
            "which was seen to end; the comparative blocks are discordant.",
        )
    ]


def _too_far_apart(first: LevelBlock, second: LevelBlock, policy: Policy) -> bool:
    # CR-23: "more than" the interval, so exactly max_pair_interval_days apart still pairs.
    return second.performed_at - first.performed_at > span(policy.max_pair_interval_days * 1440)


def _interval_note(code: str, first: LevelBlock, second: LevelBlock, policy: Policy) -> Note:
    days = (second.performed_at - first.performed_at) / timedelta(days=1)
    zone = policy.time_zone
    return Note(
        code,
        f"The blocks on {format_when(first.performed_at, zone)} and {format_when(second.performed_at, zone)} "
        f"are {days:.0f} days apart, more than the {policy.max_pair_interval_days} days the policy allows "
        "between the two blocks of a pair.",
    )


def pair_warnings(first: LevelBlock, second: LevelBlock, policy: Policy) -> list[Note]:
    """CR-23: a change of pain scale, and a long interval when the policy does not enforce it."""
    notes = []
    if first.pain_scale != second.pain_scale:
        notes.append(
            Note(
                "scale_changed",
                f"The block on {format_when(first.performed_at, policy.time_zone)} was rated on "
                f"{first.pain_scale.upper()} and the one on "
                f"{format_when(second.performed_at, policy.time_zone)} on {second.pain_scale.upper()}; "
                "payers expect both blocks of a pair on the same scale.",
            )
        )
    if _too_far_apart(first, second, policy):
        notes.append(_interval_note("long_pair_interval", first, second, policy))
    return notes


def travelling_warnings(blocks: Iterable[LevelBlock], policy: Policy) -> list[Note]:
    """CR-23: each qualifying block's own warnings, naming the block (by id, and by time in the text)."""
    return [
        Note(n.code, f"Block of {format_when(b.performed_at, policy.time_zone)}: {n.message}", b.block_id)
        for b in blocks
        for n in b.warnings
        if n.code in TRAVELLING_CODES
    ]


def pair_status(first: LevelBlock, second: LevelBlock, policy: Policy, extra: Sequence[Note]) -> LevelStatus:
    """CR-16..CR-18, CR-23: two positives in a row, unless too close, too far apart (when enforced) or
    (optionally) discordant; then the later block waits for its own confirmation."""
    zone = policy.time_zone
    gap = second.performed_at - first.performed_at
    # CR-17: inclusive, so exactly min_gap_hours apart is fine; the same instant is one session.
    if gap <= timedelta(0) or gap < span(policy.min_gap_hours * 60):
        hours = f"{gap // timedelta(minutes=1) / 60:g}"
        note = Note(
            "second_block_too_soon",
            f"The block on {format_when(second.performed_at, zone)} came {hours} h after the positive one on "
            f"{format_when(first.performed_at, zone)}; the policy needs {policy.min_gap_hours} h between "
            "sessions, so it waits for its own confirmation.",
            second.block_id,
        )
        return LevelStatus("awaiting_confirmation", (second.block_id,), (note, *extra), ())
    if policy.enforce_pair_interval and _too_far_apart(first, second, policy):
        note = _interval_note("pair_too_far_apart", first, second, policy)
        return LevelStatus("awaiting_confirmation", (second.block_id,), (note, *extra), ())
    mismatch = discordant((first, second), policy)
    if mismatch and policy.require_concordance:
        return LevelStatus("awaiting_confirmation", (second.block_id,), (*mismatch, *extra), tuple(mismatch))
    note = Note(
        "two_positive_blocks",
        f"Two positive diagnostic blocks in a row ({format_when(first.performed_at, zone)} and "
        f"{format_when(second.performed_at, zone)}); radiofrequency ablation is indicated.",
    )
    warnings = (*mismatch, *pair_warnings(first, second, policy))
    return LevelStatus("referral_recommended", (first.block_id, second.block_id), (note, *extra), warnings)
