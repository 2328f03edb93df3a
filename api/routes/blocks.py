"""Blocks: record a session (or an ablation) for a patient, read, list, correct, override, void."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicalWriter, Reader, Session
from api.etag import set_etag
from api.openapi import etag
from api.pagination import Cursor, Limit
from api.schemas.blocks import (
    BlockCorrection,
    BlockCreate,
    BlockHistory,
    BlockList,
    BlockPublic,
    BlockVersionPublic,
    BlockVoid,
    CoverageOverrideIn,
)
from api.schemas.common import AUTHED, problems
from api.services import block_changes as changes
from api.services import blocks as service
from api.services.audit import AuditLog
from models import Block

router = APIRouter(prefix="/v1", tags=["blocks"])

IfMatch = Annotated[str | None, Header(max_length=1000, description="The block's ETag; stale is a 412.")]


@router.post(
    "/patients/{patient_id}/blocks",
    status_code=201,
    response_model=BlockPublic,
    # 409: an Idempotency-Key whose first request is still in flight.
    responses=problems(*AUTHED, 404, 409) | etag(201),
)
async def create_block(
    patient_id: uuid.UUID,
    body: BlockCreate,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
) -> BlockPublic:
    """Record a block session, or an ablation (`radiofrequency_ablation`, CR-27: fulfils the level's open
    or acknowledged referral). Joints are normalised (CR-1), `bilateral` makes one target per side (CR-2)."""
    row = await service.create_block(
        session, principal.clinic_id, patient_id, body, principal.key_id, principal.key_name
    )
    [block] = await service.blocks_public(session, principal.clinic_id, [row])
    audit.record("create", "block", block.id, patient_id=block.patient_id)
    set_etag(response, block)
    response.headers["Location"] = f"/v1/blocks/{block.id}"
    return block


@router.get("/patients/{patient_id}/blocks", response_model=BlockList, responses=problems(*AUTHED, 404))
async def list_blocks(
    patient_id: uuid.UUID,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> BlockList:
    """A patient's blocks in the order they were performed, voided ones included."""
    rows, next_cursor = await service.list_blocks(session, principal.clinic_id, patient_id, limit, cursor)
    page = BlockList(
        items=await service.blocks_public(session, principal.clinic_id, rows), next_cursor=next_cursor
    )
    audit.record("search", "block", result_ids=[item.id for item in page.items], patient_id=patient_id)
    return page


@router.get("/blocks/{block_id}", response_model=BlockPublic, responses=problems(*AUTHED, 404) | etag())
async def get_block(
    block_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog, response: Response
) -> BlockPublic:
    row = await service.get_block(session, principal.clinic_id, block_id)
    [block] = await service.blocks_public(session, principal.clinic_id, [row])
    audit.record("read", "block", block.id, patient_id=block.patient_id)
    set_etag(response, block)
    return block


@router.post(
    "/blocks/{block_id}/void", response_model=BlockPublic, responses=problems(*AUTHED, 404, 409) | etag()
)
async def void_block(
    block_id: uuid.UUID,
    body: BlockVoid,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
) -> BlockPublic:
    """Mark a block entered-in-error (kept, never deleted); its levels are re-evaluated, and a voided
    ablation gives back the referral it fulfilled. Twice is a 409."""
    row = await service.void_block(
        session, principal.clinic_id, block_id, body.reason, principal.key_id, principal.key_name
    )
    [block] = await service.blocks_public(session, principal.clinic_id, [row])
    audit.record("void", "block", block.id, patient_id=block.patient_id)
    set_etag(response, block)
    return block


@router.patch(
    "/blocks/{block_id}", response_model=BlockPublic, responses=problems(*AUTHED, 404, 409, 412) | etag()
)
async def correct_block(
    block_id: uuid.UUID,
    body: BlockCorrection,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
    if_match: IfMatch = None,
) -> BlockPublic:
    """Correct a block (not its targets: void and re-record for that). Its readings keep their clock times,
    so their minutes after the block move; a time that would put a reading on the wrong side of the block
    is a 422 naming the readings (CR-7). `version` + 1; `GET .../history` keeps every version."""
    row = await changes.correct_block(session, principal.clinic_id, block_id, body, if_match, principal)
    return await _answer(session, principal.clinic_id, row, audit, response, "update")


@router.get("/blocks/{block_id}/history", response_model=BlockHistory, responses=problems(*AUTHED, 404))
async def block_history(
    block_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog
) -> BlockHistory:
    """Every version of the block, oldest first, with who changed it and why."""
    rows = await changes.block_history(session, principal.clinic_id, block_id)
    audit.record("read", "block", block_id)
    return BlockHistory(items=[BlockVersionPublic.model_validate(row) for row in rows])


@router.put(
    "/blocks/{block_id}/coverage-override",
    response_model=BlockPublic,
    responses=problems(*AUTHED, 404, 409, 412) | etag(),
)
async def set_coverage_override(
    block_id: uuid.UUID,
    body: CoverageOverrideIn,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
    if_match: IfMatch = None,
) -> BlockPublic:
    """CR-24: let a diagnostic block that misses the coverage criteria count toward its levels, with the
    clinician's reason (shown on the level and the referral as `coverage_override`)."""
    row = await changes.set_coverage_override(
        session, principal.clinic_id, block_id, body.reason, if_match, principal
    )
    return await _answer(session, principal.clinic_id, row, audit, response, "override")


@router.delete(
    "/blocks/{block_id}/coverage-override",
    response_model=BlockPublic,
    responses=problems(*AUTHED, 404, 409, 412) | etag(),
)
async def remove_coverage_override(
    block_id: uuid.UUID,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
    if_match: IfMatch = None,
) -> BlockPublic:
    """CR-24: remove the override; the block is judged by the coverage criteria again. Answers the block."""
    row = await changes.remove_coverage_override(session, principal.clinic_id, block_id, if_match, principal)
    return await _answer(session, principal.clinic_id, row, audit, response, "override_removed")


async def _answer(
    session: AsyncSession, clinic_id: uuid.UUID, row: Block, audit: AuditLog, response: Response, action: str
) -> BlockPublic:
    [block] = await service.blocks_public(session, clinic_id, [row])
    audit.record(action, "block", block.id)
    set_etag(response, block)
    return block
