"""Rate limits and refusal audits as a deployment runs them (issue 7): a database of its own, each "server
process" an app with its own engine and key cache, requests in their own committed transactions, and the
limiter's and the refusal's statements on the app's short outside-the-request connection."""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic, create_key
from api.settings import Settings
from models import AuditEvent
from tests.databases import throwaway_database

Headers = dict[str, str]


@pytest.fixture(scope="module")
def own_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(Path(tmp_path_factory.mktemp("limits"))) as url:
        upgrade(url)
        yield url


@asynccontextmanager
async def process(
    url: str, address: str = "10.9.9.9", **limits: float
) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    """One server process: its own engine (pool) and app, served in-process to a client at `address`."""
    settings = Settings(database_url=url, run_deliverer=False, **limits)  # type: ignore[arg-type]
    engine = make_engine(settings.async_database_url)
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app, client=(address, 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            yield client, engine
    finally:
        await engine.dispose()


async def new_clinic(engine: AsyncEngine) -> tuple[uuid.UUID, Headers, Headers]:
    """A clinic with an admin and a viewer key, committed."""
    async with make_sessionmaker(engine)() as session, session.begin():
        clinic, _key, admin = await create_clinic(session, f"Clinic {uuid.uuid4().hex[:6]}")
        _viewer, viewer = await create_key(session, clinic.id, "viewer", "front desk")
    return clinic.id, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {viewer}"}


async def audit_rows(engine: AsyncEngine, patient_id: str) -> list[tuple[str, str | None]]:
    async with engine.connect() as connection:
        query = select(AuditEvent.action, AuditEvent.role).where(
            AuditEvent.patient_id == uuid.UUID(patient_id)
        )
        return [tuple(row) for row in (await connection.execute(query.order_by(AuditEvent.at))).all()]


async def test_key_rate_limit_shared_by_two_processes(own_url: str) -> None:
    limits = {"rate_limit_per_second": 0.001, "rate_limit_burst": 4}  # no refill during the test
    async with process(own_url, **limits) as (one, engine), process(own_url, **limits) as (two, _):
        _clinic, admin, _viewer = await new_clinic(engine)
        answers = []
        for client in (one, two, one, two, one):
            answers.append((await client.get("/v1/clinic", headers=admin)).status_code)
        assert answers == [200, 200, 200, 200, 429]
        refused = await two.get("/v1/clinic", headers=admin)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


async def test_failure_lockout_shared_by_two_processes(own_url: str) -> None:
    async with process(own_url) as (one, _engine), process(own_url) as (two, _):
        bad = {"Authorization": "Bearer bt_guess"}
        answers = [
            (await (one if n % 2 else two).get("/v1/clinic", headers=bad)).status_code for n in range(21)
        ]
        assert answers == [401] * 20 + [429]


async def test_refusal_audited_although_request_rolled_back(own_url: str) -> None:
    async with process(own_url, "10.9.9.10") as (client, engine):
        _clinic, admin, viewer = await new_clinic(engine)
        made = await client.post("/v1/patients", headers=admin, json={"mrn": "LIM-1", "name": "Ada Kim"})
        patient = made.json()["id"]
        forbidden = await client.post(f"/v1/patients/{patient}/blocks", headers=viewer, json={})
        assert forbidden.status_code == 403
        unknown = await client.get(f"/v1/patients/{patient}", headers={"Authorization": "Bearer bt_nope"})
        assert unknown.status_code == 401
        assert await audit_rows(engine, patient) == [
            ("create", "admin"),
            ("forbidden", "viewer"),
            ("unauthorized", None),
        ]
