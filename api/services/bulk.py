"""Set-based writes shared by the evaluation services: dialect upserts and chunked IN lists.

Re-evaluating a whole clinic touches tens of thousands of rows, so the evaluation services write
with one statement per table instead of a query per row, and read with a handful of queries
instead of one per block. On PostgreSQL a clinic-wide write goes through COPY (see copy_insert).
"""

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from pydantic_core import to_json
from sqlalchemy import JSON, Column, Enum, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.types import TypeEngine

T = TypeVar("T")

# Both PostgreSQL (asyncpg) and SQLite cap bound parameters near 32,766 per statement.
IN_CHUNK = 5000


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_for(session: AsyncSession, table: Table) -> Any:
    """An INSERT supporting ON CONFLICT on the session's database (PostgreSQL or SQLite)."""
    if is_postgresql(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def _on_conflict_update(stmt: Any, keys: list[str], names: Iterable[str]) -> Any:
    updated = [name for name in names if name not in keys and name != "id"]
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={name: stmt.excluded[name] for name in updated}
    )


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for a clinic-wide pass.

    Such a pass allocates millions of short-lived rows and tuples (none in reference cycles: reference
    counting frees them all). Each full collection would scan them all again, and profiles showed
    collections taking a quarter of the pass. Nested or concurrent passes leave the collector as
    the outermost one found it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Iterable[str],
    returning: Sequence[Any] = (),
    bulk: bool = False,
) -> list[Any]:
    """INSERT ... ON CONFLICT (keys) DO UPDATE every other given column; optionally RETURNING.

    `bulk`: a clinic-wide write, sent with COPY where the database has it (PostgreSQL).
    """
    if not rows:
        return []
    keys = list(keys)
    if bulk and is_postgresql(session):
        return await copy_insert(
            session, table, rows, lambda s: _on_conflict_update(s, keys, rows[0]), returning
        )
    stmt = _upsert_statement(
        session.get_bind().dialect.name, table, tuple(keys), tuple(rows[0]), tuple(returning)
    )
    connection = await session.connection()  # Core executemany: no ORM bookkeeping per row
    result = await connection.execute(stmt, list(rows))
    return list(result.all()) if returning else []


@lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], names: tuple[str, ...], returning: tuple[Any, ...]
) -> Any:
    """One statement per (table, keys, columns, RETURNING), built once per process: building an
    ON CONFLICT ... DO UPDATE SET col = excluded.col clause costs more CPU than sending it, and a
    statement object that is reused also reuses SQLAlchemy's compiled form."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    stmt = _on_conflict_update(insert, list(keys), names)
    return stmt.returning(*returning) if returning else stmt


async def copy_insert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    on_conflict: Callable[[postgresql.Insert], postgresql.Insert],
    returning: Sequence[Any] = (),
) -> list[Any]:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... SELECT with `on_conflict`.

    An executemany of tens of thousands of rows spends most of its time binding parameters row by
    row (json.dumps per JSON value, SQLAlchemy type processing); COPY's binary rows are far cheaper.
    """
    if not rows:
        return []
    names = list(rows[0])
    staging = Table(
        f"_staging_{table.name}",
        MetaData(),
        *[Column(name, _staging_type(table.c[name].type)) for name in names],
        prefixes=["TEMPORARY"],
    )
    connection = await session.connection()
    await connection.run_sync(staging.create, checkfirst=False)  # via SQLAlchemy: the transaction is begun
    driver = await _driver(connection)
    await driver.copy_records_to_table(staging.name, records=_records(staging, rows), columns=names)
    stmt = on_conflict(postgresql.insert(table).from_select(names, select(*staging.c)))
    try:
        if not returning:
            await connection.execute(stmt)
            return []
        return list((await connection.execute(stmt.returning(*returning))).all())
    finally:
        await connection.run_sync(staging.drop, checkfirst=False)


def _staging_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    # A CHECK-backed Enum would attach its constraint to the staging table: the target table checks anyway.
    return String() if isinstance(type_, Enum) else type_


def _records(staging: Table, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Row tuples for COPY, JSON columns serialised here (pydantic-core's encoder: ~5x json.dumps)."""
    columns = [(c.name, isinstance(c.type, JSON)) for c in staging.c]
    return [tuple(to_json(row[n]).decode() if is_json else row[n] for n, is_json in columns) for row in rows]


async def _driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under the session's connection (the same transaction)."""
    raw = await connection.get_raw_connection()
    return raw.driver_connection
