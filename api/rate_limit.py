"""Rate limits kept in the database, so every server process counts against the same buckets.

One UPSERT per request decides and records it (GCRA, the generic cell rate algorithm): the bucket's `tat`
is when the next request would be due if requests came at exactly the allowed rate; a request is let
through while that is at most a burst ahead of now, and then moves `tat` one interval on. A denied request
changes nothing but `allowed` (and, for a lockout, `blocked_until` the first time), so refused attempts
never extend a limit. The statement runs outside the request's transaction (api.db.outside_request):
a request that fails later keeps its count.
"""

import math
import time
from dataclasses import dataclass

from sqlalchemy import Double, Insert, String, and_, bindparam, case, cast, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from api.settings import Settings
from models import RateLimitBucket

_table = RateLimitBucket.__table__
PRUNE_EVERY = 1000  # decisions per process between two deletions of long-idle buckets
IDLE_SECONDS = 3600.0


@dataclass(frozen=True)
class Limit:
    interval: float  # seconds per request at the sustained rate
    burst: int  # requests let through at once from a full bucket
    lockout: float = 0.0  # seconds every attempt is refused once the burst is spent (0: none)

    @property
    def allowance(self) -> float:
        """How far ahead of now `tat` may be after a request that is let through."""
        return self.burst * self.interval


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds, at least 1, when not allowed


def key_limit(settings: Settings) -> Limit:
    return Limit(1.0 / settings.rate_limit_per_second, settings.rate_limit_burst)


def failure_limit(settings: Settings) -> Limit:
    """`auth_failure_limit` failures in any window of `auth_failure_window_seconds` start a lockout.

    Each failure takes a whole window's worth of allowance, of which there are `auth_failure_limit`: so
    the next failure within a window of the first of them is refused, whatever their spacing, and the
    allowance comes back at one failure per window. A sustained rate of a failure per 3 s, which a
    window/limit interval would allow for ever, is locked out too."""
    window = settings.auth_failure_window_seconds
    return Limit(window, settings.auth_failure_limit, settings.auth_failure_lockout_seconds)


def _greatest(a: ColumnElement[float], b: ColumnElement[float]) -> ColumnElement[float]:
    return case((a > b, a), else_=b)  # GREATEST() is PostgreSQL's; SQLite spells it max()


def _number(name: str) -> ColumnElement[float]:
    # Cast, so that PostgreSQL does not infer an integer from a comparison with a literal.
    return cast(bindparam(name, type_=Double), Double)


def _build(dialect: str) -> Insert:
    """INSERT … ON CONFLICT DO UPDATE … RETURNING, with :bucket, :now, :interval, :allowance, :lockout."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    now, interval, allowance, lockout = map(_number, ("now", "interval", "allowance", "lockout"))
    old = _table.c  # in ON CONFLICT DO UPDATE, the row as it was before this request
    next_tat = _greatest(old.tat, now) + interval
    allowed = and_(old.blocked_until <= now, next_tat - now <= allowance)
    lock_from_now = case((lockout > 0, now + lockout), else_=old.blocked_until)
    statement = insert(_table).values(
        bucket=bindparam("bucket", type_=String), tat=now + interval, blocked_until=0.0, allowed=True
    )
    return statement.on_conflict_do_update(
        index_elements=[old.bucket],
        set_={
            "tat": case((allowed, next_tat), else_=old.tat),
            "allowed": allowed,
            # The lockout starts at the first refusal and is not extended by the attempts during it.
            "blocked_until": case(
                (allowed | (old.blocked_until > now), old.blocked_until), else_=lock_from_now
            ),
        },
    ).returning(old.tat, old.blocked_until, old.allowed)


_STATEMENTS: dict[str, Insert] = {}
_decisions = 0


def _statement(dialect: str) -> Insert:
    if dialect not in _STATEMENTS:  # built once per process: building costs more than running it
        _STATEMENTS[dialect] = _build(dialect)
    return _STATEMENTS[dialect]


def _retry_after(tat: float, blocked_until: float, limit: Limit, now: float) -> int:
    # The next request is let through once tat - now <= allowance - interval, and the lockout is over.
    due = max(blocked_until, tat - limit.allowance + limit.interval)
    return max(1, math.ceil(due - now))


async def take(connection: AsyncConnection, bucket: str, limit: Limit, now: float | None = None) -> Decision:
    """Count one request against `bucket`: one statement, whose answer says whether it may go on."""
    now = time.time() if now is None else now
    params = {
        "bucket": bucket[:200],
        "now": now,
        "interval": limit.interval,
        "allowance": limit.allowance,
        "lockout": limit.lockout,
    }
    row = (await connection.execute(_statement(connection.dialect.name), params)).one()
    await _maybe_prune(connection, now)
    if row.allowed:
        return Decision(True, 0)
    return Decision(False, _retry_after(row.tat, row.blocked_until, limit, now))


async def _maybe_prune(connection: AsyncConnection, now: float) -> None:
    """Forget buckets idle for an hour (they would let a full burst through anyway), now and then."""
    global _decisions
    _decisions += 1
    if _decisions % PRUNE_EVERY == 0:
        await connection.execute(
            delete(_table).where(_table.c.tat < now - IDLE_SECONDS, _table.c.blocked_until < now)
        )
