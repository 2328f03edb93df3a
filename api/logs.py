"""Logs without patient data: the access log names the route, not the URL, and errors name their type.

Query strings carry MRNs (`GET /v1/patients?mrn=...`), and a database error's message carries the SQL
parameters (scores, reasons, MRNs). So uvicorn's own access log is off (`blocktrack serve`), each request
is logged here as `GET /v1/patients/{patient_id} 200 4.1ms request_id=...` (the route template, or the
path without its query string when no route matched), and an unexpected error is logged as its type, the
request id and the code locations of its traceback, never its message.
"""

import logging
import time
import traceback
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("blocktrack.access")
error_log = logging.getLogger("blocktrack.error")

# uvicorn's logging, plus our loggers on stderr (access lines on stdout, as uvicorn's were).
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "stderr": {"formatter": "plain", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "stdout": {"formatter": "plain", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "blocktrack.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "blocktrack": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "api": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def error_type(exc: BaseException) -> str:
    """`sqlalchemy.exc.OperationalError (sqlite3.OperationalError)`: the class, and the driver's below it."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    original = getattr(exc, "orig", None)
    if original is not None:
        name += f" ({type(original).__module__}.{type(original).__qualname__})"
    return name


def log_unexpected(exc: BaseException, request_id: str | None) -> None:
    """Type, request id and where it was raised (file, line, function): no message, no values."""
    frames = traceback.extract_tb(exc.__traceback__)
    # Our own frames say which request path failed; the last one where the error was raised.
    shown = [f for f in frames[:-1] if "site-packages" not in f.filename][-12:] + frames[-1:]
    where = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in shown)
    error_log.error("unexpected %s (request %s)\n%s", error_type(exc), request_id, where)


def route_of(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else str(scope["path"])


class AccessLogMiddleware:
    """Outermost: sees the status of every answer, Starlette's own 500s included, and stops the exception
    Starlette re-raises after its 500 (which uvicorn would print with its message) at a log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception as exc:
            log_unexpected(exc, _request_id(scope))
        finally:
            request_id = _request_id(scope)
            elapsed = (time.perf_counter() - started) * 1000
            access_log.info(
                "%s %s %d %.1fms request_id=%s", scope["method"], route_of(scope), status, elapsed, request_id
            )


def _request_id(scope: Scope) -> str | None:
    return scope.get("state", {}).get("request_id")  # set by RequestIdMiddleware, inside this one
