"""The EHR issuers a clinic trusts to call its CDS Hooks service (one row per clinic and issuer)."""

import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Conflict, NotFound
from api.oauth.schemas import CdsIssuerCreate
from models import CdsIssuer


async def create_issuer(session: AsyncSession, clinic_id: uuid.UUID, data: CdsIssuerCreate) -> CdsIssuer:
    issuer = CdsIssuer(clinic_id=clinic_id, issuer=data.issuer, jwks=data.jwks, jwks_url=data.jwks_url)
    try:
        async with session.begin_nested():
            session.add(issuer)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            f"The issuer {data.issuer!r} is already trusted; delete it to change its keys."
        ) from None
    return issuer


async def list_issuers(session: AsyncSession, clinic_id: uuid.UUID) -> list[CdsIssuer]:
    query = (
        select(CdsIssuer).where(CdsIssuer.clinic_id == clinic_id).order_by(CdsIssuer.created_at, CdsIssuer.id)
    )
    return list((await session.scalars(query)).all())


async def delete_issuer(session: AsyncSession, clinic_id: uuid.UUID, issuer_id: uuid.UUID) -> None:
    result = await session.execute(
        delete(CdsIssuer).where(CdsIssuer.id == issuer_id, CdsIssuer.clinic_id == clinic_id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"No CDS issuer {issuer_id}.")
