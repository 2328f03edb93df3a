"""Stored evaluation: block outcomes (CR-9..CR-15), then their levels (CR-16..CR-18) and referrals (CR-19).

Results are computed on write and stored, never recomputed on read. One code path serves both a
single block (after a reading or block write) and a whole clinic (after a policy change); it reads
with a few set-based queries and writes with one upsert per table, so a clinic-wide pass does not
issue a query per block.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import DateTime, String, Text, cast, select, type_coerce
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.policy import Policy
from api.clinical.verdict import BlockFacts, ReadingFacts, TargetVerdict, block_warnings, evaluate_target
from api.errors import NotFound
from api.schemas.outcomes import OutcomePublic
from api.services import levels, outbox, referrals
from api.services.bulk import cycle_collector_paused, is_postgresql, upsert
from api.services.outcomes import outcome_for_block
from api.services.policies import active_policy
from models import Block, BlockOutcome, BlockTarget, Reading, TargetOutcome
from models.base import utcnow

# outcome_for_block (the read side) lives in outcomes.py; routes import it from here too.
__all__ = ["outcome_for_block", "reevaluate_block", "reevaluate_clinic"]

_BLOCK_COLUMNS = (
    Block.id,
    Block.patient_id,
    Block.performed_at,
    Block.procedure,
    Block.intent,
    Block.agent,
    Block.expected_relief_minutes,
    Block.volume_ml_per_nerve,
    Block.sedation,
    Block.guidance,
    Block.pain_scale,
    Block.status,
)
_TARGET_COLUMNS = (
    BlockTarget.id,
    BlockTarget.block_id,
    BlockTarget.patient_id,
    BlockTarget.joint,
    BlockTarget.side,
    BlockTarget.position,
    BlockTarget.region,
)


def _reading_columns(session: AsyncSession) -> tuple[Any, ...]:
    """The reading columns, minus result processing that only re-checks what the driver returns.

    A clinic holds ~500k readings and the per-row type processing was a large part of loading them:
    `phase` is read as a plain string (the column's CHECK already holds it to pre/post). On
    PostgreSQL `recorded_at` is taken as asyncpg returns it, already an aware UTC datetime, and the
    id as text, the form `readings_used` stores.
    """
    id_: Any = Reading.id
    recorded_at: Any = Reading.recorded_at
    if is_postgresql(session):
        id_ = cast(Reading.id, Text)
        recorded_at = type_coerce(Reading.recorded_at, DateTime(timezone=True))
    phase = type_coerce(Reading.phase, String)
    return (id_, Reading.target_id, phase, recorded_at, Reading.score, Reading.analgesic_taken)


@dataclass
class _Evaluated:
    """One block's fresh outcome, ready to store and to publish."""

    block_id: uuid.UUID
    warnings: list[dict[str, str]]
    targets: list[tuple[Row[Any], TargetVerdict]]


def _facts(block: Row[Any], targets: Sequence[Row[Any]]) -> BlockFacts:
    volume = block.volume_ml_per_nerve
    return BlockFacts(
        performed_at=block.performed_at,
        procedure=block.procedure,
        intent=block.intent,
        agent=block.agent,
        expected_relief_minutes=block.expected_relief_minutes,
        # Exact (CR-8 habit): the stored Decimal becomes a Fraction without passing through float.
        volume_ml_per_nerve=None if volume is None else Fraction(str(volume)),
        sedation=block.sedation,
        guidance=block.guidance,
        pain_scale=block.pain_scale,
        joints=tuple(dict.fromkeys(t.joint for t in targets)),
    )


def _notes(notes: Sequence[Any]) -> list[dict[str, str]]:
    return [{"code": n.code, "message": n.message} for n in notes]


def _evaluate_block(
    block: Row[Any],
    targets: Sequence[Row[Any]],
    readings: dict[uuid.UUID, list[ReadingFacts]],
    policy: Policy,
) -> _Evaluated:
    facts = _facts(block, targets)
    verdicts = [(t, evaluate_target(facts, readings.get(t.id, ()), policy)) for t in targets]
    every = [r for t in targets for r in readings.get(t.id, ())]
    return _Evaluated(block.id, _notes(block_warnings(facts, every, policy)), verdicts)


async def _load(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID | None
) -> tuple[list[Row[Any]], dict[uuid.UUID, list[Row[Any]]], dict[uuid.UUID, list[ReadingFacts]]]:
    """Blocks, their targets and their ACTIVE readings: one block, or (block_id None) the whole clinic."""
    blocks_q = select(*_BLOCK_COLUMNS).where(Block.clinic_id == clinic_id)
    targets_q = select(*_TARGET_COLUMNS).where(BlockTarget.clinic_id == clinic_id)
    readings_q = select(*_reading_columns(session)).where(
        Reading.clinic_id == clinic_id, Reading.status == "active"
    )
    if block_id is not None:
        blocks_q = blocks_q.where(Block.id == block_id)
        targets_q = targets_q.where(BlockTarget.block_id == block_id)
        readings_q = readings_q.where(Reading.block_id == block_id)
    # Core on the session's connection: these can be ~500k rows, and ORM result handling would dominate.
    connection = await session.connection()
    blocks = list((await connection.execute(blocks_q)).all())
    targets: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
    for t in (await connection.execute(targets_q.order_by(BlockTarget.position))).all():
        targets[t.block_id].append(t)
    readings: dict[uuid.UUID, list[ReadingFacts]] = defaultdict(list)
    for id_, target_id, phase, at, score, analgesic in (await connection.execute(readings_q)).all():
        readings[target_id].append(ReadingFacts(id_, phase, at, score, analgesic))
    return blocks, targets, readings


async def _store(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    evaluated: Sequence[_Evaluated],
    bulk: bool = False,
) -> None:
    now = utcnow()
    await upsert(
        session,
        BlockOutcome.__table__,
        [
            {
                "block_id": e.block_id,
                "clinic_id": clinic_id,
                "policy_profile": policy.profile,
                "policy_version": policy.version,
                "threshold_pct": policy.threshold_pct,
                "warnings": e.warnings,
                "computed_at": now,
            }
            for e in evaluated
        ],
        ["block_id"],
        bulk=bulk,
    )
    await upsert(
        session,
        TargetOutcome.__table__,
        [
            {
                "target_id": t.id,
                "block_id": e.block_id,
                "clinic_id": clinic_id,
                **_verdict_fields(v),
                "policy_version": policy.version,
                "computed_at": now,
            }
            for e in evaluated
            for t, v in e.targets
        ],
        ["target_id"],
        bulk=bulk,
    )


def _verdict_fields(v: TargetVerdict) -> dict[str, Any]:
    """A target verdict as stored in target_outcome and shown in the outcome (same keys in both)."""
    return {
        "verdict": v.verdict,
        "baseline": v.baseline,
        "peak_relief_pct": v.peak_relief_pct,
        "sustained_relief_pct": v.sustained_relief_pct,
        "relief_duration_minutes": v.relief_duration_minutes,
        "required_minutes": v.required_minutes,
        "readings_used": [str(i) for i in v.readings_used],
        "reasons": _notes(v.reasons),
        "warnings": _notes(v.warnings),
    }


def _public(e: _Evaluated, policy: Policy) -> OutcomePublic:
    return OutcomePublic.model_validate(
        {
            "block_id": e.block_id,
            "policy": {
                "profile": policy.profile,
                "version": policy.version,
                "threshold_pct": policy.threshold_pct,
            },
            "warnings": e.warnings,
            "targets": [
                {
                    "target_id": t.id,
                    "joint": t.joint,
                    "side": t.side,
                    **_verdict_fields(v),
                }
                for t, v in e.targets
            ],
        }
    )


async def _old_verdicts(session: AsyncSession, clinic_id: uuid.UUID) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(TargetOutcome.target_id, TargetOutcome.verdict).where(TargetOutcome.clinic_id == clinic_id)
    )
    return dict(rows.all())


async def reevaluate_block(session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID) -> OutcomePublic:
    """Recompute and store the block's outcome and the levels of its targets, in the caller's transaction.

    Call after any write that can change a verdict: a new block, new/amended/voided readings, a voided block.
    Emits `block.evaluated`, and `referral.recommended` / `referral.withdrawn` for referrals it changes.
    Returns the outcome just stored, so a caller that answers with it need not read it back.
    """
    await session.flush()  # the caller's pending rows must be visible to the queries below
    policy = await active_policy(session, clinic_id)
    blocks, targets, readings = await _load(session, clinic_id, block_id)
    if not blocks:
        raise NotFound(f"No block {block_id}.")
    evaluated = _evaluate_block(blocks[0], targets[block_id], readings, policy)
    await _store(session, clinic_id, policy, [evaluated])
    keys = {(blocks[0].patient_id, t.joint, t.side) for t in targets[block_id]}
    statuses = await levels.reevaluate_levels(session, clinic_id, policy, keys)
    published = await referrals.sync_referrals(session, clinic_id, policy, statuses)
    outcome = _public(evaluated, policy)
    event = ("block.evaluated", outcome.model_dump(mode="json"))
    await outbox.emit_many(session, clinic_id, [event, *published])
    return outcome


async def reevaluate_clinic(session: AsyncSession, clinic_id: uuid.UUID, policy: Policy) -> None:
    """CR-21: re-evaluate every block and level of the clinic under `policy`, in set-based passes.

    `block.evaluated` is emitted only for blocks where some target's verdict changed: every outcome
    records the new policy version, but subscribers care about changed verdicts, not a version bump.
    """
    await session.flush()
    with cycle_collector_paused():
        await _reevaluate_clinic(session, clinic_id, policy)


async def _reevaluate_clinic(session: AsyncSession, clinic_id: uuid.UUID, policy: Policy) -> None:
    before = await _old_verdicts(session, clinic_id)
    blocks, targets, readings = await _load(session, clinic_id, None)
    evaluated = [_evaluate_block(b, targets[b.id], readings, policy) for b in blocks]
    del readings  # the largest structure of the pass, no longer needed
    await _store(session, clinic_id, policy, evaluated, bulk=True)
    changed = [
        ("block.evaluated", _public(e, policy).model_dump(mode="json"))
        for e in evaluated
        if any(before.get(t.id) != v.verdict for t, v in e.targets)
    ]
    statuses = await levels.reevaluate_clinic_levels(session, clinic_id, policy, _history(blocks, evaluated))
    published = await referrals.sync_referrals(session, clinic_id, policy, statuses, whole_clinic=True)
    await outbox.emit_many(session, clinic_id, [*changed, *published], bulk=True)


def _history(blocks: Sequence[Row[Any]], evaluated: Sequence[_Evaluated]) -> list[levels.HistoryRow]:
    """The level history of the whole clinic, from the blocks just evaluated (same order)."""
    return [
        levels.HistoryRow(
            t.patient_id,
            t.joint,
            t.side,
            t.region,
            b.id,
            b.performed_at,
            b.agent,
            b.procedure,
            b.intent,
            b.status,
            b.sedation,
            b.guidance,
            v.verdict,
            v.relief_duration_minutes,
        )
        for b, e in zip(blocks, evaluated, strict=True)
        for t, v in e.targets
    ]
