"""A real server process killed right after the commit must not lose the event (issue 4, item 4).

The server runs its in-process deliverer while the receiver is down; it is killed with SIGKILL right
after the 201 of the write that emitted the event; once the receiver is up, `blocktrack worker --once`
delivers every committed event, signed.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from models import Clinic, WebhookDelivery
from tests.databases import throwaway_database
from tests.webhooks.processes import cli, running_server
from tests.webhooks.receiver import Receiver, free_port
from tests.webhooks.verify import StandardWebhook

PERFORMED_AT = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def _post(api: httpx.Client, path: str, body: dict) -> dict:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _diary(api: httpx.Client, block_id: str, post_scores: list[tuple[int, int]]) -> httpx.Response:
    pre_at = (PERFORMED_AT - timedelta(minutes=10)).isoformat()
    readings = [{"phase": "pre", "recorded_at": pre_at, "score": 8}]
    readings += [{"phase": "post", "minutes_after_block": m, "score": s} for m, s in post_scores]
    return api.post(f"/v1/blocks/{block_id}/readings", json={"readings": readings})


async def _clinic_and_states(database_url: str) -> tuple[str, list]:  # type: ignore[type-arg]
    """Make the clinic (first call) or read the deliveries' states, outside any server."""
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            if not (await session.scalars(select(Clinic))).first():
                _clinic, _key, token = await create_clinic(session, "Kill Test Clinic")
                return token, []
            rows = await session.execute(select(WebhookDelivery.state, WebhookDelivery.locked_until))
            return "", list(rows)
    finally:
        await engine.dispose()


def _deliver_with_worker(database_url: str) -> None:
    """`blocktrack worker --once` until nothing is pending. An attempt the killed server had in flight
    stays leased until its lease expires; then the next worker takes it over."""
    for _ in range(3):
        cli(database_url, "worker", "--once")
        _, rows = asyncio.run(_clinic_and_states(database_url))
        leases = [locked for state, locked in rows if state == "pending" and locked]
        if all(state == "succeeded" for state, _ in rows):
            return
        time.sleep(max([(lease - datetime.now(UTC)).total_seconds() for lease in leases] + [0]) + 0.2)
    raise AssertionError(f"deliveries still pending: {rows}")


def test_deliver_after_server_killed_right_after_commit(tmp_path: Path) -> None:
    with throwaway_database(tmp_path) as database_url, open(tmp_path / "server.log", "wb") as log:
        upgrade(database_url)
        token, _ = asyncio.run(_clinic_and_states(database_url))
        port, receiver = free_port(), Receiver(free_port())  # the receiver is down for now
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
            with running_server(database_url, port, log) as server:
                hook = _post(api, "/v1/webhooks", {"url": receiver.url("/ok"), "events": ["block.evaluated"]})
                patient = _post(api, "/v1/patients", {"mrn": "KILL-1"})
                block = _post(
                    api,
                    f"/v1/patients/{patient['id']}/blocks",
                    {
                        "performed_at": PERFORMED_AT.isoformat(),
                        "agent": "lidocaine",
                        "targets": [{"joint": "L4-L5", "side": "left"}],
                    },
                )
                written = _diary(api, block["id"], [(15, 1), (30, 1), (60, 1), (120, 5)])
                server.kill()  # SIGKILL, right after the 201: no shutdown hook runs
                assert written.status_code == 201, written.text
                server.wait(timeout=10)
        receiver.start()
        try:
            _deliver_with_worker(database_url)
            _, rows = asyncio.run(_clinic_and_states(database_url))
            received = receiver.bodies()
        finally:
            receiver.stop()
    assert len(rows) >= 2  # the block and its diary each emitted block.evaluated
    verifier = StandardWebhook(hook["secret"])
    events = {r.headers["webhook-id"]: verifier.verify(r.body, r.headers) for r in received}  # all signed
    assert len(events) == len(rows)  # every committed event arrived
    assert {e["type"] for e in events.values()} == {"block.evaluated"}
    assert all(e["data"]["block_id"] == block["id"] for e in events.values())
    latest = max(events.values(), key=lambda e: e["created_at"])
    assert (
        latest["data"]["targets"][0]["verdict"] == "positive"
    )  # the diary's outcome, written just before the kill
