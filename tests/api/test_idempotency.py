"""Idempotency-Key on POST (contract: Integration): replay, mismatch, in flight, scope, expiry, release."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import hash_token
from api.idempotency import fingerprint
from models import ApiKey, IdempotencyRecord, Patient

Headers = dict[str, str]
PROBLEM = "application/problem+json"


def keyed(headers: Headers, key: str) -> Headers:
    return headers | {"Idempotency-Key": key}


async def api_key_id(session: AsyncSession, headers: Headers) -> Any:
    token = headers["Authorization"].removeprefix("Bearer ")
    return await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_token(token)))


async def records(session: AsyncSession) -> list[IdempotencyRecord]:
    # Inside begin(): a query left in an autobegun transaction would block the next request's begin().
    async with session.begin():
        query = select(IdempotencyRecord).execution_options(populate_existing=True)
        return list((await session.scalars(query)).all())


async def patients(session: AsyncSession) -> int:
    async with session.begin():
        return await session.scalar(select(func.count()).select_from(Patient)) or 0


async def test_create_patient_same_key_replays_first_response(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    first = await client.post("/v1/patients", json={"mrn": "I-1"}, headers=keyed(ehr, "k-1"))
    again = await client.post("/v1/patients", json={"mrn": "I-1"}, headers=keyed(ehr, "k-1"))
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await patients(session) == 1
    [record] = await records(session)
    assert (record.state, record.response_status, record.key) == ("completed", 201, "k-1")


async def test_create_patient_same_key_other_body_unprocessable(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    await client.post("/v1/patients", json={"mrn": "I-2"}, headers=keyed(ehr, "k-2"))
    response = await client.post("/v1/patients", json={"mrn": "I-3"}, headers=keyed(ehr, "k-2"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert "idempotent-replayed" not in response.headers
    assert await patients(session) == 1


async def test_create_same_key_other_path_unprocessable(client: httpx.AsyncClient, admin: Headers) -> None:
    await client.post("/v1/patients", json={"mrn": "I-4"}, headers=keyed(admin, "k-3"))
    response = await client.post("/v1/webhooks", json={"mrn": "I-4"}, headers=keyed(admin, "k-3"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_create_patient_key_in_flight_conflict(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    body = b'{"mrn": "I-5"}'
    # What a concurrent first request leaves behind while it runs: an in_flight record with the same hash.
    async with session.begin():
        session.add(
            IdempotencyRecord(
                api_key_id=await api_key_id(session, ehr),
                key="k-4",
                method="POST",
                path="/v1/patients",
                request_hash=fingerprint("POST", "/v1/patients", b"", body),
                state="in_flight",
            )
        )
    headers = keyed(ehr, "k-4") | {"Content-Type": "application/json"}
    response = await client.post("/v1/patients", content=body, headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "1"
    assert "still being processed" in response.json()["detail"]
    assert await patients(session) == 0


async def _abandoned(session: AsyncSession, headers: Headers, key: str, body: bytes, applied: bool) -> None:
    """A record left by a server killed mid-request: before its transaction committed (not applied), or
    after the commit but before its answer was recorded (applied)."""
    started = datetime.now(UTC) - timedelta(minutes=10)
    async with session.begin():
        session.add(
            IdempotencyRecord(
                api_key_id=await api_key_id(session, headers),
                key=key,
                method="POST",
                path="/v1/patients",
                request_hash=fingerprint("POST", "/v1/patients", b"", body),
                state="in_flight",
                created_at=started,
                applied_at=started if applied else None,
            )
        )


async def test_create_patient_key_abandoned_unapplied_released_after_lease(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    # Killed before its transaction committed: it wrote nothing, so a retry runs once the lease is over.
    body = b'{"mrn": "I-6"}'
    await _abandoned(session, ehr, "k-5", body, applied=False)
    headers = keyed(ehr, "k-5") | {"Content-Type": "application/json"}
    response = await client.post("/v1/patients", content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert await patients(session) == 1
    [record] = await records(session)
    assert (record.state, record.response_status) == ("completed", 201)


async def test_create_patient_key_unapplied_within_lease_conflict(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    body = b'{"mrn": "I-6b"}'
    async with session.begin():
        session.add(
            IdempotencyRecord(
                api_key_id=await api_key_id(session, ehr), key="k-5b", method="POST", path="/v1/patients",
                request_hash=fingerprint("POST", "/v1/patients", b"", body), state="in_flight",
                created_at=datetime.now(UTC) - timedelta(seconds=5),
            )
        )  # fmt: skip
    headers = keyed(ehr, "k-5b") | {"Content-Type": "application/json"}
    response = await client.post("/v1/patients", content=body, headers=headers)
    assert response.status_code == 409, response.text
    assert "still being processed" in response.json()["detail"]
    assert await patients(session) == 0


async def test_create_patient_key_abandoned_applied_conflict_says_applied(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    # Killed after its commit, before its answer was recorded: never run it twice.
    body = b'{"mrn": "I-7"}'
    await _abandoned(session, ehr, "k-7", body, applied=True)
    headers = keyed(ehr, "k-7") | {"Content-Type": "application/json"}
    response = await client.post("/v1/patients", content=body, headers=headers)
    assert response.status_code == 409
    assert "was applied, but its answer was lost" in response.json()["detail"]
    assert await patients(session) == 0


async def test_create_patient_expired_key_runs_again(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    async with session.begin():
        session.add(
            IdempotencyRecord(
                api_key_id=await api_key_id(session, ehr),
                key="k-6",
                method="POST",
                path="/v1/patients",
                request_hash="0" * 64,
                state="completed",
                response_status=201,
                response_body="{}",
                created_at=datetime.now(UTC) - timedelta(hours=25),
            )
        )
    response = await client.post("/v1/patients", json={"mrn": "I-7"}, headers=keyed(ehr, "k-6"))
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    [record] = await records(session)
    assert record.response_status == 201
    assert record.request_hash != "0" * 64


async def test_create_patient_purges_expired_records(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    async with session.begin():
        session.add(
            IdempotencyRecord(
                api_key_id=await api_key_id(session, ehr),
                key="old",
                method="POST",
                path="/v1/patients",
                request_hash="0" * 64,
                state="completed",
                created_at=datetime.now(UTC) - timedelta(hours=30),
            )
        )
    await client.post("/v1/patients", json={"mrn": "I-8"}, headers=keyed(ehr, "new"))
    assert [r.key for r in await records(session)] == ["new"]


async def test_create_patient_key_scoped_to_api_key(
    client: httpx.AsyncClient, ehr: Headers, other_clinic: Headers
) -> None:
    mine = await client.post("/v1/patients", json={"mrn": "I-9"}, headers=keyed(ehr, "shared"))
    theirs = await client.post("/v1/patients", json={"mrn": "I-9"}, headers=keyed(other_clinic, "shared"))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers


async def test_create_patient_bad_api_key_with_key_unauthorized_stores_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for headers in ({"Authorization": "Bearer bt_nope"}, {}, {"Authorization": "Basic eDp5"}):
        response = await client.post("/v1/patients", json={"mrn": "I-10"}, headers=keyed(headers, "k-7"))
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
    assert await records(session) == []


@pytest.mark.parametrize("key", [b"", b"   ", b"x" * 256, "caf\u00e9".encode(), b"a\tb", b'""'])
async def test_create_patient_bad_key_unprocessable(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession, key: bytes
) -> None:
    headers: dict[str, str | bytes] = {**ehr, "Idempotency-Key": key}
    response = await client.post("/v1/patients", json={"mrn": "I-11"}, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [
        {"loc": ["header", "Idempotency-Key"], "message": "must be 1 to 255 printable ASCII characters"}
    ]
    assert await records(session) == []
    assert await patients(session) == 0


async def test_create_patient_longest_and_quoted_keys_ok(client: httpx.AsyncClient, ehr: Headers) -> None:
    longest = await client.post("/v1/patients", json={"mrn": "I-12"}, headers=keyed(ehr, "y" * 255))
    assert longest.status_code == 201
    bare = await client.post("/v1/patients", json={"mrn": "I-13"}, headers=keyed(ehr, "abc"))
    quoted = await client.post("/v1/patients", json={"mrn": "I-13"}, headers=keyed(ehr, '"abc"'))
    assert quoted.headers["idempotent-replayed"] == "true"
    assert quoted.json() == bare.json()


async def test_create_patient_error_response_replayed(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    first = await client.post("/v1/patients", json={"mrn": ""}, headers=keyed(ehr, "k-8"))
    again = await client.post("/v1/patients", json={"mrn": ""}, headers=keyed(ehr, "k-8"))
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["content-type"] == PROBLEM
    assert again.headers["idempotent-replayed"] == "true"


async def test_get_with_key_ignored(client: httpx.AsyncClient, ehr: Headers, session: AsyncSession) -> None:
    response = await client.get("/v1/patients", headers=keyed(ehr, "k-9"))
    assert response.status_code == 200
    assert "idempotent-replayed" not in response.headers
    assert await records(session) == []


def add_counting_routes(app: FastAPI) -> dict[str, int]:
    """Routes that count their runs: one answers 201 with Location, one 503 then 201, one raises once."""
    calls = {"created": 0, "flaky": 0, "crash": 0}

    @app.post("/v1/test-created")
    async def created() -> JSONResponse:
        calls["created"] += 1
        headers = {"Location": "/v1/things/1", "ETag": '"e1"'}
        return JSONResponse({"n": calls["created"]}, status_code=201, headers=headers)

    @app.post("/v1/test-flaky")
    async def flaky() -> JSONResponse:
        calls["flaky"] += 1
        return JSONResponse({"n": calls["flaky"]}, status_code=503 if calls["flaky"] == 1 else 201)

    @app.post("/v1/test-crash")
    async def crash() -> JSONResponse:
        calls["crash"] += 1
        if calls["crash"] == 1:
            raise RuntimeError("boom")
        return JSONResponse({"n": calls["crash"]}, status_code=201)

    return calls


async def test_create_replays_location_and_etag(
    client: httpx.AsyncClient, app: FastAPI, ehr: Headers
) -> None:
    calls = add_counting_routes(app)
    first = await client.post("/v1/test-created", json={}, headers=keyed(ehr, "k-10"))
    again = await client.post("/v1/test-created", json={}, headers=keyed(ehr, "k-10"))
    assert calls["created"] == 1
    assert (again.status_code, again.json()) == (201, {"n": 1})
    assert again.headers["location"] == first.headers["location"] == "/v1/things/1"
    assert again.headers["etag"] == '"e1"'
    assert again.headers["x-request-id"] != first.headers["x-request-id"]


async def test_create_server_error_releases_key(
    client: httpx.AsyncClient, app: FastAPI, ehr: Headers, session: AsyncSession
) -> None:
    calls = add_counting_routes(app)
    first = await client.post("/v1/test-flaky", json={}, headers=keyed(ehr, "k-11"))
    assert first.status_code == 503
    assert await records(session) == []
    retry = await client.post("/v1/test-flaky", json={}, headers=keyed(ehr, "k-11"))
    assert (retry.status_code, retry.json(), calls["flaky"]) == (201, {"n": 2}, 2)


async def test_create_crash_releases_key(app: FastAPI, ehr: Headers, session: AsyncSession) -> None:
    calls = add_counting_routes(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        first = await client.post("/v1/test-crash", json={}, headers=keyed(ehr, "k-12"))
        assert first.status_code == 500
        assert first.headers["content-type"] == PROBLEM
        retry = await client.post("/v1/test-crash", json={}, headers=keyed(ehr, "k-12"))
    assert (retry.status_code, retry.json(), calls["crash"]) == (201, {"n": 2}, 2)
    [record] = await records(session)
    assert record.state == "completed"


async def test_openapi_documents_key_on_every_post(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    # The OAuth token endpoint takes no bearer key, so no Idempotency-Key record could be kept for it.
    posts = [
        item["post"] for path, item in schema["paths"].items() if "post" in item and path != "/oauth/token"
    ]
    assert posts
    for operation in posts:
        names = [p["name"] for p in operation.get("parameters", [])]
        assert names.count("Idempotency-Key") == 1, operation["operationId"]
        assert {"409", "422"} <= set(operation["responses"])
    again = (await client.get("/openapi.json")).json()
    assert again == schema
