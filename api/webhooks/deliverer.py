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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.interop.codes import LETTER_EVENTS
from api.logs import error_type
from api.settings import Settings
from api.webhooks.connect import CheckedTransport
from api.webhooks.letters import letter_message
from api.webhooks.signing import signed_headers
from api.webhooks.targets import ForbiddenTarget, Resolver, system_resolve, url_refusal
from models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from models.base import utcnow

log = logging.getLogger("blocktrack.webhooks")

HL7_V2 = "application/hl7-v2"
# A pass renders at most this many outcome letters (MDM^T02), each given this many seconds in the lease.
LETTERS_PER_PASS = 4
LETTER_SECONDS = 3
# The most of an error kept (the column's size). A receiver's answer is kept as its status code and the
# standard reason phrase for it, never its body or its own words: what a target answers stays there.
ERROR_LIMIT = 200


@dataclass(frozen=True)
class Job:
    delivery_id: uuid.UUID
    url: str
    secret: str
    event_id: uuid.UUID
    body: bytes
    content_type: str
    attempt: int  # 1 for the first attempt
    clinic_id: uuid.UUID | None = None
    letter: dict[str, Any] | None = None  # the event, while its MDM^T02 is still to be rendered
    error: str | None = None  # why the message could not be made: the attempt fails without sending


@dataclass(frozen=True)
class Result:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    refused: bool = False  # a target we will not call: failed at once, not retried

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Full jitter (AWS architecture blog): uniform over [0, min(cap, base * 2**(attempt-1))]."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt - 1, 40)))


def make_client(settings: Settings, resolve: Resolver = system_resolve) -> httpx.AsyncClient:
    # No redirects: a receiver must answer at its registered URL. trust_env=False keeps proxy variables
    # from routing clinic-internal traffic elsewhere. Every connection is checked (api/webhooks/connect.py).
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        transport=CheckedTransport(resolve),
    )


class Deliverer:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.client = client
        # A claim outlives the letters a pass renders and the longest possible send, so it only expires
        # when its worker has died.
        letters = LETTERS_PER_PASS * LETTER_SECONDS
        self.lease = timedelta(seconds=2 * settings.webhook_timeout_seconds + 5 + letters)

    async def deliver_due(self, limit: int = 20, due_by: datetime | None = None) -> int:
        """One pass: claim up to `limit` deliveries due now (or by `due_by`, if earlier), send them and
        record the results. Returns how many were attempted."""
        jobs = await self._claim(limit, due_by)
        if jobs:
            jobs = await self._with_letters(jobs)
            results = await asyncio.gather(*(self._attempt(job) for job in jobs))
            for job, result in zip(jobs, results, strict=True):
                await self._record(job, result)
        return len(jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sleep `webhook_poll_seconds` whenever nothing was due."""
        while not stop.is_set():
            try:
                sent = await self.deliver_due()
            except Exception as exc:  # a database blip must not end delivery for good
                log.error("webhook delivery pass failed: %s", error_type(exc))  # no message: SQL values
                sent = 0
            if not sent:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.webhook_poll_seconds)
                except TimeoutError:
                    pass

    async def _claim(self, limit: int, due_by: datetime | None) -> list[Job]:
        now = utcnow()
        query = (
            select(
                WebhookDelivery,
                WebhookSubscription.url,
                WebhookSubscription.secret,
                OutboxEvent.payload,
                WebhookSubscription.format,
                OutboxEvent.hl7_message,
                OutboxEvent.clinic_id,
            )
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
            rows = _letters_capped((await session.execute(query)).all())
            for delivery, *_ in rows:
                delivery.locked_until = now + self.lease
        return [
            Job(
                d.id,
                url,
                secret,
                d.event_id,
                *_content(payload, format_, hl7),
                d.attempt_count + 1,
                clinic_id,
                payload if _wants_letter(payload, format_, hl7) else None,
            )
            for d, url, secret, payload, format_, hl7, clinic_id in rows
        ]

    async def _with_letters(self, jobs: list[Job]) -> list[Job]:
        """Render the MDM^T02 of each claimed referral event that has none yet (once per event)."""
        made: dict[uuid.UUID, tuple[bytes, str | None]] = {}
        for job in jobs:
            if job.letter is None or job.event_id in made or job.clinic_id is None:
                continue
            try:
                message = await letter_message(self.sessionmaker, job.clinic_id, job.event_id, job.letter)
                made[job.event_id] = (message.encode(), None)
            except Exception as exc:  # e.g. the level is gone: this attempt fails and is retried like any
                log.error("letter for event %s not rendered: %s", job.event_id, error_type(exc))  # no values
                made[job.event_id] = (b"", f"letter not rendered: {type(exc).__name__}"[:ERROR_LIMIT])
        return [
            replace(job, body=made[job.event_id][0], error=made[job.event_id][1], letter=None)
            if job.event_id in made
            else job
            for job in jobs
        ]

    async def _attempt(self, job: Job) -> Result:
        if job.error is not None:
            return Result(utcnow(), None, job.error, 0)
        return await self._send(job)

    async def _send(self, job: Job) -> Result:
        attempted_at, started = utcnow(), time.monotonic()
        headers = signed_headers(job.secret, str(job.event_id), int(time.time()), job.body, job.content_type)
        status, error = None, None
        try:
            refusal = url_refusal(job.url)  # for subscriptions registered before these rules
            if refusal is not None:
                raise ForbiddenTarget(refusal)
            status, error = await self._post(job.url, headers, job.body)
        except ForbiddenTarget as exc:
            error = f"refused: {exc}"[:ERROR_LIMIT]
            return Result(attempted_at, None, error, int((time.monotonic() - started) * 1000), refused=True)
        except TimeoutError:
            error = f"timed out after {self.settings.webhook_timeout_seconds:g} s"
        except httpx.TimeoutException as exc:
            error = f"timed out ({type(exc).__name__})"
        except Exception as exc:  # anything a receiver causes is that attempt's failure, never the worker's
            error = f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]
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
            # deadline, so the connection can be reused, and dropped unread.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await _drain(response, self.settings.webhook_max_response_bytes)
        finally:
            await response.aclose()
        if response.is_success:
            return response.status_code, None
        reason = f"HTTP {response.status_code} {httpx.codes.get_reason_phrase(response.status_code)}".strip()
        return response.status_code, f"{reason}: redirect not followed" if response.is_redirect else reason

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
        elif result.refused or now >= delivery.give_up_at:
            delivery.state = "failed"
        else:
            wait = backoff_seconds(
                delivery.attempt_count,
                self.settings.webhook_backoff_base_seconds,
                self.settings.webhook_backoff_cap_seconds,
            )
            # The last retry lands on give_up_at itself, so the window is used to its end.
            delivery.next_attempt_at = min(now + timedelta(seconds=wait), delivery.give_up_at)


async def _drain(response: httpx.Response, limit: int) -> None:
    """Read and drop at most `limit` bytes of the body; the rest is never downloaded (the stream closes)."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received >= limit:
            break


def _wants_letter(payload: dict[str, Any], format_: str, hl7_message: str | None) -> bool:
    return format_ == "hl7v2" and hl7_message is None and payload["type"] in LETTER_EVENTS


def _letters_capped(rows: Sequence[Any]) -> list[Any]:
    """The claimed rows, leaving for a later pass the deliveries of events past the letters a pass renders."""
    letters: set[uuid.UUID] = set()
    kept = []
    for row in rows:
        delivery, _url, _secret, payload, format_, hl7, _clinic = row
        if _wants_letter(payload, format_, hl7) and delivery.event_id not in letters:
            if len(letters) == LETTERS_PER_PASS:
                continue
            letters.add(delivery.event_id)
        kept.append(row)
    return kept


def _content(payload: dict, format_: str, hl7_message: str | None) -> tuple[bytes, str]:  # type: ignore[type-arg]
    """The bytes an attempt sends and their type: the event as JSON, or its HL7 v2 message (a letter's is
    filled in by Deliverer._with_letters)."""
    if format_ == "hl7v2" and hl7_message is not None:
        return hl7_message.encode(), HL7_V2
    if _wants_letter(payload, format_, hl7_message):
        return b"", HL7_V2
    return _body(payload), "application/json"


def _body(payload: dict) -> bytes:  # type: ignore[type-arg]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
