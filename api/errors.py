"""The error hierarchy and the one place that renders problem+json (RFC 9457)."""

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.logs import log_unexpected

PROBLEM_JSON = "application/problem+json"
Loc = Sequence[str | int]
log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, *, errors: Sequence[dict[str, Any]] = (), **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra


class BadRequest(ApiError):
    status, title = 400, "Bad Request"


class Unauthorized(ApiError):
    status, title = 401, "Unauthorized"


class Forbidden(ApiError):
    status, title = 403, "Forbidden"


class NotFound(ApiError):
    status, title = 404, "Not Found"


class Conflict(ApiError):
    status, title = 409, "Conflict"


class PreconditionFailed(ApiError):
    status, title = 412, "Precondition Failed"


class TooManyRequests(ApiError):
    status, title = 429, "Too Many Requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)


class Unprocessable(ApiError):
    status, title = 422, "Unprocessable Content"


def field_error(loc: Loc, message: str) -> dict[str, Any]:
    return {"loc": list(loc), "message": message}


def invalid(loc: Loc, message: str) -> Unprocessable:
    """A 422 for one field, e.g. `raise invalid(["body", "targets", 0, "joint"], "...")`."""
    return Unprocessable(f"{'.'.join(map(str, loc))}: {message}", errors=[field_error(loc, message)])


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    extra: dict[str, Any] = dict(exc.extra)
    if exc.errors or exc.status == 422:
        extra["errors"] = exc.errors
    response = problem(exc.status, exc.title, exc.detail, **extra)
    if "retry_after" in extra:  # a 429: the header says it, the body repeats it for logs
        response.headers["Retry-After"] = str(extra["retry_after"])
    return response


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    # Pydantic adds union/function branch names to a loc; a client only needs the field path.
    noise = lambda part: isinstance(part, str) and ("[" in part or part.startswith("function-"))  # noqa: E731
    return [part for part in loc if not noise(part)]


_DATE_HINT = "write the date as YYYY-MM-DD, e.g. 1964-03-08"
_TIME_HINT = "write the date and time with its offset, e.g. 2026-11-20T09:30:00-05:00 (Z for UTC)"
_HINTS = {
    "timezone_aware": "add the time zone offset, e.g. 2026-11-20T09:30:00-05:00 (Z for UTC)",
    "date_parsing": _DATE_HINT,
    "date_from_datetime_parsing": _DATE_HINT,
    "date_from_datetime_inexact": _DATE_HINT,
    "datetime_parsing": _TIME_HINT,
    "datetime_from_date_parsing": _TIME_HINT,
}


def _message(error: Mapping[str, Any]) -> str:
    """Pydantic's message, or for the usual typing mistakes one that says what to type instead."""
    given = error.get("input")
    if error["type"] in ("int_type", "int_parsing") and isinstance(given, str) and "/" in given:
        return (
            f"type the score alone as a whole number, e.g. {given.split('/')[0].strip() or 7} (not {given})"
        )
    if error["type"] in _HINTS:
        return f"{_HINTS[error['type']]} (got {given!r})" if isinstance(given, str) else _HINTS[error["type"]]
    return str(error["msg"])


def validation_errors(errors: Iterable[Mapping[str, Any]], prefix: Loc = ()) -> list[dict[str, Any]]:
    """Pydantic's errors as field errors, each loc under `prefix` (e.g. a batch entry's place in the body)."""
    return [field_error([*prefix, *_clean_loc(e["loc"])], _message(e)) for e in errors]


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    fields = ", ".join(".".join(map(str, e["loc"])) for e in errors[:5])
    detail = f"{len(errors)} invalid field(s): {fields}"
    return problem(422, "Unprocessable Content", detail, errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's "There was an error parsing the body" (bytes that are not UTF-8 JSON): like any
        # other body that fails validation, a 422 naming the body, the status every operation documents.
        message = "The body is not a JSON document (UTF-8)."
        return problem(422, "Unprocessable Content", message, errors=[field_error(["body"], message)])
    response = problem(exc.status_code, _title(exc.status_code), str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


# What a table's rows are called in the API, for a conflict's message.
_RESOURCE_OF_TABLE = {
    "reading_version": "reading",
    "block_target": "block",
    "block_outcome": "block outcome",
    "target_outcome": "block outcome",
    "policy_version": "policy",
    "idempotency_record": "Idempotency-Key",
    "webhook_subscription": "webhook",
}
_UNIQUE_OR_FOREIGN_KEY = {"23505", "23503"}  # PostgreSQL SQLSTATEs
_SQLITE_CONFLICT = re.compile(r"(?:UNIQUE|FOREIGN KEY) constraint failed(?:: (\w+)\.)?")


def _conflict_table(exc: IntegrityError) -> tuple[bool, str | None]:
    """(is it a uniqueness or foreign-key conflict, the table it names) for PostgreSQL and SQLite."""
    cause = getattr(exc.orig, "__cause__", None)  # the asyncpg exception under SQLAlchemy's adapter
    if getattr(cause, "sqlstate", None) in _UNIQUE_OR_FOREIGN_KEY:
        return True, getattr(cause, "table_name", None)
    match = _SQLITE_CONFLICT.search(str(exc.orig))
    return (match is not None, match.group(1) if match else None)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A uniqueness or foreign-key conflict that a concurrent write caused (the checks before the write
    passed, then another transaction committed first): a 409 naming the resource, never a 500."""
    assert isinstance(exc, IntegrityError)
    conflict, table = _conflict_table(exc)
    if not conflict:
        return _logged_unexpected(request, exc)
    resource = _RESOURCE_OF_TABLE.get(table or "", (table or "resource").replace("_", " "))
    log.warning("integrity conflict on %s (request %s)", table, getattr(request.state, "request_id", None))
    detail = f"The {resource} was changed by another request at the same time; read it again and retry."
    return problem(409, "Conflict", detail, resource=resource)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A lost database connection (a restart, a failover) is a 503 the client may retry; the pool has
    already been invalidated, so the next request connects afresh. Anything else stays a 500."""
    assert isinstance(exc, DBAPIError)
    if not exc.connection_invalidated:
        return _logged_unexpected(request, exc)
    log.warning("database connection lost (request %s)", getattr(request.state, "request_id", None))
    response = problem(503, "Service Unavailable", "The database connection was lost; retry the request.")
    response.headers["Retry-After"] = "1"
    return response


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises the exception after this answer: api/logs.py logs it, by type only.
    return problem(500, "Internal Server Error", "An unexpected error occurred; it has been logged.")


def _logged_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A 500 for an error handled here, which is not re-raised: logged by type (its message holds the SQL
    parameters)."""
    log_unexpected(exc, getattr(request.state, "request_id", None))
    return problem(500, "Internal Server Error", "An unexpected error occurred; it has been logged.")


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
