"""Set-based writes shared by the evaluation services: dialect upserts and chunked IN lists.

Re-evaluating a whole clinic touches tens of thousands of rows, so the evaluation services write
with one executemany per table (SQLAlchemy batches it into multi-row VALUES) instead of a query
per row, and read with a handful of queries instead of one per block.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

# Both PostgreSQL (asyncpg) and SQLite cap bound parameters near 32,766 per statement.
IN_CHUNK = 5000


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_for(session: AsyncSession, table: Table) -> Any:
    """An INSERT supporting ON CONFLICT on the session's database (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Iterable[str],
    returning: Sequence[Any] = (),
) -> list[Any]:
    """INSERT ... ON CONFLICT (keys) DO UPDATE every other given column; optionally RETURNING."""
    if not rows:
        return []
    keys = list(keys)
    stmt = insert_for(session, table)
    updated = [name for name in rows[0] if name not in keys and name != "id"]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={name: stmt.excluded[name] for name in updated}
    )
    connection = await session.connection()  # Core executemany: no ORM bookkeeping per row
    if not returning:
        await connection.execute(stmt, list(rows))
        return []
    result = await connection.execute(stmt.returning(*returning), list(rows))
    return list(result.all())
