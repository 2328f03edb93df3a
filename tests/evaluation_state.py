"""Every stored row of a clinic's evaluation, and what a fresh clinic-wide evaluation would store instead.

Used by the tests that prove a write path stores exactly what re-evaluating everything gives: the
concurrency tests and the equivalence property test.
"""

import uuid
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.db import make_sessionmaker
from api.services.clinic_pass import reevaluate_clinic
from api.services.policies import active_policy
from models import BlockOutcome, Level, Referral, TargetOutcome

# When a row was (re)computed is not part of what it says.
_IGNORED = {"computed_at", "updated_at"}
TABLES: tuple[Table, ...] = (
    BlockOutcome.__table__,
    TargetOutcome.__table__,
    Level.__table__,
    Referral.__table__,
)


def _comparable(value: Any) -> Any:
    return float(value) if value is not None and type(value).__name__ == "Decimal" else value


async def snapshot(session: AsyncSession, clinic_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """Every stored row of the clinic's block outcomes, target outcomes, levels and referrals."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        columns = [c for c in table.c if c.name not in _IGNORED]
        rows = (await session.execute(select(*columns).where(table.c.clinic_id == clinic_id))).all()
        found[table.name] = sorted(
            ({c.name: _comparable(value) for c, value in zip(columns, row, strict=True)} for row in rows),
            key=repr,
        )
    return found


async def stored_and_fresh(
    engine: AsyncEngine, clinic_id: uuid.UUID
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored rows, and the rows after a fresh re-evaluation of the whole clinic (rolled back)."""
    async with make_sessionmaker(engine)() as session, session.begin():
        stored = await snapshot(session, clinic_id)
        await reevaluate_clinic(session, clinic_id, await active_policy(session, clinic_id))
        fresh = await snapshot(session, clinic_id)
        await session.rollback()
    return stored, fresh


def differences(stored: dict[str, Any], fresh: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Rows only one side has, by table: ("stored"|"fresh", table, row)."""
    return [
        (side, table, row)
        for table in stored
        for side, rows, other in (
            ("stored", stored[table], fresh[table]),
            ("fresh", fresh[table], stored[table]),
        )
        for row in rows
        if row not in other
    ]
