"""The transactional outbox: events are written with the change that caused them.

emit() and emit_many() only write through the caller's session, so the events commit or roll back with
the change: a commit always has its events and a rollback never has one. Delivery happens later, from
another transaction (api/webhooks/deliverer.py).

An event is stored only for the subscriptions that want its type and exist when the change commits: with
no subscriber, a write stores no event at all (the audit log is the record of what happened). "Exist when
it commits" holds because creating a subscription takes every patient lock of the clinic
(api/services/webhooks.py): a write that emits holds its patient's lock from before it reads the
subscriptions until it commits, so it either commits before the subscription exists or sees it.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.bulk import copy_insert, is_postgresql
from api.settings import get_settings
from models import OutboxEvent, WebhookDelivery, WebhookSubscription
from models.base import utcnow

EVENT_TYPES = ("referral.recommended", "referral.withdrawn", "referral.fulfilled", "block.evaluated")
Event = tuple[str, dict[str, Any] | BaseModel]


async def emit(
    session: AsyncSession, clinic_id: uuid.UUID, event_type: str, data: dict[str, Any] | BaseModel
) -> dict[str, Any]:
    """Queue `event_type` with `data` (the referral or outcome, whole) for every matching subscription.

    Returns the delivery body: {"id", "type", "created_at", "data"}.
    """
    [body] = await emit_many(session, clinic_id, [(event_type, data)])
    return body


async def emit_many(
    session: AsyncSession, clinic_id: uuid.UUID, events: Sequence[Event], bulk: bool = False
) -> list[dict[str, Any]]:
    """emit() for a batch of (event_type, data): one subscription query and one INSERT per table.

    Events no subscription wants are dropped here; the bodies of all of them are returned.

    A clinic-wide re-evaluation (PUT /v1/policy) can publish thousands of events in one transaction;
    a query and a flush per event would dominate its time. `bulk` (such a pass): the rows are sent
    with COPY where the database has it (PostgreSQL), see bulk.copy_insert.
    """
    for event_type, _data in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
    if not events:
        return []
    now = utcnow()
    give_up_at = now + timedelta(hours=get_settings().webhook_retry_hours)
    subscriptions = await _subscriptions(session, clinic_id)
    bodies, outbox_rows, delivery_rows = [], [], []
    hl7_types = {t for _sub_id, types, format_ in subscriptions if format_ == "hl7v2" for t in types}
    for event_type, data in events:
        body = _body(event_type, data, now)
        bodies.append(body)
        if not any(event_type in types for _, types, _ in subscriptions):
            continue
        event_id = uuid.UUID(body["id"])
        outbox_rows.append(
            {"id": event_id, "clinic_id": clinic_id, "type": event_type, "payload": body, "created_at": now,
             "hl7_message": None}
        )  # fmt: skip
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
            for sub_id, types, _format in subscriptions
            if event_type in types
        ]
    await _render_hl7(session, clinic_id, outbox_rows, hl7_types)
    await _insert(session, OutboxEvent.__table__, outbox_rows, bulk)
    await _insert(session, WebhookDelivery.__table__, delivery_rows, bulk)
    return bodies


async def _insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]], bulk: bool) -> None:
    if not rows:
        return
    if bulk and is_postgresql(session):
        # An executemany binds each whole-outcome payload as a JSON parameter, row by row: COPY is cheaper.
        await copy_insert(session, table, rows, on_conflict=lambda stmt: stmt)
        return
    await session.execute(insert(table), rows)


def _body(event_type: str, data: dict[str, Any] | BaseModel, now: datetime) -> dict[str, Any]:
    # The body is fixed here, so every attempt (and every subscriber) gets the same bytes to verify.
    event_id = uuid.uuid4()
    return {"id": str(event_id), "type": event_type, "created_at": now.isoformat(), "data": _jsonable(data)}


async def _render_hl7(
    session: AsyncSession, clinic_id: uuid.UUID, rows: list[dict[str, Any]], hl7_types: set[str]
) -> None:
    """Render the HL7 v2 message of each event an hl7v2 subscription wants, once, before it is stored.

    A referral's MDM^T02 is left out: its letter's PDF is drawn by the deliverer (api/webhooks/letters.py),
    outside this write and its patient lock."""
    wanted = [(row["id"], row["type"], row["payload"]["data"]) for row in rows if row["type"] in hl7_types]
    if not wanted:
        return
    from api.services.hl7 import render_events  # the renderer reads the record; it is not needed otherwise

    messages = await render_events(session, clinic_id, wanted)
    for row in rows:
        row["hl7_message"] = messages.get(row["id"])


async def wanted_types(session: AsyncSession, clinic_id: uuid.UUID) -> set[str]:
    """The event types some live subscription of the clinic wants: a caller can skip building the rest."""
    return {event_type for _, types, _ in await _subscriptions(session, clinic_id) for event_type in types}


async def _subscriptions(
    session: AsyncSession, clinic_id: uuid.UUID
) -> list[tuple[uuid.UUID, list[str], str]]:
    rows = await session.execute(
        select(WebhookSubscription.id, WebhookSubscription.events, WebhookSubscription.format).where(
            WebhookSubscription.clinic_id == clinic_id, WebhookSubscription.deleted_at.is_(None)
        )
    )
    # `events` is a JSON list; a clinic has a handful of subscriptions: filtering here is cheap and portable.
    return [(sub_id, events, format_) for sub_id, events, format_ in rows]


def _jsonable(data: dict[str, Any] | BaseModel) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    return to_jsonable_python(data)
