"""POST/GET/DELETE /v1/webhooks and the deliveries record (contract: Integration)."""

import base64
import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.outbox import emit
from models import AuditEvent, OutboxEvent, WebhookDelivery

URL = "https://engine.clinic.example/hooks"


async def _create(client: httpx.AsyncClient, headers: dict, **body: object) -> httpx.Response:
    return await client.post(
        "/v1/webhooks", json={"url": URL, "events": ["block.evaluated"], **body}, headers=headers
    )


async def test_create_webhook_returns_secret_once(client: httpx.AsyncClient, admin: dict) -> None:
    response = await _create(client, admin, events=["referral.recommended", "referral.withdrawn"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == URL
    assert body["events"] == ["referral.recommended", "referral.withdrawn"]
    assert body["secret"].startswith("whsec_")
    assert 24 <= len(base64.b64decode(body["secret"].removeprefix("whsec_"))) <= 32
    assert body["created_at"].endswith("+00:00") or body["created_at"].endswith("Z")
    listed = await client.get("/v1/webhooks", headers=admin)
    assert listed.status_code == 200
    assert listed.json() == {
        "items": [
            {
                "id": body["id"],
                "url": URL,
                "events": body["events"],
                "format": "json",
                "created_at": body["created_at"],
            }
        ],
        "next_cursor": None,
    }
    assert "whsec_" not in listed.text


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.12:8443/hl7", "http://127.0.0.1:9000/x", "https://[::1]/x", "http://engine.local/"],
)
async def test_create_webhook_private_and_loopback_allowed(
    client: httpx.AsyncClient, admin: dict, url: str
) -> None:
    response = await _create(client, admin, url=url)
    assert response.status_code == 201, response.text
    assert response.json()["url"] == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://engine.clinic.example/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https:///no-host",
        "engine.clinic.example/hooks",
        "http://[::1/x",
        "http://host:99999/",
        "http://a b/",
        "http://host/\x00",
        "",
    ],
)
async def test_create_webhook_bad_url_is_422(client: httpx.AsyncClient, admin: dict, url: str) -> None:
    response = await _create(client, admin, url=url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "url"]]


async def test_create_webhook_unknown_event_is_422(client: httpx.AsyncClient, admin: dict) -> None:
    response = await _create(client, admin, events=["block.evaluated", "patient.deleted"])
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "events", 1]]
    empty = await _create(client, admin, events=[])
    assert empty.status_code == 422
    assert [e["loc"] for e in empty.json()["errors"]] == [["body", "events"]]
    assert (await client.get("/v1/webhooks", headers=admin)).json()["items"] == []


async def test_create_webhook_duplicate_events_kept_once(client: httpx.AsyncClient, admin: dict) -> None:
    response = await _create(client, admin, events=["block.evaluated", "block.evaluated"])
    assert response.status_code == 201
    assert response.json()["events"] == ["block.evaluated"]


@pytest.mark.parametrize("role", ["ehr", "staff", "viewer"])
async def test_create_webhook_non_admin_is_403(client: httpx.AsyncClient, make_key, role: str) -> None:  # type: ignore[no-untyped-def]
    headers = await make_key(role)
    response = await _create(client, headers)
    assert response.status_code == 403
    assert response.json()["status"] == 403
    assert (await client.get("/v1/webhooks", headers=headers)).status_code == 403


async def test_create_webhook_without_key_is_401(client: httpx.AsyncClient) -> None:
    response = await _create(client, {})
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"


async def test_delete_webhook_hides_it_and_stops_deliveries_keeps_history(
    client: httpx.AsyncClient,
    admin: dict,
    other_clinic: dict,
    clinic,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id = clinic.id  # read now: a failed request rolls back and expires the session's objects
    hook = (await _create(client, admin)).json()
    async with session.begin():
        await emit(session, clinic_id, "block.evaluated", {"block_id": "b"})
    deleted = await client.delete(f"/v1/webhooks/{hook['id']}", headers=admin)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get("/v1/webhooks", headers=admin)).json()["items"] == []
    again = await client.delete(f"/v1/webhooks/{hook['id']}", headers=admin)
    assert again.status_code == 404
    # The history stays readable by the clinic (README), and only by it; nothing can be sent again.
    kept = await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=admin)
    assert kept.status_code == 200, kept.text
    [delivery] = kept.json()["items"]
    assert (delivery["state"], delivery["last_error"]) == ("failed", "webhook deleted")
    other = await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=other_clinic)
    assert (other.status_code, other.json()["status"]) == (404, 404)
    retry = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry", headers=admin)
    assert (retry.status_code, retry.json()["status"]) == (404, 404)
    async with session.begin():
        states = (await session.scalars(select(WebhookDelivery.state))).all()
        assert list(states) == ["failed"]
    async with session.begin():
        await emit(session, clinic_id, "block.evaluated", {"block_id": "c"})
        assert len((await session.scalars(select(WebhookDelivery))).all()) == 1  # none for a deleted hook


async def test_get_webhook_other_clinic_is_404(
    client: httpx.AsyncClient,
    admin: dict,
    other_clinic: dict,
    clinic,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    hook = (await _create(client, admin)).json()
    async with session.begin():
        await emit(session, clinic.id, "block.evaluated", {"block_id": "b"})
    delivery_id = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=admin)).json()["items"][
        0
    ]["id"]
    assert (await client.get("/v1/webhooks", headers=other_clinic)).json()["items"] == []
    for method, path in [
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries"),
        ("POST", f"/v1/webhooks/{hook['id']}/deliveries/{delivery_id}/retry"),
        ("DELETE", f"/v1/webhooks/{hook['id']}"),
    ]:
        response = await client.request(method, path, headers=other_clinic)
        assert response.status_code == 404, (method, path)
        assert response.json()["status"] == 404
    assert (await client.get("/v1/webhooks", headers=admin)).json()["items"][0]["id"] == hook["id"]


async def test_emit_queues_one_delivery_per_matching_subscription(
    client: httpx.AsyncClient,
    admin: dict,
    other_clinic: dict,
    clinic,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    wanted = (await _create(client, admin, events=["block.evaluated", "referral.recommended"])).json()
    await _create(client, admin, events=["referral.withdrawn"])
    await _create(client, other_clinic, events=["block.evaluated"])
    outcome = {"block_id": str(uuid.uuid4()), "targets": [{"verdict": "positive"}]}
    async with session.begin():
        event = await emit(session, clinic.id, "block.evaluated", outcome)
    response = await client.get(f"/v1/webhooks/{wanted['id']}/deliveries", headers=admin)
    assert response.status_code == 200
    [delivery] = response.json()["items"]
    assert delivery["event_id"] == event["id"]
    assert delivery["event_type"] == "block.evaluated"
    assert delivery["webhook_id"] == wanted["id"]
    assert delivery["state"] == "pending"
    assert delivery["attempt_count"] == 0
    assert delivery["attempts"] == []
    assert event == {
        "id": event["id"],
        "type": "block.evaluated",
        "created_at": event["created_at"],
        "data": outcome,
    }
    async with session.begin():
        assert len((await session.scalars(select(WebhookDelivery))).all()) == 1
        stored = await session.get(OutboxEvent, uuid.UUID(event["id"]))
        assert stored is not None
        assert (stored.clinic_id, stored.type, stored.payload) == (clinic.id, "block.evaluated", event)
        assert datetime.fromisoformat(event["created_at"]) == stored.created_at


async def test_emit_unknown_event_type_is_refused(session: AsyncSession, clinic) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown event type"):
        async with session.begin():
            await emit(session, clinic.id, "patient.created", {})


async def test_retry_delivery_requeues_failed(
    client: httpx.AsyncClient,
    admin: dict,
    clinic,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    hook = (await _create(client, admin)).json()
    async with session.begin():
        await emit(session, clinic.id, "block.evaluated", {"block_id": "b"})
        delivery = await session.scalar(select(WebhookDelivery))
        assert delivery is not None
        delivery.state, delivery.last_error = "failed", "HTTP 500: down"
        give_up_at = delivery.give_up_at
    path = f"/v1/webhooks/{hook['id']}/deliveries/{delivery.id}/retry"
    response = await client.post(path, headers=admin)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/webhooks/{hook['id']}/deliveries"
    body = response.json()
    assert body["id"] == str(delivery.id)
    assert body["state"] == "pending"
    assert body["next_attempt_at"] is not None
    assert datetime.fromisoformat(body["give_up_at"]) == give_up_at
    unknown = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{uuid.uuid4()}/retry", headers=admin)
    assert unknown.status_code == 404
    async with session.begin():
        await session.refresh(delivery)
        delivery.state = "succeeded"
    done = await client.post(path, headers=admin)
    assert done.status_code == 409
    assert done.json()["status"] == 409


async def test_webhook_changes_are_audited(
    client: httpx.AsyncClient, admin: dict, session: AsyncSession
) -> None:
    hook = (await _create(client, admin)).json()
    await client.get("/v1/webhooks", headers=admin)
    await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=admin)
    await client.delete(f"/v1/webhooks/{hook['id']}", headers=admin)
    async with session.begin():
        rows = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.resource_id, AuditEvent.result_ids)
                .where(AuditEvent.resource_type == "webhook")
                .order_by(AuditEvent.at)
            )
        ).all()
    assert [(a, r) for a, r, _ in rows] == [
        ("create", hook["id"]),
        ("search", None),
        ("read", hook["id"]),
        ("delete", hook["id"]),
    ]
    assert rows[1][2] == [hook["id"]]


async def test_list_webhooks_pages_with_cursor(client: httpx.AsyncClient, admin: dict) -> None:
    ids = [(await _create(client, admin)).json()["id"] for _ in range(3)]
    first = (await client.get("/v1/webhooks?limit=2", headers=admin)).json()
    assert [h["id"] for h in first["items"]] == ids[:2]
    second = (await client.get(f"/v1/webhooks?limit=2&cursor={first['next_cursor']}", headers=admin)).json()
    assert [h["id"] for h in second["items"]] == ids[2:]
    assert second["next_cursor"] is None
    bad = await client.get("/v1/webhooks?cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIngiXQ", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_openapi_declares_webhook_responses(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"201", "401", "403", "422"} <= set(paths["/v1/webhooks"]["post"]["responses"])
    assert set(paths["/v1/webhooks/{webhook_id}"]["delete"]["responses"]) == {
        "204",
        "401",
        "403",
        "404",
        "422",
        "503",  # a lost database connection
        "429",
    }
    retry = paths["/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"]["post"]["responses"]
    assert {"202", "401", "403", "404", "409", "422"} <= set(retry)
    assert "application/problem+json" in retry["404"]["content"]
