"""A patient's nerve levels, their referral status, and the RFA plan (contract: levels; CR-29)."""

import uuid

from fastapi import APIRouter

from api.auth import Reader, Session
from api.schemas.common import AUTHED, problems
from api.schemas.levels import LevelList
from api.schemas.rfa_plan import RfaPlan
from api.services.audit import AuditLog
from api.services.levels import levels_for_patient
from api.services.rfa_plans import plan_for_patient

router = APIRouter(prefix="/v1", tags=["levels"])


@router.get("/patients/{patient_id}/levels", response_model=LevelList, responses=problems(*AUTHED, 404))
async def list_levels(
    patient_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog
) -> LevelList:
    """One entry per (joint, side) ever blocked: its status, blocks with verdicts and live referral."""
    levels = await levels_for_patient(session, principal.clinic_id, patient_id)
    audit.record("read", "level", patient_id, patient_id=patient_id)
    return levels


@router.get("/patients/{patient_id}/rfa-plan", response_model=RfaPlan, responses=problems(*AUTHED, 404))
async def get_rfa_plan(
    patient_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog
) -> RfaPlan:
    """The open and acknowledged referrals as ablation sessions per payer family: at most two joint levels
    a session, head to foot, shared nerves once, CPT codes with modifiers (CR-29)."""
    plan = await plan_for_patient(session, principal.clinic_id, patient_id)
    audit.record("read", "rfa_plan", patient_id)
    return plan
