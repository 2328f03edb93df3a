"""Concurrent creates of one MRN: the unique constraint decides, one 201 and the rest 409 with its id.

Real connections on a fresh migrated database (no rolled-back test transaction), SQLite and PostgreSQL.
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
from models import Patient
from tests.databases import throwaway_database

CLIENTS = 8


@pytest.fixture(scope="module")
def fresh_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Sync on purpose: migrations run their own event loop.
    with throwaway_database(Path(tmp_path_factory.mktemp("mrn-race"))) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def real(fresh_url: str) -> AsyncIterator[tuple[str, AsyncEngine]]:
    engine = make_engine(Settings(database_url=fresh_url).async_database_url)
    yield fresh_url, engine
    await engine.dispose()


async def test_create_patient_concurrent_duplicate_mrn_one_wins(real: tuple[str, AsyncEngine]) -> None:
    url, engine = real
    async with make_sessionmaker(engine)() as session, session.begin():
        _clinic, _key, token = await create_clinic(session, "Race Clinic")
    app = create_app(Settings(database_url=url, run_deliverer=False), engine=engine)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/patients", json={"mrn": "RACE-1"}, headers=headers) for _ in range(CLIENTS))
        )
    created = [r.json()["id"] for r in answers if r.status_code == 201]
    conflicts = [r.json() for r in answers if r.status_code == 409]
    assert len(created) == 1, [r.text for r in answers]
    assert len(conflicts) == CLIENTS - 1
    assert {c["existing_id"] for c in conflicts} == set(created)
    async with make_sessionmaker(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Patient)) == 1
