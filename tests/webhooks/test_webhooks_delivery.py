"""Delivery against a real HTTP receiver on loopback: signed, retried, bounded, at least once."""

import asyncio
import json
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from api.services.outbox import emit
from api.settings import Settings
from api.webhooks.deliverer import Deliverer, make_client
from models import OutboxEvent, WebhookDelivery
from models.base import utcnow
from tests.webhooks.helpers import emit_committed, subscribe
from tests.webhooks.receiver import Receiver
from tests.webhooks.verify import StandardWebhook, verify_by_hand

Sessions = async_sessionmaker[AsyncSession]


async def _deliveries(client: httpx.AsyncClient, headers: dict, hook: dict) -> list[dict]:
    response = await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _until(deliverer: Deliverer, done, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await done():
        assert time.monotonic() < deadline, "delivery did not settle in time"
        await deliverer.deliver_due()
        await asyncio.sleep(0.02)


async def test_deliver_event_signed_like_standard_webhooks(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, receiver.url("/ok"))
    outcome = {"block_id": "9d3c", "targets": [{"joint": "L4-L5", "verdict": "positive", "note": "naïve ✓"}]}
    event = await emit_committed(live_sessions, clinic_id, outcome)
    assert await deliverer.deliver_due() == 1
    [got] = receiver.bodies()
    assert verify_by_hand(hook["secret"], got.headers, got.body)
    assert StandardWebhook(hook["secret"]).verify(got.body, got.headers) == {
        "id": event["id"],
        "type": "block.evaluated",
        "created_at": event["created_at"],
        "data": outcome,
    }
    assert got.headers["webhook-id"] == event["id"]
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
    [delivery] = await _deliveries(live_client, headers, hook)
    assert delivery["state"] == "succeeded"
    assert delivery["attempt_count"] == 1
    assert delivery["next_attempt_at"] is None
    assert [(a["status_code"], a["error"]) for a in delivery["attempts"]] == [(200, None)]
    assert await deliverer.deliver_due() == 0  # nothing is sent twice


async def test_deliver_retries_after_500_then_succeeds(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, receiver.url("/plan"))
    receiver.plan.extend([500, 503])
    event = await emit_committed(live_sessions, clinic_id)

    async def succeeded() -> bool:
        return (await _deliveries(live_client, headers, hook))[0]["state"] == "succeeded"

    await _until(deliverer, succeeded)
    got = receiver.bodies()
    assert len(got) == 3
    assert {g.headers["webhook-id"] for g in got} == {event["id"]}  # stable id: receivers deduplicate on it
    assert len({g.body for g in got}) == 1
    assert all(verify_by_hand(hook["secret"], g.headers, g.body) for g in got)
    [delivery] = await _deliveries(live_client, headers, hook)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    # The status and its standard reason only: the receiver's body ("receiver says no") is not stored.
    assert delivery["attempts"][0]["error"] == "HTTP 500 Internal Server Error"
    assert delivery["attempt_count"] == 3
    assert delivery["last_status_code"] == 200


async def test_deliver_gives_up_then_manual_retry_sends_again(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, receiver.url("/plan"))
    receiver.plan.extend([500] * 1000)
    await emit_committed(live_sessions, clinic_id)
    async with live_sessions() as session, session.begin():  # a retry window that closes in 0.5 s
        await session.execute(update(WebhookDelivery).values(give_up_at=utcnow() + timedelta(seconds=0.5)))

    async def failed() -> bool:
        return (await _deliveries(live_client, headers, hook))[0]["state"] == "failed"

    await _until(deliverer, failed)
    [delivery] = await _deliveries(live_client, headers, hook)
    tries = delivery["attempt_count"]
    assert tries >= 1
    assert delivery["last_status_code"] == 500
    assert await deliverer.deliver_due() == 0  # failed stays failed
    receiver.plan.clear()
    retried = await live_client.post(
        f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry", headers=headers
    )
    assert retried.status_code == 202, retried.text
    assert retried.json()["state"] == "pending"
    assert await deliverer.deliver_due() == 1
    [delivery] = await _deliveries(live_client, headers, hook)
    assert delivery["state"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]][-2:] == [500, 200]
    assert len(receiver.bodies()) == tries + 1


async def test_deliver_slow_and_huge_responses_do_not_stall(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    hooks = {
        p: await subscribe(live_client, headers, receiver.url(p)) for p in ("/slow", "/drip", "/huge", "/ok")
    }
    await emit_committed(live_sessions, clinic_id)
    started = time.monotonic()
    assert await deliverer.deliver_due() == 4
    elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 2.0, f"a pass took {elapsed:.1f} s with a 2 s timeout"
    outcome = {p: (await _deliveries(live_client, headers, h))[0] for p, h in hooks.items()}
    assert outcome["/ok"]["state"] == "succeeded"
    assert outcome["/huge"]["state"] == "succeeded"  # 200 MB offered, 1 KiB read
    assert outcome["/drip"]["state"] == "succeeded"  # the 200 came; the trickling body is dropped
    slow = outcome["/slow"]
    assert slow["state"] == "pending"
    assert slow["attempts"][0]["status_code"] is None
    assert slow["attempts"][0]["error"] == "timed out after 2 s"
    assert slow["attempts"][0]["duration_ms"] < 3000


async def test_deliver_does_not_follow_redirects(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, receiver.url("/redirect"))
    await emit_committed(live_sessions, clinic_id)
    assert await deliverer.deliver_due() == 1
    assert [g.path for g in receiver.bodies()] == ["/redirect"]
    [delivery] = await _deliveries(live_client, headers, hook)
    assert delivery["state"] == "pending"
    assert delivery["attempts"][0]["status_code"] == 307
    assert delivery["attempts"][0]["error"] == "HTTP 307 Temporary Redirect: redirect not followed"


async def test_deliver_receiver_down_records_error_and_keeps_pending(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    deliverer: Deliverer,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    down = Receiver(port=1)  # nothing listens on port 1
    hook = await subscribe(live_client, headers, down.url("/ok"))
    await emit_committed(live_sessions, clinic_id)
    assert await deliverer.deliver_due() == 1
    [delivery] = await _deliveries(live_client, headers, hook)
    assert delivery["state"] == "pending"
    assert delivery["attempts"][0]["status_code"] is None
    assert delivery["attempts"][0]["error"].startswith("ConnectError")


async def test_emit_rolled_back_leaves_no_event(
    live_admin, live_sessions: Sessions, live_client: httpx.AsyncClient, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    clinic_id, headers = live_admin
    await subscribe(live_client, headers, receiver.url("/ok"))
    with pytest.raises(RuntimeError):
        async with live_sessions() as session, session.begin():
            await emit(session, clinic_id, "block.evaluated", {"block_id": "rolled back"})
            raise RuntimeError("the causing write failed")
    async with live_sessions() as session:
        events = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.clinic_id == clinic_id)
        )
        deliveries = await session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.clinic_id == clinic_id)
        )
    assert (events, deliveries) == (0, 0)
    await emit_committed(live_sessions, clinic_id)
    async with live_sessions() as session:
        events = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.clinic_id == clinic_id)
        )
        deliveries = await session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.clinic_id == clinic_id)
        )
    assert (events, deliveries) == (1, 1)


async def test_deliver_concurrent_workers_send_each_delivery_once(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    fast_settings: Settings,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, receiver.url("/ok"))
    for n in range(30):
        await emit_committed(live_sessions, clinic_id, {"n": n})

    async def worker() -> int:
        async with make_client(fast_settings) as client:
            deliverer, sent = Deliverer(live_sessions, fast_settings, client), 0
            while batch := await deliverer.deliver_due(limit=4):
                sent += batch
            return sent

    sent = await asyncio.gather(worker(), worker(), worker())
    got = receiver.bodies()
    assert sum(sent) == 30
    assert len(got) == 30
    assert sorted(json.loads(g.body)["data"]["n"] for g in got) == list(range(30))
    deliveries = await _deliveries(live_client, headers, hook)
    assert {(d["state"], d["attempt_count"]) for d in deliveries} == {("succeeded", 1)}


async def test_serve_lifespan_runs_deliverer_in_process(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    live_engine,
    fast_settings: Settings,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, receiver.url("/ok"))
    settings = fast_settings.model_copy(update={"run_deliverer": True, "webhook_poll_seconds": 0.05})
    app = create_app(settings, engine=live_engine)
    async with app.router.lifespan_context(app):
        event = await emit_committed(live_sessions, clinic_id)
        got = await asyncio.to_thread(receiver.wait_for, 1, 5.0)
    assert [g.headers["webhook-id"] for g in got] == [event["id"]]
    assert verify_by_hand(hook["secret"], got[0].headers, got[0].body)
    assert (await _deliveries(live_client, headers, hook))[0]["state"] == "succeeded"
