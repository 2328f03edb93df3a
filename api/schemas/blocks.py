"""Blocks: one injection session or ablation and its targets (contract: Blocks; CR-1..CR-5, CR-22, CR-24,
CR-27; v1.1: PATCH, history, coverage override)."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from api.clinical.nomenclature import NomenclatureError, normalise_joint
from api.examples import schema_examples
from api.schemas.common import ClinicalTime, Note, RequestSchema, Schema, Storable

Procedure = Literal["medial_branch_block", "intra_articular_injection", "radiofrequency_ablation"]
Intent = Literal["diagnostic", "therapeutic"]
Agent = Literal["lidocaine", "bupivacaine", "ropivacaine", "saline_placebo", "other"]
Sedation = Literal["none", "minimal", "moderate", "monitored_anesthesia_care", "general"]
Guidance = Literal["fluoroscopy", "ct", "ultrasound", "none"]
PainScale = Literal["nrs", "vas"]
Status = Literal["active", "entered_in_error"]
PayerFamily = Literal["cervical_thoracic", "lumbar_sacral"]
Change = Literal["create", "correct", "void", "override", "override_removed"]
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
    model_config = ConfigDict(json_schema_extra=schema_examples("block_create"))

    performed_at: ClinicalTime = Field(examples=["2026-11-20T09:30:00-05:00"])
    procedure: Procedure = Field(
        default="medial_branch_block",
        description="`radiofrequency_ablation` records the ablation itself (CR-27): therapeutic only.",
    )
    intent: Intent | None = Field(
        default=None,
        examples=["diagnostic"],
        description="Default `diagnostic`; `therapeutic` for (and only with) `radiofrequency_ablation`.",
    )
    agent: Agent = Field(
        examples=["lidocaine"], description="The local anaesthetic given (for an ablation, before lesioning)."
    )
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
    model_config = ConfigDict(json_schema_extra=schema_examples("block_void"))

    reason: Reason = Field(examples=["Recorded on the wrong patient."])


class BlockCorrection(RequestSchema):
    """The fields of a block that can be corrected (targets cannot: void and re-record for that). A field
    left out keeps its value; `null` clears an optional one."""

    model_config = ConfigDict(json_schema_extra=schema_examples("block_correction"))

    performed_at: ClinicalTime | None = Field(default=None, examples=["2026-11-20T09:45:00-05:00"])
    agent: Agent | None = Field(default=None, examples=["bupivacaine"])
    expected_relief_minutes: int | None = Field(
        default=None, strict=True, ge=1, le=MAX_RELIEF_MINUTES, examples=[None]
    )
    sedation: Sedation | None = Field(default=None, examples=["minimal"])
    guidance: Guidance | None = Field(default=None, examples=["fluoroscopy"])
    volume_ml_per_nerve: Decimal | None = Field(
        default=None, gt=0, le=20, max_digits=6, decimal_places=3, allow_inf_nan=False, examples=[0.5]
    )
    concentration_pct: Decimal | None = Field(
        default=None, gt=0, le=100, max_digits=6, decimal_places=3, allow_inf_nan=False, examples=[0.5]
    )
    reason: Reason = Field(examples=["Block time was entered as the check-in time."])


class CoverageOverrideIn(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("coverage_override_in"))

    reason: Reason = Field(
        examples=["Patient unable to lie prone without general anaesthesia; relief pattern reviewed."]
    )


class CoverageOverridePublic(Schema):
    reason: str = Field(examples=["Patient unable to lie prone without general anaesthesia."])
    by: str | None = Field(description="The API key's name.", examples=["Dr Okafor (EHR)"])
    at: datetime = Field(examples=["2026-11-21T10:00:00Z"])


class TargetPublic(Schema):
    id: uuid.UUID
    joint: str = Field(examples=["L4-L5"])
    side: Literal["left", "right"]
    region: Literal["cervical", "thoracic", "lumbar"]
    payer_family: PayerFamily = Field(description="CR-22: how payers and CPT group the joint.")
    nerves: list[str] = Field(examples=[["L3 medial branch", "L4 medial branch"]])


class BlockPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("block"))

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
    version: int = Field(examples=[1], description="+1 with each correction, override or void.")
    coverage_override: CoverageOverridePublic | None = Field(
        description="CR-24: the clinician's override of the coverage criteria, if any."
    )
    targets: list[TargetPublic]
    warnings: list[Note]


class BlockList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("block_list"))

    items: list[BlockPublic]
    next_cursor: str | None = Field(examples=[None])


class BlockVersionPublic(Schema):
    version: int = Field(examples=[2])
    change: Change = Field(examples=["correct"])
    performed_at: datetime = Field(examples=["2026-11-20T14:45:00Z"])
    agent: Agent
    expected_relief_minutes: int | None = Field(examples=[None])
    concentration_pct: float | None = Field(examples=[0.5])
    volume_ml_per_nerve: float | None = Field(examples=[0.5])
    sedation: Sedation
    guidance: Guidance
    status: Status
    coverage_override_reason: str | None = Field(examples=[None])
    changed_at: datetime
    changed_by: str | None = Field(examples=["Riverside EHR interface"])
    reason: str | None = Field(examples=["Block time was entered as the check-in time."])


class BlockHistory(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("block_history"))

    items: list[BlockVersionPublic] = Field(description="Every version, oldest first.")
