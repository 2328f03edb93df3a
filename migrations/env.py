"""Alembic environment: async engines for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

import asyncio

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from api.db import make_engine
from api.settings import async_url, get_settings
from models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def _foreign_keys_off_while_migrating(engine: Engine) -> None:
    """SQLite: batch mode rebuilds a table (create, copy, drop, rename). With foreign keys enforced,
    dropping a table other rows point at fails, so, as SQLite's documentation prescribes for schema
    changes, enforcement is off on the migrating connection (it cannot change inside a transaction:
    this runs on connect, after api/db.py turned it on) and every reference is checked before commit."""

    @event.listens_for(engine, "connect")
    def _off(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")


async def _run_async() -> None:
    engine = make_engine(async_url(_url()))
    if engine.dialect.name == "sqlite":
        _foreign_keys_off_while_migrating(engine.sync_engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
