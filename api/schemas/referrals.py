"""Radiofrequency ablation referrals (contract: Referrals)."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from api.schemas.common import Note, RequestSchema, Schema, Storable

ReferralStatus = Literal["open", "acknowledged", "withdrawn"]


class ReferralPolicy(Schema):
    profile: str = Field(examples=["medicare"])
    version: int = Field(examples=[1])


class ProcedurePublic(Schema):
    name: str = Field(examples=["radiofrequency ablation"])
    nerves: list[str] = Field(examples=[["L3 medial branch", "L4 medial branch"]])
    cpt_first_joint: str = Field(examples=["64635"])
    cpt_each_additional_joint: str = Field(examples=["64636"])


class ReferralPublic(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    joint: str = Field(examples=["L4-L5"])
    side: Literal["left", "right"]
    region: Literal["cervical", "thoracic", "lumbar"]
    status: ReferralStatus = Field(examples=["open"])
    qualifying_block_ids: list[uuid.UUID] = Field(description="The two positive blocks that opened it.")
    recommended_at: datetime = Field(examples=["2026-11-09T10:00:00+00:00"])
    policy: ReferralPolicy
    procedure: ProcedurePublic
    warnings: list[Note]
    acknowledged_at: datetime | None = Field(examples=[None])
    external_order_id: str | None = Field(examples=["ORD-88213"])
    withdrawn_at: datetime | None = Field(examples=[None])
    withdrawn_reason: str | None = Field(examples=[None])


class ReferralPage(Schema):
    items: list[ReferralPublic]
    next_cursor: str | None = Field(examples=[None])


class AcknowledgeRequest(RequestSchema):
    external_order_id: Annotated[str, Storable] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        examples=["ORD-88213"],
        description="The order placed in the EHR for this referral.",
    )
