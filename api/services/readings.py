"""The pain diary of one clinic's blocks: add a batch, read, list, amend with history, void (CR-6, CR-7).

A reading is never overwritten in place without trace: every version, the first included, is also a
reading_version row.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.clinical.facts import ReadingFacts
from api.errors import Conflict, NotFound, Unprocessable, field_error, invalid, validation_errors
from api.etag import check_if_match
from api.pagination import paginate
from api.schemas.common import future_error
from api.schemas.outcomes import OutcomePublic
from api.schemas.readings import InvalidReading, ReadingAmend, ReadingIn, ReadingPublic
from api.services.block_evaluation import reevaluate_block
from api.services.block_rows import LockedBlock, lock_block
from api.services.blocks import get_block, require_active
from api.services.evaluation import load_readings
from api.services.locks import lock_patient_of_reading
from models import Block, BlockTarget, Reading, ReadingVersion
from models.base import utcnow

# CR-6: each block's readings use its scale, whole numbers only.
SCALE_MAX = {"nrs": 10, "vas": 100}
SCALE_MESSAGE = {
    "nrs": "NRS scores are whole numbers from 0 to 10",
    "vas": "VAS scores are whole numbers from 0 to 100",
}
Loc = list[str | int]
AnyBlock = Block | LockedBlock  # the ORM block, or the rows a write read under the patient's lock


def _score_error(block: AnyBlock, score: int) -> str | None:
    return None if 0 <= score <= SCALE_MAX[block.pain_scale] else SCALE_MESSAGE[block.pain_scale]


def _phase_error(phase: str, at: datetime, performed_at: datetime) -> str | None:
    """CR-7: a post reading after the block, a pre reading at or before it."""
    if phase == "post" and at <= performed_at:
        return "a post reading must be after the block time"
    if phase == "pre" and at > performed_at:
        return "a pre reading must be at or before the block time"
    return None


def _matching(block: AnyBlock, entry: ReadingIn, loc: Loc, errors: list[dict[str, Any]]) -> list[BlockTarget]:
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


def _entry_time(block: AnyBlock, entry: ReadingIn, loc: Loc, errors: list[dict[str, Any]]) -> datetime | None:
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
    if message := _phase_error(entry.phase, at, block.performed_at) or future_error(at):
        errors.append(field_error([*loc, field], message))
    return at


def _check_entry(
    block: AnyBlock, index: int, entry: ReadingIn | InvalidReading, errors: list[dict[str, Any]]
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


def _version_row(reading: Reading, actor: Principal, reason: str | None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "reading_id": reading.id,
        "version": reading.version,
        "score": reading.score,
        "recorded_at": reading.recorded_at,
        "status": reading.status,
        "changed_at": utcnow(),
        "changed_by_key_id": actor.key_id,
        "changed_by": actor.key_name,
        "changed_by_user_id": actor.user_id,
        "reason": reason,
    }


async def insert_versions(
    session: AsyncSession, readings: Sequence[Reading], actor: Principal, reason: str | None
) -> None:
    """A reading_version row per reading as it now stands: one INSERT, no ORM object per row."""
    rows = [_version_row(reading, actor, reason) for reading in readings]
    await (await session.connection()).execute(_INSERT_VERSION, rows)


_INSERT_VERSION = insert(ReadingVersion.__table__)  # one statement object: compiled once


async def create_readings(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    block_id: uuid.UUID,
    entries: Sequence[ReadingIn | InvalidReading],
    actor: Principal,
) -> tuple[LockedBlock, list[Reading], OutcomePublic]:
    """Store a whole batch or nothing: every entry is checked before the first row is written, and one 422
    lists the type errors and the block-dependent errors of every entry, in index order.

    The block is read by the statement that takes its patient's lock; its earlier readings are read
    before the batch is written, so the evaluation has the whole diary without reading the batch back.
    """
    block = await lock_block(session, clinic_id, block_id)  # before reading what it evaluates
    require_active(block)
    errors: list[dict[str, Any]] = []
    checked = [_check_entry(block, i, entry, errors) for i, entry in enumerate(entries)]
    if errors:
        indexes = sorted({e["loc"][2] for e in errors})
        raise Unprocessable(
            f"{len(indexes)} invalid reading(s) at index {indexes}; nothing was stored", errors=errors
        )
    placed = _new_readings(clinic_id, block, entries, checked, actor)
    diary = await load_readings(session, clinic_id, block.id)
    _refuse_duplicates(entries, placed, diary)
    readings = [reading for _, reading in placed]
    session.add_all(readings)
    await session.flush()
    await insert_versions(session, readings, actor, None)
    for reading in readings:
        diary[reading.target_id].append(_facts(reading))
    outcome = await reevaluate_block(session, clinic_id, block.id, locked=block, readings=diary)
    return block, readings, outcome


def _new_readings(
    clinic_id: uuid.UUID,
    block: AnyBlock,
    entries: Sequence[ReadingIn | InvalidReading],
    checked: Sequence[tuple[datetime | None, list[BlockTarget]]],
    actor: Principal,
) -> list[tuple[int, Reading]]:
    """A reading per entry and target, with the index of the entry it came from."""
    fields = {"phase", "score", "activity", "analgesic_taken", "analgesic", "note", "source"}
    return [
        (
            index,
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
            ),
        )
        for index, (entry, (at, targets)) in enumerate(zip(entries, checked, strict=True))
        if isinstance(entry, ReadingIn)  # always, once there are no errors
        for target in targets
    ]


def _refuse_duplicates(
    entries: Sequence[ReadingIn | InvalidReading],
    placed: Sequence[tuple[int, Reading]],
    diary: dict[uuid.UUID, list[ReadingFacts]],
) -> None:
    """One active reading per target and instant, whatever its phase. A stored one is a 409 carrying its
    id, so a batch posted twice stores nothing the second time; two entries of the batch on one is a 422
    naming the later. Checked against the diary read under the patient's lock, so no extra statement;
    the unique index uq_reading_active_target_time is the backstop (a 409 too, api/errors.py)."""
    stored = {(target, fact.recorded_at): fact.id for target, facts in diary.items() for fact in facts}
    batch: set[tuple[uuid.UUID, datetime]] = set()
    for index, reading in placed:
        place = (reading.target_id, reading.recorded_at)
        entry = entries[index]
        field = "recorded_at" if isinstance(entry, ReadingIn) and entry.recorded_at else "minutes_after_block"
        loc = ["body", "readings", index, field]
        if (existing := stored.get(place)) is not None:
            message = "a reading for this target at this time is already stored; amend or void it instead"
            raise Conflict(
                f"Entry {index}: {message}; nothing was stored.",
                errors=[field_error(loc, message)],
                existing_id=str(existing),
            )
        if place in batch:
            message = "another entry of this batch gives a score for the same target at this time"
            raise Unprocessable(
                f"1 invalid reading(s) at index [{index}]; nothing was stored",
                errors=[field_error(loc, message)],
            )
        batch.add(place)


def _facts(reading: Reading) -> ReadingFacts:
    return ReadingFacts(
        reading.id, reading.phase, reading.recorded_at, reading.score, reading.analgesic_taken
    )


async def get_reading(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID
) -> tuple[Block, Reading]:
    reading = await session.scalar(
        select(Reading)
        .where(Reading.id == reading_id, Reading.clinic_id == clinic_id)
        # A write reads it again after taking the patient's lock: never answer from the identity map.
        .execution_options(populate_existing=True)
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
    """A new version with the changed score and/or time; the old one stays in the history.

    If-Match is checked against the reading as read under the patient's lock, so of two racing
    amendments with one ETag the second sees the first's version and answers 412.
    """
    await lock_patient_of_reading(session, clinic_id, reading_id)
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
    if at != reading.recorded_at:
        await _refuse_taken_instant(session, reading, at)
    reading.score = reading.score if data.score is None else data.score
    reading.recorded_at, reading.version = at, reading.version + 1
    await insert_versions(session, [reading], actor, data.reason)
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return block, reading


async def void_reading(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID, reason: str, actor: Principal
) -> tuple[Block, Reading]:
    """Mark a reading entered-in-error: kept and shown, but no verdict uses it."""
    await lock_patient_of_reading(session, clinic_id, reading_id)
    block, reading = await get_reading(session, clinic_id, reading_id)
    _require_active(reading)
    reading.status, reading.version = "entered_in_error", reading.version + 1
    await insert_versions(session, [reading], actor, reason)
    await session.flush()
    await reevaluate_block(session, clinic_id, block.id)
    return block, reading


async def reading_history(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID
) -> tuple[Block, list[ReadingVersion]]:
    """The reading's block, and every version of the reading, oldest first."""
    block, reading = await get_reading(session, clinic_id, reading_id)
    rows = await session.scalars(
        select(ReadingVersion).where(ReadingVersion.reading_id == reading.id).order_by(ReadingVersion.version)
    )
    return block, list(rows.all())


async def _refuse_taken_instant(session: AsyncSession, reading: Reading, at: datetime) -> None:
    """An amendment may not move a reading onto another active reading's target and instant (a 409
    carrying that reading's id); read under the patient's lock, so no other write can slip in between."""
    existing = await session.scalar(
        select(Reading.id).where(
            Reading.target_id == reading.target_id,
            Reading.recorded_at == at,
            Reading.status == "active",
            Reading.id != reading.id,
        )
    )
    if existing is not None:
        raise Conflict(
            f"Another reading for this target is at {at.isoformat()}; nothing was changed.",
            existing_id=str(existing),
        )


def _require_active(reading: Reading) -> None:
    if reading.status == "entered_in_error":
        raise Conflict(f"Reading {reading.id} is voided (entered in error); it cannot change.")


def reading_public(block: AnyBlock, reading: Reading) -> ReadingPublic:
    target = next(t for t in block.targets if t.id == reading.target_id)
    minutes = (reading.recorded_at - block.performed_at) // timedelta(minutes=1)
    fields = {name: getattr(reading, name) for name in ReadingPublic.model_fields if hasattr(reading, name)}
    return ReadingPublic.model_validate(
        {**fields, "joint": target.joint, "side": target.side, "minutes_after_block": minutes}
    )


def check_score(block: AnyBlock, score: int) -> str | None:
    """CR-6 for one score of this block: the staff workspace checks each diary cell as it is typed."""
    return _score_error(block, score)


async def readings_of_block(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID
) -> list[Reading]:
    """Every reading of a block the caller has already found, voided ones included, in diary order."""
    rows = await session.scalars(
        select(Reading)
        .where(Reading.clinic_id == clinic_id, Reading.block_id == block_id)
        .order_by(Reading.recorded_at, Reading.id)
    )
    return list(rows.all())
