"""Audit events (contract: Integration, `GET /v1/audit-events`)."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field
from pydantic_core import PydanticCustomError

from api.examples import schema_examples
from api.schemas.common import Schema


def _utc(value: datetime) -> datetime:
    # Year 1 or 9999 with an offset overflows when converted to UTC for the query: a 422, not a 500.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("time_range", "is outside the supported range") from None


# A timezone-aware instant (a naive one is a 422), converted to UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
Order = Literal["newest_first", "oldest_first"]


class AuditEventPublic(Schema):
    id: uuid.UUID = Field(examples=["0c9a6a55-8f3e-4a61-9d0c-6c1f7d2e4b11"])
    at: datetime = Field(description="When the call was made (UTC).", examples=["2026-11-26T09:12:00Z"])
    actor_key_id: uuid.UUID | None = Field(
        description="The API key that made the call; null for the command line.",
        examples=["7d1f0c1e-52a4-4b0e-9a51-0c3f5d9a7e21"],
    )
    actor_user_id: uuid.UUID | None = Field(
        default=None,
        description="The person signed in to the staff workspace who made the call; null for an API key.",
        examples=[None],
    )
    actor_name: str | None = Field(
        description="The key's name, or the person's name, at the time.", examples=["Epic bridge"]
    )
    role: str | None = Field(description="The key's or the person's role at the time.", examples=["ehr"])
    action: str = Field(
        description="`create`, `read`, `search`, `update`, `void`, `acknowledge`, ...", examples=["read"]
    )
    resource_type: str = Field(examples=["patient"])
    resource_id: str | None = Field(
        description="The resource read or changed; null for a search.",
        examples=["4b0f8f7e-2f7a-4a53-9a57-3f1d8d6c2b10"],
    )
    result_ids: list[str] | None = Field(
        description="For a search: the ids it returned (only this page).",
        examples=[["4b0f8f7e-2f7a-4a53-9a57-3f1d8d6c2b10"]],
    )
    request_id: str | None = Field(
        description="The call's X-Request-ID (the caller's, or one generated and echoed).",
        examples=["b7e2a0c4-3d6f-4f0e-8a11-2f4c9d7e6a30"],
    )
    client_addr: str | None = Field(description="The client's network address.", examples=["10.20.0.14"])
    patient_id: uuid.UUID | None = Field(
        default=None,
        description="The patient whose record was read or changed, when there is one.",
        examples=["4b0f8f7e-2f7a-4a53-9a57-3f1d8d6c2b10"],
    )


class AuditEventList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("audit_event_list"))

    items: list[AuditEventPublic]
    next_cursor: str | None = Field(examples=[None])
