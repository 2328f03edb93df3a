"""The clinic's outcome policy (contract: Policy; CR-21)."""

from typing import Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt

from api.examples import schema_examples
from api.schemas.common import RequestSchema, Schema


class PolicyPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("policy"))

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
    blocks_required: int = Field(examples=[2], description="CR-26: positive blocks needed, 1 or 2.")
    enforce_coverage_criteria: bool = Field(
        examples=[True], description="CR-24: blocks that miss the coverage criteria do not count."
    )
    max_pair_interval_days: int = Field(examples=[180], description="CR-23: the longest gap within a pair.")
    enforce_pair_interval: bool = Field(
        examples=[False], description="CR-23: a pair further apart does not qualify (else a warning)."
    )
    repeat_rfa_threshold_pct: int = Field(examples=[50], description="CR-28: relief of a durable response.")
    repeat_rfa_min_days: int = Field(examples=[180], description="CR-28: how long it must last.")


class PolicyUpdate(RequestSchema):
    """A profile and any overrides; a setting left out takes the profile's default, not the current value."""

    model_config = ConfigDict(json_schema_extra=schema_examples("policy_update"))

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
    blocks_required: StrictInt | None = Field(
        default=None, examples=[None], description="1 or 2; only `custom` may set it (others fix it)."
    )
    enforce_coverage_criteria: StrictBool | None = Field(
        default=None, examples=[None], description="Any profile may set it; default: on for `medicare` only."
    )
    max_pair_interval_days: StrictInt | None = Field(default=None, examples=[180])
    enforce_pair_interval: StrictBool | None = Field(default=None, examples=[False])
    repeat_rfa_threshold_pct: StrictInt | None = Field(default=None, examples=[50])
    repeat_rfa_min_days: StrictInt | None = Field(default=None, examples=[180])

    def overrides(self) -> dict[str, object]:
        return self.model_dump(exclude={"profile", "version"}, exclude_none=True)
