"""The clinic's API keys (admin API: /v1/api-keys). Secrets are shown once, when made, never listed."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.examples import schema_examples
from api.schemas.common import Schema

KeyRole = Literal["admin", "ehr", "staff", "viewer"]


class ApiKeyPublic(Schema):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=schema_examples("api_key"))

    id: uuid.UUID
    name: str = Field(examples=["Epic bridge"])
    role: KeyRole
    created_at: datetime
    expires_at: datetime | None = Field(
        description="Refused from then on (a rotated key's grace period ends here); null: no expiry.",
        examples=[None],
    )
    revoked_at: datetime | None = Field(examples=[None])
    last_used_at: datetime | None = Field(
        description="The last request made with it, to the minute (written at most once a minute).",
        examples=["2026-12-02T09:12:00Z"],
    )


class ApiKeyList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("api_key_list"))

    items: list[ApiKeyPublic]
    next_cursor: str | None = Field(examples=[None])


class RotatedKey(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("rotated_key"))

    key_id: uuid.UUID = Field(description="The replacement's id.")
    api_key: str = Field(description="The replacement's secret, shown once.", examples=["bt_..."])
    old_key_valid_until: datetime = Field(
        description="The old key keeps working until then (BLOCKTRACK_KEY_ROTATION_GRACE_HOURS, 24 h by "
        "default, or its own earlier expiry)."
    )
