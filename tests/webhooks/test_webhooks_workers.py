"""`blocktrack serve --workers 3`: every worker process runs a deliverer, and a healthy receiver still gets
every event exactly once (claims are leased; PostgreSQL skips rows another worker holds, SQLite's
BEGIN IMMEDIATE serialises the claimers)."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from models import WebhookDelivery
from tests.databases import throwaway_database
from tests.webhooks.processes import running_server
from tests.webhooks.receiver import Receiver, free_port

WORKERS = 3
PATIENTS = 12
PERFORMED_AT = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


async def _new_clinic(database_url: str) -> str:
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return (await create_clinic(session, "Workers Clinic"))[2]
    finally:
        await engine.dispose()


async def _deliveries(database_url: str) -> dict[str, int]:
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            query = select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
            return {state: count for state, count in (await session.execute(query)).all()}
    finally:
        await engine.dispose()


def _write_patients(api: httpx.Client) -> None:
    """Each patient: a block and its diary, two block.evaluated events."""
    for n in range(PATIENTS):
        patient = api.post("/v1/patients", json={"mrn": f"W-{n}-{uuid.uuid4().hex[:6]}"}).json()
        block = api.post(
            f"/v1/patients/{patient['id']}/blocks",
            json={
                "performed_at": PERFORMED_AT.isoformat(),
                "agent": "lidocaine",
                "targets": [{"joint": "L4-L5", "side": "left"}],
            },
        ).json()
        diary = [{"phase": "pre", "minutes_after_block": 0, "score": 8}]
        diary += [{"phase": "post", "minutes_after_block": m, "score": 1} for m in (15, 30, 60)]
        answer = api.post(f"/v1/blocks/{block['id']}/readings", json={"readings": diary})
        assert answer.status_code == 201, answer.text


def _wait_delivered(database_url: str, expected: int) -> dict[str, int]:
    for _ in range(200):
        states = asyncio.run(_deliveries(database_url))
        if states.get("succeeded", 0) == expected:
            return states
        asyncio.run(asyncio.sleep(0.1))
    return states


def test_deliver_with_three_worker_processes_no_event_twice(tmp_path: Path) -> None:
    with throwaway_database(tmp_path) as database_url, open(tmp_path / "server.log", "wb") as log:
        upgrade(database_url)
        token = asyncio.run(_new_clinic(database_url))
        port, receiver = free_port(), Receiver(free_port()).start()
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with (
                httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as api,
                running_server(database_url, port, log, "--workers", str(WORKERS)),
            ):
                hook = api.post(
                    "/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["block.evaluated"]}
                )
                assert hook.status_code == 201, hook.text
                _write_patients(api)
                states = _wait_delivered(database_url, 2 * PATIENTS)
            received = receiver.bodies("/ok")
        finally:
            receiver.stop()
    assert states == {"succeeded": 2 * PATIENTS}, states
    counts = Counter(r.headers["webhook-id"] for r in received)
    assert len(counts) == 2 * PATIENTS
    assert max(counts.values()) == 1, [event for event, n in counts.items() if n > 1]
    assert (tmp_path / "server.log").read_text().count("Started server process") == WORKERS
