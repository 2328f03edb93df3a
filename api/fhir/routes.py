"""FHIR R4 read API: read and search the Patient, Procedure, Observation and ServiceRequest of a clinic.

Same tenancy, roles and audit as /v1: any role may read; another clinic's resource is a 404; every read and
search leaves an audit row under the /v1 resource type it shows (patient, block, reading, outcome, referral).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel

from api.auth import Reader, Session
from api.errors import NotFound
from api.examples import example
from api.fhir import resources as build
from api.fhir.documents import (
    FHIR_JSON,
    capability_statement,
    operation_outcome,
    searchset,
    smart_configuration,
)
from api.fhir.errors import FHIRResponse
from api.interop import codes
from api.interop.urls import FHIR_BASE, fhir_base, token_url
from api.services import reading_records, record_pages, records
from api.services.audit import AuditLog
from api.services.reading_records import ReadingRecord
from api.services.records import Page

router = APIRouter(prefix=FHIR_BASE, tags=["fhir"], default_response_class=FHIRResponse)

Count = Annotated[int, Query(alias="_count", ge=1, le=200, description="Resources per page (1-200).")]
Cursor = Annotated[
    str | None, Query(alias="_cursor", max_length=200, description="From the Bundle's `next` link.")
]
PatientParam = Annotated[
    str | None, Query(max_length=100, description="The patient's id (`Patient/<id>` or `<id>`).")
]


def _schema(resource_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": [resource_type]}},
    }


_ERRORS = {  # status: (description, an OperationOutcome's diagnostics as the server writes them)
    400: ("Invalid search parameter", "Invalid search: _count: Input should be greater than or equal to 1"),
    401: ("No valid token", "Unknown or revoked API key, or an expired access token."),
    403: ("Role may not read", "The 'viewer' role may not do this (read is needed)."),
    404: ("Unknown, or another clinic's", "No {type} 5e892c75-8dc2-4bf3-8b4e-d47f0afb851e."),
    429: ("Over the key's rate limit, or the address locked out", "Too many requests; retry after 1 s."),
}
_EXAMPLES = {
    "CapabilityStatement": "fhir_capability_statement",
    "Bundle": "fhir_bundle",
    "Patient": "fhir_patient",
    "Procedure": "fhir_procedure",
    "Observation": "fhir_observation",
    "ServiceRequest": "fhir_service_request",
    "DocumentReference": "fhir_document_reference",
}
_ETAG = {
    "description": '`W/"<meta.versionId>"`: changes with every change of the resource.',
    "schema": {"type": "string"},
}


def _error_doc(status: int, resource_type: str) -> dict[str, Any]:
    description, diagnostics = _ERRORS[status]
    expressions = ["_count"] if status == 400 else []
    outcome = operation_outcome(status, diagnostics.format(type=resource_type), expressions)
    media = {
        "schema": _schema("OperationOutcome"),
        "example": outcome.model_dump(mode="json", exclude_none=True),
    }
    return {"description": description, "content": {FHIR_JSON: media}}


def _docs(resource_type: str, *errors: int) -> dict[int | str, dict[str, Any]]:
    """A read (it can answer 404) carries an ETag; every answer has an example taken from the demo clinic."""
    media = {"schema": _schema(resource_type), "example": example(_EXAMPLES[resource_type])}
    ok: dict[str, Any] = {"description": f"A {resource_type}", "content": {FHIR_JSON: media}}
    if 404 in errors:
        ok["headers"] = {"ETag": _ETAG}
    if 401 in errors:  # whatever checks a token also counts it against its rate limit (api/rate_limit.py)
        errors = (*errors, 429)
    return {200: ok, **{code: _error_doc(code, resource_type) for code in errors}}


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return None if value is None else uuid.UUID(value.removeprefix("Patient/"))
    except ValueError:
        return None


def _answer(resource: FHIRResourceModel) -> FHIRResponse:
    body = resource.model_dump(mode="json")
    return FHIRResponse(body, headers={"ETag": f'W/"{body["meta"]["versionId"]}"'})


def _bundle(request: Request, page: Page, resources: list[FHIRResourceModel]) -> FHIRResponse:
    base = fhir_base(request)
    path = base + request.url.path.removeprefix(FHIR_BASE)
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
    self_url = f"{path}?{urlencode(request.query_params.multi_items())}".rstrip("?")
    next_url = f"{path}?{urlencode([*params, ('_cursor', page.next_cursor)])}" if page.next_cursor else None
    bundle = searchset(resources, page.total, base, self_url, next_url)
    return FHIRResponse(bundle.model_dump(mode="json"))


@router.get("/metadata", summary="CapabilityStatement", responses=_docs("CapabilityStatement"))
async def metadata(request: Request) -> FHIRResponse:
    """What this server supports, exactly: resources, interactions, search parameters and security."""
    app = request.app
    statement = capability_statement(fhir_base(request), token_url(request), app.version, "2026-12-02")
    return FHIRResponse(statement.model_dump(mode="json"))


@router.get(
    "/.well-known/smart-configuration",
    summary="SMART configuration",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "SMART Backend Services discovery",
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": example("smart_configuration")}
            },
        }
    },
)
async def smart_config(request: Request) -> JSONResponse:
    """Where and how to get an access token (SMART App Launch: backend services)."""
    return JSONResponse(smart_configuration(token_url(request)))


@router.get("/Patient/{resource_id}", summary="Read a Patient", responses=_docs("Patient", 401, 403, 404))
async def read_patient(
    resource_id: str, session: Session, principal: Reader, audit: AuditLog
) -> FHIRResponse:
    patient_id = _uuid(resource_id)
    if patient_id is None:
        raise NotFound(f"No Patient {resource_id}.")
    record = await records.get_patient(session, principal.clinic_id, patient_id)
    audit.record("read", "patient", record.id)
    return _answer(build.patient(record))


def _mrn(identifier: str | None) -> tuple[bool, str | None]:
    """(searchable, mrn) from `identifier=[system|]value`: another system than ours matches nothing."""
    if identifier is None:
        return True, None
    system, bar, value = identifier.rpartition("|")
    return (not bar or system in ("", codes.MRN_SYSTEM)), value


@router.get("/Patient", summary="Search Patients", responses=_docs("Bundle", 400, 401, 403))
async def search_patients(
    request: Request,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    identifier: Annotated[
        str | None, Query(max_length=300, pattern=r"^[^\x00]*$", description="`system|mrn` or `mrn`.")
    ] = None,
    count: Count = 50,
    cursor: Cursor = None,
) -> FHIRResponse:
    """The clinic's patients, oldest first; `identifier` finds one by MRN."""
    searchable, mrn = _mrn(identifier)
    page = Page([], None, 0)
    if searchable:
        page = await records.patient_page(session, principal.clinic_id, mrn, count, cursor)
    audit.record("search", "patient", result_ids=[p.id for p in page.items])
    return _bundle(request, page, [build.patient(p) for p in page.items])


@router.get(
    "/Procedure/{resource_id}", summary="Read a Procedure", responses=_docs("Procedure", 401, 403, 404)
)
async def read_procedure(
    resource_id: str, session: Session, principal: Reader, audit: AuditLog
) -> FHIRResponse:
    """One block target (joint and side) as a Procedure."""
    target_id = _uuid(resource_id)
    target = None if target_id is None else await records.get_target(session, principal.clinic_id, target_id)
    if target is None:
        raise NotFound(f"No Procedure {resource_id}.")
    audit.record("read", "block", target.block_id)
    return _answer(build.procedure(target))


# A page query with its session and clinic bound: (patient id, None for every patient; count; cursor).
PageLoader = Callable[[uuid.UUID | None, int, str | None], Awaitable[Page]]


@dataclass(frozen=True)
class PatientSearch:
    """The parameters every search by patient takes: `patient`, `_count` and `_cursor`."""

    patient: str | None
    count: int
    cursor: str | None

    async def page(self, load: PageLoader) -> Page:
        """The page `load` gives for `patient` (every patient when absent); an id that is not ours matches
        nothing."""
        patient_id = None if self.patient is None else _uuid(self.patient)
        if self.patient is not None and patient_id is None:
            return Page([], None, 0)
        return await load(patient_id, self.count, self.cursor)


async def _patient_search(
    patient: PatientParam = None, count: Count = 50, cursor: Cursor = None
) -> PatientSearch:
    return PatientSearch(patient, count, cursor)


Search = Annotated[PatientSearch, Depends(_patient_search)]


@router.get("/Procedure", summary="Search Procedures", responses=_docs("Bundle", 400, 401, 403))
async def search_procedures(
    request: Request,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    search: Search,
) -> FHIRResponse:
    """Block targets, in the order the blocks were performed."""
    page = await search.page(partial(records.target_page, session, principal.clinic_id))
    audit.record("search", "block", result_ids=dict.fromkeys(t.block_id for t in page.items))
    return _bundle(request, page, [build.procedure(t) for t in page.items])


def _observation(item: Any) -> FHIRResourceModel | None:
    if isinstance(item, ReadingRecord):
        return build.reading_observation(item)
    return build.verdict_observation(item)


@router.get(
    "/Observation/{resource_id}", summary="Read an Observation", responses=_docs("Observation", 401, 403, 404)
)
async def read_observation(
    resource_id: str, session: Session, principal: Reader, audit: AuditLog
) -> FHIRResponse:
    """A pain score (the id of a reading) or a block's verdict at one target (the id of the target)."""
    found_id = _uuid(resource_id)
    resource = None
    if found_id is not None:
        if reading := await reading_records.get_reading(session, principal.clinic_id, found_id):
            audit.record("read", "reading", reading.id)
            resource = build.reading_observation(reading)
        elif target := await records.get_target(session, principal.clinic_id, found_id):
            audit.record("read", "outcome", target.block_id)
            resource = build.verdict_observation(target)
    if resource is None:
        raise NotFound(f"No Observation {resource_id}.")
    return _answer(resource)


@router.get("/Observation", summary="Search Observations", responses=_docs("Bundle", 400, 401, 403))
async def search_observations(
    request: Request,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    search: Search,
) -> FHIRResponse:
    """Pain scores and block verdicts in one time-ordered stream."""
    page = await search.page(partial(record_pages.observation_page, session, principal.clinic_id))
    audit.record("search", "reading", result_ids=[i.id for i in page.items if isinstance(i, ReadingRecord)])
    verdicts = [i.block_id for i in page.items if not isinstance(i, ReadingRecord)]
    audit.record("search", "outcome", result_ids=dict.fromkeys(verdicts))
    resources = [r for r in map(_observation, page.items) if r is not None]
    return _bundle(request, page, resources)


@router.get(
    "/ServiceRequest/{resource_id}",
    summary="Read a ServiceRequest",
    responses=_docs("ServiceRequest", 401, 403, 404),
)
async def read_service_request(
    resource_id: str, session: Session, principal: Reader, audit: AuditLog
) -> FHIRResponse:
    """A referral for radiofrequency ablation as a proposed ServiceRequest."""
    referral_id = _uuid(resource_id)
    if referral_id is None:
        raise NotFound(f"No ServiceRequest {resource_id}.")
    record = await record_pages.get_referral(session, principal.clinic_id, referral_id)
    audit.record("read", "referral", referral_id)
    return _answer(build.service_request(record))


@router.get("/ServiceRequest", summary="Search ServiceRequests", responses=_docs("Bundle", 400, 401, 403))
async def search_service_requests(
    request: Request,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    search: Search,
) -> FHIRResponse:
    """Referrals, oldest recommendation first."""
    page = await search.page(partial(record_pages.referral_page, session, principal.clinic_id))
    audit.record("search", "referral", result_ids=[r.referral.id for r in page.items])
    return _bundle(request, page, [build.service_request(r) for r in page.items])
