"""Engine and session: one transaction per request, committed or rolled back here only."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from starlette.requests import Request
from starlette.types import ASGIApp

from api.errors import Conflict


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy own transactions (the driver's own handling breaks SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # IMMEDIATE takes the write lock up front: a deferred transaction that later
        # writes can fail at once with "database is locked" instead of waiting its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(async_url: str) -> AsyncEngine:
    # hide_parameters: a database error's message then carries the statement but not its values (scores,
    # reasons, MRNs), wherever it ends up.
    if async_url.startswith("sqlite"):
        # SQLite has one writer at a time. Its busy handler is not a queue, so under load a writer
        # can starve past the busy timeout; one pooled connection makes the pool a fair FIFO queue.
        engine = create_async_engine(
            async_url, pool_size=1, max_overflow=0, pool_timeout=60, hide_parameters=True
        )
        _configure_sqlite(engine.sync_engine)
        return engine
    # No pre-ping: it costs a round trip on every checkout. A connection that died (a restarted or
    # failed-over server) fails its first statement instead; SQLAlchemy then invalidates the whole pool,
    # that one request answers 503 with Retry-After (api/errors.py), and the next one gets a new
    # connection. pool_recycle retires connections before idle-timeouts of firewalls and proxies.
    return create_async_engine(
        async_url, pool_size=10, max_overflow=10, pool_recycle=1800, hide_parameters=True
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's only transaction: committed when the route returns, rolled back on error.

    A request holding an Idempotency-Key marks its record in this same transaction, so the record says
    whether the writes were committed (api/idempotency.py)."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with factory() as session, session.begin():
        yield session
        await mark_idempotency_record(session, request)


async def mark_idempotency_record(session: AsyncSession, request: Request) -> None:
    from api.services.idempotency import mark_applied  # the store imports this module

    record_id = getattr(request.state, "idempotency_record_id", None)
    if record_id is not None and not await mark_applied(session, record_id):
        raise Conflict(
            "This request's Idempotency-Key was taken over by a retry after its lease; "
            "nothing was stored by this request."
        )


@asynccontextmanager
async def outside_request(app: ASGIApp) -> AsyncIterator[AsyncConnection]:
    """A short transaction of its own, for what must outlive the request's rollback: rate-limit counts,
    the audit row of a refused request, an API key's last use.

    On PostgreSQL each statement is autocommitted (one round trip, no BEGIN/COMMIT); on SQLite it is a
    short BEGIN IMMEDIATE transaction. Callers run it before the request's session has connected, which
    matters on SQLite, whose pool has one connection. Tests set `app.state.outside_request` to a
    savepoint of their rolled-back connection.
    """
    state = app.state  # type: ignore[attr-defined]
    override = getattr(state, "outside_request", None)
    if override is not None:
        async with override() as connection:
            yield connection
    elif state.engine.dialect.name == "postgresql":
        async with state.engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")
    else:
        async with state.engine.begin() as connection:
            yield connection
