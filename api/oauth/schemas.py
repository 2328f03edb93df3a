"""Registering the systems that authenticate with signed JWTs: OAuth clients and CDS Hooks issuers."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from api.examples import schema_examples
from api.interop.jwt import check_jwks
from api.schemas.common import RequestSchema, Schema, Storable

Role = Literal["admin", "ehr", "staff", "viewer"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), Storable]
JWKS_EXAMPLE = {"keys": [{"kty": "EC", "crv": "P-384", "kid": "epic-2026", "x": "…", "y": "…"}]}
JWKS_URL_EXAMPLE = "https://ehr.clinic.org/.well-known/jwks.json"


def http_url(url: str) -> str:
    if any(ord(c) <= 0x20 for c in url):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return url


class KeySource(RequestSchema):
    """The public keys its JWTs are signed with: a JWK Set inline, or the URL it is published at."""

    jwks: dict[str, Any] | None = Field(
        default=None, description="A JWK Set of public RSA or EC keys.", examples=[JWKS_EXAMPLE]
    )
    jwks_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Where the JWK Set is published.",
        examples=[JWKS_URL_EXAMPLE],
    )

    @field_validator("jwks")
    @classmethod
    def _jwks(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            check_jwks(value)
        return value

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.jwks is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks or jwks_url")
        return self


class OAuthClientCreate(KeySource):
    model_config = ConfigDict(json_schema_extra=schema_examples("oauth_client_create"))

    name: Name = Field(examples=["Epic backend (production)"])
    role: Role = Field(
        examples=["ehr"],
        description="What its tokens may do: `system/*.read` acts as `viewer`, `system/*.write` as this.",
    )


class OAuthClientPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("oauth_client"))

    client_id: uuid.UUID = Field(description="The assertion's `iss` and `sub`.")
    name: str = Field(examples=["Epic backend (production)"])
    role: Role
    jwks_url: str | None = Field(examples=[JWKS_URL_EXAMPLE])
    token_url: str = Field(
        description="The token endpoint: also the `aud` of the client assertion.",
        examples=["https://blocktrack.clinic.org/oauth/token"],
    )
    created_at: datetime


class OAuthClientList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("oauth_client_list"))

    items: list[OAuthClientPublic]


class CdsIssuerCreate(KeySource):
    model_config = ConfigDict(json_schema_extra=schema_examples("cds_issuer_create"))

    issuer: Annotated[str, StringConstraints(min_length=1, max_length=500), Storable] = Field(
        description="The `iss` of the EHR's CDS Hooks JWTs.",
        examples=["https://fhir.clinic.org/interconnect"],
    )


class CdsIssuerPublic(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("cds_issuer"))

    id: uuid.UUID
    issuer: str = Field(examples=["https://fhir.clinic.org/interconnect"])
    jwks_url: str | None = Field(examples=[JWKS_URL_EXAMPLE])
    created_at: datetime


class CdsIssuerList(Schema):
    model_config = ConfigDict(json_schema_extra=schema_examples("cds_issuer_list"))

    items: list[CdsIssuerPublic]
