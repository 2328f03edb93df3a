"""A clinic's API keys: list, revoke, rotate. Callers forget a revoked or rotated key from the
process's key cache (api/key_cache.py); other processes stop trusting it within the cache's lifetime."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Conflict, NotFound
from api.pagination import paginate
from api.services.clinics import create_key
from models import ApiKey
from models.base import utcnow


async def list_keys(
    session: AsyncSession, clinic_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[ApiKey], str | None]:
    query = select(ApiKey).where(ApiKey.clinic_id == clinic_id)
    return await paginate(session, query, ApiKey.created_at, ApiKey.id, limit, cursor)


async def get_key(
    session: AsyncSession, clinic_id: uuid.UUID, key_id: uuid.UUID, *, lock: bool = True
) -> ApiKey:
    """The clinic's key; for a change, under a row lock, so a revocation and a rotation take turns."""
    query = select(ApiKey).where(ApiKey.id == key_id, ApiKey.clinic_id == clinic_id)
    if lock:
        query = query.with_for_update()
    key = await session.scalar(query.execution_options(populate_existing=True))
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    return key


async def revoke_key(session: AsyncSession, clinic_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    """Revoke now. Revoking twice is harmless and keeps the first time."""
    key = await get_key(session, clinic_id, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    await session.flush()
    return key


async def rotate_key(
    session: AsyncSession, clinic_id: uuid.UUID, key_id: uuid.UUID, grace: timedelta
) -> tuple[ApiKey, str, datetime]:
    """A replacement with the same name and role; the old key expires after `grace` (or earlier, if it
    was to expire earlier anyway). A revoked or expired key cannot be rotated: make a new one."""
    key, now = await get_key(session, clinic_id, key_id), utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise Conflict(f"API key {key_id} is revoked or expired; it cannot be rotated.", key_id=str(key_id))
    key.expires_at = min(now + grace, key.expires_at) if key.expires_at else now + grace
    replacement, token = await create_key(session, clinic_id, key.role, key.name)
    return replacement, token, key.expires_at
