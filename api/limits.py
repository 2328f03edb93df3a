"""Bounded requests: a size limit and a time limit on request bodies, enforced as the body streams in.

Pure ASGI, outside authentication, Idempotency-Key handling and body parsing, so an anonymous client
cannot make the server hold more than the limit: a declared Content-Length over the limit is answered
413 before one byte of the body is read, and a body without one (chunked) is counted as it arrives and cut
off when it passes the limit. A body that has not arrived in full within the read timeout is answered 408.
Both answers say `Connection: close`, so the server closes the connection rather than read on (and
discard) the rest of what the client is sending.
"""

import asyncio
from typing import NoReturn

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem


class BodyRefused(Exception):
    """Raised into the app when its body was cut off; the client has already had its answer."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _refusal(status: int, max_bytes: int, timeout: float) -> tuple[str, str, dict[str, int | float]]:
    if status == 413:
        detail = f"The request body is larger than {max_bytes} bytes."
        return "Content Too Large", detail, {"max_body_bytes": max_bytes}
    detail = f"The request body did not arrive within {timeout:g} seconds."
    return "Request Timeout", detail, {"body_read_timeout_seconds": timeout}


class _Guarded:
    """One request's receive and send: counts the body, and after a refusal keeps the app's late answer
    (to the body it could not read) from reaching the client."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, limits: "BodyLimitMiddleware") -> None:
        self.scope, self._receive, self._send, self.limits = scope, receive, send, limits
        self.received = 0
        self.complete = False
        self.refused = False
        self.started = False
        self.deadline = asyncio.get_running_loop().time() + limits.read_timeout

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        if self.complete:  # after the body: a wait for a disconnect, which may last as long as a stream
            return await self._receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            await self.refuse(408)
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limits.max_bytes:
                await self.refuse(413)
            self.complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)

    async def refuse(self, status: int) -> NoReturn:
        self.refused = True
        if not self.started:
            await self.limits.answer(status, self.scope, self._send)
        raise BodyRefused(status)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self.answer(413, scope, send)
            return
        guarded = _Guarded(scope, receive, send, self)
        try:
            await self.app(scope, guarded.receive, guarded.send)
        except Exception:
            if not guarded.refused:
                raise
            # The app failed for want of the body we cut off; the refusal has answered the client.

    async def answer(self, status: int, scope: Scope, send: Send) -> None:
        title, detail, extra = _refusal(status, self.max_bytes, self.read_timeout)
        response = problem(status, title, detail, **extra)
        response.headers["Connection"] = "close"

        async def nothing_more() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing_more, send)
