"""The caller's clinic and its time zone (contract v1.1: Clinic; CR-30)."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.auth import Admin, Reader, Session
from api.etag import check_if_match, set_etag
from api.openapi import etag
from api.schemas.clinic import ClinicPublic, ClinicUpdate
from api.schemas.common import AUTHED, problems
from api.services import clinics as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["clinic"])


@router.get("/clinic", response_model=ClinicPublic, responses=problems(*AUTHED) | etag())
async def get_clinic(
    session: Session, principal: Reader, audit: AuditLog, response: Response
) -> ClinicPublic:
    """The clinic the API key belongs to."""
    clinic = ClinicPublic.model_validate(await service.get_clinic(session, principal.clinic_id))
    audit.record("read", "clinic", clinic.id)
    set_etag(response, clinic)
    return clinic


@router.patch("/clinic", response_model=ClinicPublic, responses=problems(*AUTHED, 412) | etag())
async def update_clinic(
    body: ClinicUpdate,
    session: Session,
    principal: Admin,
    audit: AuditLog,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=1000, description="The clinic's ETag.")] = None,
) -> ClinicPublic:
    """Set the clinic's IANA time zone (an unknown name is a 422). Every stored reason and warning is
    written again with times in it, in the same transaction, like a policy change re-evaluates."""
    current = ClinicPublic.model_validate(await service.get_clinic(session, principal.clinic_id))
    check_if_match(if_match, current)
    clinic = await service.set_time_zone(session, principal.clinic_id, body.time_zone)
    public = ClinicPublic.model_validate(clinic)
    audit.record("update", "clinic", public.id)
    set_etag(response, public)
    return public
