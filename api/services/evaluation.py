"""Stored evaluation: block outcomes (CR-9..CR-15, CR-25, CR-28), then their levels (CR-16..CR-18,
CR-23..CR-28) and referrals (CR-19, CR-27).

Results are computed on write and stored, never recomputed on read. The pieces here serve both a
single block (block_evaluation.py, after a reading or block write) and a whole clinic (clinic_pass.py,
after a policy or time zone change): evaluate a block from its rows, read with a few set-based queries,
write with one upsert per table. The steps, in both: outcomes, then levels, then the warnings an
ablation's outcome takes from its level, then referrals, then the events.
"""

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pydantic_core import to_json
from sqlalchemy import DateTime, String, Text, cast, select, type_coerce
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.policy import Policy
from api.clinical.verdict import BlockFacts, ReadingFacts, TargetVerdict, block_warnings, evaluate_target
from api.services import levels
from api.services.block_rows import BLOCK_COLUMNS, TARGET_COLUMNS
from api.services.bulk import is_postgresql, upsert
from api.services.levels import note_dicts
from api.services.outcomes import outcome_for_block, verdict_fields
from models import Block, BlockOutcome, BlockTarget, Reading, TargetOutcome
from models.base import utcnow

# outcome_for_block (the read side) lives in outcomes.py; routes import it from here too. The clinic-wide
# pass is in clinic_pass.py.
__all__ = [
    "Evaluated",
    "block_row",
    "content_hash",
    "evaluate_block",
    "history_rows",
    "load_blocks",
    "load_readings",
    "outcome_for_block",
    "store_outcomes",
    "target_rows",
]


def _reading_columns(session: AsyncSession) -> tuple[Any, ...]:
    """The reading columns, minus result processing that only re-checks what the driver returns.

    A clinic holds ~500k readings and the per-row type processing was a large part of loading them:
    `phase` is read as a plain string (the column's CHECK already holds it to pre/post). On
    PostgreSQL `recorded_at` is taken as asyncpg returns it, already an aware UTC datetime, and the
    id as text, the form `readings_used` stores.
    """
    id_: Any = Reading.id
    recorded_at: Any = Reading.recorded_at
    if is_postgresql(session):
        id_ = cast(Reading.id, Text)
        recorded_at = type_coerce(Reading.recorded_at, DateTime(timezone=True))
    phase = type_coerce(Reading.phase, String)
    return (id_, Reading.target_id, phase, recorded_at, Reading.score, Reading.analgesic_taken)


@dataclass
class Evaluated:
    """One block's fresh outcome, ready to store and to publish."""

    block_id: uuid.UUID
    notes: tuple[Any, ...]  # the block's CR-14 warnings
    targets: list[tuple[Row[Any], TargetVerdict]]

    @property
    def warnings(self) -> list[dict[str, str]]:
        return note_dicts(self.notes)


def _facts(block: Row[Any], targets: Sequence[Row[Any]]) -> BlockFacts:
    volume = block.volume_ml_per_nerve
    return BlockFacts(
        performed_at=block.performed_at,
        procedure=block.procedure,
        intent=block.intent,
        agent=block.agent,
        expected_relief_minutes=block.expected_relief_minutes,
        # Exact (CR-8 habit): the stored Decimal becomes a Fraction without passing through float.
        volume_ml_per_nerve=None if volume is None else Fraction(str(volume)),
        sedation=block.sedation,
        guidance=block.guidance,
        pain_scale=block.pain_scale,
        joints=tuple(dict.fromkeys(t.joint for t in targets)),
    )


def evaluate_block(
    block: Row[Any],
    targets: Sequence[Row[Any]],
    readings: dict[uuid.UUID, list[ReadingFacts]],
    policy: Policy,
) -> Evaluated:
    facts = _facts(block, targets)
    verdicts = [(t, evaluate_target(facts, readings.get(t.id, ()), policy)) for t in targets]
    every = [r for t in targets for r in readings.get(t.id, ())]
    return Evaluated(block.id, block_warnings(facts, every, policy), verdicts)


async def load_blocks(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID | None
) -> tuple[list[Row[Any]], dict[uuid.UUID, list[Row[Any]]]]:
    """Blocks and their targets: one block, or (block_id None) the whole clinic."""
    blocks_q = select(*BLOCK_COLUMNS).where(Block.clinic_id == clinic_id)
    targets_q = select(*TARGET_COLUMNS).where(BlockTarget.clinic_id == clinic_id)
    if block_id is not None:
        blocks_q = blocks_q.where(Block.id == block_id)
        targets_q = targets_q.where(BlockTarget.block_id == block_id)
    # Core on the session's connection: ORM result handling would dominate a clinic's rows.
    connection = await session.connection()
    blocks = list((await connection.execute(blocks_q)).all())
    targets: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
    for t in (await connection.execute(targets_q.order_by(BlockTarget.position))).all():
        targets[t.block_id].append(t)
    return blocks, targets


async def load_readings(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID | None
) -> dict[uuid.UUID, list[ReadingFacts]]:
    """The ACTIVE readings of one block, or (block_id None) of the whole clinic, by target."""
    query = select(*_reading_columns(session)).where(
        Reading.clinic_id == clinic_id, Reading.status == "active"
    )
    if block_id is not None:
        query = query.where(Reading.block_id == block_id)
    readings: dict[uuid.UUID, list[ReadingFacts]] = defaultdict(list)
    for id_, target_id, phase, at, score, analgesic in (
        await (await session.connection()).execute(query)
    ).all():
        readings[target_id].append(ReadingFacts(id_, phase, at, score, analgesic))
    return readings


def content_hash(fields: dict[str, Any]) -> str:
    """A digest of a target outcome's verdict columns, stored beside them (target_outcome.content_hash)."""
    return hashlib.blake2b(to_json(fields), digest_size=16).hexdigest()


def target_rows(
    clinic_id: uuid.UUID, policy: Policy, evaluated: Sequence[Evaluated], now: Any
) -> list[dict[str, Any]]:
    """The target_outcome rows of `evaluated`, each with its content_hash."""
    rows = []
    for e in evaluated:
        for t, v in e.targets:
            fields = {**verdict_fields(v), "relief_ended": v.relief_ended}
            rows.append(
                {
                    "target_id": t.id,
                    "block_id": e.block_id,
                    "clinic_id": clinic_id,
                    **fields,
                    "content_hash": content_hash(fields),
                    "policy_version": policy.version,
                    "computed_at": now,
                }
            )
    return rows


def block_row(clinic_id: uuid.UUID, policy: Policy, evaluated: Evaluated, now: Any) -> dict[str, Any]:
    return {
        "block_id": evaluated.block_id,
        "clinic_id": clinic_id,
        "policy_profile": policy.profile,
        "policy_version": policy.version,
        "threshold_pct": policy.threshold_pct,
        "warnings": evaluated.warnings,
        "computed_at": now,
    }


async def store_outcomes(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    evaluated: Sequence[Evaluated],
    bulk: bool = False,
    write_block: bool = True,
) -> None:
    """Upsert the target outcomes, and (`write_block`) the block outcomes, of `evaluated`."""
    now = utcnow()
    blocks = [block_row(clinic_id, policy, e, now) for e in evaluated] if write_block else []
    await upsert(session, BlockOutcome.__table__, blocks, ["block_id"], bulk=bulk)
    targets = target_rows(clinic_id, policy, evaluated, now)
    await upsert(session, TargetOutcome.__table__, targets, ["target_id"], bulk=bulk)


def history_rows(blocks: Sequence[Row[Any]], evaluated: Sequence[Evaluated]) -> list[levels.HistoryRow]:
    """The level history of the whole clinic, from the blocks just evaluated (same order)."""
    return [
        levels.HistoryRow(
            t.patient_id,
            t.joint,
            t.side,
            t.region,
            b.id,
            b.performed_at,
            b.agent,
            b.procedure,
            b.intent,
            b.status,
            b.sedation,
            b.guidance,
            v.verdict,
            v.relief_duration_minutes,
            t.id,
            b.pain_scale,
            v.baseline,
            v.relief_ended,
            e.notes,
            v.warnings,
            b.coverage_override_reason,
            b.coverage_override_by,
            b.coverage_override_at,
        )
        for b, e in zip(blocks, evaluated, strict=True)
        for t, v in e.targets
    ]
