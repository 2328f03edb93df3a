"""API key lifecycle (issue 7): list without secrets, revoke, rotate with a grace period, expiry, the
per-process key cache (issue 9), roles and tenancy."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.auth import hash_token
from api.key_cache import KeyCache
from models import ApiKey, AuditEvent
from models.base import utcnow
from tests.api.records import PROBLEM

Headers = dict[str, str]
FIELDS = {"id", "name", "role", "created_at", "expires_at", "revoked_at", "last_used_at"}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def key_id(session: AsyncSession, headers: Headers) -> uuid.UUID:
    token = headers["Authorization"].removeprefix("Bearer ")
    async with session.begin():
        found = await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_token(token)))
    assert found is not None
    return found


async def set_expiry(session: AsyncSession, key: uuid.UUID, delta: timedelta) -> None:
    async with session.begin():
        await session.execute(update(ApiKey).where(ApiKey.id == key).values(expires_at=utcnow() + delta))


@pytest.fixture
async def second_process(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """Another server process on the same database: its own app, hence its own key cache."""
    other = create_app(app.state.settings, engine=app.state.engine)
    other.dependency_overrides.update(app.dependency_overrides)
    other.state.outside_request = app.state.outside_request
    transport = httpx.ASGITransport(app=other, client=("10.1.2.4", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.app = other  # type: ignore[attr-defined]
        yield client


async def test_list_api_keys_without_secrets(
    client: httpx.AsyncClient, admin: Headers, viewer: Headers, session: AsyncSession
) -> None:
    await client.get("/v1/clinic", headers=viewer)
    response = await client.get("/v1/api-keys", headers=admin)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert all(set(item) == FIELDS for item in items)
    assert "bt_" not in response.text
    roles = {item["role"]: item for item in items}
    assert {"admin", "viewer"} <= set(roles)
    assert roles["viewer"]["last_used_at"] is not None  # the viewer key made a request
    assert roles["viewer"]["revoked_at"] is None and roles["viewer"]["expires_at"] is None


@pytest.mark.parametrize("role", ["ehr", "staff", "viewer"])
async def test_manage_api_keys_non_admin_forbidden(
    client: httpx.AsyncClient, make_key, admin: Headers, session: AsyncSession, role: str
) -> None:  # type: ignore[no-untyped-def]
    caller, target = await make_key(role), await key_id(session, admin)
    for method, path in (
        ("GET", "/v1/api-keys"),
        ("POST", f"/v1/api-keys/{target}/revoke"),
        ("POST", f"/v1/api-keys/{target}/rotate"),
    ):
        response = await client.request(method, path, headers=caller)
        assert response.status_code == 403, (path, response.text)
        assert response.headers["content-type"] == PROBLEM
    assert (await client.get("/v1/clinic", headers=admin)).status_code == 200


async def test_manage_api_key_other_clinic_not_found(
    client: httpx.AsyncClient, admin: Headers, other_clinic: Headers, session: AsyncSession
) -> None:
    theirs = await key_id(session, other_clinic)
    for action in ("revoke", "rotate"):
        response = await client.post(f"/v1/api-keys/{theirs}/{action}", headers=admin)
        assert response.status_code == 404, response.text
    assert (await client.get(f"/v1/api-keys/{theirs}", headers=admin)).status_code == 404
    listed = (await client.get("/v1/api-keys", headers=admin)).json()["items"]
    assert str(theirs) not in {item["id"] for item in listed}
    assert (await client.get("/v1/clinic", headers=other_clinic)).status_code == 200


async def test_revoke_api_key_then_use_unauthorized(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, session: AsyncSession
) -> None:
    assert (await client.get("/v1/patients", headers=ehr)).status_code == 200  # now in the key cache
    target = await key_id(session, ehr)
    revoked = await client.post(f"/v1/api-keys/{target}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["id"] == str(target) and revoked.json()["revoked_at"] is not None
    refused = await client.get("/v1/patients", headers=ehr)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == PROBLEM
    again = await client.post(f"/v1/api-keys/{target}/revoke", headers=admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    async with session.begin():
        actions = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.resource_id == str(target)))
        ).all()
    assert "revoke" in actions


async def test_revoke_api_key_other_process_within_cache_lifetime(
    client: httpx.AsyncClient, second_process: httpx.AsyncClient, admin: Headers, ehr: Headers, session
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    second_process.app.state.key_cache = KeyCache(5.0, clock)  # type: ignore[attr-defined]
    assert (await second_process.get("/v1/patients", headers=ehr)).status_code == 200
    target = await key_id(session, ehr)
    assert (await client.post(f"/v1/api-keys/{target}/revoke", headers=admin)).status_code == 200
    assert (await client.get("/v1/patients", headers=ehr)).status_code == 401  # the revoking process
    clock.now += 4.9
    assert (await second_process.get("/v1/patients", headers=ehr)).status_code == 200  # still cached
    clock.now += 0.1
    assert (await second_process.get("/v1/patients", headers=ehr)).status_code == 401


async def test_key_cache_keeps_no_miss(client: httpx.AsyncClient, make_key, clinic) -> None:  # type: ignore[no-untyped-def]
    clinic_id = clinic.id  # read before the refused request's rollback expires it
    assert (await client.get("/v1/patients", headers={"Authorization": "Bearer bt_nope"})).status_code == 401
    fresh = await make_key("viewer", clinic_id)  # made after a miss: it works at once
    assert (await client.get("/v1/patients", headers=fresh)).status_code == 200


async def test_rotate_api_key_old_key_works_for_grace_then_refused(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, session: AsyncSession
) -> None:
    target = await key_id(session, ehr)
    before = utcnow()
    rotated = await client.post(f"/v1/api-keys/{target}/rotate", headers=admin)
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    assert set(body) == {"key_id", "api_key", "old_key_valid_until"}
    until = body["old_key_valid_until"]
    grace = timedelta(hours=24)
    assert before + grace <= _parse(until) <= utcnow() + grace
    new = {"Authorization": f"Bearer {body['api_key']}"}
    assert (await client.get("/v1/patients", headers=new)).status_code == 200
    assert (await client.get("/v1/patients", headers=ehr)).status_code == 200  # within the grace period
    listed = {item["id"]: item for item in (await client.get("/v1/api-keys", headers=admin)).json()["items"]}
    assert (listed[body["key_id"]]["role"], listed[body["key_id"]]["name"]) == ("ehr", "ehr key")
    assert listed[str(target)]["expires_at"] == until
    await set_expiry(session, target, timedelta(seconds=-1))  # the grace period is over
    client._transport.app.state.key_cache.forget(target)  # type: ignore[attr-defined]
    assert (await client.get("/v1/patients", headers=ehr)).status_code == 401
    assert (await client.get("/v1/patients", headers=new)).status_code == 200
    refused = await client.post(f"/v1/api-keys/{target}/rotate", headers=admin)
    assert refused.status_code == 409
    async with session.begin():
        rotation = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "rotate", AuditEvent.resource_id == str(target))
        )
    assert rotation is not None and rotation.result_ids == [body["key_id"]]


async def test_expired_api_key_unauthorized_even_when_cached(
    client: httpx.AsyncClient, viewer: Headers, session: AsyncSession
) -> None:
    target = await key_id(session, viewer)
    await set_expiry(session, target, timedelta(seconds=1))
    assert (await client.get("/v1/patients", headers=viewer)).status_code == 200  # cached with its expiry
    await asyncio.sleep(1.1)
    refused = await client.get("/v1/patients", headers=viewer)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == PROBLEM


def _parse(value: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))
