"""Webhook subscriptions and deliveries (contract: Integration). Admin only."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from api.auth import Admin, Session
from api.pagination import Cursor, Limit
from api.schemas.common import AUTHED, problems
from api.schemas.webhooks import (
    AttemptPublic,
    DeliveryList,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookPublic,
)
from api.services import webhooks
from api.services.audit import AuditLog
from api.webhooks.targets import Resolver, system_resolve

router = APIRouter(prefix="/v1", tags=["webhooks"])


def target_resolver() -> Resolver:
    """How a target's host name is resolved at registration (a dependency, so a test can name its own)."""
    return system_resolve


TargetResolver = Annotated[Resolver, Depends(target_resolver)]


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, responses=problems(*AUTHED))
async def create_webhook(
    body: WebhookCreate,
    principal: Admin,
    session: Session,
    audit: AuditLog,
    response: Response,
    resolve: TargetResolver,
) -> WebhookCreated:
    """Subscribe a URL to events. The signing `secret` is in this response only."""
    subscription = await webhooks.create_subscription(
        session, principal.clinic_id, body.url, body.events, body.format, resolve
    )
    audit.record("create", "webhook", subscription.id)
    response.headers["Location"] = f"/v1/webhooks/{subscription.id}"
    return WebhookCreated.model_validate(subscription)


@router.get("/webhooks", response_model=WebhookList, responses=problems(*AUTHED))
async def list_webhooks(
    principal: Admin, session: Session, audit: AuditLog, limit: Limit = 50, cursor: Cursor = None
) -> WebhookList:
    items, next_cursor = await webhooks.list_subscriptions(session, principal.clinic_id, limit, cursor)
    audit.record("search", "webhook", result_ids=[s.id for s in items])
    return WebhookList(items=[WebhookPublic.model_validate(s) for s in items], next_cursor=next_cursor)


@router.delete(
    "/webhooks/{webhook_id}", status_code=204, response_class=Response, responses=problems(*AUTHED, 404)
)
async def delete_webhook(
    webhook_id: uuid.UUID, principal: Admin, session: Session, audit: AuditLog
) -> Response:
    """Stop the subscription; deliveries still owed to it are abandoned. Its history is kept."""
    await webhooks.delete_subscription(session, principal.clinic_id, webhook_id)
    audit.record("delete", "webhook", webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=DeliveryList, responses=problems(*AUTHED, 404)
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    principal: Admin,
    session: Session,
    audit: AuditLog,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryList:
    """Every delivery to this webhook, newest first, with every attempt and its response code; still
    readable after the webhook is deleted."""
    records, next_cursor = await webhooks.list_deliveries(
        session, principal.clinic_id, webhook_id, limit, cursor
    )
    audit.record("read", "webhook", webhook_id, result_ids=[r.delivery.id for r in records])
    return DeliveryList(items=[_delivery(r) for r in records], next_cursor=next_cursor)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=DeliveryPublic,
    responses=problems(*AUTHED, 404, 409),
)
async def retry_delivery(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: Admin,
    session: Session,
    audit: AuditLog,
    response: Response,
) -> DeliveryPublic:
    """Queue a pending or failed delivery to be sent now (a succeeded one is a 409)."""
    record = await webhooks.retry_delivery(session, principal.clinic_id, webhook_id, delivery_id)
    audit.record("retry", "webhook", webhook_id, result_ids=[delivery_id])
    response.headers["Location"] = f"/v1/webhooks/{webhook_id}/deliveries"  # where its state shows
    return _delivery(record)


def _delivery(record: webhooks.DeliveryRecord) -> DeliveryPublic:
    d = record.delivery
    return DeliveryPublic(
        id=d.id,
        webhook_id=d.subscription_id,
        event_id=d.event_id,
        event_type=record.event_type,  # type: ignore[arg-type]
        state=d.state,
        attempt_count=d.attempt_count,  # type: ignore[arg-type]
        next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
        give_up_at=d.give_up_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        attempts=[AttemptPublic.model_validate(a) for a in record.attempts],
    )
