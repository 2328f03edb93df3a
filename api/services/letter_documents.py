"""The outcome letters of a clinic's levels as documents (FHIR DocumentReference): one per stored level.

A letter is rendered on demand, never stored, so its version is a digest of its HTML rendering (the letter's
own content, with its "Produced" time fixed to when its record last changed) and its time is the latest
change of anything it shows: the level, its referrals, and its blocks, readings and verdicts.
"""

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.services import records
from api.services.letters import letter_context
from api.services.records import Page, PatientRecord
from api.ui.templating import templates
from models import BlockTarget, BlockVersion, Level, Patient, ReadingVersion, Referral, TargetOutcome
from models import Reading as ReadingRow


@dataclass(frozen=True)
class LetterDocument:
    level_id: uuid.UUID
    patient: PatientRecord
    joint: str
    side: str
    status: str
    referral_ids: tuple[uuid.UUID, ...]  # every referral of the level, oldest first
    target_ids: tuple[uuid.UUID, ...]  # the targets of the blocks the letter shows, at this level
    changed_at: datetime
    digest: str


def _level_query(clinic_id: uuid.UUID) -> Select[Any]:
    query = select(Level, Patient).join(Patient, Patient.id == Level.patient_id)
    # Levels are written with Core upserts: read them fresh, never from the session's identity map.
    return query.where(Level.clinic_id == clinic_id).execution_options(populate_existing=True)


def _targets_of(levels: Any) -> Select[Any]:
    return select(
        levels.c.id.label("level_id"), BlockTarget.id.label("target_id"), BlockTarget.block_id
    ).join(
        BlockTarget,
        (BlockTarget.patient_id == levels.c.patient_id)
        & (BlockTarget.joint == levels.c.joint)
        & (BlockTarget.side == levels.c.side),
    )


async def _changed_at(session: AsyncSession, level_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """Per level, the latest change of what its letter shows, in one statement."""
    levels = (
        select(Level.id, Level.patient_id, Level.joint, Level.side).where(Level.id.in_(level_ids)).subquery()
    )
    targets = _targets_of(levels).subquery()
    parts = [
        select(levels.c.id, Level.updated_at).join(Level, Level.id == levels.c.id),
        *(
            select(Referral.level_id, at).where(Referral.level_id.in_(level_ids), at.is_not(None))
            for at in (
                Referral.recommended_at,
                Referral.acknowledged_at,
                Referral.withdrawn_at,
                Referral.fulfilled_at,
            )
        ),
        select(targets.c.level_id, BlockVersion.changed_at).join(
            BlockVersion, BlockVersion.block_id == targets.c.block_id
        ),
        select(targets.c.level_id, TargetOutcome.computed_at).join(
            TargetOutcome, TargetOutcome.target_id == targets.c.target_id
        ),
        select(targets.c.level_id, ReadingVersion.changed_at)
        .join(ReadingRow, ReadingRow.target_id == targets.c.target_id)
        .join(ReadingVersion, ReadingVersion.reading_id == ReadingRow.id),
    ]
    times = union_all(*parts).subquery()
    level_id, at = times.c
    rows = await session.execute(select(level_id, func.max(at)).group_by(level_id))
    return {row_id: latest for row_id, latest in rows.all()}


async def _referrals(
    session: AsyncSession, level_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    query = select(Referral.level_id, Referral.id).where(Referral.level_id.in_(level_ids))
    for level_id, referral_id in await session.execute(query.order_by(Referral.recommended_at, Referral.id)):
        found.setdefault(level_id, []).append(referral_id)
    return found


async def _document(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    level: Level,
    patient: Patient,
    changed_at: datetime,
    referrals: list[uuid.UUID],
) -> LetterDocument:
    # The letter as the page and the PDF show it: its digest is the version, its blocks are the evidence.
    context = await letter_context(session, clinic_id, patient.id, level.joint, level.side, changed_at)
    html = str(templates.get_template("letter.html").render(context))
    targets = tuple(e.target.target_id for e in context["evidence"] if e.target is not None)
    return LetterDocument(
        level.id,
        records.patient_record(patient),
        level.joint,
        level.side,
        level.status,
        tuple(referrals),
        targets,
        changed_at,
        hashlib.sha256(html.encode()).hexdigest()[:16],
    )


async def _documents(
    session: AsyncSession, clinic_id: uuid.UUID, rows: Sequence[Any]
) -> list[LetterDocument]:
    ids = [level.id for level, _patient in rows]
    if not ids:
        return []
    changed = await _changed_at(session, ids)
    referrals = await _referrals(session, ids)
    return [
        await _document(session, clinic_id, level, patient, changed[level.id], referrals.get(level.id, []))
        for level, patient in rows
    ]


async def get_letter_document(
    session: AsyncSession, clinic_id: uuid.UUID, level_id: uuid.UUID
) -> LetterDocument:
    row = (await session.execute(_level_query(clinic_id).where(Level.id == level_id))).first()
    if row is None:
        raise NotFound(f"No DocumentReference {level_id}.")
    [document] = await _documents(session, clinic_id, [row])
    return document


async def letter_document_page(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page:
    """Letters by patient (oldest first), then level id: neither key ever changes, so paging is stable."""
    query = _level_query(clinic_id)
    if patient_id is not None:
        query = query.where(Level.patient_id == patient_id)
    rows, next_cursor = await records.keyset_page(session, query, Patient.created_at, Level.id, limit, cursor)
    return Page(await _documents(session, clinic_id, rows), next_cursor, await records.count(session, query))
