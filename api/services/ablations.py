"""Referral fulfilment by ablations (CR-27): the stored side of api/clinical/ablation.py's rules.

Run by referrals.sync_referrals before it opens and withdraws, on the levels that have an ablation
(voided ones included: voiding one must give its referral back). A clinic without ablations pays one
`if` here. Returns the changed referrals, whole, and keeps the caller's map of live referrals current.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.ablation import ReferralChange, StoredReferral, referral_changes
from api.services.bulk import chunks
from api.services.levels import LIVE_STATUSES, EvaluatedLevel
from models import Referral
from models.base import utcnow

_table = Referral.__table__


@dataclass
class AblationResult:
    fulfilled: list[Row[Any]] = field(default_factory=list)
    restored: list[Row[Any]] = field(default_factory=list)  # back to open or acknowledged
    withdrawn: list[Row[Any]] = field(default_factory=list)


async def _referrals(session: AsyncSession, level_ids: Sequence[uuid.UUID]) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    query = select(_table).where(_table.c.status.in_((*LIVE_STATUSES, "fulfilled")))
    for part in chunks(list(level_ids)):
        rows += (await session.execute(query.where(_table.c.level_id.in_(part)))).all()
    return rows


def _stored(row: Row[Any], level: EvaluatedLevel) -> StoredReferral | None:
    times = {str(b.block_id): b.performed_at for b in level.blocks}
    qualifying = tuple(times[i] for i in row.qualifying_block_ids if i in times)
    if not qualifying:
        return None
    return StoredReferral(
        row.id, row.status, row.acknowledged_at is not None, qualifying, row.fulfilled_by_block_id
    )


def _values(change: ReferralChange, now: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": change.status,
        "fulfilled_by_block_id": change.fulfilled_by,
        "fulfilled_at": change.fulfilled_at,
        "version": _table.c.version + 1,
    }
    if change.status == "withdrawn":
        values |= {"withdrawn_at": now, "withdrawn_reason": change.reason}
    return values


async def apply_ablations(
    session: AsyncSession, levels: Sequence[EvaluatedLevel], live: dict[uuid.UUID, uuid.UUID]
) -> AblationResult:
    """CR-27: fulfil live referrals by their ablation, give back those whose ablation was voided.

    `live` (level_id -> live referral id) is updated to what is live afterwards.
    """
    result = AblationResult()
    with_rfa = {level.level_id: level for level in levels if level.blocks}
    if not with_rfa:
        return result
    by_level: dict[uuid.UUID, list[StoredReferral]] = {}
    for row in await _referrals(session, list(with_rfa)):
        if (stored := _stored(row, with_rfa[row.level_id])) is not None:
            by_level.setdefault(row.level_id, []).append(stored)
    changes = [
        (level_id, change)
        for level_id, stored in by_level.items()
        for change in referral_changes(with_rfa[level_id].status, with_rfa[level_id].blocks, stored)
    ]
    # Leaving "live" first, then entering it: the one-live-referral index is checked per statement.
    changes.sort(key=lambda item: item[1].status in LIVE_STATUSES)
    now = utcnow()
    for level_id, change in changes:
        stmt = update(_table).where(_table.c.id == change.id).values(**_values(change, now))
        [row] = (await session.execute(stmt.returning(*_table.c))).all()
        if change.status == "fulfilled":
            result.fulfilled.append(row)
            if live.get(level_id) == change.id:
                del live[level_id]
        elif change.status == "withdrawn":
            result.withdrawn.append(row)
        else:
            result.restored.append(row)
            live[level_id] = change.id
    return result
