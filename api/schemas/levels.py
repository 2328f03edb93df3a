"""A patient's nerve levels and their referral status (contract: Patients, levels)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.examples import schema_examples
from api.schemas.common import LevelNote, Schema

LevelStatusName = Literal[
    "no_blocks",
    "pending",
    "awaiting_confirmation",
    "referral_recommended",
    "not_indicated",
    "ablated",
    "repeat_rfa_eligible",
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
    payer_family: Literal["cervical_thoracic", "lumbar_sacral"] = Field(description="CR-22.")
    status: LevelStatusName = Field(examples=["referral_recommended"])
    blocks: list[LevelBlockPublic] = Field(description="Every block at this level, oldest first.")
    qualifying_block_ids: list[uuid.UUID] = Field(
        description="The positive block(s) behind awaiting_confirmation or referral_recommended; the "
        "ablation behind ablated or repeat_rfa_eligible."
    )
    referral_id: uuid.UUID | None = Field(description="The open or acknowledged referral of this level.")
    fulfilled_referral_id: uuid.UUID | None = Field(
        description="The referral the level's latest ablation fulfilled (CR-27), if any."
    )
    reasons: list[LevelNote]
    warnings: list[LevelNote] = Field(
        description="Pair warnings, and the qualifying blocks' own warnings naming their `block_id` (CR-23)."
    )
    policy_version: int = Field(examples=[1], description="The policy version the status was computed with.")


class LevelList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("level_list"))

    items: list[LevelPublic]
