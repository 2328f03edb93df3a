"""A block as its evaluation reads it: the columns the rules need, its targets, and for a write, all of it
fetched by the one statement that takes the patient's lock.

A diary write used to take the lock, then load the block, its targets and the clinic's policy, then
load the block and its targets again to evaluate them: six round trips for what one statement returns.
"""

import uuid
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.services.bulk import is_postgresql
from models import Block, BlockTarget, Clinic, Patient, PolicyVersion, WebhookSubscription

BLOCK_COLUMNS = (
    Block.id,
    Block.patient_id,
    Block.performed_at,
    Block.procedure,
    Block.intent,
    Block.agent,
    Block.expected_relief_minutes,
    Block.volume_ml_per_nerve,
    Block.sedation,
    Block.guidance,
    Block.pain_scale,
    Block.status,
    Block.coverage_override_reason,
    Block.coverage_override_by,
    Block.coverage_override_at,
)
TARGET_COLUMNS = (
    BlockTarget.id,
    BlockTarget.block_id,
    BlockTarget.patient_id,
    BlockTarget.joint,
    BlockTarget.side,
    BlockTarget.position,
    BlockTarget.region,
)


# The block's and its targets' columns, by name, as the queries of evaluation.py return them.
BlockRow = namedtuple("BlockRow", [c.key for c in BLOCK_COLUMNS])  # type: ignore[misc]
TargetRow = namedtuple("TargetRow", [c.key for c in TARGET_COLUMNS])  # type: ignore[misc]


@dataclass(frozen=True)
class LockedBlock:
    """A block read under its patient's lock, with what its write needs to know about the clinic."""

    block: Any  # BlockRow
    targets: list[Any]  # TargetRow, in position order
    policy_version: int | None  # the clinic's active policy version, read in this transaction
    time_zone: str
    listened: bool  # some live webhook subscription exists: events may be wanted

    @property
    def id(self) -> uuid.UUID:
        return self.block.id

    @property
    def patient_id(self) -> uuid.UUID:
        return self.block.patient_id

    @property
    def performed_at(self) -> datetime:
        return self.block.performed_at

    @property
    def pain_scale(self) -> str:
        return self.block.pain_scale

    @property
    def status(self) -> str:
        return self.block.status


def _clinic_facts() -> tuple[Any, ...]:
    version = (
        select(func.max(PolicyVersion.version))
        .where(PolicyVersion.clinic_id == Block.clinic_id)
        .scalar_subquery()
    )
    listened = exists().where(
        WebhookSubscription.clinic_id == Block.clinic_id, WebhookSubscription.deleted_at.is_(None)
    )
    return version.label("policy_version"), Clinic.time_zone, listened.label("listened")


async def lock_block(session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID) -> LockedBlock:
    """Lock the block's patient (api/services/locks.py) and read the block, its targets, the clinic's
    policy version and time zone and whether anyone listens for events: one statement. 404 if the clinic
    has no such block."""
    query = (
        select(*BLOCK_COLUMNS, *TARGET_COLUMNS, *_clinic_facts())
        .join(BlockTarget, BlockTarget.block_id == Block.id)
        .join(Patient, Patient.id == Block.patient_id)
        .join(Clinic, Clinic.id == Block.clinic_id)
        .where(Block.id == block_id, Block.clinic_id == clinic_id)
        .order_by(BlockTarget.position)
    )
    if is_postgresql(session):
        query = query.with_for_update(key_share=True, of=Patient)  # FOR NO KEY UPDATE OF patient
    rows = (await (await session.connection()).execute(query)).all()
    if not rows:
        raise NotFound(f"No block {block_id}.")
    width = len(BLOCK_COLUMNS)
    block = BlockRow(*rows[0][:width])
    targets = [TargetRow(*row[width : width + len(TARGET_COLUMNS)]) for row in rows]
    version, zone, listened = rows[0][-3:]
    return LockedBlock(block, targets, version, zone, bool(listened))
