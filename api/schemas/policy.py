"""The clinic's outcome policy (contract: Policy; CR-21)."""

from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from api.schemas.common import RequestSchema, Schema


class PolicyPublic(Schema):
    profile: Literal["medicare", "consensus", "strict", "custom"] = Field(examples=["medicare"])
    version: int = Field(examples=[1])
    threshold_pct: int = Field(examples=[80])
    min_readings: int = Field(examples=[2])
    onset_window_minutes: int = Field(examples=[60])
    required_minutes: dict[str, int] = Field(
        examples=[{"lidocaine": 60, "bupivacaine": 180, "ropivacaine": 180}]
    )
    diary_horizon_hours: int = Field(examples=[24])
    min_gap_hours: int = Field(examples=[24])
    min_baseline: dict[str, int] = Field(examples=[{"nrs": 4, "vas": 40}])
    require_concordance: bool = Field(examples=[False])


class PolicyUpdate(RequestSchema):
    """A profile and any overrides; a setting left out takes the profile's default, not the current value."""

    profile: Literal["medicare", "consensus", "strict", "custom"] = Field(examples=["consensus"])
    version: StrictInt | None = Field(
        default=None,
        examples=[3],
        description="Read-only, ignored (so a GET body can be sent back); use If-Match.",
    )
    threshold_pct: StrictInt | None = Field(
        default=None, examples=[None], description="Only `custom` may set it (1-100); others fix it."
    )
    min_readings: StrictInt | None = Field(default=None, examples=[2])
    onset_window_minutes: StrictInt | None = Field(default=None, examples=[60])
    required_minutes: dict[str, StrictInt] | None = Field(default=None, examples=[{"bupivacaine": 180}])
    diary_horizon_hours: StrictInt | None = Field(default=None, examples=[24])
    min_gap_hours: StrictInt | None = Field(default=None, examples=[24])
    min_baseline: dict[str, StrictInt] | None = Field(default=None, examples=[{"nrs": 4, "vas": 40}])
    require_concordance: StrictBool | None = Field(default=None, examples=[False])

    def overrides(self) -> dict[str, object]:
        return self.model_dump(exclude={"profile", "version"}, exclude_none=True)
