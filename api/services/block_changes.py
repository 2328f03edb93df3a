"""Changes to a recorded block: corrections (PATCH), the coverage override (CR-24), and its history.

Each change is a new block version (block_version keeps every one, with who and why), takes the
patient's lock before it reads the block, checks If-Match against the block as read under that lock,
and re-evaluates the block and its patient's levels.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import Conflict, NotFound, Unprocessable, field_error
from api.etag import check_if_match
from api.schemas.blocks import BlockCorrection
from api.services.block_evaluation import reevaluate_block
from api.services.blocks import add_version, agent_errors, blocks_public, get_block, require_active
from api.services.locks import lock_patient_of_block
from models import Block, BlockVersion, Reading
from models.base import utcnow

REQUIRED = ("performed_at", "agent", "sedation", "guidance")  # present in the body means "set", never "clear"


async def _locked_block(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID, if_match: str | None
) -> Block:
    await lock_patient_of_block(session, clinic_id, block_id)  # before reading what it evaluates
    block = await get_block(session, clinic_id, block_id)
    [current] = await blocks_public(session, clinic_id, [block])
    check_if_match(if_match, current)
    require_active(block)
    return block


async def _misplaced_readings(session: AsyncSession, block: Block, at: datetime) -> list[str]:
    """CR-7 against a new block time: active post readings at or before it, pre readings after it."""
    rows = await session.execute(
        select(Reading.id, Reading.phase, Reading.recorded_at).where(
            Reading.block_id == block.id, Reading.status == "active"
        )
    )
    return [
        str(id_)
        for id_, phase, recorded_at in rows.all()
        if (phase == "post" and recorded_at <= at) or (phase == "pre" and recorded_at > at)
    ]


async def _errors(session: AsyncSession, block: Block, changes: dict[str, Any]) -> list[dict[str, Any]]:
    nulls = [name for name in REQUIRED if name in changes and changes[name] is None]
    errors = [field_error(["body", name], "must not be null") for name in nulls]
    if errors:
        return errors
    agent = changes.get("agent", block.agent)
    errors += agent_errors(agent, changes.get("expected_relief_minutes", block.expected_relief_minutes))
    if "performed_at" in changes and (
        misplaced := await _misplaced_readings(session, block, changes["performed_at"])
    ):
        message = (
            "the block time would put readings on the wrong side of it (a post reading must be after the "
            f"block, a pre reading at or before it): {', '.join(sorted(misplaced))}; "
            "correct or void them first"
        )
        errors.append(field_error(["body", "performed_at"], message))
    return errors


async def correct_block(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    block_id: uuid.UUID,
    data: BlockCorrection,
    if_match: str | None,
    actor: Principal,
) -> Block:
    """PATCH /v1/blocks/{id}: a new version with the corrected fields. Readings keep their clock times,
    so their minutes after the block move; the block and its patient's levels are re-evaluated."""
    block = await _locked_block(session, clinic_id, block_id, if_match)
    changes = {name: getattr(data, name) for name in data.model_fields_set - {"reason"}}
    if not changes:
        raise Unprocessable("Nothing to correct.", errors=[field_error(["body"], "give a field to correct")])
    if errors := await _errors(session, block, changes):
        raise Unprocessable(
            f"{len(errors)} invalid field(s) in the correction; nothing was changed", errors=errors
        )
    changed = {name: value for name, value in changes.items() if getattr(block, name) != value}
    if not changed:
        return block  # the same values again: no new version
    for name, value in changed.items():
        setattr(block, name, value)
    block.version += 1
    await add_version(session, block, "correct", actor.key_id, data.reason, actor.key_name)
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return await get_block(session, clinic_id, block.id)


def _require_diagnostic(block: Block) -> None:
    if block.procedure != "medial_branch_block" or block.intent != "diagnostic":
        raise Conflict(
            f"Block {block.id} is a {block.intent} {block.procedure.replace('_', ' ')}; a coverage override "
            "applies to diagnostic medial branch blocks only (CR-24)."
        )


async def set_coverage_override(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    block_id: uuid.UUID,
    reason: str,
    if_match: str | None,
    actor: Principal,
) -> Block:
    """CR-24: the block counts toward its levels although it misses the coverage criteria."""
    block = await _locked_block(session, clinic_id, block_id, if_match)
    _require_diagnostic(block)
    if block.coverage_override_reason == reason:
        return block
    block.coverage_override_reason, block.coverage_override_at = reason, utcnow()
    block.coverage_override_by, block.coverage_override_by_key_id = actor.key_name, actor.key_id
    block.version += 1
    await add_version(session, block, "override", actor.key_id, reason, actor.key_name)
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return await get_block(session, clinic_id, block.id)


async def remove_coverage_override(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID, if_match: str | None, actor: Principal
) -> Block:
    """CR-24: the block is judged by the coverage criteria again."""
    block = await _locked_block(session, clinic_id, block_id, if_match)
    if block.coverage_override_reason is None:
        raise NotFound(f"Block {block_id} has no coverage override.")
    block.coverage_override_reason = block.coverage_override_at = None
    block.coverage_override_by = block.coverage_override_by_key_id = None
    block.version += 1
    await add_version(
        session, block, "override_removed", actor.key_id, "Coverage override removed.", actor.key_name
    )
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return await get_block(session, clinic_id, block.id)


async def block_history(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID
) -> list[BlockVersion]:
    """Every version of the block, oldest first."""
    block = await get_block(session, clinic_id, block_id)
    rows = await session.scalars(
        select(BlockVersion).where(BlockVersion.block_id == block.id).order_by(BlockVersion.version)
    )
    return list(rows.all())
