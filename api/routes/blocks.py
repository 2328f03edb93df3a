"""Blocks: record a session for a patient, read, list, void."""

import uuid

from fastapi import APIRouter, Response

from api.auth import ClinicalWriter, Reader, Session
from api.etag import set_etag
from api.pagination import Cursor, Limit
from api.schemas.blocks import BlockCreate, BlockList, BlockPublic, BlockVoid
from api.schemas.common import AUTHED, problems
from api.services import blocks as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["blocks"])


@router.post(
    "/patients/{patient_id}/blocks",
    status_code=201,
    response_model=BlockPublic,
    # 409: an Idempotency-Key whose first request is still in flight.
    responses=problems(*AUTHED, 404, 409),
)
async def create_block(
    patient_id: uuid.UUID,
    body: BlockCreate,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
) -> BlockPublic:
    """Record a block session. Joints are normalised (CR-1), `bilateral` makes one target per side (CR-2)."""
    row = await service.create_block(session, principal.clinic_id, patient_id, body, principal.key_id)
    [block] = await service.blocks_public(session, principal.clinic_id, [row])
    audit.record("create", "block", block.id)
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
    audit.record("search", "block", result_ids=[item.id for item in page.items])
    return page


@router.get("/blocks/{block_id}", response_model=BlockPublic, responses=problems(*AUTHED, 404))
async def get_block(
    block_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog, response: Response
) -> BlockPublic:
    row = await service.get_block(session, principal.clinic_id, block_id)
    [block] = await service.blocks_public(session, principal.clinic_id, [row])
    audit.record("read", "block", block.id)
    set_etag(response, block)
    return block


@router.post("/blocks/{block_id}/void", response_model=BlockPublic, responses=problems(*AUTHED, 404, 409))
async def void_block(
    block_id: uuid.UUID,
    body: BlockVoid,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
) -> BlockPublic:
    """Mark a block entered-in-error (kept, never deleted); its levels are re-evaluated. Twice is a 409."""
    row = await service.void_block(session, principal.clinic_id, block_id, body.reason)
    [block] = await service.blocks_public(session, principal.clinic_id, [row])
    audit.record("void", "block", block.id)
    set_etag(response, block)
    return block
