"""Fixtures: one migrated throwaway database per run; each test inside a transaction rolled back after."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import create_app
from api.db import get_session, make_engine
from api.migrate import upgrade
from api.services.clinics import create_clinic, create_key
from api.settings import Settings
from tests.databases import throwaway_database

Headers = dict[str, str]


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
    app = create_app(Settings(database_url=database_url, run_deliverer=False), engine=engine)

    async def _session() -> AsyncIterator[AsyncSession]:
        async with session.begin():
            yield session

    app.dependency_overrides[get_session] = _session
    yield app
    app.dependency_overrides.clear()


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
