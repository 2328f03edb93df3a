"""The outbox stores an event only for subscriptions that want its type and exist when the write commits."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.services.locks import lock_patient
from api.services.outbox import emit_many
from api.services.webhooks import create_subscription
from api.settings import Settings
from models import OutboxEvent, Patient, WebhookDelivery
from tests.databases import throwaway_database

EVALUATED = ("block.evaluated", {"block_id": "b1", "targets": []})
RECOMMENDED = ("referral.recommended", {"id": "r1"})


async def _count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_emit_many_without_subscription_stores_nothing(session: AsyncSession, clinic) -> None:  # type: ignore[no-untyped-def]
    async with session.begin():
        bodies = await emit_many(session, clinic.id, [EVALUATED, RECOMMENDED])
    assert [b["type"] for b in bodies] == ["block.evaluated", "referral.recommended"]
    assert (await _count(session, OutboxEvent), await _count(session, WebhookDelivery)) == (0, 0)


async def test_emit_many_stores_only_wanted_types(session: AsyncSession, clinic) -> None:  # type: ignore[no-untyped-def]
    async with session.begin():
        hook = await create_subscription(
            session, clinic.id, "https://ehr.example.org/h", ["referral.recommended"]
        )
        await emit_many(session, clinic.id, [EVALUATED, RECOMMENDED])
    stored = (await session.scalars(select(OutboxEvent.type))).all()
    deliveries = (await session.scalars(select(WebhookDelivery.subscription_id))).all()
    assert (list(stored), list(deliveries)) == (["referral.recommended"], [hook.id])


@pytest.fixture(scope="module")
def fresh_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(Path(tmp_path_factory.mktemp("listeners"))) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def engines(fresh_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines: two independent connections on SQLite too, whose pool holds one."""
    first, second = (make_engine(Settings(database_url=fresh_url).async_database_url) for _ in range(2))
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_create_subscription_waits_for_writes_in_flight(engines) -> None:  # type: ignore[no-untyped-def]
    writer, admin = (make_sessionmaker(engine) for engine in engines)
    async with writer() as session, session.begin():
        clinic, _key, _token = await create_clinic(session, "Listeners")
        patient = Patient(clinic_id=clinic.id, mrn="L-1")
        session.add(patient)
    async with writer() as session, session.begin():
        await lock_patient(session, clinic.id, patient.id)
        await emit_many(session, clinic.id, [EVALUATED])  # no subscriber yet: nothing stored

        async def subscribe() -> None:
            async with admin() as other, other.begin():
                await create_subscription(other, clinic.id, "https://ehr.example.org/h", ["block.evaluated"])

        subscribing = asyncio.create_task(subscribe())
        await asyncio.sleep(0.5)
        assert not subscribing.done()  # ordered after the write that did not see it
    await asyncio.wait_for(subscribing, timeout=15)
    async with writer() as session, session.begin():
        await lock_patient(session, clinic.id, patient.id)
        await emit_many(session, clinic.id, [EVALUATED])
    async with writer() as session:
        assert await _count(session, OutboxEvent) == 1
