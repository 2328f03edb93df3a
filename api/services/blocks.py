"""Blocks of one clinic: record a session with its targets, read, list, void (CR-1..CR-5)."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.clinical.nomenclature import expand_side, nerves_of, region_of
from api.errors import Conflict, NotFound, Unprocessable, field_error
from api.pagination import paginate
from api.schemas.blocks import BlockCreate, BlockPublic, TargetPublic
from api.schemas.common import Note
from api.services.evaluation import reevaluate_block
from api.services.patients import get_patient
from models import Block, BlockOutcome, BlockTarget

# CR-5: the agent's relief duration is known by policy except for these.
MINUTES_REQUIRED = {"other"}
MINUTES_OPTIONAL = {"saline_placebo"}


def _check(data: BlockCreate) -> list[dict[str, Any]]:
    """Every cross-field error of a block body, each naming its field."""
    errors = []
    minutes = data.expected_relief_minutes
    if data.agent in MINUTES_REQUIRED and minutes is None:
        errors.append(field_error(["body", "expected_relief_minutes"], "required when agent is 'other'"))
    if minutes is not None and data.agent not in MINUTES_REQUIRED | MINUTES_OPTIONAL:
        errors.append(
            field_error(
                ["body", "expected_relief_minutes"],
                f"not accepted for {data.agent}: its relief duration comes from the clinic's policy",
            )
        )
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


async def create_block(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID, data: BlockCreate, key_id: uuid.UUID
) -> Block:
    await get_patient(session, clinic_id, patient_id)
    if errors := _check(data):
        raise Unprocessable(f"{len(errors)} invalid field(s) in the block", errors=errors)
    fields = data.model_dump(exclude={"targets"})
    block = Block(
        clinic_id=clinic_id,
        patient_id=patient_id,
        created_by_key_id=key_id,
        **fields,
        targets=_targets(clinic_id, patient_id, data),
    )
    session.add(block)
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return await get_block(session, clinic_id, block.id)


async def get_block(session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID) -> Block:
    block = await session.scalar(
        select(Block)
        .options(selectinload(Block.targets))
        .where(Block.id == block_id, Block.clinic_id == clinic_id)
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


async def void_block(session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID, reason: str) -> Block:
    """Mark a block entered-in-error: it is kept, but no longer counts for any level (CR-16)."""
    block = await get_block(session, clinic_id, block_id)
    if block.status == "entered_in_error":
        raise Conflict(f"Block {block_id} is already voided.")
    block.status, block.void_reason, block.voided_at = "entered_in_error", reason, datetime.now(UTC)
    block.version += 1
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
        nerves=nerves_of(target.joint),
    )  # type: ignore[arg-type]


def block_public(block: Block, warnings: list[Note]) -> BlockPublic:
    fields = {
        name: getattr(block, name) for name in BlockPublic.model_fields if name not in ("targets", "warnings")
    }
    return BlockPublic(**fields, targets=[target_public(t) for t in block.targets], warnings=warnings)


async def blocks_public(
    session: AsyncSession, clinic_id: uuid.UUID, blocks: Sequence[Block]
) -> list[BlockPublic]:
    warnings = await block_warnings(session, clinic_id, [b.id for b in blocks])
    return [block_public(block, warnings.get(block.id, [])) for block in blocks]
