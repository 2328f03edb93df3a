"""Small builders for the clinical tests: a block at T0, a diary in minutes after it, level blocks by day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from api.clinical import BlockFacts, LevelBlock, Policy, ReadingFacts, TargetVerdict, evaluate_target

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
MEDICARE = Policy()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def block(agent: str = "lidocaine", **changes: Any) -> BlockFacts:
    base = BlockFacts(
        performed_at=T0,
        procedure="medial_branch_block",
        intent="diagnostic",
        agent=agent,
        expected_relief_minutes=None,
        volume_ml_per_nerve=None,
        sedation="none",
        guidance="fluoroscopy",
        pain_scale="nrs",
        joints=("L4-L5",),
    )
    return replace(base, **changes)


def pre(score: int, minutes_before: float = 10, id: str = "pre") -> ReadingFacts:
    return ReadingFacts(id=id, phase="pre", recorded_at=at(-minutes_before), score=score)


def post(minutes: float, score: int, analgesic_taken: bool = False) -> ReadingFacts:
    return ReadingFacts(
        id=f"post-{minutes:g}",
        phase="post",
        recorded_at=at(minutes),
        score=score,
        analgesic_taken=analgesic_taken,
    )


def diary(baseline: int | None, posts: Sequence[tuple[float, int]]) -> list[ReadingFacts]:
    """A baseline 10 min before the block (None: no baseline) and post readings as (minutes, score)."""
    readings = [pre(baseline)] if baseline is not None else []
    return readings + [post(minutes, score) for minutes, score in posts]


def verdict_of(
    agent: str,
    baseline: int | None,
    posts: Sequence[tuple[float, int]],
    policy: Policy = MEDICARE,
    **block_changes: Any,
) -> TargetVerdict:
    return evaluate_target(block(agent, **block_changes), diary(baseline, posts), policy)


def codes(notes: Sequence[Any]) -> list[str]:
    return [note.code for note in notes]


def level_block(
    block_id: str, day: float, verdict: str, agent: str = "lidocaine", **changes: Any
) -> LevelBlock:
    """A block `day` days after T0 as one level sees it."""
    base = LevelBlock(
        block_id=block_id,
        performed_at=T0 + timedelta(days=day),
        agent=agent,
        procedure="medial_branch_block",
        intent="diagnostic",
        voided=False,
        verdict=verdict,
        relief_duration_minutes=120 if verdict == "positive" else 0,
        sedation="none",
        guidance="fluoroscopy",
    )
    return base._replace(**changes)


DAY = 24 * 60  # minutes


def rfa_block(**changes: Any) -> BlockFacts:
    """CR-27: an ablation at T0."""
    return block(procedure="radiofrequency_ablation", intent="therapeutic", **changes)


def follow_up(
    baseline: int | None, posts: Sequence[tuple[float, int]], policy: Policy = MEDICARE
) -> TargetVerdict:
    """CR-28: an ablation's verdict from a follow-up diary given as (days, score)."""
    return evaluate_target(rfa_block(), diary(baseline, [(d * DAY, s) for d, s in posts]), policy)


def level_rfa(block_id: str, day: float, verdict: str = "indeterminate", **changes: Any) -> LevelBlock:
    """An ablation `day` days after T0 as one level sees it (`positive`: a durable response, CR-28)."""
    return level_block(
        block_id, day, verdict, procedure="radiofrequency_ablation", intent="therapeutic", **changes
    )
