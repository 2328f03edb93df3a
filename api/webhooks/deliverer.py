"""At-least-once delivery of the outbox: claim due deliveries, send them signed, record the result.

Each pass runs three steps so that no database transaction stays open across the network:
1. claim: one short transaction picks due deliveries and leases them (`locked_until`), then commits.
   PostgreSQL skips rows another worker is claiming (FOR UPDATE SKIP LOCKED); SQLite's BEGIN IMMEDIATE
   (api/db.py) serialises claimers instead. A worker that dies mid-send loses its lease when it expires.
2. send: concurrently, each bounded by the timeout and a cap on response bytes.
3. record: one short transaction per delivery writes the attempt and the next state.
"""

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.settings import Settings
from api.webhooks.signing import signed_headers
from models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from models.base import utcnow

log = logging.getLogger("blocktrack.webhooks")

ERROR_SNIPPET = 500  # characters of a failing response kept in last_error, for the admin reading it


@dataclass(frozen=True)
class Job:
    delivery_id: uuid.UUID
    url: str
    secret: str
    event_id: uuid.UUID
    body: bytes
    attempt: int  # 1 for the first attempt


@dataclass(frozen=True)
class Result:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Full jitter (AWS architecture blog): uniform over [0, min(cap, base * 2**(attempt-1))]."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt - 1, 40)))


def make_client(settings: Settings) -> httpx.AsyncClient:
    # No redirects: a receiver must answer at its registered URL. trust_env=False keeps proxy variables
    # from routing clinic-internal traffic elsewhere.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds), follow_redirects=False, trust_env=False
    )


class Deliverer:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.client = client
        # A claim outlives the longest possible send, so it only expires when its worker has died.
        self.lease = timedelta(seconds=2 * settings.webhook_timeout_seconds + 5)

    async def deliver_due(self, limit: int = 20, due_by: datetime | None = None) -> int:
        """One pass: claim up to `limit` deliveries due now (or by `due_by`, if earlier), send them and
        record the results. Returns how many were attempted."""
        jobs = await self._claim(limit, due_by)
        if jobs:
            results = await asyncio.gather(*(self._send(job) for job in jobs))
            for job, result in zip(jobs, results, strict=True):
                await self._record(job, result)
        return len(jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sleep `webhook_poll_seconds` whenever nothing was due."""
        while not stop.is_set():
            try:
                sent = await self.deliver_due()
            except Exception:  # a database blip must not end delivery for good
                log.exception("webhook delivery pass failed")
                sent = 0
            if not sent:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.webhook_poll_seconds)
                except TimeoutError:
                    pass

    async def _claim(self, limit: int, due_by: datetime | None) -> list[Job]:
        now = utcnow()
        query = (
            select(WebhookDelivery, WebhookSubscription.url, WebhookSubscription.secret, OutboxEvent.payload)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= min(now, due_by or now),
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
                WebhookSubscription.deleted_at.is_(None),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
        async with self.sessionmaker() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
            rows = (await session.execute(query)).all()
            for delivery, *_ in rows:
                delivery.locked_until = now + self.lease
        return [
            Job(d.id, url, secret, d.event_id, _body(payload), d.attempt_count + 1)
            for d, url, secret, payload in rows
        ]

    async def _send(self, job: Job) -> Result:
        attempted_at, started = utcnow(), time.monotonic()
        headers = signed_headers(job.secret, str(job.event_id), int(time.time()), job.body)
        status, error = None, None
        try:
            status, error = await self._post(job.url, headers, job.body)
        except TimeoutError:
            error = f"timed out after {self.settings.webhook_timeout_seconds:g} s"
        except httpx.TimeoutException as exc:
            error = f"timed out ({type(exc).__name__})"
        except Exception as exc:  # anything a receiver causes is that attempt's failure, never the worker's
            error = f"{type(exc).__name__}: {exc}"[:ERROR_SNIPPET]
        duration_ms = int((time.monotonic() - started) * 1000)
        return Result(attempted_at, status, error, duration_ms)

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, str | None]:
        """POST and return (status, error). The client's timeout bounds each network step; the deadline
        bounds the whole exchange, so a receiver trickling bytes cannot hold the deliverer."""
        deadline = asyncio.get_running_loop().time() + self.settings.webhook_timeout_seconds
        request = self.client.build_request("POST", url, content=body, headers=headers)
        async with asyncio.timeout_at(deadline):
            response = await self.client.send(request, stream=True)
        try:
            # The status line is the receiver's answer; the body is read only up to the cap and the
            # deadline (for the error message and so the connection can be reused), then dropped.
            head = b""
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    head = await _read_capped(response, self.settings.webhook_max_response_bytes)
        finally:
            await response.aclose()
        if response.is_success:
            return response.status_code, None
        if response.is_redirect:
            return response.status_code, f"redirect to {response.headers.get('location')!r} not followed"
        error = f"HTTP {response.status_code}: {head.decode(errors='replace')}"
        return response.status_code, error[:ERROR_SNIPPET]

    async def _record(self, job: Job, result: Result) -> None:
        async with self.sessionmaker() as session, session.begin():
            session.add(
                WebhookAttempt(
                    delivery_id=job.delivery_id,
                    attempted_at=result.attempted_at,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                )
            )
            delivery = await session.get(WebhookDelivery, job.delivery_id)
            if delivery is None or delivery.state != "pending":
                return  # deleted subscription or a concurrent manual change: keep the attempt, not the state
            delivery.attempt_count += 1
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error
            delivery.locked_until = None
            self._next_state(delivery, result)

    def _next_state(self, delivery: WebhookDelivery, result: Result) -> None:
        now = utcnow()
        if result.ok:
            delivery.state = "succeeded"
        elif now >= delivery.give_up_at:
            delivery.state = "failed"
        else:
            wait = backoff_seconds(
                delivery.attempt_count,
                self.settings.webhook_backoff_base_seconds,
                self.settings.webhook_backoff_cap_seconds,
            )
            # The last retry lands on give_up_at itself, so the window is used to its end.
            delivery.next_attempt_at = min(now + timedelta(seconds=wait), delivery.give_up_at)


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """Read at most `limit` bytes of the body; the rest is never downloaded (the stream is closed)."""
    received = bytearray()
    async for chunk in response.aiter_raw():
        received.extend(chunk[: limit - len(received)])
        if len(received) >= limit:
            break
    return bytes(received)


def _body(payload: dict) -> bytes:  # type: ignore[type-arg]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
