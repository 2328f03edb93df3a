"""The audit row of a refused request (401, 403, 429), written outside the request's transaction.

A refused request rolls its own transaction back, so the row is written on the short connection of
api.db.outside_request. It names the key when one was recognised (a revoked or expired key included),
else only the client address; and the patient when the path names one, filed under that patient's
clinic, so that "who tried to look at this patient" has an answer too. A refusal that names neither a
known key nor a patient belongs to no clinic (clinic_id null): the operator sees it in the database.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from api.key_cache import KnownKey
from models import AuditEvent, Patient
from models.base import utcnow

ACTIONS = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}
_FHIR_PATIENT = "/fhir/R4/Patient/"


@dataclass(frozen=True)
class Caller:
    """Who a refused request came from, as far as is known."""

    key: KnownKey | None
    role: str | None
    client_addr: str | None
    request_id: str | None
    patient_id: uuid.UUID | None
    route: str  # "GET /v1/patients/{patient_id}": the template, never the query string


def _patient_in_path(request: Request) -> uuid.UUID | None:
    """The patient a path names: `{patient_id}` under /v1, or the id of a FHIR Patient read."""
    value = request.path_params.get("patient_id")
    if value is None and getattr(request.scope.get("route"), "path", "").startswith(_FHIR_PATIENT):
        value = request.path_params.get("resource_id")
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def caller_of(request: Request, key: KnownKey | None, role: str | None = None) -> Caller:
    route = getattr(request.scope.get("route"), "path", request.url.path)
    return Caller(
        key=key,
        role=role or (key.role if key else None),
        client_addr=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
        patient_id=_patient_in_path(request),
        route=f"{request.method} {route}",
    )


async def record_refusal(connection: AsyncConnection, status: int, caller: Caller) -> None:
    """One INSERT; without a known key, the clinic is the named patient's, read by the same statement."""
    key, patient_id = caller.key, caller.patient_id
    clinic_id: Any = key.clinic_id if key else None
    if clinic_id is None and patient_id is not None:
        clinic_id = select(Patient.clinic_id).where(Patient.id == patient_id).scalar_subquery()
    await connection.execute(
        insert(AuditEvent).values(
            id=uuid.uuid4(),
            clinic_id=clinic_id,
            at=utcnow(),
            actor_key_id=key.key_id if key else None,
            actor_name=key.name if key else None,
            role=caller.role,
            action=ACTIONS[status],
            resource_type="patient" if patient_id else "request",
            resource_id=str(patient_id) if patient_id else caller.route[:64],
            request_id=caller.request_id,
            client_addr=caller.client_addr,
            patient_id=patient_id,
        )
    )
