"""Pain readings as plain values, for the standards views (FHIR Observation, HL7 v2 OBX)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.records import Page, count, keyset_page
from models import Block, BlockTarget, Reading, ReadingVersion


@dataclass(frozen=True)
class ReadingRecord:
    id: uuid.UUID
    target_id: uuid.UUID
    block_id: uuid.UUID
    patient_id: uuid.UUID
    joint: str
    side: str
    pain_scale: str
    phase: str
    recorded_at: datetime
    minutes_after_block: int
    score: int
    activity: str | None
    analgesic_taken: bool
    analgesic: str | None
    note: str | None
    source: str
    status: str
    version: int
    changed_at: datetime


_changed_at = (
    select(func.max(ReadingVersion.changed_at))
    .where(ReadingVersion.reading_id == Reading.id)
    .correlate(Reading)
    .scalar_subquery()
)


def reading_query(clinic_id: uuid.UUID) -> Select[Any]:
    return (
        select(
            Reading,
            BlockTarget.joint,
            BlockTarget.side,
            BlockTarget.patient_id,
            Block.performed_at,
            Block.pain_scale,
            _changed_at.label("changed_at"),
        )
        .join(BlockTarget, BlockTarget.id == Reading.target_id)
        .join(Block, Block.id == Reading.block_id)
        .where(Reading.clinic_id == clinic_id)
    )


def reading_record(row: Any) -> ReadingRecord:
    r, joint, side, patient_id, performed_at, scale, changed_at = row
    minutes = int((r.recorded_at - performed_at).total_seconds() // 60)
    return ReadingRecord(
        r.id,
        r.target_id,
        r.block_id,
        patient_id,
        joint,
        side,
        scale,
        r.phase,
        r.recorded_at,
        minutes,
        r.score,
        r.activity,
        r.analgesic_taken,
        r.analgesic,
        r.note,
        r.source,
        r.status,
        r.version,
        changed_at or r.created_at,
    )


async def get_reading(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID
) -> ReadingRecord | None:
    row = (await session.execute(reading_query(clinic_id).where(Reading.id == reading_id))).first()
    return None if row is None else reading_record(row)


async def readings_of_blocks(
    session: AsyncSession, clinic_id: uuid.UUID, block_ids: Sequence[uuid.UUID]
) -> list[ReadingRecord]:
    query = reading_query(clinic_id).where(Reading.block_id.in_(list(block_ids)))
    rows = (await session.execute(query.order_by(Reading.recorded_at, Reading.id))).all()
    return [reading_record(row) for row in rows]


async def reading_page(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page:
    query = reading_query(clinic_id)
    if patient_id is not None:
        query = query.where(BlockTarget.patient_id == patient_id)
    rows, next_cursor = await keyset_page(session, query, Reading.recorded_at, Reading.id, limit, cursor)
    return Page([reading_record(row) for row in rows], next_cursor, await count(session, query))
