"""Clinics and their API keys. A clinic starts with an admin key and policy version 1."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import hash_token, new_token
from api.clinical.policy import Policy, policy_to_dict
from models import ApiKey, Clinic, PolicyVersion


async def create_key(session: AsyncSession, clinic_id: uuid.UUID, role: str, name: str) -> tuple[ApiKey, str]:
    """Create a key; the token is returned once and only its hash is stored."""
    token = new_token()
    key = ApiKey(clinic_id=clinic_id, role=role, name=name, key_hash=hash_token(token))
    session.add(key)
    await session.flush()
    return key, token


async def create_clinic(session: AsyncSession, name: str) -> tuple[Clinic, ApiKey, str]:
    clinic = Clinic(name=name)
    session.add(clinic)
    await session.flush()
    default = Policy()
    session.add(
        PolicyVersion(clinic_id=clinic.id, version=default.version, profile=default.profile,
                      settings=policy_to_dict(default))
    )
    key, token = await create_key(session, clinic.id, "admin", f"{name} admin")
    return clinic, key, token


async def create_key_for_existing_clinic(
    session: AsyncSession, clinic_id: uuid.UUID, role: str, name: str
) -> tuple[ApiKey, str]:
    if await session.get(Clinic, clinic_id) is None:
        raise LookupError(f"no clinic {clinic_id}")
    return await create_key(session, clinic_id, role, name)
