"""Clinics and their API keys. A clinic starts with an admin key, policy version 1 and a time zone (CR-30)."""

import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import hash_token, new_token
from api.clinical.clinic_time import DEFAULT_TIME_ZONE, TimeZoneError, canonical_time_zone, rezone_sentence
from api.clinical.policy import Policy, policy_to_dict
from api.errors import NotFound, invalid
from api.services.clinic_pass import reevaluate_clinic
from api.services.locks import lock_clinic_patients
from api.services.policies import active_policy
from models import ApiKey, Clinic, PolicyVersion, Referral


async def create_key(
    session: AsyncSession, clinic_id: uuid.UUID, role: str, name: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Create a key; the token is returned once and only its hash is stored."""
    token = new_token()
    key = ApiKey(clinic_id=clinic_id, role=role, name=name, key_hash=hash_token(token), expires_at=expires_at)
    session.add(key)
    await session.flush()
    return key, token


async def create_clinic(
    session: AsyncSession, name: str, time_zone: str = DEFAULT_TIME_ZONE
) -> tuple[Clinic, ApiKey, str]:
    """A new clinic; `time_zone` must be an IANA name (TimeZoneError otherwise)."""
    clinic = Clinic(name=name, time_zone=canonical_time_zone(time_zone))
    session.add(clinic)
    await session.flush()
    default = Policy()
    session.add(
        PolicyVersion(
            clinic_id=clinic.id,
            version=default.version,
            profile=default.profile,
            settings=policy_to_dict(default),
        )
    )
    key, token = await create_key(session, clinic.id, "admin", f"{name} admin")
    return clinic, key, token


async def create_key_for_existing_clinic(
    session: AsyncSession, clinic_id: uuid.UUID, role: str, name: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    if await session.get(Clinic, clinic_id) is None:
        raise LookupError(f"no clinic {clinic_id}")
    return await create_key(session, clinic_id, role, name, expires_at)


async def get_clinic(session: AsyncSession, clinic_id: uuid.UUID) -> Clinic:
    clinic = await session.scalar(
        select(Clinic).where(Clinic.id == clinic_id).execution_options(populate_existing=True)
    )
    if clinic is None:
        raise NotFound(f"No clinic {clinic_id}.")
    return clinic


def validated_time_zone(value: str) -> str:
    try:
        return canonical_time_zone(value)
    except TimeZoneError as exc:
        raise invalid(["body", "time_zone"], str(exc)) from exc


async def set_time_zone(session: AsyncSession, clinic_id: uuid.UUID, time_zone: str) -> Clinic:
    """CR-30: a new zone re-renders every stored sentence, through the same clinic-wide pass as a
    policy change; unchanged, nothing is re-evaluated."""
    zone = validated_time_zone(time_zone)
    await lock_clinic_patients(session, clinic_id)  # before reading anything the pass evaluates
    clinic = await get_clinic(session, clinic_id)
    if clinic.time_zone == zone:
        return clinic
    old_zone = clinic.time_zone
    await _rezone_referrals(session, clinic_id, old_zone, zone)
    clinic.time_zone = zone
    await session.flush()
    policy = await active_policy(session, clinic_id)
    # No verdict reads the zone: the stored outcomes stand, levels and their sentences are redone.
    previous = replace(policy, time_zone=old_zone)
    await reevaluate_clinic(session, clinic_id, replace(policy, time_zone=zone), previous=previous)
    return await get_clinic(session, clinic_id)


async def _rezone_referrals(session: AsyncSession, clinic_id: uuid.UUID, old: str, new: str) -> None:
    """Referral sentences are stored once (warnings when opened, the reason when withdrawn) and not
    recomputed: their times are rewritten in the new zone. Before the pass, so that what the pass
    writes, already in the new zone, is never taken for a time in the old one."""
    rows = await session.execute(
        select(Referral.id, Referral.warnings, Referral.withdrawn_reason).where(
            Referral.clinic_id == clinic_id
        )
    )
    changed = []
    for referral_id, warnings, reason in rows.all():
        rezoned = [{**w, "message": rezone_sentence(w["message"], old, new)} for w in warnings]
        new_reason = None if reason is None else rezone_sentence(reason, old, new)
        if rezoned != warnings or new_reason != reason:
            changed.append({"b_id": referral_id, "warnings": rezoned, "withdrawn_reason": new_reason})
    if changed:
        table = Referral.__table__
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(version=table.c.version + 1)
        await (await session.connection()).execute(stmt, changed)
