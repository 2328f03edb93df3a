"""A patient's nerve levels and their referral status (contract: Patients, levels)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import Note, Schema

LevelStatusName = Literal[
    "no_blocks", "pending", "awaiting_confirmation", "referral_recommended", "not_indicated"
]


class LevelBlockPublic(Schema):
    """One block at this level with its verdict for this level's target."""

    block_id: uuid.UUID
    performed_at: datetime = Field(examples=["2026-11-02T09:30:00+00:00"])
    agent: str = Field(examples=["lidocaine"])
    verdict: Literal["positive", "negative", "indeterminate"] | None = Field(
        examples=["positive"], description="Null only while the block has not been evaluated."
    )
    procedure: str = Field(examples=["medial_branch_block"])
    intent: str = Field(examples=["diagnostic"])
    status: Literal["active", "entered_in_error"] = Field(
        examples=["active"], description="Voided blocks are listed but never count (CR-16)."
    )


class LevelPublic(Schema):
    joint: str = Field(examples=["L4-L5"])
    side: Literal["left", "right"]
    region: Literal["cervical", "thoracic", "lumbar"]
    status: LevelStatusName = Field(examples=["referral_recommended"])
    blocks: list[LevelBlockPublic] = Field(description="Every block at this level, oldest first.")
    qualifying_block_ids: list[uuid.UUID]
    referral_id: uuid.UUID | None = Field(description="The open or acknowledged referral of this level.")
    reasons: list[Note]
    warnings: list[Note]
    policy_version: int = Field(examples=[1], description="The policy version the status was computed with.")


class LevelList(Schema):
    items: list[LevelPublic]
