"""The transactional outbox: events are written with the change that caused them.

emit() only adds rows to the caller's session, so the event commits or rolls back with the change:
a commit always has its event and a rollback never has one. Delivery happens later (api/webhooks).
"""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.settings import get_settings
from models import OutboxEvent, WebhookDelivery, WebhookSubscription
from models.base import utcnow

EVENT_TYPES = ("referral.recommended", "referral.withdrawn", "block.evaluated")


async def emit(
    session: AsyncSession, clinic_id: uuid.UUID, event_type: str, data: dict[str, Any] | BaseModel
) -> OutboxEvent:
    """Queue `event_type` with `data` (the referral or outcome, whole) for every matching subscription."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    now = utcnow()
    event_id = uuid.uuid4()
    # The body is fixed here, so every attempt (and every subscriber) gets the same bytes to verify.
    body = {"id": str(event_id), "type": event_type, "created_at": now.isoformat(), "data": _jsonable(data)}
    event = OutboxEvent(id=event_id, clinic_id=clinic_id, type=event_type, payload=body, created_at=now)
    session.add(event)
    give_up_at = now + timedelta(hours=get_settings().webhook_retry_hours)
    for subscription_id in await _subscribers(session, clinic_id, event_type):
        session.add(
            WebhookDelivery(
                clinic_id=clinic_id,
                subscription_id=subscription_id,
                event_id=event_id,
                state="pending",
                attempt_count=0,
                next_attempt_at=now,
                give_up_at=give_up_at,
                created_at=now,
            )
        )
    await session.flush()
    return event


async def _subscribers(session: AsyncSession, clinic_id: uuid.UUID, event_type: str) -> list[uuid.UUID]:
    rows = await session.execute(
        select(WebhookSubscription.id, WebhookSubscription.events).where(
            WebhookSubscription.clinic_id == clinic_id, WebhookSubscription.deleted_at.is_(None)
        )
    )
    # `events` is a JSON list; a clinic has a handful of subscriptions: filtering here is cheap and portable.
    return [sub_id for sub_id, events in rows if event_type in events]


def _jsonable(data: dict[str, Any] | BaseModel) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    return to_jsonable_python(data)


async def emit_many(
    session: AsyncSession, clinic_id: uuid.UUID, events: Sequence[tuple[str, dict[str, Any] | BaseModel]]
) -> None:
    """emit() for a batch of (event_type, data): one subscription query and one INSERT per table.

    A clinic-wide re-evaluation (PUT /v1/policy) can publish thousands of events in one transaction;
    a query and a flush per event would dominate its time.
    """
    if not events:
        return
    for event_type, _data in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
    now = utcnow()
    give_up_at = now + timedelta(hours=get_settings().webhook_retry_hours)
    subscriptions = (
        await session.execute(
            select(WebhookSubscription.id, WebhookSubscription.events).where(
                WebhookSubscription.clinic_id == clinic_id, WebhookSubscription.deleted_at.is_(None)
            )
        )
    ).all()
    outbox_rows, delivery_rows = [], []
    for event_type, data in events:
        event_id = uuid.uuid4()
        body = {
            "id": str(event_id),
            "type": event_type,
            "created_at": now.isoformat(),
            "data": _jsonable(data),
        }
        outbox_rows.append(
            {"id": event_id, "clinic_id": clinic_id, "type": event_type, "payload": body, "created_at": now}
        )
        delivery_rows += [
            {
                "id": uuid.uuid4(),
                "clinic_id": clinic_id,
                "subscription_id": sub_id,
                "event_id": event_id,
                "state": "pending",
                "attempt_count": 0,
                "next_attempt_at": now,
                "give_up_at": give_up_at,
                "created_at": now,
            }
            for sub_id, types in subscriptions
            if event_type in types
        ]
    await session.execute(insert(OutboxEvent.__table__), outbox_rows)
    if delivery_rows:
        await session.execute(insert(WebhookDelivery.__table__), delivery_rows)
