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
from models import ApiKey, IdempotencyRecord
from models.base import UTCDateTime

Db = AsyncConnection | AsyncSession
_table = IdempotencyRecord.__table__
_api_key = ApiKey.__table__


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
    # INSERT ... SELECT FROM api_key: resolving the API key and claiming happen in one statement; the
    # unique (api_key_id, key) constraint picks one winner among concurrent retries.
    source = select(
        literal(uuid.uuid4(), Uuid()), _api_key.c.id, literal(attempt.key, String()),
        literal("POST", String()), literal(attempt.path[:500], String()),
        literal(attempt.request_hash, String()), literal("in_flight", String()), literal(now, UTCDateTime()),
    ).where(_api_key.c.key_hash == attempt.token_hash, _api_key.c.revoked_at.is_(None))  # fmt: skip
    columns = ["id", "api_key_id", "key", "method", "path", "request_hash", "state", "created_at"]
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_table)
    return insert.from_select(columns, source).on_conflict_do_nothing().returning(_table.c.id)


def _lookup_statement(attempt: Attempt) -> Any:
    holder = _api_key.outerjoin(
        _table, and_(_table.c.api_key_id == _api_key.c.id, _table.c.key == attempt.key)
    )
    return (
        select(_api_key.c.id.label("live_api_key_id"), *_table.c)
        .select_from(holder)
        .where(_api_key.c.key_hash == attempt.token_hash, _api_key.c.revoked_at.is_(None))
    )


async def claim(db: Db, dialect: str, attempt: Attempt, ttl: timedelta) -> Claim:
    """Claim the key (usually one statement), or find the live record holding it or that the API key is
    unknown. A record past its TTL is deleted and the claim tried again."""
    now = datetime.now(UTC)
    for _ in range(3):
        inserted = (await db.execute(_claim_statement(dialect, attempt, now))).first()
        if inserted is not None:
            return Claim(True, record_id=inserted.id)
        found = (await db.execute(_lookup_statement(attempt))).first()
        if found is None:
            return Claim(False)
        if found.id is None:  # released by its owner (a 5xx) in between: claim again
            continue
        if found.created_at >= now - ttl:
            return Claim(True, existing=found)
        await db.execute(delete(_table).where(_table.c.id == found.id))
    raise RuntimeError("could not claim an Idempotency-Key")  # only under pathological churn


async def complete(db: Db, record_id: uuid.UUID, status: int, body: str, headers: dict[str, str]) -> None:
    values = {
        "state": "completed", "response_status": status, "response_body": body,
        "response_headers": headers, "completed_at": datetime.now(UTC),
    }  # fmt: skip
    await db.execute(update(_table).where(_table.c.id == record_id).values(**values))


async def release(db: Db, record_id: uuid.UUID) -> None:
    await db.execute(delete(_table).where(_table.c.id == record_id))


async def purge(db: Db, ttl: timedelta) -> None:
    """Delete expired records (an indexed range on created_at)."""
    await db.execute(delete(_table).where(_table.c.created_at < datetime.now(UTC) - ttl))
