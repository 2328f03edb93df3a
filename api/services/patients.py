"""Patients of one clinic: create (MRN unique by constraint), read, search."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.identifiers import normalise_mrn
from api.errors import Conflict, NotFound
from api.pagination import paginate
from api.schemas.patients import PatientCreate
from models import Patient


async def create_patient(session: AsyncSession, clinic_id: uuid.UUID, data: PatientCreate) -> Patient:
    """Insert a patient; a duplicate MRN is a 409 carrying the existing patient's id.

    The unique constraint decides, inside a SAVEPOINT: a check-then-insert would let two
    concurrent requests both pass the check.
    """
    patient = Patient(clinic_id=clinic_id, mrn=data.mrn, name=data.name, birth_date=data.birth_date)
    try:
        async with session.begin_nested():
            session.add(patient)
            await session.flush()
    except IntegrityError:
        existing = await session.scalar(
            select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.mrn == data.mrn)
        )
        raise Conflict(
            f"A patient with MRN {data.mrn!r} already exists in this clinic.", existing_id=str(existing)
        ) from None
    return patient


async def get_patient(session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Patient:
    patient = await session.scalar(
        select(Patient).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
    )
    if patient is None:
        raise NotFound(f"No patient {patient_id}.")
    return patient


async def list_patients(
    session: AsyncSession, clinic_id: uuid.UUID, mrn: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[Patient], str | None]:
    """The clinic's patients in creation order, optionally only the one with `mrn`."""
    query = select(Patient).where(Patient.clinic_id == clinic_id)
    if mrn is not None:
        query = query.where(Patient.mrn == normalise_mrn(mrn))  # as it was stored
    return await paginate(session, query, Patient.created_at, Patient.id, limit, cursor)


async def search_patients(
    session: AsyncSession, clinic_id: uuid.UUID, text: str, limit: int
) -> list[Patient]:
    """The staff workspace's search box: an exact MRN, or any part of the name (any case)."""
    query = select(Patient).where(Patient.clinic_id == clinic_id)
    text = normalise_mrn(text)  # what an MRN is stored as; harmless for a name
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Patient.mrn == text, func.lower(Patient.name).like(pattern, escape="\\")))
    rows = await session.scalars(query.order_by(Patient.created_at.desc(), Patient.id).limit(limit))
    return list(rows.all())
