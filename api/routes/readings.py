"""Readings (the pain diary): add a batch to a block, read, list, amend, history, void."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.auth import Reader, ReadingWriter, Session
from api.etag import set_etag
from api.openapi import etag
from api.pagination import Cursor, Limit
from api.schemas.common import AUTHED, problems
from api.schemas.readings import (
    ReadingAmend,
    ReadingBatchIn,
    ReadingBatchPublic,
    ReadingHistory,
    ReadingList,
    ReadingPublic,
    ReadingVersionPublic,
    ReadingVoid,
)
from api.services import readings as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["readings"])

IfMatch = Annotated[str | None, Header(max_length=1000, description="The reading's ETag; stale is a 412.")]


@router.post(
    "/blocks/{block_id}/readings",
    status_code=201,
    response_model=ReadingBatchPublic,
    responses=problems(*AUTHED, 404, 409),
)
async def create_readings(
    block_id: uuid.UUID,
    body: ReadingBatchIn,
    session: Session,
    principal: ReadingWriter,
    audit: AuditLog,
    response: Response,
) -> ReadingBatchPublic:
    """Add diary entries to a block, all or nothing. Each entry applies to every target it matches (CR-7);
    a 422 lists every failing entry by its index. Answers the block's re-evaluated outcome."""
    block, rows, outcome = await service.create_readings(
        session, principal.clinic_id, block_id, body.readings, principal
    )
    readings = [service.reading_public(block, row) for row in rows]
    audit.record("create", "reading", result_ids=[r.id for r in readings], patient_id=block.patient_id)
    response.headers["Location"] = f"/v1/blocks/{block_id}/readings"  # a batch: the block's diary
    return ReadingBatchPublic(readings=readings, outcome=outcome)


@router.get("/blocks/{block_id}/readings", response_model=ReadingList, responses=problems(*AUTHED, 404))
async def list_readings(
    block_id: uuid.UUID,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ReadingList:
    """A block's readings in time order, voided ones included."""
    block, rows, next_cursor = await service.list_readings(
        session, principal.clinic_id, block_id, limit, cursor
    )
    page = ReadingList(items=[service.reading_public(block, row) for row in rows], next_cursor=next_cursor)
    audit.record(
        "search", "reading", result_ids=[item.id for item in page.items], patient_id=block.patient_id
    )
    return page


@router.get("/readings/{reading_id}", response_model=ReadingPublic, responses=problems(*AUTHED, 404) | etag())
async def get_reading(
    reading_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog, response: Response
) -> ReadingPublic:
    block, row = await service.get_reading(session, principal.clinic_id, reading_id)
    reading = service.reading_public(block, row)
    audit.record("read", "reading", reading.id, patient_id=block.patient_id)
    set_etag(response, reading)
    return reading


@router.patch(
    "/readings/{reading_id}",
    response_model=ReadingPublic,
    responses=problems(*AUTHED, 404, 409, 412) | etag(),
)
async def amend_reading(
    reading_id: uuid.UUID,
    body: ReadingAmend,
    session: Session,
    principal: ReadingWriter,
    audit: AuditLog,
    response: Response,
    if_match: IfMatch = None,
) -> ReadingPublic:
    """Correct a score and/or time: `version` + 1, the previous version stays in the history."""
    block, row = await service.amend_reading(
        session, principal.clinic_id, reading_id, body, if_match, principal
    )
    reading = service.reading_public(block, row)
    audit.record("update", "reading", reading.id, patient_id=block.patient_id)
    set_etag(response, reading)
    return reading


@router.get("/readings/{reading_id}/history", response_model=ReadingHistory, responses=problems(*AUTHED, 404))
async def reading_history(
    reading_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog
) -> ReadingHistory:
    """Every version of the reading, oldest first, with who changed it and why."""
    block, rows = await service.reading_history(session, principal.clinic_id, reading_id)
    audit.record("read", "reading", reading_id, patient_id=block.patient_id)
    return ReadingHistory(items=[ReadingVersionPublic.model_validate(row) for row in rows])


@router.post(
    "/readings/{reading_id}/void",
    response_model=ReadingPublic,
    responses=problems(*AUTHED, 404, 409) | etag(),
)
async def void_reading(
    reading_id: uuid.UUID,
    body: ReadingVoid,
    session: Session,
    principal: ReadingWriter,
    audit: AuditLog,
    response: Response,
) -> ReadingPublic:
    """Mark a reading entered-in-error: kept, but no verdict uses it. Twice is a 409."""
    block, row = await service.void_reading(session, principal.clinic_id, reading_id, body.reason, principal)
    reading = service.reading_public(block, row)
    audit.record("void", "reading", reading.id, patient_id=block.patient_id)
    set_etag(response, reading)
    return reading
