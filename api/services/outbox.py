"""The transactional outbox: events are written with the change that caused them.

emit() only adds rows to the caller's session, so the event commits or rolls back with the change:
a commit always has its event and a rollback never has one. Delivery happens later (api/webhooks).
"""

import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import select
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
