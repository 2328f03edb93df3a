"""Stored level status per (patient, joint, side) (CR-16..CR-18, CR-20) and the patient's levels view."""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.levels import LevelBlock, LevelStatus, evaluate_level, referral_warnings
from api.clinical.nomenclature import joint_sort_key, region_of
from api.clinical.notes import Note
from api.clinical.policy import Policy
from api.errors import NotFound
from api.schemas.levels import LevelList, LevelPublic
from api.services.bulk import chunks, upsert
from models import Block, BlockTarget, Level, Patient, Referral, TargetOutcome
from models.base import utcnow
from models.referral import REFERRAL_STATUSES

LevelKey = tuple[uuid.UUID, str, str]  # (patient_id, joint, side)
LIVE_STATUSES = REFERRAL_STATUSES[:2]  # open, acknowledged: the statuses uq_referral_live_level covers


@dataclass(frozen=True)
class EvaluatedLevel:
    """A level's fresh status plus what a referral opened from it would carry (CR-19, CR-20)."""

    level_id: uuid.UUID
    patient_id: uuid.UUID
    joint: str
    side: str
    region: str
    status: LevelStatus
    referral_warnings: tuple[Note, ...]


class HistoryRow(NamedTuple):
    """One target with its block and stored verdict: what level statuses are computed from."""

    patient_id: uuid.UUID
    joint: str
    side: str
    region: str
    block_id: uuid.UUID
    performed_at: datetime
    agent: str
    procedure: str
    intent: str
    status: str  # the block's
    sedation: str
    guidance: str
    verdict: str | None  # None: not evaluated yet
    relief_duration_minutes: int | None


_HISTORY_COLUMNS = (  # in HistoryRow's order
    BlockTarget.patient_id,
    BlockTarget.joint,
    BlockTarget.side,
    BlockTarget.region,
    Block.id.label("block_id"),
    Block.performed_at,
    Block.agent,
    Block.procedure,
    Block.intent,
    Block.status,
    Block.sedation,
    Block.guidance,
    TargetOutcome.verdict,
    TargetOutcome.relief_duration_minutes,
)


def _history_query(clinic_id: uuid.UUID) -> Any:
    return (
        select(*_HISTORY_COLUMNS)
        .join(Block, Block.id == BlockTarget.block_id)
        .outerjoin(TargetOutcome, TargetOutcome.target_id == BlockTarget.id)
        .where(BlockTarget.clinic_id == clinic_id)
    )


async def _history(
    session: AsyncSession, clinic_id: uuid.UUID, patient_ids: Iterable[uuid.UUID] | None
) -> list[HistoryRow]:
    """Every target of the given patients (None: the clinic's) with its block and stored verdict."""
    connection = await session.connection()
    if patient_ids is None:
        return [HistoryRow(*row) for row in await connection.execute(_history_query(clinic_id))]
    rows: list[HistoryRow] = []
    for part in chunks(sorted(set(patient_ids))):
        query = _history_query(clinic_id).where(BlockTarget.patient_id.in_(part))
        rows += [HistoryRow(*row) for row in await connection.execute(query)]
    return rows


def _level_block(row: HistoryRow) -> LevelBlock:
    return LevelBlock(
        block_id=row.block_id,
        performed_at=row.performed_at,
        agent=row.agent,
        procedure=row.procedure,
        intent=row.intent,
        voided=row.status == "entered_in_error",
        # Not yet evaluated (only possible mid-write): treated as waiting for data.
        verdict=row.verdict or "indeterminate",
        relief_duration_minutes=row.relief_duration_minutes or 0,
        sedation=row.sedation,
        guidance=row.guidance,
    )


def _session_times(rows: Iterable[HistoryRow]) -> dict[tuple[uuid.UUID, str], list[datetime]]:
    """CR-20: per (patient, region), when each non-voided diagnostic session with a target there was."""
    seen: dict[tuple[uuid.UUID, str], dict[Any, datetime]] = defaultdict(dict)
    for row in rows:
        if row.intent == "diagnostic" and row.status != "entered_in_error":
            seen[(row.patient_id, row.region)][row.block_id] = row.performed_at
    return {key: sorted(times.values()) for key, times in seen.items()}


def _merge(*groups: Iterable[Note]) -> tuple[Note, ...]:
    merged: dict[str, Note] = {}
    for group in groups:
        for note in group:
            merged.setdefault(note.code, note)
    return tuple(merged.values())


def _evaluate(
    key: LevelKey, blocks: list[LevelBlock], times: list[datetime], policy: Policy
) -> tuple[LevelStatus, tuple[Note, ...]]:
    status = evaluate_level(blocks, policy)
    if status.status != "referral_recommended":
        return status, ()
    pair = [b for b in blocks if b.block_id in status.qualifying_block_ids]
    return status, referral_warnings(pair, times, policy)


async def reevaluate_levels(
    session: AsyncSession, clinic_id: uuid.UUID, policy: Policy, keys: set[LevelKey] | None
) -> list[EvaluatedLevel]:
    """Recompute and upsert the given levels (None: every level of the clinic) from stored verdicts."""
    rows = await _history(session, clinic_id, None if keys is None else {k[0] for k in keys})
    return await _store_levels(session, clinic_id, policy, rows, keys)


async def reevaluate_clinic_levels(
    session: AsyncSession, clinic_id: uuid.UUID, policy: Policy, history: Sequence[HistoryRow]
) -> list[EvaluatedLevel]:
    """Every level of the clinic, from the clinic's whole `history` as the caller just computed it.

    The clinic-wide pass holds every block, target and fresh verdict already: reading them back
    from the database would cost as much as computing them.
    """
    return await _store_levels(session, clinic_id, policy, history, None)


async def _store_levels(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    rows: Sequence[HistoryRow],
    keys: set[LevelKey] | None,
) -> list[EvaluatedLevel]:
    by_level: dict[LevelKey, list[LevelBlock]] = defaultdict(list)
    for row in rows:
        by_level[(row.patient_id, row.joint, row.side)].append(_level_block(row))
    times = _session_times(rows)
    now, records, computed = utcnow(), [], {}
    for key in keys if keys is not None else by_level:
        patient_id, joint, side = key
        region = region_of(joint)
        status, warnings = _evaluate(key, by_level.get(key, []), times.get((patient_id, region), []), policy)
        computed[key] = (region, status, warnings)
        records.append(_record(clinic_id, key, region, status, warnings, policy, now))
    table = Level.__table__
    ids = await upsert(
        session,
        table,
        records,
        ["patient_id", "joint", "side"],
        returning=(table.c.id, table.c.patient_id, table.c.joint, table.c.side),
        bulk=keys is None,
    )
    return [
        EvaluatedLevel(level_id, patient_id, joint, side, *computed[(patient_id, joint, side)])
        for level_id, patient_id, joint, side in ids
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
        "reasons": _dicts(status.reasons),
        "warnings": _dicts(_merge(status.warnings, warnings)),
        "policy_version": policy.version,
        "updated_at": now,
    }


def _dicts(notes: Iterable[Note]) -> list[dict[str, str]]:
    return [{"code": n.code, "message": n.message} for n in notes]


async def levels_for_patient(session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> LevelList:
    """GET /v1/patients/{id}/levels: the stored levels, each with its blocks and live referral."""
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
    history = sorted(await _history(session, clinic_id, [patient_id]), key=lambda r: r.performed_at)
    live = dict(
        (
            await session.execute(
                select(Referral.level_id, Referral.id).where(
                    Referral.clinic_id == clinic_id,
                    Referral.patient_id == patient_id,
                    Referral.status.in_(LIVE_STATUSES),
                )
            )
        ).all()
    )
    items = [_level_public(level, history, live.get(level.id)) for level in stored]
    items.sort(key=lambda item: (joint_sort_key(item.joint), item.side))
    return LevelList(items=items)


def _level_public(level: Level, history: list[HistoryRow], referral_id: uuid.UUID | None) -> LevelPublic:
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
            "status": level.status,
            "blocks": blocks,
            "qualifying_block_ids": level.qualifying_block_ids,
            "referral_id": referral_id,
            "reasons": level.reasons,
            "warnings": level.warnings,
            "policy_version": level.policy_version,
        }
    )
