"""Errors under /fhir answer an OperationOutcome (application/fhir+json) instead of problem+json.

The app's handlers (api/errors.py) stay the one place for /v1; these wrap them and only take over for
FHIR paths, so every error there (401, 403, 404, a bad search parameter) reads as FHIR.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import ApiError, validation_errors
from api.fhir.documents import FHIR_JSON, operation_outcome
from api.interop.urls import FHIR_BASE


class FHIRResponse(JSONResponse):
    media_type = FHIR_JSON


def _expressions(errors: list[dict[str, Any]]) -> list[str]:
    # `["query", "_count"]` -> `_count`: FHIR names a search parameter by itself.
    return [".".join(str(part) for part in e["loc"][1:] or e["loc"]) for e in errors]


def _describe(exc: Exception) -> tuple[int, str, list[str]]:
    if isinstance(exc, ApiError):
        status = 400 if exc.status == 422 else exc.status
        return status, exc.detail, _expressions(exc.errors)
    if isinstance(exc, RequestValidationError):
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['message']}" for e in errors)
        return 400, f"Invalid search: {detail}", _expressions(errors)
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, str(exc.detail), []
    return 500, "An unexpected error occurred; it has been logged.", []


def outcome_response(exc: Exception) -> Response:
    status, detail, expressions = _describe(exc)
    body = operation_outcome(status, detail, expressions).model_dump(mode="json")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(exc, ApiError) and "retry_after" in exc.extra:  # a rate limit's 429
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return FHIRResponse(body, status_code=status, headers=headers or None)


def install_fhir_errors(app: FastAPI) -> None:
    """Call after install_error_handlers: wraps each of its handlers for the FHIR paths."""
    for exc_class in (ApiError, RequestValidationError, StarletteHTTPException, Exception):
        original = app.exception_handlers[exc_class]

        async def handler(request: Request, exc: Exception, original: Any = original) -> Response:
            if request.url.path.startswith(FHIR_BASE + "/") or request.url.path == FHIR_BASE:
                return outcome_response(exc)
            return await original(request, exc)  # type: ignore[no-any-return]

        app.add_exception_handler(exc_class, handler)
