"""Webhook subscriptions and their deliveries (contract: Integration)."""

import uuid
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from api.examples import schema_examples
from api.interop.codes import HL7_MESSAGES
from api.schemas.common import RequestSchema, Schema
from api.webhooks.targets import url_refusal

EventType = Literal["referral.recommended", "referral.withdrawn", "referral.fulfilled", "block.evaluated"]
Format = Literal["json", "hl7v2"]
FORMAT_DESCRIPTION = (
    "`json` (default): the event as JSON. `hl7v2`: the event as an HL7 v2.5.1 message "
    "(`application/hl7-v2`; `block.evaluated` becomes an ORU^R01, `referral.recommended` and "
    "`referral.fulfilled` an MDM^T02 carrying the level's outcome letter as a base64 PDF), in the same "
    "signed, retried delivery. `referral.withdrawn` has no HL7 v2 form."
)
URL_EXAMPLE = "https://interface-engine.clinic.internal/blocktrack"


class WebhookCreate(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("webhook_create"))

    url: str = Field(
        max_length=2000,
        description=(
            "http(s) URL receiving the events, without a user name or password. Private and loopback "
            "addresses are allowed; link-local (169.254.0.0/16, fe80::/10), cloud metadata hosts and "
            "unspecified addresses are not, however written, nor a host name resolving to one."
        ),
        examples=[URL_EXAMPLE],
    )
    events: list[EventType] = Field(
        min_length=1, max_length=10, description="Event types to send.", examples=[["referral.recommended"]]
    )

    format: Format = Field(default="json", description=FORMAT_DESCRIPTION, examples=["json"])

    @field_validator("format")
    @classmethod
    def _renderable(cls, format_: str, info: ValidationInfo) -> str:
        other = [e for e in info.data.get("events", []) if e not in HL7_MESSAGES]
        if format_ == "hl7v2" and other:
            raise ValueError(f"hl7v2 carries only {', '.join(HL7_MESSAGES)} events, not {', '.join(other)}")
        return format_

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
        refusal = url_refusal(url)
        if refusal is not None:
            raise ValueError(refusal)
        return url

    @field_validator("events")
    @classmethod
    def _unique(cls, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))


class WebhookPublic(Schema):
    id: uuid.UUID
    url: str = Field(examples=[URL_EXAMPLE])
    events: list[EventType] = Field(examples=[["referral.recommended", "referral.withdrawn"]])
    format: Format = Field(description=FORMAT_DESCRIPTION, examples=["json"])
    created_at: datetime


class WebhookCreated(WebhookPublic):
    model_config = ConfigDict(json_schema_extra=schema_examples("webhook_created"))

    secret: str = Field(
        description="Signing secret, shown only in this response. Verify `webhook-signature` with it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3Kl0VyMPLY8="],
    )


class WebhookList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("webhook_list"))

    items: list[WebhookPublic]
    next_cursor: str | None = Field(examples=[None])


class AttemptPublic(Schema):
    id: uuid.UUID
    attempted_at: datetime
    status_code: int | None = Field(
        description="The receiver's HTTP status; null when none came back.", examples=[500]
    )
    error: str | None = Field(
        description="Why the attempt failed, at most 200 characters: the status and its standard reason "
        "(the receiver's body is never stored), a network error, or a refused target.",
        examples=["HTTP 503 Service Unavailable"],
    )
    duration_ms: int = Field(examples=[42])


class DeliveryPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("delivery"))

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
    model_config = ConfigDict(json_schema_extra=schema_examples("delivery_list"))

    items: list[DeliveryPublic]
    next_cursor: str | None = Field(examples=[None])
