"""Blocks of one clinic: record a session (or an ablation, CR-27) with its targets, read, list, void
(CR-1..CR-5). Every version of a block is kept in block_version (corrections: block_changes.py)."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.clinical.facts import RFA
from api.clinical.nomenclature import FAMILY_OF, expand_side, nerves_of, region_of
from api.errors import Conflict, NotFound, Unprocessable, field_error
from api.pagination import paginate
from api.schemas.blocks import BlockCreate, BlockPublic, CoverageOverridePublic, TargetPublic
from api.schemas.common import Note
from api.services.block_evaluation import reevaluate_block
from api.services.locks import lock_patient, lock_patient_of_block
from api.services.patients import get_patient
from models import ApiKey, Block, BlockOutcome, BlockTarget, BlockVersion

# CR-5: the agent's relief duration is known by policy except for these.
MINUTES_REQUIRED = {"other"}
MINUTES_OPTIONAL = {"saline_placebo"}


def agent_errors(agent: str, minutes: int | None) -> list[dict[str, Any]]:
    """CR-5: expected_relief_minutes is required for `other`, optional for a placebo, refused otherwise."""
    if agent in MINUTES_REQUIRED and minutes is None:
        return [field_error(["body", "expected_relief_minutes"], "required when agent is 'other'")]
    if minutes is not None and agent not in MINUTES_REQUIRED | MINUTES_OPTIONAL:
        return [
            field_error(
                ["body", "expected_relief_minutes"],
                f"not accepted for {agent}: its relief duration comes from the clinic's policy",
            )
        ]
    return []


def _intent(data: BlockCreate) -> str:
    """CR-27: an ablation defaults to therapeutic; anything else to diagnostic."""
    if data.intent is not None:
        return data.intent
    return "therapeutic" if data.procedure == RFA else "diagnostic"


def _check(data: BlockCreate) -> list[dict[str, Any]]:
    """Every cross-field error of a block body, each naming its field."""
    errors = agent_errors(data.agent, data.expected_relief_minutes)
    if data.procedure == RFA and _intent(data) != "therapeutic":
        message = "radiofrequency_ablation is a treatment: its intent is 'therapeutic' (or left out)"
        errors.append(field_error(["body", "intent"], message))
    seen: set[tuple[str, str]] = set()
    for i, target in enumerate(data.targets):
        for side in expand_side(target.side):
            if (target.joint, side) in seen:
                errors.append(
                    field_error(["body", "targets", i], f"{target.joint} {side} is listed more than once")
                )
            seen.add((target.joint, side))
    return errors


def _targets(clinic_id: uuid.UUID, patient_id: uuid.UUID, data: BlockCreate) -> list[BlockTarget]:
    """CR-2: bilateral becomes one target per side; CR-3 region stored for level queries."""
    sides = [(t.joint, side) for t in data.targets for side in expand_side(t.side)]
    return [
        BlockTarget(
            clinic_id=clinic_id,
            patient_id=patient_id,
            position=i,
            joint=joint,
            side=side,
            region=region_of(joint),
        )
        for i, (joint, side) in enumerate(sides)
    ]


async def add_version(
    session: AsyncSession,
    block: Block,
    change: str,
    key_id: uuid.UUID | None,
    reason: str | None,
    key_name: str | None = None,
) -> None:
    """Snapshot the block as it now is, as version `block.version`, with who changed it and why."""
    if key_name is None and key_id is not None:
        key_name = await session.scalar(select(ApiKey.name).where(ApiKey.id == key_id))
    fields = ("performed_at", "agent", "expected_relief_minutes", "concentration_pct", "volume_ml_per_nerve")
    session.add(
        BlockVersion(
            block_id=block.id,
            version=block.version,
            change=change,
            **{name: getattr(block, name) for name in (*fields, "sedation", "guidance", "status")},
            coverage_override_reason=block.coverage_override_reason,
            changed_by_key_id=key_id,
            changed_by=key_name,
            reason=reason,
        )
    )


async def create_block(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    data: BlockCreate,
    key_id: uuid.UUID | None,
    key_name: str | None = None,
) -> Block:
    await lock_patient(session, clinic_id, patient_id)  # 404 for another clinic's patient
    if errors := _check(data):
        raise Unprocessable(f"{len(errors)} invalid field(s) in the block", errors=errors)
    fields = data.model_dump(exclude={"targets", "intent"})
    block = Block(
        clinic_id=clinic_id,
        patient_id=patient_id,
        created_by_key_id=key_id,
        intent=_intent(data),
        version=1,
        **fields,
        targets=_targets(clinic_id, patient_id, data),
    )
    session.add(block)
    await session.flush()
    await add_version(session, block, "create", key_id, None, key_name)
    await reevaluate_block(session, clinic_id, block.id)
    return await get_block(session, clinic_id, block.id)


async def get_block(session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID) -> Block:
    block = await session.scalar(
        select(Block)
        .options(selectinload(Block.targets))
        .where(Block.id == block_id, Block.clinic_id == clinic_id)
        # A write reads it again after taking the patient's lock: never answer from the identity map.
        .execution_options(populate_existing=True)
    )
    if block is None:
        raise NotFound(f"No block {block_id}.")
    return block


async def list_blocks(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[Block], str | None]:
    """A patient's blocks in the order they were performed."""
    await get_patient(session, clinic_id, patient_id)
    query = (
        select(Block)
        .options(selectinload(Block.targets))
        .where(Block.clinic_id == clinic_id, Block.patient_id == patient_id)
    )
    return await paginate(session, query, Block.performed_at, Block.id, limit, cursor)


async def void_block(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    block_id: uuid.UUID,
    reason: str,
    key_id: uuid.UUID | None = None,
    key_name: str | None = None,
) -> Block:
    """Mark a block entered-in-error: it is kept, but no longer counts for any level (CR-16); a voided
    ablation gives back the referral it fulfilled (CR-27)."""
    await lock_patient_of_block(session, clinic_id, block_id)
    block = await get_block(session, clinic_id, block_id)
    if block.status == "entered_in_error":
        raise Conflict(f"Block {block_id} is already voided.")
    block.status, block.void_reason, block.voided_at = "entered_in_error", reason, datetime.now(UTC)
    block.version += 1
    await add_version(session, block, "void", key_id, reason, key_name)
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return block


def require_active(block: Block) -> None:
    """A voided block's diary is closed: no reading may be added or amended."""
    if block.status == "entered_in_error":
        raise Conflict(f"Block {block.id} is voided (entered in error); its readings cannot change.")


async def block_warnings(
    session: AsyncSession, clinic_id: uuid.UUID, block_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Note]]:
    """The session warnings (CR-14) of the blocks' stored outcomes; a block not yet evaluated has none."""
    if not block_ids:
        return {}
    rows = await session.scalars(
        select(BlockOutcome)
        .where(BlockOutcome.clinic_id == clinic_id, BlockOutcome.block_id.in_(block_ids))
        # The evaluator writes outcomes with Core upserts: never answer from a stale identity map.
        .execution_options(populate_existing=True)
    )
    return {row.block_id: [Note.model_validate(w) for w in row.warnings or []] for row in rows}


def target_public(target: BlockTarget) -> TargetPublic:
    return TargetPublic(
        id=target.id,
        joint=target.joint,
        side=target.side,  # type: ignore[arg-type]
        region=target.region,
        payer_family=FAMILY_OF[target.joint],
        nerves=nerves_of(target.joint),
    )  # type: ignore[arg-type]


def _override(block: Block) -> CoverageOverridePublic | None:
    if block.coverage_override_reason is None or block.coverage_override_at is None:
        return None
    return CoverageOverridePublic(
        reason=block.coverage_override_reason, by=block.coverage_override_by, at=block.coverage_override_at
    )


def block_public(block: Block, warnings: list[Note]) -> BlockPublic:
    derived = ("targets", "warnings", "coverage_override")
    fields = {name: getattr(block, name) for name in BlockPublic.model_fields if name not in derived}
    return BlockPublic(
        **fields,
        coverage_override=_override(block),
        targets=[target_public(t) for t in block.targets],
        warnings=warnings,
    )


async def blocks_public(
    session: AsyncSession, clinic_id: uuid.UUID, blocks: Sequence[Block]
) -> list[BlockPublic]:
    warnings = await block_warnings(session, clinic_id, [b.id for b in blocks])
    return [block_public(block, warnings.get(block.id, [])) for block in blocks]
