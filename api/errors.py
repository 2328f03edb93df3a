"""The error hierarchy and the one place that renders problem+json (RFC 9457)."""

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
Loc = Sequence[str | int]


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
    return problem(exc.status, exc.title, exc.detail, **extra)


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    # Pydantic adds union/function branch names to a loc; a client only needs the field path.
    noise = lambda part: isinstance(part, str) and ("[" in part or part.startswith("function-"))  # noqa: E731
    return [part for part in loc if not noise(part)]


def validation_errors(errors: Iterable[Mapping[str, Any]], prefix: Loc = ()) -> list[dict[str, Any]]:
    """Pydantic's errors as field errors, each loc under `prefix` (e.g. a batch entry's place in the body)."""
    return [field_error([*prefix, *_clean_loc(e["loc"])], e["msg"]) for e in errors]


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


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
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
    app.add_exception_handler(Exception, _unexpected)
