"""CDS Hooks discovery and service endpoints, and the admin's registry of trusted issuers."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Session
from api.cds import service
from api.cds.issuers import create_issuer, delete_issuer, list_issuers
from api.errors import NotFound, Unauthorized
from api.examples import example, schema_examples
from api.interop.urls import base_url
from api.oauth.schemas import CdsIssuerCreate, CdsIssuerList, CdsIssuerPublic
from api.schemas.common import AUTHED, problems
from api.services.audit import AuditLog

router = APIRouter(tags=["cds-hooks"])
_jwt = HTTPBearer(auto_error=False, description="The EHR's CDS Hooks JWT, signed with a registered key.")
SERVICES = {
    "rfa-order-check": "order-sign",
    "rfa-order-select": "order-select",
}
DESCRIPTION = (
    "Checks a radiofrequency ablation order (CPT 64633-64636) against the patient's diagnostic medial "
    "branch blocks at the ordered level: criteria met (with the blocks and relief figures), awaiting "
    "confirmation, or not indicated."
)


SOURCE_EXAMPLE = {"label": "Blocktrack", "topic": {"code": "rfa-criteria", "display": "Ablation criteria"}}
LINK_EXAMPLE = {
    "label": "Ablation referral (FHIR ServiceRequest)",
    "type": "absolute",
    "url": "https://blocktrack.clinic.org/fhir/R4/ServiceRequest/9a0ccc63-5d3e-4f5b-9f0e-2f6f8d1c2b10",
}
DRAFT_ORDERS_EXAMPLE = {
    "patientId": "e63wRTbPfr1p8UW81d8Seiw3",
    "draftOrders": {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "draft",
                    "intent": "order",
                    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64635"}]},
                    "subject": {
                        "identifier": {"system": "urn:oid:2.16.840.1.113883.3.1", "value": "MRN-004217"}
                    },
                    "bodySite": [{"text": "Left L4-L5 facet joint"}],
                }
            }
        ],
    },
}


class Card(BaseModel):
    uuid: str = Field(examples=["0c6b7f3e-6a4e-4cf2-9f0e-7c1f5d2a9b34"])
    summary: str = Field(
        examples=["Criteria met: L4-L5 left, blocks of 2 Mar 2026 and 9 Mar 2026, 87.5% and 90% relief"]
    )
    indicator: str = Field(examples=["info"], description="`info`, `warning` or `critical`.")
    detail: str = Field(
        examples=["**Criteria met** at L4-L5 left.\n- Block 2 Mar 2026: 87.5% relief for 60 min (lidocaine)"]
    )
    source: dict[str, Any] = Field(examples=[SOURCE_EXAMPLE])
    links: list[dict[str, str]] | None = Field(default=None, examples=[[LINK_EXAMPLE]])


class CardList(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples("card_list"))

    cards: list[Card]


class HookRequest(BaseModel):
    """A CDS Hooks request (only what this service reads is checked)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=schema_examples("hook_request"))
    hook: str = Field(examples=["order-sign"])
    hookInstance: str = Field(examples=["d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"])  # noqa: N815
    context: dict[str, Any] = Field(examples=[DRAFT_ORDERS_EXAMPLE])
    prefetch: dict[str, Any] | None = Field(default=None, examples=[None])


@router.get(
    "/cds-services",
    summary="CDS Hooks discovery",
    responses={200: {"content": {"application/json": {"example": example("cds_services")}}}},
)
async def discovery() -> dict[str, Any]:
    """The services this server offers (no authentication, as the specification says)."""
    return {
        "services": [
            {
                "hook": hook,
                "id": service_id,
                "title": "Radiofrequency ablation criteria",
                "description": DESCRIPTION,
                "prefetch": {"patient": "Patient/{{context.patientId}}"},
            }
            for service_id, hook in SERVICES.items()
        ]
    }


@router.post(
    "/cds-services/{service_id}",
    response_model=CardList,
    summary="Check an ablation order",
    responses=problems(401, 404, 422),
)
async def rfa_order_check(
    service_id: str,
    request: Request,
    body: Annotated[HookRequest, Body()],
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_jwt)],
) -> CardList:
    """One card per ordered level: `info` criteria met, `warning` awaiting confirmation or a payer guardrail,
    `critical` not indicated. The patient is found by the MRN in the order's `subject.identifier` or the
    prefetched Patient. Authenticate with the EHR's signed JWT (`Authorization: Bearer`)."""
    if service_id not in SERVICES:
        raise NotFound(f"No CDS service {service_id!r}.")
    if credentials is None:
        raise Unauthorized("A CDS Hooks JWT is required in the Authorization header.")
    settings = request.app.state.settings
    audience = f"{base_url(request)}/cds-services/{service_id}"
    clinic_id, issuer = await service.authenticate(
        session, credentials.credentials, audience, settings.jwt_max_lifetime_seconds
    )
    cards, patients = await service.cards_for(session, clinic_id, body.model_dump(), base_url(request))
    client = request.client.host if request.client else None
    service.audit(session, clinic_id, issuer, getattr(request.state, "request_id", None), client, patients)
    return CardList.model_validate({"cards": cards})


@router.post(
    "/v1/cds-issuers",
    status_code=201,
    response_model=CdsIssuerPublic,
    summary="Trust an EHR's CDS Hooks issuer",
    responses=problems(*AUTHED, 409),
)
async def register_issuer(
    body: CdsIssuerCreate, session: Session, principal: Admin, audit: AuditLog, response: Response
) -> CdsIssuerPublic:
    """The EHR whose signed JWTs may call the CDS service for this clinic, with its public keys."""
    issuer = await create_issuer(session, principal.clinic_id, body)
    audit.record("create", "cds_issuer", issuer.id)
    response.headers["Location"] = f"/v1/cds-issuers/{issuer.id}"
    return CdsIssuerPublic.model_validate(issuer)


@router.get(
    "/v1/cds-issuers",
    response_model=CdsIssuerList,
    summary="List trusted issuers",
    responses=problems(*AUTHED),
)
async def get_issuers(session: Session, principal: Admin, audit: AuditLog) -> CdsIssuerList:
    issuers = await list_issuers(session, principal.clinic_id)
    audit.record("search", "cds_issuer", result_ids=[i.id for i in issuers])
    return CdsIssuerList(items=[CdsIssuerPublic.model_validate(i) for i in issuers])


@router.delete(
    "/v1/cds-issuers/{issuer_id}",
    status_code=204,
    response_class=Response,
    summary="Stop trusting an issuer",
    responses=problems(*AUTHED, 404),
)
async def remove_issuer(
    issuer_id: uuid.UUID, session: Session, principal: Admin, audit: AuditLog
) -> Response:
    await delete_issuer(session, principal.clinic_id, issuer_id)
    audit.record("delete", "cds_issuer", issuer_id)
    return Response(status_code=204)
