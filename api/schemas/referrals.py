"""Radiofrequency ablation referrals (contract: Referrals)."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from api.examples import schema_examples
from api.schemas.common import LevelNote, RequestSchema, Schema, Storable

ReferralStatus = Literal["open", "acknowledged", "withdrawn", "fulfilled"]


class ReferralPolicy(Schema):
    profile: str = Field(examples=["medicare"])
    version: int = Field(examples=[1])


class ProcedurePublic(Schema):
    name: str = Field(examples=["radiofrequency ablation"])
    nerves: list[str] = Field(examples=[["L3 medial branch", "L4 medial branch"]])
    cpt_first_joint: str = Field(examples=["64635"])
    cpt_each_additional_joint: str = Field(examples=["64636"])


class ReferralPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("referral"))

    id: uuid.UUID
    patient_id: uuid.UUID
    joint: str = Field(examples=["L4-L5"])
    side: Literal["left", "right"]
    region: Literal["cervical", "thoracic", "lumbar"]
    payer_family: Literal["cervical_thoracic", "lumbar_sacral"] = Field(description="CR-22.")
    status: ReferralStatus = Field(examples=["open"])
    qualifying_block_ids: list[uuid.UUID] = Field(
        description="The positive blocks that opened it: two, or one under blocks_required 1 (CR-26)."
    )
    recommended_at: datetime = Field(examples=["2026-11-09T10:00:00+00:00"])
    policy: ReferralPolicy
    procedure: ProcedurePublic
    warnings: list[LevelNote] = Field(
        description="Payer guardrails, pair warnings, and the qualifying blocks' own warnings naming their "
        "`block_id` (CR-20, CR-23, CR-24)."
    )
    acknowledged_at: datetime | None = Field(examples=[None])
    external_order_id: str | None = Field(examples=["ORD-88213"])
    acknowledged_by: str | None = Field(
        default=None,
        examples=["Dr. Priya Natarajan"],
        description="Who acknowledged it: the person signed in, or the API key's name.",
    )
    withdrawn_at: datetime | None = Field(examples=[None])
    withdrawn_reason: str | None = Field(examples=[None])
    fulfilled_by_block_id: uuid.UUID | None = Field(
        examples=[None], description="The radiofrequency ablation that carried it out (CR-27)."
    )
    fulfilled_at: datetime | None = Field(examples=[None], description="When that ablation was performed.")


class ReferralPage(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("referral_page"))

    items: list[ReferralPublic]
    next_cursor: str | None = Field(examples=[None])


class AcknowledgeRequest(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("acknowledge"))

    external_order_id: Annotated[str, Storable] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        examples=["ORD-88213"],
        description="The order placed in the EHR for this referral.",
    )
