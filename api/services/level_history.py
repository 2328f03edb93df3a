"""What level statuses are computed from: every target of a patient (or clinic) with its block and verdict.

Two sources give the same rows: the database (a single write: its patient's stored verdicts) and the
clinic-wide pass (the verdicts it just computed, in memory), so both evaluate levels by one code path.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.facts import RFA, CoverageOverride, LevelBlock
from api.clinical.nomenclature import FAMILY_OF
from api.clinical.notes import notes_from
from api.services.bulk import chunks
from models import Block, BlockOutcome, BlockTarget, Level, Referral, TargetOutcome
from models.referral import REFERRAL_STATUSES

LevelKey = tuple[uuid.UUID, str, str]  # (patient_id, joint, side)
LIVE_STATUSES = REFERRAL_STATUSES[:2]  # open, acknowledged: the statuses uq_referral_live_level covers
FamilyKey = tuple[uuid.UUID, str]  # (patient_id, payer family)


class HistoryRow(NamedTuple):
    """One target with its block and verdict."""

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
    target_id: uuid.UUID
    pain_scale: str
    baseline: int | None
    relief_ended: bool | None
    block_warnings: Sequence[Any]  # CR-14 notes, as Note or as stored dicts
    target_warnings: Sequence[Any]  # CR-9/CR-10 notes, likewise
    override_reason: str | None  # CR-24
    override_by: str | None
    override_at: datetime | None


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
    BlockTarget.id.label("target_id"),
    Block.pain_scale,
    TargetOutcome.baseline,
    TargetOutcome.relief_ended,
    BlockOutcome.warnings.label("block_warnings"),
    TargetOutcome.warnings.label("target_warnings"),
    Block.coverage_override_reason,
    Block.coverage_override_by,
    Block.coverage_override_at,
)


def history_query(clinic_id: uuid.UUID) -> Any:
    return (
        select(*_HISTORY_COLUMNS)
        .join(Block, Block.id == BlockTarget.block_id)
        .outerjoin(TargetOutcome, TargetOutcome.target_id == BlockTarget.id)
        .outerjoin(BlockOutcome, BlockOutcome.block_id == Block.id)
        .where(BlockTarget.clinic_id == clinic_id)
    )


async def stored_history(
    session: AsyncSession, clinic_id: uuid.UUID, patient_ids: Iterable[uuid.UUID]
) -> list[HistoryRow]:
    """Every target of the given patients with its block and stored verdict."""
    connection = await session.connection()
    rows: list[HistoryRow] = []
    for part in chunks(sorted(set(patient_ids))):
        query = history_query(clinic_id).where(BlockTarget.patient_id.in_(part))
        rows += [HistoryRow(*row) for row in await connection.execute(query)]
    return rows


class StoredLevel(NamedTuple):
    """A level row as stored: what a write compares its fresh status with, to skip an unchanged row."""

    id: uuid.UUID
    status: str
    qualifying_block_ids: list[str]
    reasons: list[dict[str, str]]
    warnings: list[dict[str, str]]
    policy_version: int
    live_referral_id: uuid.UUID | None  # its open or acknowledged referral (at most one: CR-19)


class StoredBlockOutcome(NamedTuple):
    warnings: list[dict[str, str]]
    policy_profile: str
    policy_version: int
    threshold_pct: int


@dataclass
class PatientRecord:
    """One patient's stored evaluation, read in one statement by a single write."""

    history: list[HistoryRow]
    levels: dict[LevelKey, StoredLevel]
    block_outcomes: dict[uuid.UUID, StoredBlockOutcome]


# A StoredLevel's columns, in its fields' order (the level outer-joined to its live referral).
STORED_LEVEL_COLUMNS = (
    Level.id,
    Level.status,
    Level.qualifying_block_ids,
    Level.reasons,
    Level.warnings,
    Level.policy_version,
    Referral.id,
)
_STORED_COLUMNS = (
    *STORED_LEVEL_COLUMNS,
    BlockOutcome.policy_profile,
    BlockOutcome.policy_version,
    BlockOutcome.threshold_pct,
)


async def patient_record(session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> PatientRecord:
    """Every target of the patient with its block and stored verdict, and the stored levels, their live
    referrals and the stored block outcomes, in one statement (the history query, outer-joined)."""
    query = (
        history_query(clinic_id)
        .add_columns(*_STORED_COLUMNS)
        .outerjoin(
            Level,
            (Level.patient_id == BlockTarget.patient_id)
            & (Level.joint == BlockTarget.joint)
            & (Level.side == BlockTarget.side),
        )
        .outerjoin(Referral, (Referral.level_id == Level.id) & Referral.status.in_(LIVE_STATUSES))
        .where(BlockTarget.patient_id == patient_id)
    )
    record = PatientRecord([], {}, {})
    width = len(HistoryRow._fields)
    for row in await (await session.connection()).execute(query):
        history = HistoryRow(*row[:width])
        record.history.append(history)
        level_id, status, qualifying, reasons, warnings, version, referral_id, *outcome = row[width:]
        if level_id is not None:
            key = (history.patient_id, history.joint, history.side)
            record.levels[key] = StoredLevel(
                level_id, status, qualifying, reasons, warnings, version, referral_id
            )
        if outcome[0] is not None:
            record.block_outcomes[history.block_id] = StoredBlockOutcome(history.block_warnings, *outcome)
    return record


def level_block(row: HistoryRow) -> LevelBlock:
    override = None
    if row.override_reason is not None and row.override_at is not None:
        override = CoverageOverride(row.override_reason, row.override_by, row.override_at)
    warnings = row.block_warnings or row.target_warnings  # most rows have neither: nothing to build
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
        pain_scale=row.pain_scale,
        baseline=row.baseline,
        relief_ended=bool(row.relief_ended),
        warnings=notes_from([*(row.block_warnings or ()), *(row.target_warnings or ())]) if warnings else (),
        coverage_override=override,
    )


def session_times(
    rows: Iterable[HistoryRow],
) -> tuple[dict[FamilyKey, list[datetime]], dict[FamilyKey, list[datetime]]]:
    """Per (patient, payer family): when each non-voided diagnostic session with a target there was
    (CR-20, CR-22), and when each non-voided ablation session was (CR-28)."""
    diagnostic: dict[FamilyKey, dict[Any, datetime]] = defaultdict(dict)
    ablations: dict[FamilyKey, dict[Any, datetime]] = defaultdict(dict)
    for row in rows:
        if row.status == "entered_in_error":
            continue
        if row.intent == "diagnostic":
            diagnostic[(row.patient_id, FAMILY_OF[row.joint])][row.block_id] = row.performed_at
        elif row.procedure == RFA:
            ablations[(row.patient_id, FAMILY_OF[row.joint])][row.block_id] = row.performed_at
    return (
        {key: sorted(times.values()) for key, times in diagnostic.items()},
        {key: sorted(times.values()) for key, times in ablations.items()},
    )
