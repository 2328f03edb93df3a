"""OAuth clients of a clinic and the token endpoint (SMART Backend Services, RFC 7523 client assertions).

Design: each client is backed by an api_key row (its clinic and role; the hash of a secret nobody was shown),
and each access token is stored hashed with that key's id, its scope, role and expiry. Everything that names
an API key (audit rows, `created_by_key_id`, Idempotency-Key records) so names the client, and revoking the
client revokes its key and every token at once.
"""

import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import hash_token, new_token
from api.errors import NotFound
from api.interop.jwt import JwtRejected, keys_for, peek, remember_jti, verify
from api.oauth.schemas import OAuthClientCreate
from api.oauth.tokens import TOKEN_PREFIX
from api.settings import Settings
from models import ApiKey, OAuthClient, OAuthToken
from models.base import utcnow

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
READ_SCOPE, WRITE_SCOPE = "system/*.read", "system/*.write"
SCOPE_ALIASES = {
    READ_SCOPE: {READ_SCOPE},
    WRITE_SCOPE: {WRITE_SCOPE},
    "system/*.*": {READ_SCOPE, WRITE_SCOPE},
}


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error: `error` code, a description, and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


async def register_client(
    session: AsyncSession, clinic_id: uuid.UUID, data: OAuthClientCreate
) -> OAuthClient:
    key = ApiKey(
        clinic_id=clinic_id,
        name=f"OAuth client: {data.name}",
        role=data.role,
        key_hash=hash_token(new_token()),
    )
    session.add(key)
    await session.flush()
    client = OAuthClient(
        clinic_id=clinic_id,
        api_key_id=key.id,
        name=data.name,
        role=data.role,
        jwks=data.jwks,
        jwks_url=data.jwks_url,
    )
    session.add(client)
    await session.flush()
    return client


async def list_clients(session: AsyncSession, clinic_id: uuid.UUID) -> list[OAuthClient]:
    query = select(OAuthClient).where(OAuthClient.clinic_id == clinic_id, OAuthClient.revoked_at.is_(None))
    return list((await session.scalars(query.order_by(OAuthClient.created_at, OAuthClient.id))).all())


async def revoke_client(session: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID) -> None:
    """The client, its key and its tokens stop working at once; the rows stay for the audit trail."""
    client = await session.scalar(
        select(OAuthClient).where(
            OAuthClient.id == client_id, OAuthClient.clinic_id == clinic_id, OAuthClient.revoked_at.is_(None)
        )
    )
    if client is None:
        raise NotFound(f"No OAuth client {client_id}.")
    now = utcnow()
    client.revoked_at = now
    await session.execute(update(ApiKey).where(ApiKey.id == client.api_key_id).values(revoked_at=now))
    await session.flush()


def grant(requested: str | None, role: str) -> tuple[str, str]:
    """(granted scope, token role). Read acts as `viewer`; write as the client's role (never a viewer's)."""
    allowed = {READ_SCOPE} | ({WRITE_SCOPE} if role != "viewer" else set())
    asked: set[str] = set()
    for scope in (requested or "").split() or sorted(allowed):
        if scope not in SCOPE_ALIASES:
            raise OAuthError(
                "invalid_scope", f"unknown scope {scope!r}: use {READ_SCOPE} and/or {WRITE_SCOPE}"
            )
        asked |= SCOPE_ALIASES[scope]
    granted = asked & allowed
    if not granted:
        raise OAuthError("invalid_scope", f"a {role} client may not have {', '.join(sorted(asked))}")
    return " ".join(sorted(granted)), role if WRITE_SCOPE in granted else "viewer"


async def _client(session: AsyncSession, assertion: str) -> OAuthClient:
    _header, claims = peek(assertion)
    try:
        client_id = uuid.UUID(str(claims.get("iss")))
    except ValueError:
        raise OAuthError("invalid_client", "the assertion's iss must be your client_id", 401) from None
    client = await session.get(OAuthClient, client_id)
    if client is None or client.revoked_at is not None or claims.get("sub") != str(client_id):
        raise OAuthError("invalid_client", "unknown or revoked client, or sub is not the client_id", 401)
    return client


async def issue_token(
    session: AsyncSession, form: dict[str, str], token_url: str, settings: Settings
) -> dict[str, Any]:
    """client_credentials with a private_key_jwt assertion -> a short-lived, scoped bearer token."""
    if form.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise OAuthError(
            "invalid_request", f"send client_assertion_type={ASSERTION_TYPE} and a client_assertion"
        )
    assertion = form["client_assertion"]
    try:
        client = await _client(session, assertion)
        header, _claims = peek(assertion)
        keys = await keys_for(client.jwks, client.jwks_url, header.get("kid"))
        claims = verify(assertion, keys, str(client.id), token_url, settings.jwt_max_lifetime_seconds)
        await remember_jti(session, str(client.id), claims)
    except JwtRejected as exc:
        raise OAuthError("invalid_client", str(exc), 401) from None
    scope, role = grant(form.get("scope"), client.role)
    return await _store_token(session, client, scope, role, settings.oauth_token_ttl_seconds)


async def _store_token(
    session: AsyncSession, client: OAuthClient, scope: str, role: str, ttl: int
) -> dict[str, Any]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        OAuthToken(
            client_id=client.id,
            api_key_id=client.api_key_id,
            token_hash=hash_token(token),
            scope=scope,
            role=role,
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl, "scope": scope}
