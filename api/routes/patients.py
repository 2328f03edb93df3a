"""Patients: create, read, search by MRN."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.auth import ClinicalWriter, Reader, Session
from api.etag import set_etag
from api.openapi import conflict, etag
from api.pagination import Cursor, Limit
from api.schemas.common import AUTHED, problems
from api.schemas.patients import PatientCreate, PatientList, PatientPublic
from api.services import patients as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["patients"])
_DUPLICATE = conflict(
    "A patient with MRN 'MRN-004217' already exists in this clinic.",
    existing_id="c22938ae-7788-436c-ae82-70b1a3829127",
)

Mrn = Annotated[
    str | None, Query(max_length=64, pattern=r"^[^\x00]*$", description="Only the patient with this MRN.")
]


@router.post(
    "/patients",
    status_code=201,
    response_model=PatientPublic,
    responses=problems(*AUTHED) | _DUPLICATE | etag(201),
)
async def create_patient(
    body: PatientCreate, session: Session, principal: ClinicalWriter, audit: AuditLog, response: Response
) -> PatientPublic:
    """Register a patient. A duplicate MRN is a 409 whose body carries `existing_id`."""
    patient = PatientPublic.model_validate(await service.create_patient(session, principal.clinic_id, body))
    audit.record("create", "patient", patient.id, patient_id=patient.id)
    set_etag(response, patient)
    response.headers["Location"] = f"/v1/patients/{patient.id}"
    return patient


@router.get("/patients", response_model=PatientList, responses=problems(*AUTHED))
async def list_patients(
    session: Session,
    principal: Reader,
    audit: AuditLog,
    mrn: Mrn = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PatientList:
    """The clinic's patients, oldest first; `?mrn=` finds one by its medical record number."""
    rows, next_cursor = await service.list_patients(session, principal.clinic_id, mrn, limit, cursor)
    page = PatientList(items=[PatientPublic.model_validate(row) for row in rows], next_cursor=next_cursor)
    # A search that found one patient (an MRN lookup) is a look at that patient's record.
    only = page.items[0].id if len(page.items) == 1 else None
    audit.record("search", "patient", result_ids=[item.id for item in page.items], patient_id=only)
    return page


@router.get("/patients/{patient_id}", response_model=PatientPublic, responses=problems(*AUTHED, 404) | etag())
async def get_patient(
    patient_id: uuid.UUID, session: Session, principal: Reader, audit: AuditLog, response: Response
) -> PatientPublic:
    row = await service.get_patient(session, principal.clinic_id, patient_id)
    patient = PatientPublic.model_validate(row)
    audit.record("read", "patient", patient.id, patient_id=patient.id)
    set_etag(response, patient)
    return patient
