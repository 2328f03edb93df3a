import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin
from models.types import choice

DELIVERY_STATES = ("pending", "succeeded", "failed")
WEBHOOK_FORMATS = ("json", "hl7v2")


class WebhookSubscription(IdMixin, CreatedMixin, Base):
    __tablename__ = "webhook_subscription"
    __table_args__ = (Index("ix_webhook_subscription_clinic", "clinic_id"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    # json: the event as JSON; hl7v2: the event rendered as an HL7 v2.5.1 message (application/hl7-v2).
    format: Mapped[str] = mapped_column(
        choice("webhook_format", *WEBHOOK_FORMATS), default="json", server_default="json"
    )
    deleted_at: Mapped[datetime | None]


class OutboxEvent(IdMixin, CreatedMixin, Base):
    """An event written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_event"

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Rendered once, with the event, when an hl7v2 subscription wants it: every attempt sends the same bytes.
    hl7_message: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(IdMixin, CreatedMixin, Base):
    """One event owed to one subscription; retried until it succeeds or its window closes."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
        Index("ix_webhook_delivery_subscription", "subscription_id", "created_at"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscription.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_event.id"))
    state: Mapped[str] = mapped_column(choice("webhook_delivery_state", *DELIVERY_STATES))
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    give_up_at: Mapped[datetime]
    last_status_code: Mapped[int | None]
    # A status and its standard reason, or a network error or refusal: never the receiver's body.
    last_error: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None]


class WebhookAttempt(IdMixin, Base):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery", "delivery_id", "attempted_at"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_delivery.id"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(200))
    duration_ms: Mapped[int]
