"""Shared schema pieces: the base model, Note, pages and the problem+json documentation."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from api.errors import PROBLEM_JSON


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RequestSchema(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL and a lone surrogate cannot be encoded: refuse both as a 422, not a 500.
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text_unicode", "must be valid Unicode text") from None
    return value


# Use as `Annotated[str, StringConstraints(max_length=200), Storable]`.
Storable = AfterValidator(_storable)


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(minutes=10)  # clocks drift; a diary is not written ahead of time
FUTURE_MESSAGE = "must not be more than 10 minutes in the future"


def future_error(at: datetime) -> str | None:
    """For a time the server derives (a block's time plus minutes), the check a given time passes."""
    return FUTURE_MESSAGE if at > datetime.now(UTC) + FUTURE_SLACK else None


def _clinical_time(value: datetime) -> datetime:
    # Bounds keep UTC conversion from overflowing (year 1 or 9999 with an offset) and refuse
    # clinical events recorded as happening more than a few minutes from now.
    try:
        at = value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("time_range", "is outside the supported range") from None
    if at < EARLIEST:
        raise PydanticCustomError("time_range", "must be on or after 1900-01-01")
    if future_error(at):
        raise PydanticCustomError("time_future", FUTURE_MESSAGE)
    return at


# A timezone-aware time of a clinical event (a naive one is a 422), stored and returned in UTC.
ClinicalTime = Annotated[AwareDatetime, AfterValidator(_clinical_time)]


class Note(Schema):
    code: str = Field(examples=["relief_sustained"])
    message: str = Field(examples=["Relief of 87.5% lasted 240 min; bupivacaine needs 180 min."])


class LevelNote(Note):
    """A note on a level or a referral; one about a single block names it (CR-23)."""

    block_id: uuid.UUID | None = Field(
        default=None,
        examples=["67137079-5d2e-4c1a-9a8f-0b1c2d3e4f50"],
        description="The block the note is about: a qualifying block's own warning carried to its level.",
    )


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(examples=[["body", "readings", 3, "score"]])
    message: str = Field(examples=["NRS scores are whole numbers from 0 to 10"])


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    # No field examples: each status's example is a whole document beside the schema (api/openapi.py).
    type: str = Field(default="about:blank")
    title: str = Field(description="The status's reason phrase.")
    status: int = Field(description="The HTTP status, repeated.")
    detail: str = Field(description="What went wrong, for a person.")
    errors: list[FieldProblem] | None = None


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or unknown API key",
    403: "The key's role may not do this",
    404: "Unknown, or belongs to another clinic",
    409: "Conflict with the current state",
    412: "If-Match does not match the current ETag",
    422: "The body or query failed validation; every failing field is listed",
    429: "Too many requests for this key, or too many failed authentications from this address; "
    "wait for Retry-After seconds",
}


def _inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its `$defs` references replaced by the definitions themselves."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        return [resolve(item) for item in node] if isinstance(node, list) else node

    return dict(resolve(schema))


# Given inline under application/problem+json: with `model=` FastAPI would document the error body as
# application/json, a content type these responses never have.
PROBLEM_SCHEMA = _inline_defs(Problem.model_json_schema(mode="serialization"))


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problem+json errors an operation can answer."""
    return {
        code: {"description": _DESCRIPTIONS[code], "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
        for code in codes
    }


AUTHED = (401, 403, 422, 429)
