"""Bounded requests: bodies over the limit are refused 413 while they stream in, before authentication."""

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.settings import Settings
from models import IdempotencyRecord, Patient
from tests.conftest import app_on

Headers = dict[str, str]
PROBLEM = "application/problem+json"
LIMIT = 1_048_576  # the default
CHUNK = 64 * 1024


class Stream:
    """A chunked body (no Content-Length) that counts how much of it the server pulled."""

    def __init__(self, total: int, pause: float = 0.0) -> None:
        self.total, self.pause, self.sent = total, pause, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            if self.pause:
                await asyncio.sleep(self.pause)
            self.sent += CHUNK
            yield b"x" * CHUNK


def assert_refused(response: httpx.Response, status: int) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["connection"] == "close"
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["type"] == "about:blank" and body["status"] == status
    return body  # type: ignore[no-any-return]


async def _patients(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Patient)) or 0


async def test_create_patient_declared_length_too_big_is_413_before_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/patients", content=b"x" * (LIMIT + 1))
    body = assert_refused(response, 413)
    assert body["title"] == "Content Too Large"
    assert body["max_body_bytes"] == LIMIT
    assert "1048576 bytes" in body["detail"]


async def test_create_patient_chunked_too_big_is_413_and_stops_reading(client: httpx.AsyncClient) -> None:
    stream = Stream(100 * LIMIT)
    response = await client.post("/v1/patients", content=stream)  # no key: the 413 comes before the 401
    assert_refused(response, 413)
    # Reading stopped at the limit: a chunk past it, not the 100 MiB offered.
    assert LIMIT < stream.sent <= LIMIT + CHUNK


async def test_create_patient_chunked_too_big_authenticated_stores_nothing(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    headers = {**ehr, "Content-Type": "application/json", "Idempotency-Key": "big-1"}
    response = await client.post("/v1/patients", content=Stream(2 * LIMIT), headers=headers)
    assert_refused(response, 413)
    # The key was not taken by the refused request: a proper body with it is a new request.
    again = await client.post(
        "/v1/patients", json={"mrn": "MRN-BIG"}, headers={**ehr, "Idempotency-Key": "big-1"}
    )
    assert again.status_code == 201, again.text
    assert await _patients(session) == 1
    assert await session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


async def test_create_patient_body_at_the_limit_is_read(client: httpx.AsyncClient, ehr: Headers) -> None:
    body = b'{"mrn": "MRN-LIMIT"' + b" " * (LIMIT - 20) + b"}"  # whitespace is JSON too
    assert LIMIT - CHUNK < len(body) <= LIMIT
    response = await client.post(
        "/v1/patients", content=body, headers={**ehr, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


async def test_create_patient_limit_from_settings(
    engine: AsyncEngine, session: AsyncSession, database_url: str, ehr: Headers
) -> None:
    app = _app(Settings(database_url=database_url, run_deliverer=False, max_body_bytes=2048), engine, session)
    async with _client(app) as client:
        small = await client.post("/v1/patients", json={"mrn": "MRN-SMALL"}, headers=ehr)
        large = await client.post("/v1/patients", json={"mrn": "MRN-LARGE", "name": "n" * 3000}, headers=ehr)
    assert small.status_code == 201, small.text
    assert assert_refused(large, 413)["max_body_bytes"] == 2048
    assert await _patients(session) == 1


async def test_create_patient_slow_body_is_408(
    engine: AsyncEngine, session: AsyncSession, database_url: str, ehr: Headers
) -> None:
    settings = Settings(database_url=database_url, run_deliverer=False, body_read_timeout_seconds=0.3)
    async with _client(_app(settings, engine, session)) as client:
        response = await client.post("/v1/patients", content=Stream(10 * CHUNK, pause=0.2), headers=ehr)
    body = assert_refused(response, 408)
    assert body["body_read_timeout_seconds"] == 0.3
    assert await _patients(session) == 0


def _app(settings: Settings, engine: AsyncEngine, session: AsyncSession) -> FastAPI:
    return app_on(session, engine, settings)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
