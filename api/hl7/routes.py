"""`GET /v1/blocks/{id}/hl7`: a block's results as an HL7 v2.5.1 ORU^R01, for an interface engine."""

import uuid

from fastapi import APIRouter, Response

from api.auth import Reader, Session
from api.examples import example
from api.schemas.common import AUTHED, problems
from api.services.audit import AuditLog
from api.services.hl7 import block_oru

HL7_V2 = "application/hl7-v2"
router = APIRouter(prefix="/v1", tags=["hl7"])


@router.get(
    "/blocks/{block_id}/hl7",
    summary="The block's results as an HL7 v2 ORU^R01",
    response_class=Response,
    responses={
        200: {
            "description": "ORU^R01 (HL7 v2.5.1, segments separated by carriage returns)",
            "content": {HL7_V2: {"schema": {"type": "string"}, "example": example("hl7_oru")}},
        },
        **problems(*AUTHED, 404),
    },
)
async def get_block_oru(
    block_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog
) -> Response:
    """PID-3 carries the MRN; one OBR per target (OBR-4 the CPT code); OBX segments carry each pain score
    (LOINC 72514-3 or 38214-3), the relief % and durations, and the verdict with its reasons as text."""
    message = await block_oru(session, principal.clinic_id, block_id)
    audit.record("read", "outcome", block_id)
    return Response(message, media_type=HL7_V2)
