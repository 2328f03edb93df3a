"""The OpenAPI document teaches: every error has an example of its own status, every answer names its headers.

Routes declare what is particular to them: their statuses (`problems(...)` in api/schemas/common.py), an
`etag()` when they send one, and examples of documents that are not JSON models. This pass, run once on the
generated document, adds what every operation shares: a problem+json example per status, X-Request-ID on
every response, Location on 201 and 202, Retry-After on 429 and 503 (and on an Idempotency-Key still in
flight), and the 503 of a lost database connection. tests/test_openapi.py walks the result.
"""

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from api.errors import PROBLEM_JSON
from api.examples import restore_examples
from api.schemas.common import PROBLEM_SCHEMA

X_REQUEST_ID = {
    "description": "The request's id: the caller's `X-Request-ID` when it sent a safe one, else a new UUID. "
    "Audit events carry it as `request_id`.",
    "schema": {"type": "string"},
    "example": "9c13925e-db29-4967-b3f5-0c3daaea108a",
}
ETAG = {
    "description": "Strong validator of this representation; send it back as `If-Match` to update safely.",
    "schema": {"type": "string"},
    "example": '"1f121a65a4b72f19d12768ca2def23bb"',
}
LOCATION = {
    "description": "The URL of what was created (201), or where to follow the accepted work (202).",
    "schema": {"type": "string", "format": "uri-reference"},
    "example": "/v1/patients/c22938ae-7788-436c-ae82-70b1a3829127",
}
RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 0},
    "example": 1,
}

# Operations that answer without a database: no 503 for a lost connection.
NO_DATABASE = {
    ("get", "/healthz"),
    ("get", "/cds-services"),
    ("get", "/fhir/R4/metadata"),
    ("get", "/fhir/R4/.well-known/smart-configuration"),
}

SAMPLE_ID = "5e892c75-8dc2-4bf3-8b4e-d47f0afb851e"
# One example per status, in the words the service really uses (api/errors.py, api/auth.py, ...).
_DETAILS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The request is malformed.", {}),
    401: ("Unknown or revoked API key, or an expired access token.", {}),
    403: ("The 'staff' role may not do this (write_clinical is needed).", {}),
    404: ("No {noun} " + SAMPLE_ID + ".", {}),
    409: (
        "The {noun} was changed by another request at the same time; read it again and retry.",
        {"resource": "{noun}"},
    ),
    412: (
        "The resource changed since you read it (If-Match does not match the current ETag); "
        "read it again and retry.",
        {"current_etag": '"fbc435c01024a21d24226fcc54f00454"'},
    ),
    413: ("The request body is larger than this server accepts; send a smaller batch.", {}),
    422: ("1 invalid field(s): {loc}", {}),
    428: ("This update needs If-Match with the ETag of the resource you read.", {}),
    429: ("Too many requests for this API key; retry after the time in Retry-After.", {}),
    503: ("The database connection was lost; retry the request.", {}),
}
_REUSED = "was already used with a different request (method, path or body); use a new key"
# What a POST's Idempotency-Key adds to its 409 and 422 (api/idempotency.py).
_IDEMPOTENCY = {
    409: (
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        {"first_request_at": "2026-11-20T17:33:11.822019+00:00"},
    ),
    422: (
        f"Idempotency-Key {_REUSED}.",
        {
            "errors": [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "message": _REUSED,
                }
            ]
        },
    ),
}


def etag(status: int = 200) -> dict[int | str, dict[str, Any]]:
    """For a route's `responses=`: its `status` answer carries an ETag."""
    return {status: {"headers": {"ETag": ETAG}}}


# RFC 9110's names where Python's HTTPStatus still has the older ones.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def title(status: int) -> str:
    return _TITLES.get(status) or HTTPStatus(status).phrase


def problem_example(
    status: int, noun: str = "resource", detail: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A problem+json body as the service answers `status`; a `detail` given replaces the usual one
    and its extra members."""
    body = {"type": "about:blank", "title": title(status), "status": status}
    if detail is not None:
        return {**body, "detail": detail, **extra}
    template, fields = _DETAILS.get(status, (title(status), {}))
    usual = {
        key: value.format(noun=noun) if isinstance(value, str) else value for key, value in fields.items()
    }
    return {**body, "detail": template.format(noun=noun), **usual, **extra}


def _noun(path: str) -> str:
    """The resource a path names last: `/v1/blocks/{block_id}/void` is a block, `/v1/users` a user."""
    ids = re.findall(r"\{(\w+)_id\}", path)
    if ids:
        return ids[-1].replace("_", " ")
    return path.rstrip("/").rsplit("/", 1)[-1].removesuffix("s").replace("-", " ") or "resource"


def _invalid(operation: dict[str, Any], schemas: dict[str, Any]) -> tuple[list[str], str]:
    """A field this operation really refuses, and pydantic's message for it: the 422 to show."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in body:
        required = schemas[body["$ref"].rsplit("/", 1)[-1]].get("required", [])
        if required:
            return ["body", required[0]], "Field required"
        return ["body"], "Input should be a valid dictionary or object to extract fields from"
    params = {p["name"]: p["in"] for p in operation.get("parameters", [])}
    if "limit" in params:
        return ["query", "limit"], "Input should be less than or equal to 200"
    path_ids = [name for name, where in params.items() if where == "path" and name.endswith("_id")]
    if path_ids:
        return ["path", path_ids[-1]], "Input should be a valid UUID, invalid length: expected 36 characters"
    return ["query"], "Input should be a valid query"


def _validation_example(operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    loc, message = _invalid(operation, schemas)
    detail = f"1 invalid field(s): {'.'.join(loc)}"
    return problem_example(422, detail=detail, errors=[{"loc": loc, "message": message}])


def _problem_examples(
    status: int, method: str, path: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    value = _validation_example(operation, schemas) if status == 422 else problem_example(status, _noun(path))
    examples = {"problem": {"summary": title(status), "value": value}}
    if method == "post" and status in _IDEMPOTENCY:
        detail, extra = _IDEMPOTENCY[status]
        value = problem_example(status, detail=detail, **extra)
        examples["idempotency_key"] = {"summary": f"{title(status)}: Idempotency-Key", "value": value}
    return examples


def _document_problem(
    response: dict[str, Any],
    status: int,
    where: tuple[str, str],
    operation: dict[str, Any],
    schemas: dict[str, Any],
) -> None:
    """The status's example unless the route gave its own, and what an Idempotency-Key adds to a POST."""
    media = response.get("content", {}).get(PROBLEM_JSON)
    if media is None or "example" in media:
        return
    examples = media.setdefault("examples", {})
    generic = _problem_examples(status, *where, operation, schemas)
    if examples:
        generic.pop("problem")
    media["examples"] = {**examples, **generic}


def conflict(detail: str, **extra: Any) -> dict[int | str, dict[str, Any]]:
    """For a route's `responses=`: its 409, with the example of the conflict it really meets."""
    value = problem_example(409, detail=detail, **extra)
    media = {"schema": PROBLEM_SCHEMA, "examples": {"conflict": {"summary": "Conflict", "value": value}}}
    return {409: {"description": "Conflict with the current state", "content": {PROBLEM_JSON: media}}}


def _add_headers(response: dict[str, Any], status: int, method: str) -> None:
    headers = response.setdefault("headers", {})
    headers.setdefault("X-Request-ID", X_REQUEST_ID)
    if status in (201, 202):
        headers.setdefault("Location", LOCATION)
    if status in (429, 503) or (status == 409 and method == "post"):
        headers.setdefault("Retry-After", RETRY_AFTER)


def _unavailable() -> dict[str, Any]:
    return {
        "description": "The database connection was lost; retry after Retry-After",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }


def _document(schema: dict[str, Any]) -> None:
    schemas = schema.get("components", {}).get("schemas", {})
    restore_examples(schemas)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.get("responses", {})
            if (method, path) not in NO_DATABASE:
                responses.setdefault("503", _unavailable())
            for code, response in responses.items():
                status = int(code) if code.isdigit() else 0  # "default" and "4XX" name no one status
                if status:
                    _document_problem(response, status, (method, path), operation, schemas)
                _add_headers(response, status, method)


def document_api(app: FastAPI) -> None:
    """Call last in create_app: it completes what every other OpenAPI annotation left."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())  # generate() caches the schema on the app; annotated in place
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
