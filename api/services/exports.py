"""CSV exports that stream: keyset pages of EXPORT_PAGE rows, each read in its own short transaction.

Memory stays flat whatever the number of rows (one page at a time), and no connection or transaction is held
while the client reads: on SQLite, whose one pooled connection every request shares, that matters. The
price: an export running while data changes is not one snapshot (a row changed mid-export shows as it was
when its page was read).
"""

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Select, and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import get_session
from api.services.audit_query import AuditFilters, _conditions
from models import AuditEvent, Block, BlockTarget, Level, Patient, Referral, TargetOutcome

EXPORT_PAGE = 2000
OUTCOME_COLUMNS = (
    "patient_mrn",
    "block_id",
    "performed_at",
    "joint",
    "side",
    "agent",
    "baseline",
    "peak_relief_pct",
    "sustained_relief_pct",
    "relief_duration_minutes",
    "required_minutes",
    "verdict",
    "level_status",
    "referral_status",
)
AUDIT_COLUMNS = (
    "id",
    "at",
    "actor_key_id",
    "actor_name",
    "role",
    "action",
    "resource_type",
    "resource_id",
    "result_ids",
    "request_id",
    "client_addr",
)


@asynccontextmanager
async def _session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A short read transaction. Tests replace get_session with one inside their rolled-back transaction;
    that override is joined, so an export sees what the test wrote."""
    override = app.dependency_overrides.get(get_session)
    if override is not None:
        async with asynccontextmanager(override)() as session:
            yield session
        return
    async with app.state.sessionmaker() as session, session.begin():
        yield session


def _outcomes(clinic_id: uuid.UUID) -> Select[Any]:
    """One row per target of a block that is not voided, with its verdict and its level's state now."""
    level = and_(
        Level.patient_id == BlockTarget.patient_id,
        Level.joint == BlockTarget.joint,
        Level.side == BlockTarget.side,
    )
    return (
        select(
            Patient.mrn,
            Block.id,
            Block.performed_at,
            BlockTarget.joint,
            BlockTarget.side,
            Block.agent,
            TargetOutcome.baseline,
            TargetOutcome.peak_relief_pct,
            TargetOutcome.sustained_relief_pct,
            TargetOutcome.relief_duration_minutes,
            TargetOutcome.required_minutes,
            TargetOutcome.verdict,
            Level.status,
            Level.id,
            BlockTarget.patient_id,
        )
        .select_from(BlockTarget)
        .join(Block, Block.id == BlockTarget.block_id)
        .join(Patient, Patient.id == BlockTarget.patient_id)
        .outerjoin(TargetOutcome, TargetOutcome.target_id == BlockTarget.id)
        .outerjoin(Level, level)
        .where(BlockTarget.clinic_id == clinic_id, Block.status == "active")
    )


async def _latest_referrals(
    session: AsyncSession, clinic_id: uuid.UUID, patient_ids: set[Any]
) -> dict[Any, str]:
    """level id -> the status of its latest referral, for a page's patients (ix_referral_patient)."""
    rows = await session.execute(
        select(Referral.level_id, Referral.status)
        .where(Referral.clinic_id == clinic_id, Referral.patient_id.in_(patient_ids))
        .order_by(Referral.recommended_at, Referral.id)
    )
    return dict(rows.all())  # in time order: the latest of a level is the one kept


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(map(str, value))
    return value.isoformat() if hasattr(value, "isoformat") else value


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([[_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


async def _pages(
    app: FastAPI, query: Select[Any], keys: Sequence[Any], finish: Any = None
) -> AsyncIterator[list[Any]]:
    """Every row of `query` in `keys` order, a page at a time (keyset on indexed columns: linear time).
    `finish(session, rows)` may complete a page's rows in the page's own transaction."""
    after: tuple[Any, ...] | None = None
    while True:
        page = query if after is None else query.where(tuple_(*keys) > tuple_(*after))
        keyed = (
            page.add_columns(*(k.label(f"k{i}") for i, k in enumerate(keys)))
            .order_by(*keys)
            .limit(EXPORT_PAGE)
        )
        async with _session(app) as session:
            rows = list((await session.execute(keyed)).all())
            done = [tuple(row)[: -len(keys)] for row in rows]
            if finish is not None and done:
                done = await finish(session, done)
        if not rows:
            return
        yield done
        if len(rows) < EXPORT_PAGE:
            return
        after = tuple(rows[-1][-len(keys) :])


async def outcomes_csv(app: FastAPI, clinic_id: uuid.UUID) -> AsyncIterator[str]:
    """Ordered by the target's id (its primary key): a page is an index range, so the whole export is linear
    in the number of rows. Rows therefore come in no clinical order."""

    async def with_referrals(session: AsyncSession, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        latest = await _latest_referrals(session, clinic_id, {row[-1] for row in rows})
        return [(*row[:-2], latest.get(row[-2])) for row in rows]

    yield _csv([OUTCOME_COLUMNS])
    async for rows in _pages(app, _outcomes(clinic_id), [BlockTarget.id], with_referrals):
        yield _csv(rows)


async def audit_csv(app: FastAPI, clinic_id: uuid.UUID, filters: AuditFilters) -> AsyncIterator[str]:
    """The clinic's audit events, oldest first, filtered like GET /v1/audit-events."""
    yield _csv([AUDIT_COLUMNS])
    columns = [getattr(AuditEvent, name) for name in AUDIT_COLUMNS]
    query = select(*columns).where(AuditEvent.clinic_id == clinic_id, *_conditions(filters))
    async for rows in _pages(app, query, [AuditEvent.at, AuditEvent.id]):
        yield _csv(rows)
