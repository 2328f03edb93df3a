"""Bearer API keys -> Principal; role checks as dependencies."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import get_session
from api.errors import Forbidden, Unauthorized
from models import ApiKey

KEY_PREFIX = "bt_"

# What each role may do (contract: Auth, tenancy, roles).
READ, WRITE_CLINICAL, WRITE_READINGS, ADMIN = "read", "write_clinical", "write_readings", "admin"
ROLE_RIGHTS: dict[str, frozenset[str]] = {
    "admin": frozenset({READ, WRITE_CLINICAL, WRITE_READINGS, ADMIN}),
    "ehr": frozenset({READ, WRITE_CLINICAL, WRITE_READINGS}),
    "staff": frozenset({READ, WRITE_READINGS}),
    "viewer": frozenset({READ}),
}


@dataclass(frozen=True)
class Principal:
    """The caller: every service call is scoped by its clinic_id."""

    clinic_id: uuid.UUID
    key_id: uuid.UUID
    key_name: str
    role: str

    def can(self, right: str) -> bool:
        return right in ROLE_RIGHTS[self.role]


def new_token() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # The token is 32 random bytes, so a fast unsalted hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer bt_...`")


async def get_principal(
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session, scope="function")],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Missing bearer API key in the Authorization header.")
    key_hash = hash_token(credentials.credentials)
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))
    if key is None:
        raise Unauthorized("Unknown or revoked API key.")
    principal = Principal(key.clinic_id, key.id, key.name, key.role)
    request.state.principal = principal
    return principal


def require(right: str):  # type: ignore[no-untyped-def]
    """A dependency that answers 403 unless the caller's role has `right`."""

    async def _check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.can(right):
            raise Forbidden(f"The {principal.role!r} role may not do this ({right} is needed).")
        return principal

    return _check


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Reader = Annotated[Principal, Depends(require(READ))]
ClinicalWriter = Annotated[Principal, Depends(require(WRITE_CLINICAL))]
ReadingWriter = Annotated[Principal, Depends(require(WRITE_READINGS))]
Admin = Annotated[Principal, Depends(require(ADMIN))]
