"""Pages of the standards views that span tables: observations (readings and verdicts), referrals."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import String, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import NotFound
from api.schemas.referrals import ReferralPublic
from api.services import reading_records, records
from api.services.reading_records import ReadingRecord
from api.services.records import Page, TargetRecord
from api.services.referrals import referral_public
from models import Block, BlockTarget, Reading, Referral, TargetOutcome

_referral = Referral.__table__


@dataclass(frozen=True)
class ReferralRecord:
    """A referral with the targets of its qualifying blocks at its level (the evidence behind it)."""

    referral: ReferralPublic
    evidence_target_ids: tuple[uuid.UUID, ...]


async def observation_page(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page:
    """Readings and block verdicts in one stream, by time (a verdict at its block's time)."""
    readings = (
        select(
            Reading.id.label("id"), Reading.recorded_at.label("at"), literal("reading", String).label("kind")
        )
        .join(BlockTarget, BlockTarget.id == Reading.target_id)
        .where(Reading.clinic_id == clinic_id)
    )
    verdicts = (
        select(TargetOutcome.target_id, Block.performed_at, literal("verdict", String))
        .join(Block, Block.id == TargetOutcome.block_id)
        .join(BlockTarget, BlockTarget.id == TargetOutcome.target_id)
        .where(TargetOutcome.clinic_id == clinic_id)
    )
    if patient_id is not None:
        readings = readings.where(BlockTarget.patient_id == patient_id)
        verdicts = verdicts.where(BlockTarget.patient_id == patient_id)
    both = union_all(readings, verdicts).subquery()
    query = select(both.c.kind, both.c.id)
    rows, next_cursor = await records.keyset_page(session, query, both.c.at, both.c.id, limit, cursor)
    items = await _observations(session, clinic_id, rows)
    return Page(items, next_cursor, await records.count(session, query))


async def _observations(
    session: AsyncSession, clinic_id: uuid.UUID, rows: Sequence[tuple[Any, ...]]
) -> list[ReadingRecord | TargetRecord]:
    wanted = {str(kind): [row_id for k, row_id in rows if k == kind] for kind, _ in rows}
    found: dict[uuid.UUID, ReadingRecord | TargetRecord] = {}
    if wanted.get("reading"):
        query = reading_records.reading_query(clinic_id).where(Reading.id.in_(wanted["reading"]))
        for row in (await session.execute(query)).all():
            found[row[0].id] = reading_records.reading_record(row)
    if wanted.get("verdict"):
        query = records.target_query(clinic_id).where(BlockTarget.id.in_(wanted["verdict"]))
        for target in await records.target_records(session, (await session.execute(query)).all()):
            found[target.target_id] = target
    return [found[row_id] for _kind, row_id in rows if row_id in found]


async def _evidence(session: AsyncSession, referrals: Sequence[ReferralPublic]) -> list[ReferralRecord]:
    blocks = {block_id for r in referrals for block_id in r.qualifying_block_ids}
    targets: dict[tuple[uuid.UUID, str, str], uuid.UUID] = {}
    if blocks:
        query = select(BlockTarget.block_id, BlockTarget.joint, BlockTarget.side, BlockTarget.id)
        for block_id, joint, side, target_id in await session.execute(
            query.where(BlockTarget.block_id.in_(blocks))
        ):
            targets[(block_id, joint, side)] = target_id
    return [
        ReferralRecord(
            r,
            tuple(
                targets[key]
                for key in ((b, r.joint, r.side) for b in r.qualifying_block_ids)
                if key in targets
            ),
        )
        for r in referrals
    ]


async def referral_page(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page:
    query = select(_referral).where(_referral.c.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(_referral.c.patient_id == patient_id)
    at, row_id = _referral.c.recommended_at, _referral.c.id
    rows, next_cursor = await records.keyset_page(session, query, at, row_id, limit, cursor)
    referrals = [
        referral_public(SimpleNamespace(**dict(zip(_referral.c.keys(), row, strict=True)))) for row in rows
    ]
    return Page(await _evidence(session, referrals), next_cursor, await records.count(session, query))


async def get_referral(session: AsyncSession, clinic_id: uuid.UUID, referral_id: uuid.UUID) -> ReferralRecord:
    row = (
        await session.execute(
            select(_referral).where(_referral.c.clinic_id == clinic_id, _referral.c.id == referral_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No ServiceRequest {referral_id}.")
    [record] = await _evidence(session, [referral_public(row)])
    return record


async def referrals_of_patient(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> list[ReferralRecord]:
    query = select(_referral).where(_referral.c.clinic_id == clinic_id, _referral.c.patient_id == patient_id)
    rows = (await session.execute(query.order_by(_referral.c.recommended_at))).all()
    return await _evidence(session, [referral_public(row) for row in rows])
