"""Signed JWTs from other systems (SMART client assertions, CDS Hooks requests), verified with joserfc.

A JWT is accepted when its signature verifies against the sender's registered JWKS (inline, or fetched from
its URL and cached), `iss`, `aud`, `exp` and `jti` are present and right, `exp` is at most
`jwt_max_lifetime_seconds` away, and its `jti` was never accepted from that issuer before: the used_jti
unique constraint refuses a replay, even between concurrent requests.
"""

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import UsedJti

ALGORITHMS = ["RS384", "ES384"]
KEY_TYPES = ("RSA", "EC")
CACHE_SECONDS = 300.0
REFETCH_AFTER_SECONDS = 10.0  # an unknown `kid` refetches the JWKS (key rotation), at most this often
MAX_JWKS_BYTES = 65536
_cache: dict[str, tuple[float, KeySet]] = {}


class JwtRejected(Exception):
    """Why a JWT is refused, in words for the caller."""


def check_jwks(value: dict[str, Any]) -> KeySet:
    """A JWKS of public RSA or EC keys; raises ValueError saying what is wrong."""
    keys = value.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ValueError('must be a JWK Set: {"keys": [...]} with at least one key')
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in KEY_TYPES:
            raise ValueError(f"every key must be an RSA or EC public key ({', '.join(ALGORITHMS)})")
        if "d" in key:
            raise ValueError("holds private key material: register the public keys only")
    try:
        return KeySet.import_key_set(value)  # type: ignore[arg-type]
    except Exception as exc:  # whatever a malformed key makes the library raise, it is the caller's input
        raise ValueError(f"is not a valid JWK Set ({type(exc).__name__})") from None


async def _fetch(url: str) -> KeySet:
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False, trust_env=False) as client:
        try:
            response = await client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise JwtRejected(f"could not fetch the JWKS at {url}: {type(exc).__name__}") from None
    if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
        raise JwtRejected(f"the JWKS at {url} answered HTTP {response.status_code}")
    try:
        return check_jwks(response.json())
    except ValueError as exc:
        raise JwtRejected(f"the JWKS at {url} {exc}") from None


async def keys_for(jwks: dict[str, Any] | None, jwks_url: str | None, kid: str | None) -> KeySet:
    if jwks is not None:
        return check_jwks(jwks)
    assert jwks_url is not None
    cached = _cache.get(jwks_url)
    age = time.monotonic() - cached[0] if cached else None
    known = cached is not None and (kid is None or any(k.kid == kid for k in cached[1].keys))
    if cached is None or age is None or age > CACHE_SECONDS or (not known and age > REFETCH_AFTER_SECONDS):
        _cache[jwks_url] = (time.monotonic(), await _fetch(jwks_url))
    return _cache[jwks_url][1]


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWT, NOT verified: only to find who claims to have sent it."""
    try:
        header, payload, _signature = token.split(".")
        decoded = [
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (header, payload)
        ]
    except ValueError:
        raise JwtRejected("not a signed JWT (header.payload.signature)") from None
    if not all(isinstance(part, dict) for part in decoded):
        raise JwtRejected("not a signed JWT (header.payload.signature)")
    return decoded[0], decoded[1]


def verify(token: str, keys: KeySet, issuer: str, audience: str, max_lifetime: int) -> dict[str, Any]:
    """The verified claims; raises JwtRejected naming what failed."""
    try:
        claims = jwt.decode(token, keys, algorithms=ALGORITHMS).claims
        registry = jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            jti={"essential": True},
        )
        registry.validate(claims)
    except JoseError as exc:
        raise JwtRejected(f"the JWT was refused: {exc.error}: {exc.description or ''}".strip(": ")) from None
    except Exception:  # a malformed token can make the library raise anything: it is refused all the same
        raise JwtRejected("the JWT could not be verified") from None
    if claims["exp"] > time.time() + max_lifetime + 30:
        raise JwtRejected(f"exp is more than {max_lifetime} s away: ask for a short-lived JWT")
    if not isinstance(claims["jti"], str) or not 0 < len(claims["jti"]) <= 255:
        raise JwtRejected("jti must be a string of 1 to 255 characters")
    return claims


async def remember_jti(session: AsyncSession, issuer: str, claims: dict[str, Any]) -> None:
    """Record the JWT's id; a replay (the same issuer and jti again) raises JwtRejected.

    The unique constraint decides, inside a SAVEPOINT, so two concurrent requests cannot both pass.
    """
    now = datetime.now(UTC)
    await session.execute(delete(UsedJti).where(UsedJti.expires_at < now))
    expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC) + timedelta(seconds=60)
    try:
        async with session.begin_nested():
            await session.execute(
                insert(UsedJti).values(issuer=issuer, jti=claims["jti"], expires_at=expires_at)
            )
    except IntegrityError:
        raise JwtRejected(f"jti {claims['jti']!r} was already used: a JWT is accepted once") from None
