"""Fixtures for delivery tests: a database whose commits are real (workers need their own connections),
a receiver on loopback and a deliverer with short timeouts and backoff."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from api.webhooks.deliverer import Deliverer, make_client
from models import WebhookDelivery
from tests.databases import throwaway_database
from tests.webhooks.receiver import Receiver, free_port


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(tmp_path_factory.mktemp("webhooks")) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
async def live_engine(live_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(Settings(database_url=live_url).async_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def live_sessions(live_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(live_engine)


@pytest.fixture
def fast_settings(live_url: str) -> Settings:
    return Settings(
        database_url=live_url,
        run_deliverer=False,
        webhook_timeout_seconds=2.0,
        webhook_backoff_base_seconds=0.01,
        webhook_backoff_cap_seconds=0.05,
        webhook_max_response_bytes=1024,
    )


@pytest.fixture
async def live_admin(live_sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[tuple[Any, dict]]:
    """A committed clinic and its admin headers. Afterwards, deliveries left pending are abandoned so that
    no test delivers another test's events."""
    async with live_sessions() as session, session.begin():
        clinic, _key, token = await create_clinic(session, "Harbour Pain Clinic")
    yield clinic.id, {"Authorization": f"Bearer {token}"}
    async with live_sessions() as session, session.begin():
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.state == "pending").values(state="failed")
        )


@pytest.fixture
async def live_client(live_engine: AsyncEngine, fast_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API on the live database: each request commits, as in production."""
    app = create_app(fast_settings, engine=live_engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def deliverer(
    live_sessions: async_sessionmaker[AsyncSession], fast_settings: Settings
) -> AsyncIterator[Deliverer]:
    async with make_client(fast_settings) as client:
        yield Deliverer(live_sessions, fast_settings, client)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port()).start()
    yield receiver
    receiver.stop()
