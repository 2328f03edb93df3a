"""HL7 v2 renderings of the record: the ORU^R01 of a block, on demand or for hl7v2 webhook subscriptions."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.hl7.messages import oru_r01
from api.services import reading_records, records
from api.services.bulk import chunks
from models.base import utcnow


async def block_oru(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID, control_id: str | None = None
) -> str:
    messages = await orus(session, clinic_id, {block_id: control_id or uuid.uuid4().hex})
    if block_id not in messages:
        raise NotFound(f"No block {block_id}.")
    return messages[block_id]


async def orus(
    session: AsyncSession, clinic_id: uuid.UUID, control_ids: dict[uuid.UUID, str]
) -> dict[uuid.UUID, str]:
    """ORU^R01 per block (keyed by block id), in a few set-based queries per thousand blocks."""
    now, messages = utcnow(), {}
    for part in chunks(list(control_ids)):
        targets: dict[uuid.UUID, list[records.TargetRecord]] = defaultdict(list)
        readings: dict[uuid.UUID, list[reading_records.ReadingRecord]] = defaultdict(list)
        for target in await records.targets_of_blocks(session, clinic_id, part):
            targets[target.block_id].append(target)
        for reading in await reading_records.readings_of_blocks(session, clinic_id, part):
            readings[reading.block_id].append(reading)
        for block_id, block_targets in targets.items():
            patient = block_targets[0].patient
            messages[block_id] = oru_r01(
                patient, block_targets, readings[block_id], control_ids[block_id], now
            )
    return messages


async def render_events(
    session: AsyncSession, clinic_id: uuid.UUID, events: Sequence[tuple[uuid.UUID, str, dict[str, Any]]]
) -> dict[uuid.UUID, str]:
    """The HL7 message of each (event_id, type, data) that has one, keyed by event id (also MSH-10)."""
    blocks = {
        uuid.UUID(str(data["block_id"])): event_id
        for event_id, kind, data in events
        if kind == "block.evaluated"
    }
    rendered = await orus(
        session, clinic_id, {block_id: str(event_id) for block_id, event_id in blocks.items()}
    )
    return {blocks[block_id]: message for block_id, message in rendered.items()}
