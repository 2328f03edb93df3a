"""The clinical record as plain values, for the standards views (FHIR, HL7 v2, CDS Hooks).

Every query is scoped by clinic_id. Pages use the same keyset cursors as /v1 (api/pagination.py), ordered
by (time, id): targets by their block's time, readings by their own, referrals by recommendation.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.notes import Note, notes_from
from api.errors import NotFound
from api.pagination import decode_cursor, encode_cursor
from models import Block, BlockTarget, Patient, TargetOutcome


@dataclass(frozen=True)
class PatientRecord:
    id: uuid.UUID
    mrn: str
    name: str | None
    birth_date: date | None
    created_at: datetime


@dataclass(frozen=True)
class OutcomeRecord:
    verdict: str
    baseline: int | None
    peak_relief_pct: float | None
    sustained_relief_pct: float | None
    relief_duration_minutes: int
    required_minutes: int
    readings_used: tuple[str, ...]
    reasons: tuple[Note, ...]
    warnings: tuple[Note, ...]
    policy_version: int
    computed_at: datetime


@dataclass(frozen=True)
class TargetRecord:
    """One block target (joint and side) with its block, patient and stored verdict."""

    target_id: uuid.UUID
    block_id: uuid.UUID
    patient: PatientRecord
    joint: str
    side: str
    session_joints: tuple[str, ...]  # every joint of the block: CPT codes go by position
    performed_at: datetime
    procedure: str
    intent: str
    agent: str
    concentration_pct: Decimal | None
    volume_ml_per_nerve: Decimal | None
    sedation: str
    guidance: str
    pain_scale: str
    notes: str | None
    block_status: str
    block_created_at: datetime
    voided_at: datetime | None
    void_reason: str | None
    outcome: OutcomeRecord | None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None
    total: int


def patient_record(row: Any) -> PatientRecord:
    return PatientRecord(row.id, row.mrn, row.name, row.birth_date, row.created_at)


def _pct(value: Any) -> float | None:
    return None if value is None else float(value)


# Outcomes are written with Core upserts, so they are read as columns, never as (possibly stale) ORM objects.
_OUTCOME_COLUMNS = (
    TargetOutcome.verdict,
    TargetOutcome.baseline,
    TargetOutcome.peak_relief_pct,
    TargetOutcome.sustained_relief_pct,
    TargetOutcome.relief_duration_minutes,
    TargetOutcome.required_minutes,
    TargetOutcome.readings_used,
    TargetOutcome.reasons,
    TargetOutcome.warnings,
    TargetOutcome.policy_version,
    TargetOutcome.computed_at,
)


def _outcome(values: Sequence[Any]) -> OutcomeRecord | None:
    verdict, baseline, peak, sustained, duration, required, used, reasons, warnings, version, at = values
    if verdict is None:
        return None
    return OutcomeRecord(
        verdict,
        baseline,
        _pct(peak),
        _pct(sustained),
        duration,
        required,
        tuple(used or ()),
        notes_from(reasons),
        notes_from(warnings),
        version,
        at,
    )


async def keyset_page(
    session: AsyncSession, query: Select[Any], at: Any, row_id: Any, limit: int, cursor: str | None
) -> tuple[list[tuple[Any, ...]], str | None]:
    """Like api.pagination.paginate, for queries of several columns: the rows (as tuples of the query's
    own columns) in (at, row_id) order, and the next page's cursor (None on the last page)."""
    if cursor is not None:
        after_at, after_id = decode_cursor(cursor)
        query = query.where(or_(at > after_at, and_(at == after_at, row_id > after_id)))
    keyed = query.add_columns(at.label("k_at"), row_id.label("k_id")).order_by(at, row_id).limit(limit + 1)
    rows = list((await session.execute(keyed)).all())
    next_cursor = encode_cursor(rows[limit - 1].k_at, rows[limit - 1].k_id) if len(rows) > limit else None
    return [tuple(row)[:-2] for row in rows[:limit]], next_cursor


async def count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


# --- patients ------------------------------------------------------------------------------------------


def _patients(clinic_id: uuid.UUID, mrn: str | None, patient_id: uuid.UUID | None) -> Select[Any]:
    query = select(Patient).where(Patient.clinic_id == clinic_id)
    if mrn is not None:
        query = query.where(Patient.mrn == mrn)
    if patient_id is not None:
        query = query.where(Patient.id == patient_id)
    return query


async def patient_page(
    session: AsyncSession, clinic_id: uuid.UUID, mrn: str | None, limit: int, cursor: str | None
) -> Page:
    query = _patients(clinic_id, mrn, None)
    rows, next_cursor = await keyset_page(session, query, Patient.created_at, Patient.id, limit, cursor)
    return Page([patient_record(r[0]) for r in rows], next_cursor, await count(session, query))


async def get_patient(session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> PatientRecord:
    row = await session.scalar(_patients(clinic_id, None, patient_id))
    if row is None:
        raise NotFound(f"No Patient {patient_id}.")
    return patient_record(row)


async def patient_by_mrn(session: AsyncSession, clinic_id: uuid.UUID, mrn: str) -> PatientRecord | None:
    row = await session.scalar(_patients(clinic_id, mrn.strip(), None))
    return None if row is None else patient_record(row)


# --- block targets (FHIR Procedure and the derived Observation) ----------------------------------------


def target_query(clinic_id: uuid.UUID) -> Select[Any]:
    return (
        select(BlockTarget, Block, Patient, *_OUTCOME_COLUMNS)
        .join(Block, Block.id == BlockTarget.block_id)
        .join(Patient, Patient.id == BlockTarget.patient_id)
        .outerjoin(TargetOutcome, TargetOutcome.target_id == BlockTarget.id)
        .where(BlockTarget.clinic_id == clinic_id)
    )


async def _session_joints(session: AsyncSession, block_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    if block_ids:
        rows = await session.execute(
            select(BlockTarget.block_id, BlockTarget.joint).where(BlockTarget.block_id.in_(block_ids))
        )
        for block_id, joint in rows.all():
            found[block_id].append(joint)
    return found


async def target_records(session: AsyncSession, rows: Sequence[Any]) -> list[TargetRecord]:
    joints = await _session_joints(session, {row[1].id for row in rows})
    return [_target_record(t, b, p, _outcome(o), tuple(dict.fromkeys(joints[b.id]))) for t, b, p, *o in rows]


def _target_record(
    t: Any, b: Any, p: Any, outcome: OutcomeRecord | None, session_joints: tuple[str, ...]
) -> TargetRecord:
    return TargetRecord(
        t.id,
        b.id,
        patient_record(p),
        t.joint,
        t.side,
        session_joints,
        b.performed_at,
        b.procedure,
        b.intent,
        b.agent,
        b.concentration_pct,
        b.volume_ml_per_nerve,
        b.sedation,
        b.guidance,
        b.pain_scale,
        b.notes,
        b.status,
        b.created_at,
        b.voided_at,
        b.void_reason,
        outcome,
    )


async def target_page(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page:
    query = target_query(clinic_id)
    if patient_id is not None:
        query = query.where(BlockTarget.patient_id == patient_id)
    rows, next_cursor = await keyset_page(session, query, Block.performed_at, BlockTarget.id, limit, cursor)
    return Page(await target_records(session, rows), next_cursor, await count(session, query))


async def get_target(
    session: AsyncSession, clinic_id: uuid.UUID, target_id: uuid.UUID
) -> TargetRecord | None:
    rows = (await session.execute(target_query(clinic_id).where(BlockTarget.id == target_id))).all()
    return (await target_records(session, rows))[0] if rows else None


async def targets_of_blocks(
    session: AsyncSession, clinic_id: uuid.UUID, block_ids: Sequence[uuid.UUID]
) -> list[TargetRecord]:
    query = target_query(clinic_id).where(BlockTarget.block_id.in_(list(block_ids)))
    rows = (await session.execute(query.order_by(Block.performed_at, BlockTarget.position))).all()
    return await target_records(session, rows)
