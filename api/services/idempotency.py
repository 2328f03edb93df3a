"""Idempotency records: claim a key in one statement, then record or release the first answer.

These statements run outside the request's transaction, as few round trips as possible, because a client
may send an Idempotency-Key with every POST: on PostgreSQL each is one autocommitted statement (atomic on its
own; no BEGIN/COMMIT), on SQLite a short BEGIN IMMEDIATE transaction.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Row, String, Uuid, and_, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.db import get_session
from api.oauth.tokens import bearer_key_ids
from models import IdempotencyRecord
from models.base import UTCDateTime

Db = AsyncConnection | AsyncSession
_table = IdempotencyRecord.__table__


@dataclass(frozen=True)
class Attempt:
    token_hash: str  # of the bearer API key: the key is resolved in the claiming statement itself
    key: str
    path: str
    request_hash: str


@dataclass(frozen=True)
class Claim:
    known_api_key: bool
    record_id: uuid.UUID | None = None  # set when the key is ours: run the request
    existing: Row[Any] | None = None  # the live record that holds the key otherwise


@asynccontextmanager
async def connection(app: FastAPI) -> AsyncIterator[Db]:
    """Where the middleware's statements run, outside the request's transaction.

    The tests replace `get_session` with a session inside a rolled-back transaction; that override is
    joined (called without arguments) so the records roll back with the test.
    """
    override = app.dependency_overrides.get(get_session)
    if override is not None:
        async with asynccontextmanager(override)() as session:
            yield session
    elif app.state.engine.dialect.name == "postgresql":
        async with app.state.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        async with app.state.engine.begin() as conn:
            yield conn


def _claim_statement(dialect: str, attempt: Attempt, now: datetime) -> Any:
    # INSERT ... SELECT FROM the bearer's API key: resolving the key (an API key, or the backing key of an
    # OAuth access token) and claiming happen in one statement; the unique (api_key_id, key) constraint
    # picks one winner among concurrent retries.
    keys = bearer_key_ids(attempt.token_hash, now)
    source = select(
        literal(uuid.uuid4(), Uuid()), keys.c.api_key_id, literal(attempt.key, String()),
        literal("POST", String()), literal(attempt.path[:500], String()),
        literal(attempt.request_hash, String()), literal("in_flight", String()), literal(now, UTCDateTime()),
    ).where(keys.c.api_key_id.is_not(None)).limit(1)  # fmt: skip
    columns = ["id", "api_key_id", "key", "method", "path", "request_hash", "state", "created_at"]
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_table)
    return insert.from_select(columns, source).on_conflict_do_nothing().returning(_table.c.id)


def _lookup_statement(attempt: Attempt, now: datetime) -> Any:
    keys = bearer_key_ids(attempt.token_hash, now)
    holder = keys.outerjoin(
        _table, and_(_table.c.api_key_id == keys.c.api_key_id, _table.c.key == attempt.key)
    )
    return select(keys.c.api_key_id.label("live_api_key_id"), *_table.c).select_from(holder).limit(1)


async def claim(db: Db, dialect: str, attempt: Attempt, ttl: timedelta, lease: timedelta) -> Claim:
    """Claim the key (usually one statement), or find the live record holding it or that the API key is
    unknown. A record past its TTL, or in flight past its lease and never applied (its request died
    before committing, so it wrote nothing), is deleted and the claim tried again."""
    now = datetime.now(UTC)
    for _ in range(3):
        inserted = (await db.execute(_claim_statement(dialect, attempt, now))).first()
        if inserted is not None:
            return Claim(True, record_id=inserted.id)
        found = (await db.execute(_lookup_statement(attempt, now))).first()
        if found is None:
            return Claim(False)
        if found.id is None:  # released by its owner (a 5xx) in between: claim again
            continue
        if found.created_at < now - ttl:
            await db.execute(delete(_table).where(_table.c.id == found.id))
        elif _abandoned(found, now - lease):
            await db.execute(_release_unapplied(found.id).where(_table.c.created_at < now - lease))
        else:
            return Claim(True, existing=found)
    raise RuntimeError("could not claim an Idempotency-Key")  # only under pathological churn


def _abandoned(record: Row[Any], lease_start: datetime) -> bool:
    return record.state == "in_flight" and record.applied_at is None and record.created_at < lease_start


def _release_unapplied(record_id: uuid.UUID) -> Any:
    # The conditions, not the lookup, decide: on PostgreSQL this DELETE waits for a request committing its
    # mark (mark_applied holds the row) and then re-checks applied_at, so an applied record is never freed.
    return delete(_table).where(
        _table.c.id == record_id, _table.c.state == "in_flight", _table.c.applied_at.is_(None)
    )


async def mark_applied(session: AsyncSession, record_id: uuid.UUID) -> bool:
    """In the request's own transaction, just before it commits: this key's request applied its writes.
    False when the record is no longer ours (released after its lease and claimed by a retry): the
    request must then roll back, or its writes would be stored twice."""
    result = await session.execute(
        update(_table)
        .where(_table.c.id == record_id, _table.c.state == "in_flight", _table.c.applied_at.is_(None))
        .values(applied_at=datetime.now(UTC))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def complete(db: Db, record_id: uuid.UUID, status: int, body: str, headers: dict[str, str]) -> None:
    values = {
        "state": "completed", "response_status": status, "response_body": body,
        "response_headers": headers, "completed_at": datetime.now(UTC),
    }  # fmt: skip
    await db.execute(update(_table).where(_table.c.id == record_id).values(**values))


async def release(db: Db, record_id: uuid.UUID) -> None:
    """Free the key after a 5xx, unless the request committed its writes: then it stays held, and a retry
    is told it was applied, never run again."""
    await db.execute(_release_unapplied(record_id))


async def purge(db: Db, ttl: timedelta) -> None:
    """Delete expired records (an indexed range on created_at)."""
    await db.execute(delete(_table).where(_table.c.created_at < datetime.now(UTC) - ttl))
