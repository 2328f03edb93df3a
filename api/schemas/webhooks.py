"""Webhook subscriptions and their deliveries (contract: Integration)."""

import uuid
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from api.schemas.common import RequestSchema, Schema

EventType = Literal["referral.recommended", "referral.withdrawn", "block.evaluated"]
URL_EXAMPLE = "https://interface-engine.clinic.internal/blocktrack"


class WebhookCreate(RequestSchema):
    url: str = Field(
        max_length=2000,
        description="http(s) URL receiving the events. Private and loopback addresses are allowed.",
        examples=[URL_EXAMPLE],
    )
    events: list[EventType] = Field(
        min_length=1, max_length=10, description="Event types to send.", examples=[["referral.recommended"]]
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
            raise ValueError("must not contain spaces or control characters")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {exc}") from exc
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        if not parts.hostname:
            raise ValueError("must name a host")
        return url

    @field_validator("events")
    @classmethod
    def _unique(cls, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))


class WebhookPublic(Schema):
    id: uuid.UUID
    url: str = Field(examples=[URL_EXAMPLE])
    events: list[EventType] = Field(examples=[["referral.recommended", "referral.withdrawn"]])
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="Signing secret, shown only in this response. Verify `webhook-signature` with it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3Kl0VyMPLY8="],
    )


class WebhookList(Schema):
    items: list[WebhookPublic]
    next_cursor: str | None = Field(examples=[None])


class AttemptPublic(Schema):
    id: uuid.UUID
    attempted_at: datetime
    status_code: int | None = Field(
        description="The receiver's HTTP status; null when none came back.", examples=[500]
    )
    error: str | None = Field(examples=["HTTP 500: upstream unavailable"])
    duration_ms: int = Field(examples=[42])


class DeliveryPublic(Schema):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID = Field(description="Also the `webhook-id` header: receivers deduplicate on it.")
    event_type: EventType
    state: Literal["pending", "succeeded", "failed"]
    attempt_count: int = Field(examples=[3])
    next_attempt_at: datetime | None = Field(description="When a pending delivery is next tried.")
    give_up_at: datetime = Field(description="After this a failing delivery is marked failed.")
    last_status_code: int | None = Field(examples=[200])
    last_error: str | None = Field(examples=[None])
    created_at: datetime
    attempts: list[AttemptPublic] = Field(description="Every attempt, oldest first.")


class DeliveryList(Schema):
    items: list[DeliveryPublic]
    next_cursor: str | None = Field(examples=[None])
