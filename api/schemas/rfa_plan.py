"""A patient's RFA plan (contract v1.1; CR-29)."""

import uuid
from typing import Literal

from pydantic import ConfigDict, Field

from api.examples import schema_examples
from api.schemas.common import Schema


class PlanTarget(Schema):
    joint: str = Field(examples=["L4-L5"])
    side: Literal["left", "right"]


class PlanCode(Schema):
    cpt: str = Field(examples=["64635"])
    modifier: Literal["50", "RT", "LT"] = Field(examples=["50"], description="50: both sides of the joint.")
    units: int = Field(examples=[1])


class PlanSession(Schema):
    targets: list[PlanTarget]
    nerves: list[str] = Field(examples=[["L3 medial branch", "L4 medial branch", "L5 dorsal ramus"]])
    codes: list[PlanCode] = Field(
        description="The primary code for the first joint, the add-on for the second."
    )
    referral_ids: list[uuid.UUID]


class FamilyPlan(Schema):
    payer_family: Literal["cervical_thoracic", "lumbar_sacral"]
    sessions: list[PlanSession] = Field(description="At most two joint levels each, head to foot.")


class RfaPlan(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("rfa_plan"))

    families: list[FamilyPlan]
