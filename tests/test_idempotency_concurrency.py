"""Eight concurrent retries with one Idempotency-Key store one patient and one record (issue 4, item 1).

Real connections, no rolled-back test transaction: a fresh migrated database, so commits are real and
the unique constraint, not the test harness, decides the winner. Runs on SQLite and PostgreSQL.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from models import AuditEvent, IdempotencyRecord, Patient
from tests.databases import throwaway_database

RETRIES = 8


@pytest.fixture(scope="module")
def fresh_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(Path(tmp_path_factory.mktemp("concurrency"))) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def real_engine(fresh_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(Settings(database_url=fresh_url).async_database_url)
    yield engine
    await engine.dispose()


async def new_clinic_headers(engine: AsyncEngine, name: str) -> dict[str, str]:
    async with make_sessionmaker(engine)() as session, session.begin():
        _clinic, _key, token = await create_clinic(session, name)
    return {"Authorization": f"Bearer {token}"}


async def fire(
    engine: AsyncEngine, url: str, headers: dict[str, str], body: dict[str, str]
) -> list[httpx.Response]:
    app = create_app(Settings(database_url=url, run_deliverer=False), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return list(
            await asyncio.gather(
                *(client.post("/v1/patients", json=body, headers=headers) for _ in range(RETRIES))
            )
        )


async def counts(engine: AsyncEngine, mrn: str, key: str, patient_id: str) -> tuple[int, int, int]:
    async with make_sessionmaker(engine)() as session:
        patients = await session.scalar(select(func.count()).select_from(Patient).where(Patient.mrn == mrn))
        records = await session.scalar(
            select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key == key)
        )
        creates = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "create", AuditEvent.resource_id == patient_id)
        )
    return patients or 0, records or 0, creates or 0


@pytest.mark.parametrize("round_", range(3))
async def test_create_patient_concurrent_same_key_stores_one(
    real_engine: AsyncEngine, fresh_url: str, round_: int
) -> None:
    headers = await new_clinic_headers(real_engine, f"Concurrent {round_}")
    key, mrn = f"retry-{round_}", f"C-{round_}"
    answers = await fire(real_engine, fresh_url, headers | {"Idempotency-Key": key}, {"mrn": mrn})

    created = [r for r in answers if r.status_code == 201]
    assert created, [r.text for r in answers]
    assert len({r.json()["id"] for r in created}) == 1
    assert len([r for r in created if "idempotent-replayed" not in r.headers]) == 1
    for response in answers:
        assert response.status_code in (201, 409), response.text
        if response.status_code == 409:
            assert response.headers["content-type"] == "application/problem+json"
            assert "still being processed" in response.json()["detail"]
    assert await counts(real_engine, mrn, key, created[0].json()["id"]) == (1, 1, 1)

    # Once the first has finished, every retry is the replay.
    again = await fire(real_engine, fresh_url, headers | {"Idempotency-Key": key}, {"mrn": mrn})
    assert {(r.status_code, r.json()["id"], r.headers["idempotent-replayed"]) for r in again} == {
        (201, created[0].json()["id"], "true")
    }
