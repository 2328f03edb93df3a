"""The referral worklist (contract: Referrals; CR-19)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.auth import ClinicalWriter, Reader, Session
from api.etag import set_etag
from api.openapi import etag
from api.pagination import Cursor, Limit
from api.schemas.common import AUTHED, problems
from api.schemas.referrals import AcknowledgeRequest, ReferralPage, ReferralPublic, ReferralStatus
from api.services import referrals as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["referrals"])


@router.get("/referrals", response_model=ReferralPage, responses=problems(*AUTHED))
async def list_referrals(
    session: Session,
    principal: Reader,
    audit: AuditLog,
    status: Annotated[ReferralStatus | None, Query(description="Only referrals in this status.")] = None,
    patient_id: Annotated[uuid.UUID | None, Query(description="Only this patient's referrals.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ReferralPage:
    """The clinic's referrals, oldest recommendation first."""
    page = await service.list_referrals(session, principal.clinic_id, status, patient_id, limit, cursor)
    audit.record("search", "referral", result_ids=[item.id for item in page.items], patient_id=patient_id)
    return page


@router.get(
    "/referrals/{referral_id}", response_model=ReferralPublic, responses=problems(*AUTHED, 404) | etag()
)
async def get_referral(
    referral_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog, response: Response
) -> ReferralPublic:
    referral = await service.get_referral(session, principal.clinic_id, referral_id)
    audit.record("read", "referral", referral_id, patient_id=referral.patient_id)
    set_etag(response, referral)
    return referral


@router.post(
    "/referrals/{referral_id}/acknowledge",
    response_model=ReferralPublic,
    responses=problems(*AUTHED, 404, 409) | etag(),
)
async def acknowledge_referral(
    referral_id: uuid.UUID,
    session: Session,
    principal: ClinicalWriter,
    audit: AuditLog,
    response: Response,
    body: AcknowledgeRequest | None = None,
) -> ReferralPublic:
    """Mark an open referral as taken up (e.g. an order placed). Repeating it is harmless and attaches an
    `external_order_id` if none is set (also to a fulfilled referral); a withdrawn referral, or another
    `external_order_id` than the one set, is a 409."""
    order_id = body.external_order_id if body else None
    referral = await service.acknowledge(session, principal.clinic_id, referral_id, order_id, principal)
    audit.record("acknowledge", "referral", referral_id, patient_id=referral.patient_id)
    set_etag(response, referral)
    return referral
