"""Bearer API keys -> Principal; role checks as dependencies."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.db import get_session, outside_request
from api.errors import ApiError, Forbidden, TooManyRequests, Unauthorized
from api.key_cache import KeyCache, KnownKey
from api.oauth.tokens import token_holder
from api.rate_limit import failure_limit, key_limit, take
from api.refusals import caller_of, record_refusal
from api.settings import Settings
from models import ApiKey
from models.base import utcnow

KEY_PREFIX = "bt_"
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often per key

# What each role may do (contract: Auth, tenancy, roles).
READ, WRITE_CLINICAL, WRITE_READINGS, ADMIN = "read", "write_clinical", "write_readings", "admin"
# Finer rights of the people signed in to the staff workspace (WRITE_CLINICAL covers them for keys).
REGISTER_PATIENTS, RECORD_BLOCKS, ACKNOWLEDGE = "register_patients", "record_blocks", "acknowledge"
ROLE_RIGHTS: dict[str, frozenset[str]] = {
    "admin": frozenset({READ, WRITE_CLINICAL, WRITE_READINGS, ADMIN}),
    "ehr": frozenset({READ, WRITE_CLINICAL, WRITE_READINGS}),
    "staff": frozenset({READ, WRITE_READINGS}),
    "viewer": frozenset({READ}),
}
_STAFF = frozenset({READ, WRITE_READINGS, REGISTER_PATIENTS, RECORD_BLOCKS})
USER_ROLE_RIGHTS: dict[str, frozenset[str]] = {
    "admin": _STAFF | {ACKNOWLEDGE, ADMIN},
    "clinician": _STAFF | {ACKNOWLEDGE},
    "staff": _STAFF,
    "viewer": frozenset({READ}),
}


@dataclass(frozen=True)
class Principal:
    """The caller: every service call is scoped by its clinic_id.

    An API key, or a person signed in to the staff workspace (user_id set, key_id None, key_name the
    person's name), so services and the audit trail treat both alike.
    """

    clinic_id: uuid.UUID
    key_id: uuid.UUID | None
    key_name: str
    role: str
    user_id: uuid.UUID | None = None

    def can(self, right: str) -> bool:
        rights = ROLE_RIGHTS if self.user_id is None else USER_ROLE_RIGHTS
        return right in rights[self.role]


def new_token() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # The token is 32 random bytes, so a fast unsalted hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


_bearer = HTTPBearer(
    auto_error=False,
    description="API key (`Authorization: Bearer bt_...`) or an access token from `POST /oauth/token`.",
)


def _key_columns() -> Select[Any]:
    return select(
        ApiKey.id,
        ApiKey.clinic_id,
        ApiKey.name,
        ApiKey.role,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
    )


async def _find_key(connection: AsyncConnection, key_hash: str) -> KnownKey | None:
    """The key with this hash, revoked or expired ones included (a refusal then names it)."""
    row = (await connection.execute(_key_columns().where(ApiKey.key_hash == key_hash))).first()
    return None if row is None else KnownKey(*row)


async def _touch(connection: AsyncConnection, key: KnownKey, now: datetime) -> KnownKey:
    """Record the key's use, at most once a minute: the condition keeps other processes from repeating it."""
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return key
    await connection.execute(
        update(ApiKey)
        .where(ApiKey.id == key.key_id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY))
        .values(last_used_at=now)
    )
    return replace(key, last_used_at=now)


def key_cache(app: Any) -> KeyCache:
    return app.state.key_cache  # type: ignore[no-any-return]


async def _authenticate(request: Request, token: str | None) -> Principal:
    """The caller, counted against its key's rate limit; or a refusal, counted against its address.

    Everything here runs outside the request's transaction, before the request's session connects: the
    key lookup (unless cached), one rate-limit statement, and for a refusal its audit row. The refusal is
    raised after that short transaction has committed.
    """
    settings: Settings = request.app.state.settings
    key_hash, now = hash_token(token) if token else None, utcnow()
    async with outside_request(request.app) as connection:
        key, principal = await _identify(connection, request.app, key_hash, now)
        if principal is None:
            refusal = await _refuse_attempt(connection, request, settings, key, token is None)
        else:
            refusal = await _admit(connection, request, principal, key)
            if refusal is None and key is not None and key_hash is not None:
                key_cache(request.app).put(key_hash, await _touch(connection, key, now))
    if refusal is not None:
        raise refusal
    assert principal is not None
    return principal


async def _identify(
    connection: AsyncConnection, app: Any, key_hash: str | None, now: datetime
) -> tuple[KnownKey | None, Principal | None]:
    """The key a bearer token is (cached, or found, revoked and expired ones too), and the caller it
    admits: a usable key's, or a live access token's backing key's."""
    if key_hash is None:
        return None, None
    key = key_cache(app).get(key_hash) or await _find_key(connection, key_hash)
    if key is not None:
        return key, Principal(key.clinic_id, key.key_id, key.name, key.role) if key.usable(now) else None
    holder = await token_holder(connection, key_hash)
    return None, None if holder is None else Principal(
        holder.clinic_id, holder.key_id, holder.name, holder.role
    )


async def _admit(
    connection: AsyncConnection, request: Request, principal: Principal, key: KnownKey | None
) -> ApiError | None:
    """Count the request against its key; a 429 (audited) when the key is over its limit."""
    decision = await take(connection, f"key:{principal.key_id}", key_limit(request.app.state.settings))
    if decision.allowed:
        return None
    await record_refusal(connection, 429, caller_of(request, key or _token_key(principal), principal.role))
    return TooManyRequests("Too many requests for this API key.", decision.retry_after)


def _token_key(principal: Principal) -> KnownKey | None:
    """The caller's key (an access token's backing key), as a refusal's audit row names it."""
    if principal.key_id is None:
        return None
    return KnownKey(
        principal.key_id, principal.clinic_id, principal.key_name, principal.role, None, None, None
    )


async def _refuse_attempt(
    connection: AsyncConnection, request: Request, settings: Settings, key: KnownKey | None, missing: bool
) -> ApiError:
    """A missing, unknown, revoked or expired credential: counted against the client's address, which is
    answered 429 once it has failed too often, and audited either way."""
    caller = caller_of(request, key)
    decision = await take(connection, f"addr:{caller.client_addr}", failure_limit(settings))
    if not decision.allowed:
        await record_refusal(connection, 429, caller)
        message = "Too many failed authentications from this address; wait before trying again."
        return TooManyRequests(message, decision.retry_after)
    await record_refusal(connection, 401, caller)
    if missing:
        return Unauthorized("Missing bearer API key in the Authorization header.")
    return Unauthorized("Unknown, revoked or expired API key, or an expired access token.")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = await _authenticate(request, credentials.credentials if credentials else None)
    request.state.principal = principal
    return principal


def require(right: str):  # type: ignore[no-untyped-def]
    """A dependency that answers 403 unless the caller's role has `right` (and audits the refusal)."""

    async def _check(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.can(right):
            key = _token_key(principal)
            async with outside_request(request.app) as connection:
                await record_refusal(connection, 403, caller_of(request, key))
            raise Forbidden(f"The {principal.role!r} role may not do this ({right} is needed).")
        return principal

    return _check


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Reader = Annotated[Principal, Depends(require(READ))]
ClinicalWriter = Annotated[Principal, Depends(require(WRITE_CLINICAL))]
ReadingWriter = Annotated[Principal, Depends(require(WRITE_READINGS))]
Admin = Annotated[Principal, Depends(require(ADMIN))]
