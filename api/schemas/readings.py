"""Readings: the pain diary (contract: Readings; CR-6, CR-7)."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PlainValidator, StringConstraints, ValidationError
from pydantic_core import ErrorDetails

from api.examples import schema_examples
from api.schemas.blocks import Joint, Reason, Side, SideOrBoth, Status
from api.schemas.common import ClinicalTime, RequestSchema, Schema, Storable
from api.schemas.outcomes import OutcomePublic

Phase = Literal["pre", "post"]
Source = Literal["patient_diary", "clinician", "ehr_import"]
MAX_MINUTES_AFTER = 10080  # a week: far past any diary horizon
MAX_BATCH = 500
Activity = Annotated[str, StringConstraints(max_length=500), Storable]
Analgesic = Annotated[str, StringConstraints(max_length=200), Storable]
NoteText = Annotated[str, StringConstraints(max_length=4000), Storable]
# CR-6: a whole number; "7" and 7.5 are refused. The block's scale (NRS 0-10, VAS 0-100) is checked later.
Score = Annotated[int, Field(strict=True, ge=0, le=100, examples=[7])]


class ReadingIn(RequestSchema):
    joint: Joint | None = Field(default=None, examples=["L4-L5"], description="Only targets at this joint.")
    side: SideOrBoth | None = Field(default=None, examples=["left"], description="Only targets on this side.")
    phase: Phase = Field(examples=["post"])
    recorded_at: ClinicalTime | None = Field(
        default=None, examples=["2026-11-20T15:00:00Z"], description="Give this or `minutes_after_block`."
    )
    minutes_after_block: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_MINUTES_AFTER,
        examples=[30],
        description="Give this or `recorded_at`; the time is the block's time plus these minutes.",
    )
    score: Score = Field(description="NRS 0-10 or VAS 0-100, per the block's `pain_scale`.")
    activity: Activity | None = Field(default=None, examples=["walking 10 minutes"])
    analgesic_taken: bool = Field(default=False, strict=True, examples=[False])
    analgesic: Analgesic | None = Field(
        default=None, examples=[None], description="What was taken; only with `analgesic_taken: true`."
    )
    note: NoteText | None = Field(default=None, examples=[None])
    source: Source = Field(default="patient_diary", examples=["patient_diary"])


class InvalidReading:
    """A batch entry that failed its own checks (type, range, enum, naive time), kept in its place so the
    service can report it in the same 422 as the block-dependent errors of the other entries."""

    def __init__(self, errors: list[ErrorDetails]) -> None:
        self.errors = errors  # pydantic's, each loc relative to the entry


def _entry(value: Any) -> ReadingIn | InvalidReading:
    try:
        return ReadingIn.model_validate(value)
    except ValidationError as exc:
        return InvalidReading(exc.errors(include_url=False))


# Validated one by one: a type error in one entry must not hide the block's checks of the others
# (contract: a 422 lists every failing entry). Documented as a plain ReadingIn.
ReadingEntry = Annotated[ReadingIn | InvalidReading, PlainValidator(_entry, json_schema_input_type=ReadingIn)]


class ReadingBatchIn(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("reading_batch_in"))

    readings: list[ReadingEntry] = Field(min_length=1, max_length=MAX_BATCH)


class ReadingAmend(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("reading_amend"))

    score: Score | None = None
    recorded_at: ClinicalTime | None = Field(default=None, examples=["2026-11-20T15:05:00Z"])
    reason: Reason = Field(examples=["Patient corrected the 30-minute score."])


class ReadingVoid(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("reading_void"))

    reason: Reason = Field(examples=["Entered against the wrong block."])


class ReadingPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("reading"))

    id: uuid.UUID
    block_id: uuid.UUID
    target_id: uuid.UUID
    joint: str = Field(examples=["L4-L5"])
    side: Side
    phase: Phase
    recorded_at: datetime = Field(examples=["2026-11-20T15:00:00Z"])
    minutes_after_block: int = Field(examples=[30], description="Whole minutes, floored; negative before.")
    score: int = Field(examples=[2])
    activity: str | None = Field(examples=["walking 10 minutes"])
    analgesic_taken: bool
    analgesic: str | None = Field(examples=[None])
    note: str | None = Field(examples=["could bend to tie shoes"])
    source: Source
    status: Status
    version: int = Field(examples=[1])
    created_at: datetime


class ReadingList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("reading_list"))

    items: list[ReadingPublic]
    next_cursor: str | None = Field(examples=[None])


class ReadingVersionPublic(Schema):
    version: int = Field(examples=[1])
    score: int = Field(examples=[2])
    recorded_at: datetime
    status: Status
    changed_at: datetime
    changed_by: str | None = Field(examples=["Riverside EHR interface"])
    reason: str | None = Field(examples=[None])


class ReadingHistory(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("reading_history"))

    items: list[ReadingVersionPublic]


class ReadingBatchPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("reading_batch"))

    readings: list[ReadingPublic]
    outcome: OutcomePublic = Field(description="The block's outcome re-evaluated with these readings.")
