"""The stored outcome of a block, as GET /v1/blocks/{id}/outcome shows it (computed by evaluation.py), and
the warnings an ablation's outcome takes from its level (CR-27, CR-28)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.facts import TargetVerdict
from api.clinical.policy import Policy
from api.errors import NotFound
from api.schemas.outcomes import OutcomePublic
from api.services.bulk import chunks
from api.services.levels import EvaluatedLevel, note_dicts
from models import Block, BlockOutcome, BlockTarget, Referral, TargetOutcome

Contexts = dict[uuid.UUID, list[dict[str, str]] | None]  # target_id -> its level-dependent warnings


def verdict_fields(v: TargetVerdict) -> dict[str, Any]:
    """A target verdict as stored in target_outcome and shown in the outcome (same keys in both)."""
    return {
        "verdict": v.verdict,
        "baseline": v.baseline,
        "peak_relief_pct": v.peak_relief_pct,
        "sustained_relief_pct": v.sustained_relief_pct,
        "relief_duration_minutes": v.relief_duration_minutes,
        "required_minutes": v.required_minutes,
        "readings_used": [str(i) for i in v.readings_used],
        "reasons": note_dicts(v.reasons),
        "warnings": note_dicts(v.warnings),
        "excluded_readings": [{"reading_id": str(i), "reason": why} for i, why in v.excluded_readings],
    }


def fresh_outcome(
    block_id: uuid.UUID,
    warnings: list[dict[str, str]],
    targets: Sequence[tuple[Any, TargetVerdict]],
    policy: Policy,
    contexts: Contexts,
) -> OutcomePublic:
    """The outcome evaluation.py just computed, as outcome_for_block would read it back once stored."""
    return OutcomePublic.model_validate(
        {
            "block_id": block_id,
            "policy": {
                "profile": policy.profile,
                "version": policy.version,
                "threshold_pct": policy.threshold_pct,
            },
            "warnings": warnings,
            "targets": [
                {
                    "target_id": t.id,
                    "joint": t.joint,
                    "side": t.side,
                    **verdict_fields(v),
                    "warnings": [*note_dicts(v.warnings), *(contexts.get(t.id) or [])],
                }
                for t, v in targets
            ],
        }
    )


async def outcome_with_patient(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID
) -> tuple[uuid.UUID, OutcomePublic]:
    """The block's patient id (for the audit trail) and its stored outcome."""
    outcome = await outcome_for_block(session, clinic_id, block_id)
    patient_id = await session.scalar(select(Block.patient_id).where(Block.id == block_id))
    assert patient_id is not None  # the outcome was found, so its block is there
    return patient_id, outcome


async def outcome_for_block(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID
) -> OutcomePublic:
    """The stored outcome of a block of this clinic (404 for another clinic's or an unknown block)."""
    head = await session.get(BlockOutcome, block_id, populate_existing=True)
    if head is None or head.clinic_id != clinic_id:
        raise NotFound(f"No outcome for block {block_id}.")
    rows = await session.execute(
        select(TargetOutcome, BlockTarget.joint, BlockTarget.side)
        .join(BlockTarget, BlockTarget.id == TargetOutcome.target_id)
        .where(TargetOutcome.block_id == block_id, TargetOutcome.clinic_id == clinic_id)
        .order_by(BlockTarget.position)
        .execution_options(populate_existing=True)
    )
    targets = [
        {
            **{c: getattr(o, c) for c in _TARGET_FIELDS},
            "joint": joint,
            "side": side,
            "peak_relief_pct": _float(o.peak_relief_pct),
            "sustained_relief_pct": _float(o.sustained_relief_pct),
            "warnings": [*o.warnings, *(o.context_warnings or [])],
        }
        for o, joint, side in rows.all()
    ]
    policy = {
        "profile": head.policy_profile,
        "version": head.policy_version,
        "threshold_pct": head.threshold_pct,
    }
    return OutcomePublic.model_validate(
        {"block_id": block_id, "policy": policy, "warnings": head.warnings, "targets": targets}
    )


_TARGET_FIELDS = (
    "target_id",
    "verdict",
    "baseline",
    "relief_duration_minutes",
    "required_minutes",
    "readings_used",
    "reasons",
    "excluded_readings",
)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _contexts(levels: Sequence[EvaluatedLevel], fulfilling: set[tuple[uuid.UUID, uuid.UUID]]) -> Contexts:
    wanted: Contexts = {}
    for level in levels:
        notes = dict(level.status.rfa_notes)
        for block_id, target_id in level.rfa_targets:
            found = notes.get(block_id, ())
            if (level.level_id, block_id) in fulfilling:
                # A fulfilled referral stays so while its ablation stands (CR-19), even when corrected data
                # would no longer have opened it: that ablation had its referral.
                found = tuple(n for n in found if n.code != "no_referral")
            wanted[target_id] = note_dicts(found) if found else None
    return wanted


async def _fulfilling(
    session: AsyncSession, levels: Sequence[EvaluatedLevel]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(level, ablation) pairs where the ablation fulfils a stored referral of the level."""
    found: set[tuple[uuid.UUID, uuid.UUID]] = set()
    level_ids = [level.level_id for level in levels]
    for part in chunks(level_ids):
        rows = await session.execute(
            select(Referral.level_id, Referral.fulfilled_by_block_id).where(
                Referral.level_id.in_(part), Referral.status == "fulfilled"
            )
        )
        found |= {(level_id, block_id) for level_id, block_id in rows.all()}
    return found


async def store_contexts(
    session: AsyncSession, clinic_id: uuid.UUID, levels: Sequence[EvaluatedLevel]
) -> tuple[Contexts, set[uuid.UUID]]:
    """CR-27/CR-28: store each ablation target's level-dependent warnings (`no_referral`,
    `too_many_rfa_sessions`) where they changed. Returns them all, and the blocks whose outcome changed.
    Run after the referrals are synced: what an ablation fulfils decides `no_referral`.

    Only levels with an ablation have any, so a clinic without ablations pays nothing here.
    """
    with_rfa = [level for level in levels if level.rfa_targets]
    if not with_rfa:
        return {}, set()
    wanted = _contexts(with_rfa, await _fulfilling(session, with_rfa))
    if not wanted:
        return wanted, set()
    stored: dict[uuid.UUID, tuple[uuid.UUID, Any]] = {}
    for part in chunks(list(wanted)):
        query = select(TargetOutcome.target_id, TargetOutcome.block_id, TargetOutcome.context_warnings).where(
            TargetOutcome.clinic_id == clinic_id, TargetOutcome.target_id.in_(part)
        )
        stored.update({t: (b, c) for t, b, c in (await session.execute(query)).all()})
    changed = [(t, notes) for t, notes in wanted.items() if t in stored and stored[t][1] != notes]
    if changed:
        table = TargetOutcome.__table__
        stmt = update(table).where(table.c.target_id == bindparam("b_target"))
        rows = [{"b_target": t, "context_warnings": notes} for t, notes in changed]
        await (await session.connection()).execute(stmt, rows)
    return wanted, {stored[t][0] for t, _ in changed}
