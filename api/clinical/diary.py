"""What a target's diary holds before any verdict: its baseline, the post readings that count, and the
warnings about them (CR-9, CR-10, CR-11's horizon, CR-25's analgesic exclusion)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from api.clinical.facts import BlockFacts, ReadingFacts
from api.clinical.notes import Note
from api.clinical.policy import Policy
from api.clinical.runs import Point, minutes, weakest

__all__ = [
    "STALE_BASELINE_AFTER",
    "baseline_of",
    "baseline_warnings",
    "no_data_reasons",
    "pain_worse",
    "posts_within",
    "split_at_analgesic",
]

STALE_BASELINE_AFTER = timedelta(hours=24)  # CR-9: fixed by the rule, not a policy setting


def baseline_of(block: BlockFacts, readings: Sequence[ReadingFacts]) -> ReadingFacts | None:
    """CR-9: the latest pre reading at or before the block; on a tie, the one given last."""
    pres = [r for r in readings if r.phase == "pre" and r.recorded_at <= block.performed_at]
    return sorted(pres, key=lambda r: r.recorded_at)[-1] if pres else None


def posts_within(
    block: BlockFacts, readings: Sequence[ReadingFacts], horizon: timedelta
) -> list[ReadingFacts]:
    """Post readings after the block up to the horizon (inclusive), in time order; later ones are ignored."""
    end = block.performed_at + horizon
    posts = [r for r in readings if r.phase == "post" and block.performed_at < r.recorded_at <= end]
    return sorted(posts, key=lambda r: r.recorded_at)


def split_at_analgesic(posts: list[ReadingFacts]) -> tuple[list[ReadingFacts], list[ReadingFacts]]:
    """CR-25: (the readings before the first one taken with an analgesic, that one and every later one)."""
    if not any(r.analgesic_taken for r in posts):  # the usual diary: no copy
        return posts, []
    first = next(i for i, r in enumerate(posts) if r.analgesic_taken)
    return posts[:first], posts[first:]


def baseline_warnings(block: BlockFacts, baseline: ReadingFacts, policy: Policy) -> list[Note]:
    """CR-9: a low or stale baseline is flagged on the outcome (CR-24 may still stop it counting)."""
    notes = []
    minimum = policy.min_baseline.get(block.pain_scale)
    if minimum is not None and 0 < baseline.score < minimum:
        notes.append(
            Note(
                "low_baseline",
                f"Baseline pain of {baseline.score} is below the policy minimum of {minimum} "
                f"({block.pain_scale.upper()}); relief from a low score is hard to judge.",
            )
        )
    age = block.performed_at - baseline.recorded_at
    if age > STALE_BASELINE_AFTER:
        notes.append(
            Note(
                "stale_baseline",
                f"The baseline was recorded {minutes(age) // 60} h before the block; "
                "one older than 24 h may not reflect the pain on the day.",
            )
        )
    return notes


def pain_worse(baseline: int, points: Sequence[Point]) -> list[Note]:
    """CR-10: a score above baseline is reported as negative relief, with a warning."""
    worse = [p for p in points if p.reading.score > baseline]
    if not worse:
        return []
    worst = weakest(worse)
    return [
        Note(
            "pain_worse",
            f"Pain rose above the baseline of {baseline} after the block "
            f"(worst {worst.reading.score}, relief {worst.text}).",
        )
    ]


def no_data_reasons(baseline: ReadingFacts | None, posts: list[ReadingFacts], span: str) -> list[Note]:
    """CR-9/CR-12 gates that leave nothing to measure; `span` says how far the diary is read ('24 h')."""
    reasons = []
    if baseline is None:
        reasons.append(Note("no_baseline", "No pain score before the block; relief cannot be measured."))
    elif baseline.score == 0:
        reasons.append(Note("baseline_zero", "The baseline pain score was 0; relief cannot be measured."))
    if not posts:
        reasons.append(Note("no_post_readings", f"No pain scores in the {span} after the block."))
    return reasons
