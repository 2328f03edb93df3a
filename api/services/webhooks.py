"""Webhook subscriptions and the record of their deliveries. Every query is scoped by clinic_id."""

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Conflict, NotFound, invalid
from api.pagination import decode_cursor, encode_cursor
from api.services.locks import lock_clinic_patients
from api.webhooks.signing import new_secret
from api.webhooks.targets import Resolver, registration_refusal, system_resolve
from models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from models.base import utcnow


@dataclass
class DeliveryRecord:
    delivery: WebhookDelivery
    event_type: str
    attempts: list[WebhookAttempt]


async def create_subscription(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    url: str,
    events: list[str],
    format_: str = "json",
    resolve: Resolver = system_resolve,
) -> WebhookSubscription:
    """The returned subscription carries its secret: answer it once, it is never shown again.

    A host name resolving to a forbidden address is refused (api/webhooks/targets.py), before any lock.
    It takes every patient lock of the clinic first, so a write that emits events either committed
    before this subscription exists or is ordered after it and sees it (api/services/outbox.py).
    """
    refusal = await registration_refusal(url, resolve)
    if refusal is not None:
        raise invalid(["body", "url"], refusal)
    await lock_clinic_patients(session, clinic_id)
    subscription = WebhookSubscription(
        clinic_id=clinic_id, url=url, events=events, secret=new_secret(), format=format_
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def list_subscriptions(
    session: AsyncSession, clinic_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[WebhookSubscription], str | None]:
    query = select(WebhookSubscription).where(
        WebhookSubscription.clinic_id == clinic_id, WebhookSubscription.deleted_at.is_(None)
    )
    if cursor:
        at, last_id = _cursor(cursor)
        query = query.where(
            or_(
                WebhookSubscription.created_at > at,
                and_(WebhookSubscription.created_at == at, WebhookSubscription.id > last_id),
            )
        )
    order = (WebhookSubscription.created_at, WebhookSubscription.id)
    rows = list((await session.scalars(query.order_by(*order).limit(limit + 1))).all())
    page = rows[:limit]
    return page, encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None


async def get_subscription(
    session: AsyncSession, clinic_id: uuid.UUID, webhook_id: uuid.UUID, *, deleted_too: bool = False
) -> WebhookSubscription:
    """The clinic's subscription; a deleted one only with `deleted_too` (its history stays readable)."""
    query = select(WebhookSubscription).where(
        WebhookSubscription.id == webhook_id, WebhookSubscription.clinic_id == clinic_id
    )
    if not deleted_too:
        query = query.where(WebhookSubscription.deleted_at.is_(None))
    subscription = await session.scalar(query)
    if subscription is None:
        raise NotFound(f"No webhook {webhook_id}.")
    return subscription


async def delete_subscription(session: AsyncSession, clinic_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
    """Soft delete: the history stays, and deliveries still owed to it stop."""
    subscription = await get_subscription(session, clinic_id, webhook_id)
    subscription.deleted_at = utcnow()
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == webhook_id, WebhookDelivery.state == "pending")
        .values(state="failed", last_error="webhook deleted")
    )
    await session.flush()


async def list_deliveries(
    session: AsyncSession, clinic_id: uuid.UUID, webhook_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[DeliveryRecord], str | None]:
    """Newest first, each with every attempt (oldest first); kept after the subscription is deleted."""
    await get_subscription(session, clinic_id, webhook_id, deleted_too=True)
    query = _deliveries(clinic_id).where(WebhookDelivery.subscription_id == webhook_id)
    if cursor:
        at, last_id = _cursor(cursor)
        query = query.where(
            or_(
                WebhookDelivery.created_at < at,
                and_(WebhookDelivery.created_at == at, WebhookDelivery.id < last_id),
            )
        )
    order = (WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    rows = (await session.execute(query.order_by(*order).limit(limit + 1))).all()
    records = await _with_attempts(session, rows[:limit])
    last = records[-1].delivery if records else None
    return records, encode_cursor(last.created_at, last.id) if last and len(rows) > limit else None


async def retry_delivery(
    session: AsyncSession, clinic_id: uuid.UUID, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryRecord:
    """Send a pending or failed delivery again now. If its retry window has closed, it gets one attempt."""
    await get_subscription(session, clinic_id, webhook_id)
    row = (
        await session.execute(
            _deliveries(clinic_id).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == webhook_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"No delivery {delivery_id} for webhook {webhook_id}.")
    delivery = row[0]
    if delivery.state == "succeeded":
        raise Conflict(f"Delivery {delivery_id} already succeeded.")
    now = utcnow()
    delivery.state, delivery.next_attempt_at = "pending", now
    delivery.give_up_at = max(delivery.give_up_at, now)
    await session.flush()
    return (await _with_attempts(session, [row]))[0]


def _deliveries(clinic_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return (
        select(WebhookDelivery, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.clinic_id == clinic_id)
    )


async def _with_attempts(session: AsyncSession, rows) -> list[DeliveryRecord]:  # type: ignore[no-untyped-def]
    ids = [delivery.id for delivery, _type in rows]
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = defaultdict(list)
    if ids:
        found = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        for attempt in found:
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryRecord(delivery, event_type, attempts[delivery.id]) for delivery, event_type in rows]


def _cursor(cursor: str) -> tuple:  # type: ignore[type-arg]
    at, row_id = decode_cursor(cursor)
    if at.tzinfo is None:  # a hand-made cursor; the column refuses naive times
        raise invalid(["query", "cursor"], "not a cursor returned by this API")
    return at, row_id
