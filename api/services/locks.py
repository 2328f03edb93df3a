"""Per-patient serialisation of the writes that re-evaluate (readings, amend, void, blocks, the policy pass).

A write evaluates from what the database holds, so two writes for one patient must not evaluate from
snapshots that miss each other: the later committer would store a verdict computed without the earlier
one's rows. Every such write therefore locks its patient first, in its own transaction, before it reads
anything it will evaluate, and holds the lock until it commits.

PostgreSQL: `SELECT ... FOR NO KEY UPDATE` of the patient row. A row lock rather than
`pg_advisory_xact_lock` because it is scoped by the same `clinic_id` predicate as every other query (a
lock can never be taken on another clinic's patient), it needs no mapping of UUIDs onto 64-bit advisory
keys (whose collisions would serialise unrelated patients), and it shows in `pg_locks` with its row.
`NO KEY UPDATE` rather than `UPDATE`: it conflicts with itself, which serialises our writers, but not
with the `KEY SHARE` locks that foreign-key checks take, so inserting rows that point at the patient from
elsewhere never waits on it. Reads never wait: a row lock does not block plain SELECTs.

Under READ COMMITTED each statement sees what was committed before it started, so everything the write
reads after the lock includes the other writer's rows.

SQLite: every write transaction starts with BEGIN IMMEDIATE (api/db.py), which already serialises
writers for the whole database; the same statements run without the locking clause.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.services.bulk import is_postgresql
from models import Block, Patient, Reading


def _locking(session: AsyncSession, query: Any) -> Any:
    if is_postgresql(session):
        # key_share without read renders FOR NO KEY UPDATE (see the module docstring).
        return query.with_for_update(key_share=True, of=Patient)
    return query


async def lock_patient(session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> None:
    """Lock one patient of the clinic for the rest of the transaction; 404 if there is none."""
    query = select(Patient.id).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
    if await session.scalar(_locking(session, query)) is None:
        raise NotFound(f"No patient {patient_id}.")


async def lock_patient_of_block(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID
) -> uuid.UUID:
    """Lock the patient a block belongs to; 404 if the clinic has no such block. Returns the patient id."""
    query = (
        select(Patient.id)
        .join(Block, Block.patient_id == Patient.id)
        .where(Block.id == block_id, Block.clinic_id == clinic_id)
    )
    patient_id = await session.scalar(_locking(session, query))
    if patient_id is None:
        raise NotFound(f"No block {block_id}.")
    return patient_id


async def lock_patient_of_reading(
    session: AsyncSession, clinic_id: uuid.UUID, reading_id: uuid.UUID
) -> uuid.UUID:
    """Lock the patient a reading belongs to; 404 if the clinic has no such reading. Returns its id."""
    query = (
        select(Patient.id)
        .join(Block, Block.patient_id == Patient.id)
        .join(Reading, Reading.block_id == Block.id)
        .where(Reading.id == reading_id, Reading.clinic_id == clinic_id)
    )
    patient_id = await session.scalar(_locking(session, query))
    if patient_id is None:
        raise NotFound(f"No reading {reading_id}.")
    return patient_id


async def lock_clinic_patients(session: AsyncSession, clinic_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """Lock every patient of the clinic, in id order (two passes locking in one order cannot deadlock)."""
    query = select(Patient.id).where(Patient.clinic_id == clinic_id).order_by(Patient.id)
    return list((await session.scalars(_locking(session, query))).all())


async def lock_patients(
    session: AsyncSession, clinic_id: uuid.UUID, patient_ids: Sequence[uuid.UUID]
) -> Sequence[uuid.UUID]:
    """Lock some patients of the clinic (a batch of the clinic-wide pass), in id order like the above."""
    query = (
        select(Patient.id)
        .where(Patient.clinic_id == clinic_id, Patient.id.in_(list(patient_ids)))
        .order_by(Patient.id)
    )
    return list((await session.scalars(_locking(session, query))).all())


async def lock_next_patients(
    session: AsyncSession, clinic_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> Sequence[uuid.UUID]:
    """Lock the clinic's next `limit` patients in id order after `after` (None: from the first): a batch
    of a policy job, in the same order as lock_clinic_patients, so the two cannot deadlock."""
    query = select(Patient.id).where(Patient.clinic_id == clinic_id)
    if after is not None:
        query = query.where(Patient.id > after)
    query = query.order_by(Patient.id).limit(limit)
    return list((await session.scalars(_locking(session, query))).all())
