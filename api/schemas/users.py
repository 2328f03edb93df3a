"""People who sign in to the staff workspace (admin API: /v1/users)."""

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from api.examples import schema_examples
from api.schemas.common import RequestSchema, Schema, Storable

UserRole = Literal["admin", "clinician", "staff", "viewer"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("write an email address such as dana.whitfield@clinic.example")
    return value


Email = Annotated[str, StringConstraints(max_length=320), Storable, AfterValidator(_email)]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), Storable]


class UserCreate(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("user_create"))

    email: Email = Field(
        description="Unique inside the clinic (any case).", examples=["dana.whitfield@clinic.example"]
    )
    display_name: DisplayName = Field(examples=["Dana Whitfield"])
    role: UserRole = Field(
        examples=["staff"],
        description="`staff` reads, logs and corrects diaries and records blocks; `clinician` also "
        "acknowledges referrals; `viewer` reads; `admin` does everything, plus users.",
    )


class UserPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("user"))

    id: uuid.UUID
    email: str = Field(examples=["dana.whitfield@clinic.example"])
    display_name: str = Field(examples=["Dana Whitfield"])
    role: UserRole
    must_change_password: bool = Field(description="True until the one-time password is replaced.")
    disabled_at: datetime | None = Field(examples=[None])
    created_at: datetime


class UserWithPassword(UserPublic):
    model_config = ConfigDict(json_schema_extra=schema_examples("user_with_password"))

    password: str = Field(
        description="The one-time password, shown once; the first sign-in asks for a new one.",
        examples=["k7qd-3mzp-x9wa-tr2f"],
    )


class UserList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("user_list"))

    items: list[UserPublic]
    next_cursor: str | None = Field(examples=[None])
