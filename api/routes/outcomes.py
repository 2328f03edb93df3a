"""The stored outcome of a block (contract: Outcomes)."""

import uuid

from fastapi import APIRouter, Response

from api.auth import Reader, Session
from api.etag import set_etag
from api.openapi import etag
from api.schemas.common import AUTHED, problems
from api.schemas.outcomes import OutcomePublic
from api.services.audit import AuditLog
from api.services.outcomes import outcome_with_patient

router = APIRouter(prefix="/v1", tags=["outcomes"])


@router.get(
    "/blocks/{block_id}/outcome", response_model=OutcomePublic, responses=problems(*AUTHED, 404) | etag()
)
async def get_outcome(
    block_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog, response: Response
) -> OutcomePublic:
    """The block's verdict per target with its figures, reasons and warnings, as stored at the last change."""
    patient_id, outcome = await outcome_with_patient(session, principal.clinic_id, block_id)
    audit.record("read", "outcome", block_id, patient_id=patient_id)
    set_etag(response, outcome)
    return outcome
