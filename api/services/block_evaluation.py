"""Evaluation after a single write: one block's outcome, then its patient's levels and referrals.

A write already holds most of what its evaluation needs: the block and its targets (read under the
patient's lock), the readings it has just validated. It fetches only what it lacks, the block's other
readings and its patient's stored record (verdicts of the other blocks, levels, live referrals, stored
outcomes) in one statement each, computes in memory, and writes only rows whose content changed.
The stored result is the same as the clinic-wide pass would store (tests/api/test_evaluation_equivalence.py).
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.policy import Policy
from api.clinical.verdict import ReadingFacts
from api.errors import NotFound
from api.schemas.outcomes import OutcomePublic
from api.services import levels, outbox, referrals
from api.services.block_rows import LockedBlock
from api.services.evaluation import (
    Evaluated,
    evaluate_block,
    history_rows,
    load_blocks,
    load_readings,
    store_outcomes,
)
from api.services.level_history import HistoryRow, PatientRecord, StoredBlockOutcome, patient_record
from api.services.outcomes import fresh_outcome, outcome_for_block, store_contexts
from api.services.policies import active_policy, policy_at

Readings = dict[uuid.UUID, list[ReadingFacts]]  # target id -> its active readings


async def reevaluate_block(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    block_id: uuid.UUID,
    locked: LockedBlock | None = None,
    readings: Readings | None = None,
) -> OutcomePublic:
    """Recompute and store the block's outcome and its patient's levels, in the caller's transaction.

    Call after any write that can change a verdict or a level: a new, corrected or voided block, a
    coverage override, new/amended/voided readings. The caller must hold the block's patient lock
    (api/services/locks.py) since before it read the block. A caller that read the block with
    block_rows.lock_block passes it as `locked`, and may pass the block's active `readings` it holds.
    Emits `block.evaluated` (also for another ablation whose level-dependent warnings changed), and
    `referral.recommended` / `.withdrawn` / `.fulfilled` for referrals it changes. Returns the outcome
    just stored, so a caller that answers with it need not read it back.
    """
    await session.flush()  # the caller's pending rows must be visible to the queries below
    block, targets, policy, listened = await _block_and_policy(session, clinic_id, block_id, locked)
    if readings is None:
        readings = await load_readings(session, clinic_id, block_id)
    evaluated = evaluate_block(block, targets, readings, policy)
    record = await patient_record(session, clinic_id, block.patient_id)
    stored = record.block_outcomes.get(block_id)
    await store_outcomes(
        session, clinic_id, policy, [evaluated], write_block=_differs(evaluated, stored, policy)
    )
    statuses = await levels.reevaluate_patient_levels(
        session, clinic_id, policy, _with_fresh(record.history, block, evaluated), record.levels
    )
    published = await referrals.sync_referrals(session, clinic_id, policy, statuses, live=_live(record))
    contexts, context_changed = await store_contexts(session, clinic_id, statuses)
    outcome = fresh_outcome(evaluated.block_id, evaluated.warnings, evaluated.targets, policy, contexts)
    if listened:
        events = [("block.evaluated", outcome.model_dump(mode="json"))]
        for other in sorted(context_changed - {block_id}):
            other_outcome = await outcome_for_block(session, clinic_id, other)
            events.append(("block.evaluated", other_outcome.model_dump(mode="json")))
        await outbox.emit_many(session, clinic_id, [*events, *published])
    return outcome


async def _block_and_policy(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID, locked: LockedBlock | None
) -> tuple[Any, Sequence[Any], Policy, bool]:
    """(block, its targets, the active policy, whether anyone may listen for events)."""
    if locked is not None:
        policy = await policy_at(session, clinic_id, locked.policy_version, locked.time_zone)
        return locked.block, locked.targets, policy, locked.listened
    policy = await active_policy(session, clinic_id)
    blocks, targets = await load_blocks(session, clinic_id, block_id)
    if not blocks:
        raise NotFound(f"No block {block_id}.")
    return blocks[0], targets[block_id], policy, True  # emit_many looks the subscriptions up


def _differs(evaluated: Evaluated, stored: StoredBlockOutcome | None, policy: Policy) -> bool:
    """Whether the block's own outcome row (its CR-14 warnings and policy) would change."""
    return stored is None or stored != (
        evaluated.warnings,
        policy.profile,
        policy.version,
        policy.threshold_pct,
    )


def _with_fresh(history: list[HistoryRow], block: Any, evaluated: Evaluated) -> list[HistoryRow]:
    """The patient's stored history with the block's targets as just evaluated (not yet read back)."""
    fresh = history_rows([block], [evaluated])
    written = {row.target_id for row in fresh}
    return [row for row in history if row.target_id not in written] + fresh


def _live(record: PatientRecord) -> dict[uuid.UUID, uuid.UUID]:
    return {lvl.id: lvl.live_referral_id for lvl in record.levels.values() if lvl.live_referral_id}
