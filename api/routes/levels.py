"""A patient's nerve levels and their referral status (contract: Patients, levels)."""

import uuid

from fastapi import APIRouter

from api.auth import Reader, Session
from api.schemas.common import AUTHED, problems
from api.schemas.levels import LevelList
from api.services.audit import AuditLog
from api.services.levels import levels_for_patient

router = APIRouter(prefix="/v1", tags=["levels"])


@router.get("/patients/{patient_id}/levels", response_model=LevelList, responses=problems(*AUTHED, 404))
async def list_levels(
    patient_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog
) -> LevelList:
    """One entry per (joint, side) ever blocked: its status, blocks with verdicts and live referral."""
    levels = await levels_for_patient(session, principal.clinic_id, patient_id)
    audit.record("read", "level", patient_id)
    return levels
