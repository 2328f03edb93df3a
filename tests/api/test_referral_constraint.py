"""CR-19: the database itself refuses a second live referral for a level (uq_referral_live_level)."""

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import Referral
from tests.api.test_referrals import two_positives


def _copy(referral: Referral, status: str) -> Referral:
    columns = {c.key: getattr(referral, c.key) for c in Referral.__table__.columns if c.key != "id"}
    return Referral(**{**columns, "id": uuid.uuid4(), "status": status})


async def _open_referral(session: AsyncSession, client, headers) -> Referral:  # type: ignore[no-untyped-def]
    patient, _first, _second = await two_positives(client, headers)
    query = select(Referral).where(Referral.patient_id == uuid.UUID(patient), Referral.status == "open")
    async with session.begin():
        return (await session.scalars(query)).one()


@pytest.mark.parametrize("status", ["open", "acknowledged"])
async def test_insert_second_live_referral_for_level_refused(session: AsyncSession, client, ehr, status):
    live = await _open_referral(session, client, ehr)

    with pytest.raises(IntegrityError):
        async with session.begin():
            session.add(_copy(live, status))


async def test_insert_withdrawn_referral_beside_live_one_allowed(session: AsyncSession, client, ehr):
    live = await _open_referral(session, client, ehr)

    async with session.begin():
        session.add(_copy(live, "withdrawn"))
    async with session.begin():
        statuses = await session.scalars(select(Referral.status).where(Referral.level_id == live.level_id))
        assert sorted(statuses) == ["open", "withdrawn"]
