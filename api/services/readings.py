"""The pain diary of one clinic's blocks: add a batch, read, list, amend with history, void (CR-6, CR-7).

A reading is never overwritten in place without trace: every version, the first included, is also a
reading_version row.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import Conflict, NotFound, Unprocessable, field_error, invalid, validation_errors
from api.etag import check_if_match
from api.pagination import paginate
from api.schemas.outcomes import OutcomePublic
from api.schemas.readings import InvalidReading, ReadingAmend, ReadingIn, ReadingPublic
from api.services.blocks import get_block, require_active
from api.services.evaluation import reevaluate_block
from models import Block, BlockTarget, Reading, ReadingVersion

# CR-6: each block's readings use its scale, whole numbers only.
SCALE_MAX = {"nrs": 10, "vas": 100}
SCALE_MESSAGE = {
    "nrs": "NRS scores are whole numbers from 0 to 10",
    "vas": "VAS scores are whole numbers from 0 to 100",
}
Loc = list[str | int]


def _score_error(block: Block, score: int) -> str | None:
    return None if 0 <= score <= SCALE_MAX[block.pain_scale] else SCALE_MESSAGE[block.pain_scale]


def _phase_error(phase: str, at: datetime, performed_at: datetime) -> str | None:
    """CR-7: a post reading after the block, a pre reading at or before it."""
    if phase == "post" and at <= performed_at:
        return "a post reading must be after the block time"
    if phase == "pre" and at > performed_at:
        return "a pre reading must be at or before the block time"
    return None


def _matching(block: Block, entry: ReadingIn, loc: Loc, errors: list[dict[str, Any]]) -> list[BlockTarget]:
    """CR-7: the targets the entry names (all when it names none); an untargeted joint or side is a 422."""
    sides = {"left", "right"} if entry.side in (None, "bilateral") else {entry.side}
    if entry.joint is not None and entry.joint not in {t.joint for t in block.targets}:
        errors.append(field_error([*loc, "joint"], f"the block did not target {entry.joint}"))
        return []
    found = [t for t in block.targets if entry.joint in (None, t.joint) and t.side in sides]
    if not found:
        where = f"{entry.joint} " if entry.joint else ""
        errors.append(field_error([*loc, "side"], f"the block did not target {where}{entry.side}"))
    return found


def _entry_time(block: Block, entry: ReadingIn, loc: Loc, errors: list[dict[str, Any]]) -> datetime | None:
    if (entry.recorded_at is None) == (entry.minutes_after_block is None):
        errors.append(
            field_error([*loc, "recorded_at"], "give exactly one of recorded_at or minutes_after_block")
        )
        return None
    if entry.recorded_at is not None:
        at, field = entry.recorded_at, "recorded_at"
    else:
        at, field = (
            block.performed_at + timedelta(minutes=entry.minutes_after_block or 0),
            "minutes_after_block",
        )
    if message := _phase_error(entry.phase, at, block.performed_at):
        errors.append(field_error([*loc, field], message))
    return at


def _check_entry(
    block: Block, index: int, entry: ReadingIn | InvalidReading, errors: list[dict[str, Any]]
) -> tuple[datetime | None, list[BlockTarget]]:
    """Every error of one entry goes into `errors`; returns its time and the targets it applies to.
    An entry that failed type validation brings its own errors; the block's checks need a valid entry."""
    loc: Loc = ["body", "readings", index]
    if isinstance(entry, InvalidReading):
        errors.extend(validation_errors(entry.errors, loc))
        return None, []
    if message := _score_error(block, entry.score):
        errors.append(field_error([*loc, "score"], message))
    if entry.analgesic is not None and not entry.analgesic_taken:
        errors.append(field_error([*loc, "analgesic"], "name an analgesic only with analgesic_taken: true"))
    return _entry_time(block, entry, loc, errors), _matching(block, entry, loc, errors)


def _version(reading: Reading, actor: Principal, reason: str | None) -> ReadingVersion:
    return ReadingVersion(
        reading_id=reading.id,
        version=reading.version,
        score=reading.score,
        recorded_at=reading.recorded_at,
        status=reading.status,
        changed_by_key_id=actor.key_id,
        changed_by=actor.key_name,
        reason=reason,
    )


async def create_readings(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    block_id: uuid.UUID,
    entries: Sequence[ReadingIn | InvalidReading],
    actor: Principal,
) -> tuple[Block, list[Reading], OutcomePublic]:
    """Store a whole batch or nothing: every entry is checked before the first row is written, and one 422
    lists the type errors and the block-dependent errors of every entry, in index order."""
    block = await get_block(session, clinic_id, block_id)
    require_active(block)
    errors: list[dict[str, Any]] = []
    checked = [_check_entry(block, i, entry, errors) for i, entry in enumerate(entries)]
    if errors:
        indexes = sorted({e["loc"][2] for e in errors})
        raise Unprocessable(
            f"{len(indexes)} invalid reading(s) at index {indexes}; nothing was stored", errors=errors
        )
    fields = {"phase", "score", "activity", "analgesic_taken", "analgesic", "note", "source"}
    readings = [
        Reading(
            id=uuid.uuid4(),
            clinic_id=clinic_id,
            block_id=block.id,
            target_id=target.id,
            recorded_at=at,
            version=1,
            status="active",
            created_by_key_id=actor.key_id,
            **entry.model_dump(include=fields),
        )
        for entry, (at, targets) in zip(entries, checked, strict=True)
        if isinstance(entry, ReadingIn)  # always, once there are no errors
        for target in targets
    ]
    session.add_all(readings)
    session.add_all([_version(r, actor, None) for r in readings])
    await session.flush()
    outcome = await reevaluate_block(session, clinic_id, block.id)
    return block, readings, outcome


async def get_reading(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID
) -> tuple[Block, Reading]:
    reading = await session.scalar(
        select(Reading).where(Reading.id == reading_id, Reading.clinic_id == clinic_id)
    )
    if reading is None:
        raise NotFound(f"No reading {reading_id}.")
    return await get_block(session, clinic_id, reading.block_id), reading


async def list_readings(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Block, Sequence[Reading], str | None]:
    """A block's readings in diary order (by time), voided ones included."""
    block = await get_block(session, clinic_id, block_id)
    query = select(Reading).where(Reading.clinic_id == clinic_id, Reading.block_id == block.id)
    rows, next_cursor = await paginate(session, query, Reading.recorded_at, Reading.id, limit, cursor)
    return block, rows, next_cursor


async def amend_reading(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    reading_id: uuid.UUID,
    data: ReadingAmend,
    if_match: str | None,
    actor: Principal,
) -> tuple[Block, Reading]:
    """A new version with the changed score and/or time; the old one stays in the history."""
    block, reading = await get_reading(session, clinic_id, reading_id)
    check_if_match(if_match, reading_public(block, reading))
    _require_active(reading)
    require_active(block)
    if data.score is None and data.recorded_at is None:
        raise invalid(["body"], "give score and/or recorded_at to change")
    if data.score is not None and (message := _score_error(block, data.score)):
        raise invalid(["body", "score"], message)
    at = data.recorded_at or reading.recorded_at
    if message := _phase_error(reading.phase, at, block.performed_at):
        raise invalid(["body", "recorded_at"], message)
    reading.score = reading.score if data.score is None else data.score
    reading.recorded_at, reading.version = at, reading.version + 1
    session.add(_version(reading, actor, data.reason))
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return block, reading


async def void_reading(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID, reason: str, actor: Principal
) -> tuple[Block, Reading]:
    """Mark a reading entered-in-error: kept and shown, but no verdict uses it."""
    block, reading = await get_reading(session, clinic_id, reading_id)
    _require_active(reading)
    reading.status, reading.version = "entered_in_error", reading.version + 1
    session.add(_version(reading, actor, reason))
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return block, reading


async def reading_history(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID
) -> list[ReadingVersion]:
    """Every version of a reading, oldest first."""
    _block, reading = await get_reading(session, clinic_id, reading_id)
    rows = await session.scalars(
        select(ReadingVersion).where(ReadingVersion.reading_id == reading.id).order_by(ReadingVersion.version)
    )
    return list(rows.all())


def _require_active(reading: Reading) -> None:
    if reading.status == "entered_in_error":
        raise Conflict(f"Reading {reading.id} is voided (entered in error); it cannot change.")


def reading_public(block: Block, reading: Reading) -> ReadingPublic:
    target = next(t for t in block.targets if t.id == reading.target_id)
    minutes = (reading.recorded_at - block.performed_at) // timedelta(minutes=1)
    fields = {name: getattr(reading, name) for name in ReadingPublic.model_fields if hasattr(reading, name)}
    return ReadingPublic.model_validate(
        {**fields, "joint": target.joint, "side": target.side, "minutes_after_block": minutes}
    )
