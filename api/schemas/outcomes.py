"""Outcome of a block (contract: Outcomes). Owned by the outcome engine."""

import uuid
from typing import Literal

from pydantic import ConfigDict, Field

from api.examples import schema_examples
from api.schemas.common import Note, Schema


class PolicyRef(Schema):
    profile: str = Field(examples=["medicare"])
    version: int = Field(examples=[1])
    threshold_pct: int = Field(examples=[80])


class ExcludedReading(Schema):
    reading_id: uuid.UUID
    reason: Literal["after_analgesic"] = Field(
        description="CR-25: taken with or after the first analgesic inside the horizon."
    )


class TargetOutcomePublic(Schema):
    target_id: uuid.UUID
    joint: str = Field(examples=["L4-L5"])
    side: Literal["left", "right"]
    verdict: Literal["positive", "negative", "indeterminate"]
    baseline: int | None = Field(examples=[8])
    peak_relief_pct: float | None = Field(examples=[87.5])
    sustained_relief_pct: float | None = Field(examples=[87.5])
    relief_duration_minutes: int = Field(examples=[60])
    required_minutes: int = Field(examples=[60])
    readings_used: list[uuid.UUID]
    excluded_readings: list[ExcludedReading] = Field(
        description="Readings kept but left out of the verdict (CR-25)."
    )
    reasons: list[Note]
    warnings: list[Note]


class OutcomePublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("outcome"))

    block_id: uuid.UUID
    policy: PolicyRef
    warnings: list[Note]
    targets: list[TargetOutcomePublic]
