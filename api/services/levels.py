"""Stored level status per (patient, joint, side) (CR-16..CR-18, CR-20, CR-23..CR-28) and the levels view."""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.facts import RFA, LevelBlock, LevelStatus
from api.clinical.levels import evaluate_level, referral_warnings
from api.clinical.nomenclature import FAMILY_OF, joint_sort_key, region_of
from api.clinical.notes import Note
from api.clinical.policy import Policy
from api.errors import NotFound
from api.schemas.levels import LevelList, LevelPublic
from api.services.bulk import upsert
from api.services.level_history import (
    LIVE_STATUSES,
    HistoryRow,
    LevelKey,
    StoredLevel,
    level_block,
    session_times,
    stored_history,
)
from models import Level, Patient, Referral
from models.base import utcnow

__all__ = [
    "LIVE_STATUSES",
    "EvaluatedLevel",
    "HistoryRow",
    "levels_for_patient",
    "note_dicts",
    "reevaluate_clinic_levels",
    "reevaluate_patient_levels",
]


@dataclass(frozen=True)
class EvaluatedLevel:
    """A level's fresh status plus what a referral opened from it would carry (CR-19, CR-20, CR-23)."""

    level_id: uuid.UUID
    patient_id: uuid.UUID
    joint: str
    side: str
    region: str
    status: LevelStatus
    referral_warnings: tuple[Note, ...]
    # Only for a level with an ablation, voided ones included: what CR-27's fulfilment needs.
    blocks: tuple[LevelBlock, ...] = ()
    rfa_targets: tuple[tuple[uuid.UUID, uuid.UUID], ...] = ()  # (block_id, target_id) of its ablations


async def reevaluate_patient_levels(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    history: Sequence[HistoryRow],
    stored: dict[LevelKey, StoredLevel],
) -> list[EvaluatedLevel]:
    """Recompute every level of one patient from its `history` (stored verdicts, with the fresh ones of
    the block just written), and write the levels whose row changed.

    Every level, not only the written block's: CR-20's session count and CR-28's ablation count span
    the patient's payer family, so a block at one joint can change another's warnings or status.
    """
    return await _store_levels(session, clinic_id, policy, history, bulk=False, stored=stored)


async def reevaluate_clinic_levels(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    history: Sequence[HistoryRow],
    stored: dict[LevelKey, StoredLevel] | None = None,
) -> list[EvaluatedLevel]:
    """Every level of the clinic (or of a batch of its patients), from their whole `history` as the caller
    just computed it; with `stored`, only levels that are new or differ from it are written.

    The clinic-wide pass holds every block, target and fresh verdict already: reading them back
    from the database would cost as much as computing them.
    """
    return await _store_levels(session, clinic_id, policy, history, bulk=True, stored=stored)


def _merge(*groups: Iterable[Note]) -> tuple[Note, ...]:
    merged: dict[tuple[str, Any], Note] = {}
    for group in groups:
        for note in group:
            merged.setdefault((note.code, note.block_id), note)
    return tuple(merged.values())


def _evaluate(
    blocks: list[LevelBlock], times: list[datetime], rfa_times: list[datetime], policy: Policy
) -> tuple[LevelStatus, tuple[Note, ...]]:
    status = evaluate_level(blocks, policy, rfa_times)
    if status.status != "referral_recommended":
        return status, ()
    qualifying = [b for b in blocks if b.block_id in status.qualifying_block_ids]
    return status, referral_warnings(qualifying, times, policy)


async def _store_levels(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    rows: Sequence[HistoryRow],
    bulk: bool,
    stored: dict[LevelKey, StoredLevel] | None = None,
) -> list[EvaluatedLevel]:
    """Evaluate the levels of `rows`; upsert those that are new or differ from `stored` (None: all)."""
    by_level: dict[LevelKey, list[LevelBlock]] = defaultdict(list)
    ablations: dict[LevelKey, list[tuple[uuid.UUID, uuid.UUID]]] = defaultdict(list)
    for row in rows:
        key = (row.patient_id, row.joint, row.side)
        by_level[key].append(level_block(row))
        if row.procedure == RFA:
            ablations[key].append((row.block_id, row.target_id))
    diagnostic_times, rfa_times = session_times(rows)
    now, records, computed = utcnow(), [], {}
    for key, blocks in by_level.items():
        family = (key[0], FAMILY_OF[key[1]])
        status, warnings = _evaluate(
            blocks, diagnostic_times.get(family, []), rfa_times.get(family, []), policy
        )
        region = region_of(key[1])
        extra = (tuple(blocks), tuple(ablations[key])) if key in ablations else ((), ())
        computed[key] = (region, status, warnings, *extra)
        record = _record(clinic_id, key, region, status, warnings, policy, now)
        if stored is None or _differs(record, stored.get(key)):
            records.append(record)
    unchanged = computed.keys() - {_key(record) for record in records}
    ids: list[Any] = [(stored[key].id, *key) for key in unchanged] if stored else []
    table = Level.__table__
    ids += await upsert(
        session,
        table,
        records,
        ["patient_id", "joint", "side"],
        returning=(table.c.id, table.c.patient_id, table.c.joint, table.c.side),
        bulk=bulk,
    )
    return [
        EvaluatedLevel(level_id, patient_id, joint, side, *computed[(patient_id, joint, side)])
        for level_id, patient_id, joint, side in ids
    ]


def _key(record: dict[str, Any]) -> LevelKey:
    return (record["patient_id"], record["joint"], record["side"])


_COMPARED = ("status", "qualifying_block_ids", "reasons", "warnings", "policy_version")


def _differs(record: dict[str, Any], stored: StoredLevel | None) -> bool:
    return stored is None or any(record[name] != getattr(stored, name) for name in _COMPARED)


def note_dicts(notes: Iterable[Note]) -> list[dict[str, str]]:
    """Notes as stored and shown: `block_id` only on a note about one block (CR-23)."""
    return [
        {"code": n.code, "message": n.message}
        if n.block_id is None
        else {"code": n.code, "message": n.message, "block_id": str(n.block_id)}
        for n in notes
    ]


def _record(
    clinic_id: uuid.UUID,
    key: LevelKey,
    region: str,
    status: LevelStatus,
    warnings: tuple[Note, ...],
    policy: Policy,
    now: datetime,
) -> dict[str, Any]:
    patient_id, joint, side = key
    return {
        "id": uuid.uuid4(),  # used only when the level is new: an update keeps the stored id
        "clinic_id": clinic_id,
        "patient_id": patient_id,
        "joint": joint,
        "side": side,
        "region": region,
        "status": status.status,
        "qualifying_block_ids": [str(i) for i in status.qualifying_block_ids],
        "reasons": note_dicts(status.reasons),
        "warnings": note_dicts(_merge(status.warnings, warnings)),
        "policy_version": policy.version,
        "updated_at": now,
    }


async def _referrals_by_level(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> tuple[dict[uuid.UUID, uuid.UUID], dict[uuid.UUID, uuid.UUID]]:
    """(level -> its live referral, level -> its latest fulfilled referral)."""
    rows = await session.execute(
        select(Referral.level_id, Referral.id, Referral.status)
        .where(
            Referral.clinic_id == clinic_id,
            Referral.patient_id == patient_id,
            Referral.status.in_((*LIVE_STATUSES, "fulfilled")),
        )
        .order_by(Referral.fulfilled_at.nulls_first())
    )
    live, fulfilled = {}, {}
    for level_id, referral_id, status in rows.all():
        (live if status in LIVE_STATUSES else fulfilled)[level_id] = referral_id
    return live, fulfilled


async def levels_for_patient(session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> LevelList:
    """GET /v1/patients/{id}/levels: the stored levels, each with its blocks and referrals."""
    found = await session.scalar(
        select(Patient.id).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
    )
    if found is None:
        raise NotFound(f"No patient {patient_id}.")
    stored = (
        (
            await session.execute(
                select(Level)
                .where(Level.clinic_id == clinic_id, Level.patient_id == patient_id)
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    history = sorted(await stored_history(session, clinic_id, [patient_id]), key=lambda r: r.performed_at)
    live, fulfilled = await _referrals_by_level(session, clinic_id, patient_id)
    items = [_level_public(level, history, live.get(level.id), fulfilled.get(level.id)) for level in stored]
    items.sort(key=lambda item: (joint_sort_key(item.joint), item.side))
    return LevelList(items=items)


def _level_public(
    level: Level, history: list[HistoryRow], referral_id: uuid.UUID | None, fulfilled_id: uuid.UUID | None
) -> LevelPublic:
    blocks = [
        {
            "block_id": r.block_id,
            "performed_at": r.performed_at,
            "agent": r.agent,
            "verdict": r.verdict,
            "procedure": r.procedure,
            "intent": r.intent,
            "status": r.status,
        }
        for r in history
        if r.joint == level.joint and r.side == level.side
    ]
    return LevelPublic.model_validate(
        {
            "joint": level.joint,
            "side": level.side,
            "region": level.region,
            "payer_family": FAMILY_OF[level.joint],
            "status": level.status,
            "blocks": blocks,
            "qualifying_block_ids": level.qualifying_block_ids,
            "referral_id": referral_id,
            "fulfilled_referral_id": fulfilled_id,
            "reasons": level.reasons,
            "warnings": level.warnings,
            "policy_version": level.policy_version,
        }
    )
