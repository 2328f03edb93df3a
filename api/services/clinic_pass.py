"""The clinic-wide pass (CR-21, CR-30): every block and level of a clinic, or of a batch of its patients,
re-evaluated under a new policy or time zone, with set-based statements.

It is incremental, so that a policy change on a large clinic takes seconds:
- a change that touches no setting a verdict reads (api/clinical/verdict.py VERDICT_SETTINGS) keeps
  every stored block and target outcome: no reading is read, levels are evaluated from stored verdicts;
- otherwise each target's active readings are read as one row per target (PostgreSQL aggregates them
  into arrays in SQL), every block is evaluated, and only outcomes whose content differs from the
  stored (target_outcome.content_hash; a block's warnings) are written;
- levels and referrals are written only where they changed; events only for types someone wants;
- last, the rows not rewritten take the new policy version, one UPDATE per table.

`patient_ids` runs the pass for some patients only (a batch of a long-running job); the default is
the whole clinic in one transaction.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Uuid, bindparam, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.policy import Policy
from api.clinical.verdict import ReadingFacts, verdict_settings_differ
from api.services import levels, outbox, referrals
from api.services.block_rows import BLOCK_COLUMNS, TARGET_COLUMNS
from api.services.bulk import cycle_collector_paused, is_postgresql, upsert
from api.services.evaluation import (
    Evaluated,
    block_row,
    evaluate_block,
    history_rows,
    load_readings,
    target_rows,
)
from api.services.level_history import (
    LIVE_STATUSES,
    STORED_LEVEL_COLUMNS,
    HistoryRow,
    LevelKey,
    StoredLevel,
    history_query,
)
from api.services.locks import lock_clinic_patients, lock_patients
from api.services.outcomes import fresh_outcome, outcome_for_block, store_contexts
from models import Block, BlockOutcome, BlockTarget, Level, Patient, Reading, Referral, TargetOutcome
from models.base import utcnow

__all__ = ["clinic_patient_ids", "reevaluate_clinic"]


@dataclass(frozen=True)
class Scope:
    """The clinic, and the patients of the batch (None: all of them)."""

    clinic_id: uuid.UUID
    patient_ids: tuple[uuid.UUID, ...] | None

    def of(self, patient_column: Any) -> Any:
        """The WHERE clause of a table with a patient_id column."""
        if self.patient_ids is None:
            return patient_column.is_not(None)
        return patient_column.in_(self.patient_ids)

    def targets(self) -> Any:
        return select(BlockTarget.id).where(
            BlockTarget.clinic_id == self.clinic_id, self.of(BlockTarget.patient_id)
        )

    def blocks(self) -> Any:
        return select(Block.id).where(Block.clinic_id == self.clinic_id, self.of(Block.patient_id))


async def clinic_patient_ids(session: AsyncSession, clinic_id: uuid.UUID) -> list[uuid.UUID]:
    """The clinic's patients in id order: a job passes them to reevaluate_clinic batch by batch."""
    query = select(Patient.id).where(Patient.clinic_id == clinic_id).order_by(Patient.id)
    return list((await session.scalars(query)).all())


async def reevaluate_clinic(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    previous: Policy | None = None,
    patient_ids: Sequence[uuid.UUID] | None = None,
) -> None:
    """CR-21: re-evaluate every block and level of the clinic (or of `patient_ids`) under `policy`.

    `previous`: the policy the stored outcomes were computed under. When it differs from `policy` in no
    verdict setting, the stored outcomes are kept; None re-evaluates every block (a fresh evaluation).
    `block.evaluated` is emitted only for blocks where some target's verdict (or an ablation's level
    warnings) changed: subscribers care about changed verdicts, not a version bump.
    """
    await session.flush()
    # Ordered against every single-patient write (api/services/locks.py).
    if patient_ids is None:
        await lock_clinic_patients(session, clinic_id)
    else:
        await lock_patients(session, clinic_id, patient_ids)
    scope = Scope(clinic_id, None if patient_ids is None else tuple(patient_ids))
    with cycle_collector_paused():
        await _reevaluate(session, scope, policy, previous)


async def _reevaluate(session: AsyncSession, scope: Scope, policy: Policy, previous: Policy | None) -> None:
    clinic_id = scope.clinic_id
    evaluated: dict[uuid.UUID, Evaluated] = {}
    changed: set[uuid.UUID] = set()
    if previous is not None and not verdict_settings_differ(previous, policy):
        history = await _stored_history(session, scope)
    else:
        blocks, targets = await _blocks(session, scope)
        readings = await _readings(session, scope)
        fresh = [evaluate_block(b, targets[b.id], readings, policy) for b in blocks]
        del readings  # the largest structure of the pass, no longer needed
        changed = await _store_changed(session, scope, policy, fresh)
        history = history_rows(blocks, fresh)
        evaluated = {e.block_id: e for e in fresh}
    stored = await _stored_levels(session, scope, policy)
    statuses = await levels.reevaluate_clinic_levels(session, clinic_id, policy, history, stored)
    live = {level.id: level.live_referral_id for level in stored.values() if level.live_referral_id}
    wanted = await outbox.wanted_types(session, clinic_id)  # no event body nobody gets
    published = await referrals.sync_referrals(
        session, clinic_id, policy, statuses, whole_clinic=True, live=live, wanted=wanted
    )
    contexts, context_changed = await store_contexts(session, clinic_id, statuses)
    await _stamp(session, scope, policy)
    events: list[tuple[str, dict[str, Any]]] = []
    if "block.evaluated" in wanted:
        for block_id in sorted(changed | context_changed):
            e = evaluated.get(block_id)
            outcome = (
                fresh_outcome(block_id, e.warnings, e.targets, policy, contexts)
                if e is not None
                else await outcome_for_block(session, clinic_id, block_id)
            )
            events.append(("block.evaluated", outcome.model_dump(mode="json")))
    await outbox.emit_many(session, clinic_id, [*events, *published], bulk=True)


async def _stamp(session: AsyncSession, scope: Scope, policy: Policy) -> None:
    """The outcomes and levels not rewritten above take the new policy too: one UPDATE per table, of the
    rows not already on it (a version bump alone never makes the pass rewrite a row)."""
    now, connection = utcnow(), await session.connection()
    targets, blocks, lvl = TargetOutcome.__table__, BlockOutcome.__table__, Level.__table__
    await connection.execute(
        update(targets)
        .where(targets.c.target_id.in_(scope.targets()), targets.c.policy_version != policy.version)
        .values(policy_version=policy.version, computed_at=now)
    )
    await connection.execute(
        update(blocks)
        .where(
            blocks.c.block_id.in_(scope.blocks()),
            or_(
                blocks.c.policy_version != policy.version,
                blocks.c.policy_profile != policy.profile,
                blocks.c.threshold_pct != policy.threshold_pct,
            ),
        )
        .values(
            policy_version=policy.version,
            policy_profile=policy.profile,
            threshold_pct=policy.threshold_pct,
            computed_at=now,
        )
    )
    await connection.execute(
        update(lvl)
        .where(
            lvl.c.clinic_id == scope.clinic_id,
            scope.of(lvl.c.patient_id),
            lvl.c.policy_version != policy.version,
        )
        .values(policy_version=policy.version, updated_at=now)
    )


async def _blocks(session: AsyncSession, scope: Scope) -> tuple[list[Any], dict[uuid.UUID, list[Any]]]:
    """The blocks of the scope and their targets, in position order (Core rows: no ORM objects)."""
    connection = await session.connection()
    blocks_q = select(*BLOCK_COLUMNS).where(Block.clinic_id == scope.clinic_id, scope.of(Block.patient_id))
    targets_q = (
        select(*TARGET_COLUMNS)
        .where(BlockTarget.clinic_id == scope.clinic_id, scope.of(BlockTarget.patient_id))
        .order_by(BlockTarget.position)
    )
    blocks = list((await connection.execute(blocks_q)).all())
    targets: dict[uuid.UUID, list[Any]] = {b.id: [] for b in blocks}
    for t in (await connection.execute(targets_q)).all():
        targets[t.block_id].append(t)
    return blocks, targets


# One row per target: its active readings' columns as parallel arrays. The rows reach the aggregates
# in the subquery's order, which is heap order like a plain read's (what the single-block path sees):
# readings with equal times are then taken in the same order by both paths.
_SUMMARY = """
    SELECT target_id, array_agg(id::text), array_agg(phase::text), array_agg(recorded_at),
           array_agg(score), array_agg(analgesic_taken)
    FROM (
        SELECT target_id, id, phase, recorded_at, score, analgesic_taken FROM reading
        WHERE clinic_id = :clinic_id AND status = 'active' {batch}
        ORDER BY target_id, ctid
    ) AS active
    GROUP BY target_id
"""
_BATCH = "AND target_id IN (SELECT id FROM block_target WHERE patient_id = ANY(:patient_ids))"


def _summary_query(scope: Scope) -> Any:
    query = text(_SUMMARY.format(batch="" if scope.patient_ids is None else _BATCH))
    query = query.bindparams(bindparam("clinic_id", type_=Uuid()))
    if scope.patient_ids is not None:
        query = query.bindparams(bindparam("patient_ids", type_=ARRAY(Uuid())))
    return query.columns(target_id=Uuid())


async def _readings(session: AsyncSession, scope: Scope) -> dict[uuid.UUID, list[ReadingFacts]]:
    """Each target's active readings. PostgreSQL: one row per target, its readings aggregated into arrays
    in SQL (a twelfth of the rows, no row object per reading); SQLite: a plain Core read."""
    if not is_postgresql(session):
        if scope.patient_ids is None:
            return await load_readings(session, scope.clinic_id, None)
        return await _scoped_readings(session, scope)
    params: dict[str, Any] = {"clinic_id": scope.clinic_id}
    if scope.patient_ids is not None:
        params["patient_ids"] = list(scope.patient_ids)
    rows = await (await session.connection()).execute(_summary_query(scope), params)
    return {
        target_id: [ReadingFacts(*reading) for reading in zip(*columns, strict=True)]
        for target_id, *columns in rows
    }


async def _scoped_readings(session: AsyncSession, scope: Scope) -> dict[uuid.UUID, list[ReadingFacts]]:
    query = select(
        Reading.target_id,
        Reading.id,
        Reading.phase,
        Reading.recorded_at,
        Reading.score,
        Reading.analgesic_taken,
    ).where(
        Reading.clinic_id == scope.clinic_id,
        Reading.status == "active",
        Reading.target_id.in_(scope.targets()),
    )
    found: dict[uuid.UUID, list[ReadingFacts]] = {}
    for target_id, *reading in await (await session.connection()).execute(query):
        found.setdefault(target_id, []).append(ReadingFacts(*reading))
    return found


async def _store_changed(
    session: AsyncSession, scope: Scope, policy: Policy, fresh: Sequence[Evaluated]
) -> set[uuid.UUID]:
    """Write the outcomes whose content differs from the stored; the blocks where some verdict changed."""
    connection = await session.connection()
    stored_targets = dict(
        (t, (verdict, digest))
        for t, verdict, digest in await connection.execute(
            select(TargetOutcome.target_id, TargetOutcome.verdict, TargetOutcome.content_hash).where(
                TargetOutcome.target_id.in_(scope.targets())
            )
        )
    )
    stored_blocks = dict(
        (
            await connection.execute(
                select(BlockOutcome.block_id, BlockOutcome.warnings).where(
                    BlockOutcome.block_id.in_(scope.blocks())
                )
            )
        ).all()
    )
    now = utcnow()
    blocks = [
        block_row(scope.clinic_id, policy, e, now)
        for e in fresh
        if stored_blocks.get(e.block_id, 0) != e.warnings
    ]
    targets = [
        row
        for row in target_rows(scope.clinic_id, policy, fresh, now)
        if stored_targets.get(row["target_id"], (None, None))[1] != row["content_hash"]
    ]
    await upsert(session, BlockOutcome.__table__, blocks, ["block_id"], bulk=True)
    await upsert(session, TargetOutcome.__table__, targets, ["target_id"], bulk=True)
    return {
        e.block_id
        for e in fresh
        if any(stored_targets.get(t.id, (None, None))[0] != v.verdict for t, v in e.targets)
    }


async def _stored_history(session: AsyncSession, scope: Scope) -> list[HistoryRow]:
    """Every target of the scope with its block and stored verdict."""
    query = history_query(scope.clinic_id).where(scope.of(BlockTarget.patient_id))
    return [HistoryRow(*row) for row in await (await session.connection()).execute(query)]


async def _stored_levels(session: AsyncSession, scope: Scope, policy: Policy) -> dict[LevelKey, StoredLevel]:
    """The stored levels of the scope, each with its live referral."""
    query = (
        select(Level.patient_id, Level.joint, Level.side, *STORED_LEVEL_COLUMNS)
        .outerjoin(Referral, (Referral.level_id == Level.id) & Referral.status.in_(LIVE_STATUSES))
        .where(Level.clinic_id == scope.clinic_id, scope.of(Level.patient_id))
    )
    rows = await (await session.connection()).execute(query)
    # Compared as if already on the new version: only a change of content rewrites a level (_stamp).
    return {
        (patient, joint, side): StoredLevel(*rest)._replace(policy_version=policy.version)
        for patient, joint, side, *rest in rows
    }
