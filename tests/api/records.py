"""Builders for API tests: a patient, a block, a diary, through the public API."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

Headers = dict[str, str]
PROBLEM = "application/problem+json"
BLOCK_AT = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat()


async def new_patient(client: httpx.AsyncClient, headers: Headers, mrn: str | None = None) -> dict[str, Any]:
    mrn = mrn or f"MRN-{uuid.uuid4().hex[:10]}"
    response = await client.post("/v1/patients", json={"mrn": mrn}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def block_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "performed_at": iso(BLOCK_AT),
        "agent": "lidocaine",
        "targets": [{"joint": "L4-L5", "side": "bilateral"}],
    }
    return body | overrides


async def new_block(
    client: httpx.AsyncClient, headers: Headers, patient_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/patients/{patient_id}/blocks", json=block_body(**overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def diary(block_at: datetime = BLOCK_AT) -> list[dict[str, Any]]:
    """A usual diary: baseline 8 before, then relief for two hours."""
    return [
        {"phase": "pre", "recorded_at": iso(block_at - timedelta(minutes=10)), "score": 8},
        *({"phase": "post", "minutes_after_block": m, "score": 1} for m in (15, 30, 60, 120)),
    ]


async def add_readings(
    client: httpx.AsyncClient, headers: Headers, block_id: str, readings: list[dict[str, Any]]
) -> httpx.Response:
    return await client.post(f"/v1/blocks/{block_id}/readings", json={"readings": readings}, headers=headers)


def error_locs(response: httpx.Response) -> list[list[str | int]]:
    assert response.headers["content-type"] == PROBLEM, response.text
    return [e["loc"] for e in response.json()["errors"]]
