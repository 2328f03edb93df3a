"""Patients (contract: Patients)."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from api.clinical.identifiers import normalise_mrn
from api.examples import schema_examples
from api.schemas.common import RequestSchema, Schema, Storable

Mrn = Annotated[str, StringConstraints(min_length=1, max_length=64), Storable]
Name = Annotated[str, StringConstraints(max_length=200), Storable]


class PatientCreate(RequestSchema):
    model_config = ConfigDict(json_schema_extra=schema_examples("patient_create"))

    mrn: Mrn = Field(description="Medical record number, unique inside the clinic.", examples=["MRN-004217"])
    name: Name | None = Field(default=None, examples=["Maria Alvarez"])
    birth_date: date | None = Field(default=None, examples=["1961-04-09"])

    @field_validator("mrn")
    @classmethod
    def _mrn_not_blank(cls, value: str) -> str:
        # Surrounding spaces, an invisible character or another Unicode composition would make
        # " 42", "\u200b42" and "42" three patients: the unique check sees the normalised form.
        value = normalise_mrn(value)
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("birth_date")
    @classmethod
    def _birth_date_sane(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("must be between 1900-01-01 and today")
        return value


class PatientPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("patient"))

    id: uuid.UUID = Field(examples=["4b0f8f7e-2f7a-4a53-9a57-3f1d8d6c2b10"])
    mrn: str = Field(examples=["MRN-004217"])
    name: str | None = Field(examples=["Maria Alvarez"])
    birth_date: date | None = Field(examples=["1961-04-09"])
    created_at: datetime = Field(examples=["2026-11-26T09:12:00Z"])


class PatientList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("patient_list"))

    items: list[PatientPublic]
    next_cursor: str | None = Field(examples=[None])
