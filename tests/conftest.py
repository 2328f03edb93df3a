"""Fixtures: one migrated throwaway database per run; each test inside a transaction rolled back after."""

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from api.app import create_app
from api.db import get_session, make_engine
from api.migrate import upgrade
from api.services.clinics import create_clinic, create_key
from api.services.outbox import EVENT_TYPES
from api.services.webhooks import create_subscription
from api.settings import Settings
from tests.databases import throwaway_database

Headers = dict[str, str]

# A key's rate limit (20 a second after a burst of 100) paces an EHR; the suite's clients send as fast as
# the machine lets them, so on a quiet machine a long test outran it (a 429 in the middle of the FHIR
# walk) where a busy one did not. The limiter still runs on every request, and its own tests
# (tests/api/test_rate_limits.py, test_limits_across_processes.py) set the limits they test.
os.environ.setdefault("BLOCKTRACK_RATE_LIMIT_PER_SECOND", "1000")
os.environ.setdefault("BLOCKTRACK_RATE_LIMIT_BURST", "100000")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(tmp_path_factory.mktemp("db")) as url:
        upgrade(url)  # every run applies the migrations: the schema under test is the migrated one
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session joined to an outer transaction: what a request commits is rolled back after the test."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


@pytest.fixture
async def app(engine: AsyncEngine, session: AsyncSession, database_url: str):  # type: ignore[no-untyped-def]
    app = app_on(session, engine, Settings(database_url=database_url, run_deliverer=False))
    yield app
    app.dependency_overrides.clear()


def app_on(session: AsyncSession, engine: AsyncEngine, settings: Settings) -> FastAPI:
    """An app whose requests run in the test's session, rolled back after the test."""
    app = create_app(settings, engine=engine)

    async def _session() -> AsyncIterator[AsyncSession]:
        async with session.begin():
            yield session

    @asynccontextmanager
    async def _outside_request() -> AsyncIterator[AsyncConnection]:
        # What the app writes outside a request's transaction (rate-limit counts, refusals' audit rows)
        # goes to a savepoint of the test's connection, rolled back with the rest after the test.
        connection = session.bind
        assert isinstance(connection, AsyncConnection)
        async with connection.begin_nested():
            yield connection

    app.dependency_overrides[get_session] = _session
    app.state.outside_request = _outside_request
    return app


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


KeyFactory = Callable[..., Awaitable[Headers]]


@pytest.fixture
def make_clinic(session: AsyncSession) -> Callable[[str], Awaitable[tuple[object, Headers]]]:
    """Create a clinic; returns (clinic, admin headers)."""

    async def _make(name: str = "Clinic") -> tuple[object, Headers]:
        async with session.begin():
            clinic, _key, token = await create_clinic(session, name)
        return clinic, {"Authorization": f"Bearer {token}"}

    return _make


@pytest.fixture
async def clinic(make_clinic):  # type: ignore[no-untyped-def]
    clinic, _headers = await make_clinic("Riverside Spine")
    return clinic


@pytest.fixture
def make_key(session: AsyncSession, clinic) -> KeyFactory:  # type: ignore[no-untyped-def]
    async def _make(role: str = "admin", clinic_id=None) -> Headers:  # type: ignore[no-untyped-def]
        async with session.begin():
            _key, token = await create_key(session, clinic_id or clinic.id, role, f"{role} key")
        return {"Authorization": f"Bearer {token}"}

    return _make


@pytest.fixture
async def admin(make_key: KeyFactory) -> Headers:
    return await make_key("admin")


@pytest.fixture
async def ehr(make_key: KeyFactory) -> Headers:
    return await make_key("ehr")


@pytest.fixture
async def staff(make_key: KeyFactory) -> Headers:
    return await make_key("staff")


@pytest.fixture
async def viewer(make_key: KeyFactory) -> Headers:
    return await make_key("viewer")


@pytest.fixture
async def other_clinic(make_clinic) -> Headers:  # type: ignore[no-untyped-def]
    """Admin headers of a second clinic, which must see nothing of the first."""
    _clinic, headers = await make_clinic("Lakeside Pain Center")
    return headers


@pytest.fixture
async def listening(session: AsyncSession, clinic) -> None:  # type: ignore[no-untyped-def]
    """A subscription to every event type of the clinic: with no subscriber, no event is stored."""
    async with session.begin():
        await create_subscription(session, clinic.id, "https://ehr.example.org/hooks", list(EVENT_TYPES))
