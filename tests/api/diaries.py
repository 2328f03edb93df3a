"""Helpers for outcome, level, referral and policy tests: patients, blocks and diaries through the API."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent, OutboxEvent

Headers = dict[str, str]
DAY1 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)

# Issue 3 examples (medicare defaults): baseline, post readings as (minutes, score).
POSITIVE = (8, [(15, 1), (30, 1), (60, 1), (120, 5)])  # lidocaine: 87.5% for 60 min
NEGATIVE = (10, [(30, 3), (60, 3)])  # lidocaine: 70%
MODERATE = (10, [(15, 4), (30, 3), (60, 3)])  # lidocaine: 60-70%: negative at 80%, positive at 50%


async def new_patient(client: httpx.AsyncClient, headers: Headers) -> str:
    response = await client.post(
        "/v1/patients", json={"mrn": f"MRN-{uuid.uuid4().hex[:10]}"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_block(
    client: httpx.AsyncClient,
    headers: Headers,
    patient_id: str,
    at: datetime,
    agent: str = "lidocaine",
    targets: Sequence[dict[str, str]] = ({"joint": "L4-L5", "side": "left"},),
    **fields: Any,
) -> dict[str, Any]:
    body = {"performed_at": at.isoformat(), "agent": agent, "targets": list(targets), **fields}
    response = await client.post(f"/v1/patients/{patient_id}/blocks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def add_diary(
    client: httpx.AsyncClient,
    headers: Headers,
    block: dict[str, Any],
    baseline: int,
    posts: Sequence[tuple[int, int]],
    **where: str,
) -> dict[str, Any]:
    """A pre reading 10 min before the block, then the post readings; returns {"readings", "outcome"}."""
    pre_at = datetime.fromisoformat(block["performed_at"]) - timedelta(minutes=10)
    readings = [{"phase": "pre", "recorded_at": pre_at.isoformat(), "score": baseline, **where}]
    readings += [{"phase": "post", "minutes_after_block": m, "score": s, **where} for m, s in posts]
    response = await client.post(
        f"/v1/blocks/{block['id']}/readings", json={"readings": readings}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def diary_block(
    client: httpx.AsyncClient,
    headers: Headers,
    patient_id: str,
    at: datetime,
    diary: tuple[int, Sequence[tuple[int, int]]],
    **fields: Any,
) -> dict[str, Any]:
    """A block with a whole diary; returns the block with its readings and outcome added."""
    block = await new_block(client, headers, patient_id, at, **fields)
    answer = await add_diary(client, headers, block, *diary)
    return {**block, "readings": answer["readings"], "outcome": answer["outcome"]}


async def levels_of(client: httpx.AsyncClient, headers: Headers, patient_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/patients/{patient_id}/levels", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def referrals_of(
    client: httpx.AsyncClient, headers: Headers, patient_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    params = {"patient_id": patient_id, **({"status": status} if status else {})}
    response = await client.get("/v1/referrals", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def events(session: AsyncSession, event_type: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(OutboxEvent.payload).where(OutboxEvent.type == event_type).order_by(OutboxEvent.created_at)
    )
    return [payload["data"] for payload in rows]


async def audit_rows(session: AsyncSession, resource_type: str) -> list[tuple[str, str | None]]:
    rows = await session.execute(
        select(AuditEvent.action, AuditEvent.resource_id)
        .where(AuditEvent.resource_type == resource_type)
        .order_by(AuditEvent.at)
    )
    return [tuple(row) for row in rows.all()]  # type: ignore[misc]
