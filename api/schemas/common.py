"""Shared schema pieces: the base model, Note, pages and the problem+json documentation."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.errors import PROBLEM_JSON


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RequestSchema(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Note(Schema):
    code: str = Field(examples=["relief_sustained"])
    message: str = Field(examples=["Relief of 87.5% lasted 240 min; bupivacaine needs 180 min."])


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(examples=[["body", "readings", 3, "score"]])
    message: str = Field(examples=["NRS scores are whole numbers from 0 to 10"])


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["1 invalid field(s): body.readings.3.score"])
    errors: list[FieldProblem] | None = None


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or unknown API key",
    403: "The key's role may not do this",
    404: "Unknown, or belongs to another clinic",
    409: "Conflict with the current state",
    412: "If-Match does not match the current ETag",
    422: "The body or query failed validation; every failing field is listed",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problem+json errors an operation can answer."""
    return {
        code: {"model": Problem, "description": _DESCRIPTIONS[code], "content": {PROBLEM_JSON: {}}}
        for code in codes
    }


AUTHED = (401, 403, 422)
