"""Helpers shared by the webhook tests."""

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.services.outbox import emit


async def subscribe(
    client: httpx.AsyncClient, headers: dict, url: str, events: list[str] | None = None
) -> dict:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": events or ["block.evaluated"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def emit_committed(
    sessions: async_sessionmaker[AsyncSession], clinic_id: Any, data: dict | None = None
) -> dict[str, Any]:
    async with sessions() as session, session.begin():
        return await emit(session, clinic_id, "block.evaluated", data or {"block_id": "b1", "targets": []})
