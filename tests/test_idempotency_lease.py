"""An Idempotency-Key record is marked applied by the request's own transaction (the real session
dependency, not the tests' override), so after a crash an unmarked record provably wrote nothing.

A database of its own: these requests commit for real."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.auth import Session
from api.db import make_engine, make_sessionmaker
from api.idempotency import RECORD_STATE
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from models import IdempotencyRecord, Patient
from tests.databases import throwaway_database


@pytest.fixture(scope="module")
def lease_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(Path(tmp_path_factory.mktemp("lease"))) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def real(lease_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI, AsyncEngine]]:
    engine = make_engine(Settings(database_url=lease_url).async_database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        clinic, _key, token = await create_clinic(session, f"Lease {uuid.uuid4().hex[:6]}")
    app = create_app(Settings(database_url=lease_url, run_deliverer=False), engine=engine)
    app.state.test_clinic_id = clinic.id
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        yield client, app, engine
    await engine.dispose()


async def _record(engine: AsyncEngine, key: str) -> IdempotencyRecord | None:
    async with make_sessionmaker(engine)() as session:
        return await session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))


async def _patients(engine: AsyncEngine, mrn: str) -> int:
    async with make_sessionmaker(engine)() as session:
        return int(await session.scalar(select(func.count()).where(Patient.mrn == mrn)) or 0)


async def test_create_patient_keyed_marks_record_applied(real) -> None:  # type: ignore[no-untyped-def]
    client, _app, engine = real
    mrn = f"LEASE-{uuid.uuid4().hex[:8]}"

    created = await client.post("/v1/patients", json={"mrn": mrn}, headers={"Idempotency-Key": mrn})
    refused = await client.post("/v1/patients", json={"mrn": ""}, headers={"Idempotency-Key": mrn + "-bad"})

    assert created.status_code == 201, created.text
    assert refused.status_code == 422, refused.text
    applied, unapplied = await _record(engine, mrn), await _record(engine, mrn + "-bad")
    assert applied is not None and applied.applied_at is not None and applied.state == "completed"
    assert unapplied is not None and unapplied.applied_at is None and unapplied.state == "completed"


async def test_create_patient_key_taken_over_rolls_back(real) -> None:  # type: ignore[no-untyped-def]
    """A request still running when a retry took its key over after the lease must not commit too."""
    client, app, engine = real
    mrn = f"LEASE-{uuid.uuid4().hex[:8]}"

    @app.post("/v1/test-slow-patient", status_code=201)
    async def slow(request: Request, session: Session) -> dict[str, str]:
        async with engine.begin() as other:  # the retry's takeover, before this request writes
            record_id = request.scope["state"][RECORD_STATE]
            await other.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        session.add(Patient(clinic_id=app.state.test_clinic_id, mrn=mrn))
        return {"mrn": mrn}

    response = await client.post("/v1/test-slow-patient", json={}, headers={"Idempotency-Key": mrn})

    assert response.status_code == 409, response.text
    assert "taken over" in response.json()["detail"]
    assert await _patients(engine, mrn) == 0
