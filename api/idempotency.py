"""Idempotency-Key on POST (contract: Integration; IETF draft "The Idempotency-Key HTTP Header Field").

A pure ASGI middleware. For a POST carrying both a bearer API key and an `Idempotency-Key`:

1. In its own short transaction it resolves the API key and INSERTs an `in_flight` record with
   ON CONFLICT DO NOTHING. The unique constraint (api_key_id, key) decides the one winner among concurrent
   retries on both databases; a loser reads the row that beat it and answers without running the request:
   another body -> 422, still in flight -> 409 (with Retry-After), completed -> the first response replayed
   byte for byte (status, body, Content-Type, Location, ETag) plus `Idempotent-Replayed: true`.
2. The winner runs the request, buffering the response. A response below 500 is recorded (`completed`)
   BEFORE it is sent, so a client that has seen the answer and retries always gets the replay, never a 409.
   A 5xx or an exception deletes the record: the request may be retried with the same key.

Crash window. The request's own transaction commits before step 2 records the response, in a second
transaction. If the process dies in between (kill -9, power loss), the write is committed and the record
stays `in_flight`. We keep it that way: every retry with that key gets 409 until the record expires, and the
409 says the outcome is unknown once the record is older than STALE_AFTER. The alternative, letting a retry
run again after a lease, could store a second patient, block or diary batch; a clinical record must not be
duplicated silently, so an explicit "look it up, then retry with a new key" is the safer failure.

Keys are kept for `Settings.idempotency_ttl_hours` (>= 24 h). An expired record found on a conflict is
replaced; besides, each process deletes expired records at most every PURGE_EVERY, using the created_at index.

A request without a resolvable API key is passed through untouched (the app answers 401) and stores nothing.
Tests replace `get_session` with a session inside a rolled-back transaction; the middleware joins that
override (called without arguments) so its records roll back with the test.
"""

import hashlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import hash_token
from api.db import get_session
from api.errors import PROBLEM_JSON, field_error, problem
from models import ApiKey, IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STALE_AFTER = timedelta(minutes=1)
PURGE_EVERY_SECONDS = 300.0
_KEPT_HEADERS = (b"content-type", b"location", b"etag")
_KEY = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$")
_LOC = ["header", HEADER]
_table = IdempotencyRecord.__table__
log = logging.getLogger(__name__)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _bearer_token(scope: Scope) -> str | None:
    raw = _header(scope, b"authorization")
    if raw is None:
        return None
    scheme, _, token = raw.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def parse_key(raw: bytes) -> str | None:
    """The key, or None if it is empty, over 255 characters or not printable ASCII.

    The draft sends the key as a Structured Fields string (`"abc"`); the bare form is accepted too.
    """
    text = raw.decode("latin-1").strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text if _KEY.match(text) else None


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}?".encode())
    digest.update(query + b"\n")
    digest.update(body)
    return digest.hexdigest()


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks, messages = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the real channel (for disconnects)."""
    pending = list(messages)

    async def _receive() -> Message:
        return pending.pop(0) if pending else await receive()

    return _receive


@asynccontextmanager
async def _transaction(app: FastAPI) -> AsyncIterator[AsyncSession]:
    override = app.dependency_overrides.get(get_session)
    if override is not None:
        async with asynccontextmanager(override)() as session:
            yield session
        return
    async with app.state.sessionmaker() as session, session.begin():
        yield session


def _insert(session: AsyncSession) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(_table)


async def _claim(
    session: AsyncSession, api_key_id: uuid.UUID, key: str, path: str, request_hash: str, ttl: timedelta
) -> Row[Any] | None:
    """Insert our in-flight record (returns None), or return the live record that holds the key."""
    now = datetime.now(UTC)
    for _ in range(3):
        values = {
            "id": uuid.uuid4(),
            "api_key_id": api_key_id,
            "key": key,
            "method": "POST",
            "path": path[:500],
            "request_hash": request_hash,
            "state": "in_flight",
            "created_at": now,
        }
        statement = _insert(session).values(**values).on_conflict_do_nothing().returning(_table.c.id)
        if (await session.execute(statement)).first() is not None:
            return None
        existing = (
            await session.execute(
                select(_table).where(_table.c.api_key_id == api_key_id, _table.c.key == key)
            )
        ).first()
        if existing is None:  # released by its owner (5xx) between the two statements: try again
            continue
        if existing.created_at >= now - ttl:
            return existing
        await session.execute(delete(_table).where(_table.c.id == existing.id))
    raise RuntimeError("could not claim an idempotency key")  # only under pathological churn


class _Captured:
    """The app's response, held back until the record is written."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        self.messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    def kept_headers(self) -> dict[str, str]:
        return {k.decode(): v.decode("latin-1") for k, v in self.headers if k.lower() in _KEPT_HEADERS}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._last_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        token = _bearer_token(scope) if raw_key is not None and scope["method"] == "POST" else None
        if token is None:  # not a keyed POST, or no API key: the app answers (401 for the latter)
            await self.app(scope, receive, send)
            return
        key = parse_key(raw_key or b"")
        if key is None:
            message = "must be 1 to 255 printable ASCII characters"
            response = problem(
                422, "Unprocessable Content", f"{HEADER}: {message}", errors=[field_error(_LOC, message)]
            )
            await response(scope, receive, send)
            return
        await self._keyed(scope, receive, send, key, token)

    async def _keyed(self, scope: Scope, receive: Receive, send: Send, key: str, token: str) -> None:
        app: FastAPI = scope["app"]
        body, messages = await _read_body(receive)
        receive = _replaying(messages, receive)
        request_hash = fingerprint("POST", scope["path"], scope.get("query_string", b""), body)
        ttl = timedelta(hours=app.state.settings.idempotency_ttl_hours)
        existing = None
        async with _transaction(app) as session:
            api_key_id = await session.scalar(
                select(ApiKey.id).where(ApiKey.key_hash == hash_token(token), ApiKey.revoked_at.is_(None))
            )
            if api_key_id is not None:
                await self._maybe_purge(session, ttl)
                existing = await _claim(session, api_key_id, key, scope["path"], request_hash, ttl)
        if api_key_id is None:
            await self.app(scope, receive, send)
        elif existing is not None:
            await _answer_existing(existing, request_hash, scope, receive, send)
        else:
            await self._run(app, scope, receive, send, api_key_id, key)

    async def _run(
        self, app: FastAPI, scope: Scope, receive: Receive, send: Send, api_key_id: uuid.UUID, key: str
    ) -> None:
        captured = _Captured()
        where = (_table.c.api_key_id == api_key_id) & (_table.c.key == key)
        try:
            await self.app(scope, receive, captured.send)
        except BaseException:
            await _release(app, where)
            raise
        if captured.status >= 500:
            await _release(app, where)
        else:
            await _complete(app, where, captured)
        for message in captured.messages:
            await send(message)

    async def _maybe_purge(self, session: AsyncSession, ttl: timedelta) -> None:
        # Cheap and opportunistic: one indexed DELETE per process every few minutes.
        if time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = time.monotonic()
        await session.execute(delete(_table).where(_table.c.created_at < datetime.now(UTC) - ttl))


async def _complete(app: FastAPI, where: Any, captured: _Captured) -> None:
    values = {
        "state": "completed",
        "response_status": captured.status,
        "response_body": captured.body.decode("utf-8", errors="replace"),
        "response_headers": captured.kept_headers(),
        "completed_at": datetime.now(UTC),
    }
    try:
        async with _transaction(app) as session:
            await session.execute(update(_table).where(where).values(**values))
    except Exception:  # the answer still goes out; the key stays in flight (see the crash window above)
        log.exception("could not record the response for an Idempotency-Key")


async def _release(app: FastAPI, where: Any) -> None:
    try:
        async with _transaction(app) as session:
            await session.execute(delete(_table).where(where))
    except Exception:
        log.exception("could not release an Idempotency-Key")


async def _answer_existing(
    existing: Row[Any], request_hash: str, scope: Scope, receive: Receive, send: Send
) -> None:
    if existing.request_hash != request_hash:
        message = "was already used with a different request (method, path or body); use a new key"
        response = problem(
            422, "Unprocessable Content", f"{HEADER} {message}.", errors=[field_error(_LOC, message)]
        )
    elif existing.state == "in_flight":
        response = _in_flight(existing)
    else:
        await _replay(existing, send)
        return
    await response(scope, receive, send)


def _in_flight(existing: Row[Any]) -> Any:
    if existing.created_at < datetime.now(UTC) - STALE_AFTER:
        detail = (
            f"The first request with this {HEADER} did not finish; it may or may not have been "
            "applied. Look the resource up before retrying with a new key."
        )
    else:
        detail = f"A request with this {HEADER} is still being processed; retry shortly."
    response = problem(409, "Conflict", detail, first_request_at=existing.created_at.isoformat())
    response.headers["Retry-After"] = "1"
    return response


async def _replay(existing: Row[Any], send: Send) -> None:
    body = (existing.response_body or "").encode("utf-8")
    headers = [(k.encode(), v.encode("latin-1")) for k, v in (existing.response_headers or {}).items()]
    headers += [(b"content-length", str(len(body)).encode()), (REPLAYED_HEADER.lower().encode(), b"true")]
    await send({"type": "http.response.start", "status": existing.response_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Makes a retried POST safe: the same key and request replays the first response "
    "(with `Idempotent-Replayed: true`); the same key with another request is a 422; the same key while "
    "the first request is still running is a 409. Keys are per API key and kept at least 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "8e03978e-40d5-43e8-bc93-6894a57f9324",
}
_EXTRA_RESPONSES = {
    "409": "Conflict, or a request with the same Idempotency-Key is still in flight",
    "422": "Validation failed, or the Idempotency-Key was used with another request",
}


def _document(schema: dict[str, Any]) -> None:
    ref = {"$ref": "#/components/schemas/Problem"}
    has_problem = "Problem" in schema.get("components", {}).get("schemas", {})
    for path_item in schema.get("paths", {}).values():
        operation = path_item.get("post")
        if operation is None:
            continue
        operation.setdefault("parameters", []).append(_PARAMETER)
        for code, description in _EXTRA_RESPONSES.items():
            content = {PROBLEM_JSON: {"schema": ref}} if has_problem else {PROBLEM_JSON: {}}
            operation["responses"].setdefault(code, {"description": description, "content": content})


def install_idempotency(app: FastAPI) -> None:
    """Add the middleware and document the header on every POST operation of the OpenAPI document."""
    app.add_middleware(IdempotencyMiddleware)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())  # generate() caches the schema on the app; we annotate it in place
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
