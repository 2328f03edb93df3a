import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin
from models.types import choice

DELIVERY_STATES = ("pending", "succeeded", "failed")


class WebhookSubscription(IdMixin, CreatedMixin, Base):
    __tablename__ = "webhook_subscription"
    __table_args__ = (Index("ix_webhook_subscription_clinic", "clinic_id"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    deleted_at: Mapped[datetime | None]


class OutboxEvent(IdMixin, CreatedMixin, Base):
    """An event written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_event"

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


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
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_until: Mapped[datetime | None]


class WebhookAttempt(IdMixin, Base):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery", "delivery_id", "attempted_at"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_delivery.id"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
