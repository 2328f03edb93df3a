"""Blocks: one injection session and its targets (contract: Blocks; CR-1..CR-5)."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from api.clinical.nomenclature import NomenclatureError, normalise_joint
from api.schemas.common import ClinicalTime, Note, RequestSchema, Schema, Storable

Procedure = Literal["medial_branch_block", "intra_articular_injection"]
Intent = Literal["diagnostic", "therapeutic"]
Agent = Literal["lidocaine", "bupivacaine", "ropivacaine", "saline_placebo", "other"]
Sedation = Literal["none", "minimal", "moderate", "monitored_anesthesia_care", "general"]
Guidance = Literal["fluoroscopy", "ct", "ultrasound", "none"]
PainScale = Literal["nrs", "vas"]
Status = Literal["active", "entered_in_error"]
MAX_RELIEF_MINUTES = 10080  # a week: longer than any local anaesthetic lasts


def canonical_joint(value: str) -> str:
    """CR-1 as a pydantic check: the canonical joint, or an error whose message shows the valid form."""
    try:
        return normalise_joint(value)
    except NomenclatureError as exc:
        raise PydanticCustomError("joint", str(exc)) from None


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# CR-1: any accepted spelling in, the canonical joint out; the error message shows the valid form.
Joint = Annotated[str, StringConstraints(max_length=16), Storable, AfterValidator(canonical_joint)]
# CR-2: sides in any case; `bilateral` is expanded into one target per side by the service.
Side = Annotated[Literal["left", "right"], BeforeValidator(_lower)]
SideOrBoth = Annotated[Literal["left", "right", "bilateral"], BeforeValidator(_lower)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000), Storable]
Notes = Annotated[str, StringConstraints(max_length=4000), Storable]


class TargetIn(RequestSchema):
    joint: Joint = Field(examples=["L4-L5"], description="Facet joint; `L4/L5` and `l4-5` are accepted.")
    side: SideOrBoth = Field(examples=["bilateral"], description="`bilateral` makes one target per side.")


class BlockCreate(RequestSchema):
    performed_at: ClinicalTime = Field(examples=["2026-11-20T09:30:00-05:00"])
    procedure: Procedure = "medial_branch_block"
    intent: Intent = "diagnostic"
    agent: Agent = Field(examples=["lidocaine"])
    expected_relief_minutes: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_RELIEF_MINUTES,
        examples=[None],
        description="Required for agent 'other', optional for 'saline_placebo', refused otherwise.",
    )
    concentration_pct: Decimal | None = Field(
        default=None, gt=0, le=100, max_digits=6, decimal_places=3, allow_inf_nan=False, examples=[2]
    )
    volume_ml_per_nerve: Decimal | None = Field(
        default=None, gt=0, le=20, max_digits=6, decimal_places=3, allow_inf_nan=False, examples=[0.5]
    )
    sedation: Sedation = "none"
    guidance: Guidance = "fluoroscopy"
    pain_scale: PainScale = "nrs"
    targets: list[TargetIn] = Field(
        min_length=1, max_length=46, examples=[[{"joint": "L4-L5", "side": "bilateral"}]]
    )
    notes: Notes | None = Field(default=None, examples=["Usual index pain: standing and walking."])


class BlockVoid(RequestSchema):
    reason: Reason = Field(examples=["Recorded on the wrong patient."])


class TargetPublic(Schema):
    id: uuid.UUID
    joint: str = Field(examples=["L4-L5"])
    side: Literal["left", "right"]
    region: Literal["cervical", "thoracic", "lumbar"]
    nerves: list[str] = Field(examples=[["L3 medial branch", "L4 medial branch"]])


class BlockPublic(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    performed_at: datetime = Field(examples=["2026-11-20T14:30:00Z"])
    procedure: Procedure
    intent: Intent
    agent: Agent
    expected_relief_minutes: int | None = Field(examples=[None])
    concentration_pct: float | None = Field(examples=[2.0])
    volume_ml_per_nerve: float | None = Field(examples=[0.5])
    sedation: Sedation
    guidance: Guidance
    pain_scale: PainScale
    notes: str | None = Field(examples=["Usual index pain: standing and walking."])
    status: Status
    void_reason: str | None = Field(examples=[None])
    voided_at: datetime | None = Field(examples=[None])
    created_at: datetime
    targets: list[TargetPublic]
    warnings: list[Note]


class BlockList(Schema):
    items: list[BlockPublic]
    next_cursor: str | None = Field(examples=[None])
