"""The stored outcome of a block, as GET /v1/blocks/{id}/outcome shows it (computed by evaluation.py)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.schemas.outcomes import OutcomePublic
from models import BlockOutcome, BlockTarget, TargetOutcome


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
    "warnings",
)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
