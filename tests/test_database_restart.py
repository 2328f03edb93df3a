"""Without a pre-ping per checkout, a restarted PostgreSQL costs one 503, never a 500, and the pool recovers.

A restart drops every server-side connection; terminating the backends of the test database does the same
to the pool without stopping the server that other test runs share.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from api.app import create_app
from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings, async_url
from tests.databases import SERVER_URL, throwaway_database

pytestmark = pytest.mark.skipif(not SERVER_URL, reason="a PostgreSQL restart needs PostgreSQL")


@pytest.fixture(scope="module")
def fresh_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(Path(tmp_path_factory.mktemp("restart"))) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def api(fresh_url: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = make_engine(Settings(database_url=fresh_url).async_database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        _clinic, _key, token = await create_clinic(session, "Restart Clinic")
    app = create_app(Settings(database_url=fresh_url, run_deliverer=False), engine=engine)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    ) as client:
        yield client
    await engine.dispose()


async def drop_connections(database_url: str) -> int:
    """What a server restart does to clients: every backend of the database is gone."""
    name = make_url(database_url).database
    admin = create_async_engine(async_url(SERVER_URL or ""), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            result = await connection.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"),
                {"name": name},
            )
            return int(result.scalar_one())
    finally:
        await admin.dispose()


async def test_list_patients_after_restart_one_503_then_recovers(
    api: httpx.AsyncClient, fresh_url: str
) -> None:
    warm = await asyncio.gather(*(api.get("/v1/patients") for _ in range(4)))  # several pooled connections
    assert [r.status_code for r in warm] == [200] * 4
    assert await drop_connections(fresh_url) >= 1
    first = await api.get("/v1/patients")
    after = [await api.get("/v1/patients") for _ in range(6)]
    assert first.status_code == 503, first.text
    assert first.headers["content-type"] == "application/problem+json"
    assert first.headers["retry-after"] == "1"
    assert [r.status_code for r in after] == [200] * 6, [r.text for r in after]
    created = await api.post("/v1/patients", json={"mrn": "AFTER-RESTART"})
    assert created.status_code == 201, created.text
