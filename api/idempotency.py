"""Idempotency-Key on POST (contract: Integration; IETF draft "The Idempotency-Key HTTP Header Field").

A pure ASGI middleware. For a POST carrying both a bearer API key and an `Idempotency-Key`:

1. One statement (api/services/idempotency.py) resolves the API key and INSERTs an `in_flight` record with
   ON CONFLICT DO NOTHING. The unique constraint (api_key_id, key) decides the one winner among concurrent
   retries on both databases; a loser reads the row that beat it and answers without running the request:
   another body -> 422, still in flight -> 409 (with Retry-After), completed -> the first response replayed
   byte for byte (status, body, Content-Type, Location, ETag) plus `Idempotent-Replayed: true`.
2. The winner runs the request, buffering the response. A response below 500 is recorded (`completed`)
   BEFORE it is sent, so a client that has seen the answer and retries always gets the replay, never a 409.
   A 5xx or an exception deletes the record: the request may be retried with the same key.

Crash window. The claim is committed on its own, before the request runs; the request's own transaction
sets the record's `applied_at` together with its writes (api/db.py, `mark_applied`), and step 2 records the
response in a third transaction. So after a crash (kill -9, power loss) an `in_flight` record tells which
side of the commit the request died on:
- no `applied_at`: the request's transaction never committed, so it wrote nothing. Once the record is
  older than its lease (`Settings.idempotency_lease_seconds`) a retry deletes it and runs. A request
  still running past its lease cannot then commit twice: its mark finds the record gone (or taken) and
  it rolls back with a 409.
- `applied_at` set: the writes are committed but the response was lost. Every retry gets a 409 saying so
  until the record expires; running it again could store a second patient, block or diary batch.

Keys are kept for `Settings.idempotency_ttl_hours` (>= 24 h). An expired record found on a conflict is
replaced; besides, each process deletes expired records at most every PURGE_EVERY_SECONDS (indexed).

A request without a resolvable API key is passed through untouched (the app answers 401) and stores nothing.
"""

import hashlib
import logging
import math
import re
import time
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Row
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import hash_token
from api.errors import field_error, problem
from api.logs import error_type
from api.schemas.common import problems
from api.services import idempotency as store

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
PURGE_EVERY_SECONDS = 300.0
_KEPT_HEADERS = (b"content-type", b"location", b"etag")
_KEY = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$")
_LOC = ["header", HEADER]
RECORD_STATE = "idempotency_record_id"  # the request's scope state: the record its transaction marks
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
        # -inf, not 0: monotonic() counts from boot, so 0 would skip purging on a freshly booted machine.
        self._last_purge = -math.inf

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
        attempt = store.Attempt(hash_token(token), key, scope["path"], request_hash)
        ttl = timedelta(hours=app.state.settings.idempotency_ttl_hours)
        lease = timedelta(seconds=app.state.settings.idempotency_lease_seconds)
        async with store.connection(app) as db:
            await self._maybe_purge(db, ttl)
            claim = await store.claim(db, app.state.engine.dialect.name, attempt, ttl, lease)
        if claim.existing is not None:
            await _answer_existing(claim.existing, request_hash, scope, receive, send)
        elif claim.record_id is not None:
            await self._run(app, scope, receive, send, claim.record_id)
        else:  # no such API key: the app answers 401, and nothing is stored
            await self.app(scope, receive, send)

    async def _run(
        self, app: FastAPI, scope: Scope, receive: Receive, send: Send, record_id: uuid.UUID
    ) -> None:
        captured = _Captured()
        scope.setdefault("state", {})[RECORD_STATE] = record_id  # for the request's own mark (api/db.py)
        try:
            await self.app(scope, receive, captured.send)
        except BaseException:
            await _settle(app, record_id, None)
            raise
        await _settle(app, record_id, captured)
        for message in captured.messages:
            await send(message)

    async def _maybe_purge(self, db: store.Db, ttl: timedelta) -> None:
        # Cheap and opportunistic: one indexed DELETE per process every few minutes.
        if time.monotonic() - self._last_purge >= PURGE_EVERY_SECONDS:
            self._last_purge = time.monotonic()
            await store.purge(db, ttl)


async def _settle(app: FastAPI, record_id: uuid.UUID, captured: _Captured | None) -> None:
    """Record an answer below 500; release the key after a 5xx or an exception so the client can retry."""
    try:
        async with store.connection(app) as db:
            if captured is None or captured.status >= 500:
                await store.release(db, record_id)
            else:
                body = captured.body.decode("utf-8", errors="replace")
                await store.complete(db, record_id, captured.status, body, captured.kept_headers())
    except Exception as exc:  # the answer still goes out; the key stays in flight (the crash window above)
        log.error("could not settle an Idempotency-Key record: %s", error_type(exc))  # no message: values


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
    if existing.applied_at is not None:
        detail = (
            f"The first request with this {HEADER} was applied, but its answer was lost. "
            "Look the resource up; do not retry it with a new key."
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


_REPLAYED = {
    "description": "`true` when this is the stored answer to an earlier request with this Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}


def _document(schema: dict[str, Any]) -> None:
    extra = problems(409, 422)
    for path_item in schema.get("paths", {}).values():
        operation = path_item.get("post")
        if operation is None:
            continue
        operation.setdefault("parameters", []).append(_PARAMETER)
        for code, response in operation["responses"].items():
            if code.startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = _REPLAYED
        for code, description in _EXTRA_RESPONSES.items():
            operation["responses"].setdefault(code, {**extra[int(code)], "description": description})


def install_idempotency(app: FastAPI) -> None:
    """Add the middleware and document the header on every POST operation of the OpenAPI document."""
    app.add_middleware(IdempotencyMiddleware)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())  # generate() caches the schema on the app; we annotate it in place
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
