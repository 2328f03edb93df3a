"""Reading the audit trail: filters and keyset pages, newest or oldest first. Nothing here writes."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import decode_cursor, encode_cursor
from models import AuditEvent


@dataclass(frozen=True)
class AuditFilters:
    resource_type: str | None = None
    resource_id: str | None = None
    actor_key_id: uuid.UUID | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    patient_id: uuid.UUID | None = None
    actor_user_id: uuid.UUID | None = None


async def search_audit_events(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    filters: AuditFilters,
    limit: int,
    cursor: str | None,
    newest_first: bool = True,
) -> tuple[Sequence[AuditEvent], str | None]:
    """One page of the clinic's audit events ordered by (at, id), and the next page's cursor."""
    query = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id, *_conditions(filters))
    if cursor is not None:
        at, row_id = decode_cursor(cursor)
        if newest_first:
            query = query.where(or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < row_id)))
        else:
            query = query.where(or_(AuditEvent.at > at, and_(AuditEvent.at == at, AuditEvent.id > row_id)))
    order = (AuditEvent.at.desc(), AuditEvent.id.desc()) if newest_first else (AuditEvent.at, AuditEvent.id)
    rows = list((await session.scalars(query.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.at, last.id)


def _conditions(filters: AuditFilters) -> list[object]:
    conditions: list[object] = []
    if filters.resource_type is not None:
        conditions.append(AuditEvent.resource_type == filters.resource_type)
    if filters.resource_id is not None:
        conditions.append(AuditEvent.resource_id == filters.resource_id)
    if filters.actor_key_id is not None:
        conditions.append(AuditEvent.actor_key_id == filters.actor_key_id)
    if filters.patient_id is not None:
        conditions.append(AuditEvent.patient_id == filters.patient_id)
    if filters.actor_user_id is not None:
        conditions.append(AuditEvent.actor_user_id == filters.actor_user_id)
    if filters.since is not None:
        conditions.append(AuditEvent.at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEvent.at < filters.until)
    return conditions
