"""Resolving an access token: who it speaks for. Imported by api/auth.py, so it imports no API module.

Access tokens are opaque (`bt_at_` + 32 random bytes); only their SHA-256 is stored, with the backing API
key of the client, its scope, the role that scope grants, and when it expires.
"""

import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from models import ApiKey, OAuthClient, OAuthToken

TOKEN_PREFIX = "bt_at_"


class TokenHolder(NamedTuple):
    clinic_id: uuid.UUID
    key_id: uuid.UUID
    name: str
    role: str


def key_live(now: datetime) -> Any:
    """An API key that is neither revoked nor past its expiry (a rotated key's grace included)."""
    return and_(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))


def _live(token_hash: str, now: datetime) -> Select[Any]:
    return (
        select(OAuthToken.api_key_id, ApiKey.clinic_id, OAuthClient.name, OAuthToken.role)
        .join(ApiKey, ApiKey.id == OAuthToken.api_key_id)
        .join(OAuthClient, OAuthClient.id == OAuthToken.client_id)
        .where(
            OAuthToken.token_hash == token_hash,
            OAuthToken.expires_at > now,
            key_live(now),
            OAuthClient.revoked_at.is_(None),
        )
    )


async def token_holder(session: AsyncSession | AsyncConnection, token_hash: str) -> TokenHolder | None:
    """The client a live access token was issued to; None for an unknown, expired or revoked one."""
    row = (await session.execute(_live(token_hash, datetime.now(UTC)))).first()
    return None if row is None else TokenHolder(row.clinic_id, row.api_key_id, row.name, row.role)


def bearer_key_ids(token_hash: str, now: datetime) -> Any:
    """A subquery of the API key id a bearer token stands for (column `api_key_id`): an API key's own id,
    or the backing key of a live access token. The Idempotency-Key records are kept per that key."""
    keys = select(ApiKey.id.label("api_key_id")).where(ApiKey.key_hash == token_hash, key_live(now))
    tokens = select(_live(token_hash, now).subquery().c.api_key_id)
    return union_all(keys, tokens).subquery("bearer")
