"""The caller's clinic (contract v1.1: Clinic; CR-30)."""

import uuid
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from api.examples import schema_examples
from api.schemas.common import RequestSchema, Schema, Storable

TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64), Storable]


class ClinicPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("clinic"))

    id: uuid.UUID
    name: str = Field(examples=["Riverside Spine"])
    time_zone: str = Field(
        examples=["America/Denver"], description="IANA time zone; sentences show times in it (CR-30)."
    )


class ClinicUpdate(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("clinic_update"))

    time_zone: TimeZone = Field(
        examples=["America/Denver"],
        description="An IANA name; changing it re-renders every stored sentence (a clinic-wide pass).",
    )
