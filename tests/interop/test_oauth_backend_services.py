"""SMART Backend Services: registered clients, signed assertions, short-lived scoped tokens, no replays."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent, OAuthToken, Reading
from tests.api.records import block_body, diary, new_patient
from tests.interop.keys import JwksServer, Signer, claims, ec_signer, rsa_signer

TOKEN_URL = "http://testserver/oauth/token"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def register(
    client: httpx.AsyncClient, admin: dict[str, str], signer: Signer, role: str = "ehr", **source: Any
) -> str:
    body = {"name": "Epic backend", "role": role, **(source or {"jwks": signer.jwks()})}
    response = await client.post("/v1/oauth-clients", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["token_url"] == TOKEN_URL
    assert response.headers["location"] == f"/v1/oauth-clients/{response.json()['client_id']}"
    return str(response.json()["client_id"])


async def ask_token(client: httpx.AsyncClient, assertion: str, scope: str | None = None) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION,
        "client_assertion": assertion,
    }
    if scope is not None:
        form["scope"] = scope
    return await client.post("/oauth/token", data=form)


async def token_for(
    client: httpx.AsyncClient, signer: Signer, client_id: str, scope: str | None = None
) -> str:
    response = await ask_token(client, signer.sign(claims(client_id, TOKEN_URL)), scope)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.mark.parametrize("make_signer", [ec_signer, rsa_signer], ids=["ES384", "RS384"])
async def test_post_token_signed_assertion_answers_a_short_lived_scoped_token(
    client: httpx.AsyncClient, admin: dict[str, str], make_signer: Any
) -> None:
    signer = make_signer()
    client_id = await register(client, admin, signer)
    response = await ask_token(
        client, signer.sign(claims(client_id, TOKEN_URL)), "system/*.read system/*.write"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and 0 < body["expires_in"] <= 3600
    assert body["scope"] == "system/*.read system/*.write"
    assert response.headers["cache-control"] == "no-store"
    patients = await client.get("/v1/patients", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert patients.status_code == 200, patients.text


async def test_post_readings_with_a_token_and_idempotency_key_replays_and_audits_the_client(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession
) -> None:
    signer = ec_signer()
    client_id = await register(client, admin, signer)
    auth = {"Authorization": f"Bearer {await token_for(client, signer, client_id)}"}
    patient = await new_patient(client, auth)
    block = await client.post(f"/v1/patients/{patient['id']}/blocks", json=block_body(), headers=auth)
    assert block.status_code == 201, block.text
    keyed = {**auth, "Idempotency-Key": f"diary-{uuid.uuid4()}"}
    path, body = f"/v1/blocks/{block.json()['id']}/readings", {"readings": diary()}
    first = await client.post(path, json=body, headers=keyed)
    again = await client.post(path, json=body, headers=keyed)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    other_body = {"readings": diary()[:1]}
    assert (await client.post(path, json=other_body, headers=keyed)).status_code == 422
    block_id = uuid.UUID(block.json()["id"])
    stored = (await session.scalars(select(Reading.id).where(Reading.block_id == block_id))).all()
    assert len(stored) == 2 * len(diary())  # bilateral: once per side, and once only despite the retry
    actors = (
        await session.scalars(select(AuditEvent.actor_name).where(AuditEvent.resource_type == "reading"))
    ).all()
    assert actors == ["Epic backend"]


async def test_post_token_read_scope_acts_as_a_viewer(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    signer = ec_signer()
    client_id = await register(client, admin, signer, role="ehr")
    response = await ask_token(client, signer.sign(claims(client_id, TOKEN_URL)), "system/*.read")
    assert response.json()["scope"] == "system/*.read"
    auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
    refused = await client.post("/v1/patients", json={"mrn": "MRN-9"}, headers=auth)
    assert refused.status_code == 403, refused.text
    assert "viewer" in refused.json()["detail"]


async def test_post_token_viewer_client_asking_write_only_is_invalid_scope(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    signer = ec_signer()
    client_id = await register(client, admin, signer, role="viewer")
    response = await ask_token(client, signer.sign(claims(client_id, TOKEN_URL)), "system/*.write")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    unknown = await ask_token(client, signer.sign(claims(client_id, TOKEN_URL)), "patient/*.read")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_scope"


async def test_post_token_replayed_jti_is_refused(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    signer = ec_signer()
    client_id = await register(client, admin, signer)
    assertion = signer.sign(claims(client_id, TOKEN_URL))
    assert (await ask_token(client, assertion)).status_code == 200
    replay = await ask_token(client, assertion)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client" and "already used" in replay.json()["error_description"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"aud": "http://elsewhere/oauth/token"}, "aud"),
        ({"exp": 1_000_000_000}, "expired"),
        ({"exp": 4_000_000_000}, "exp is more than"),
        ({"jti": None}, "jti"),
        ({"sub": "someone-else"}, "sub"),
    ],
)
async def test_post_token_bad_assertion_claims_are_invalid_client(
    client: httpx.AsyncClient, admin: dict[str, str], change: dict[str, Any], why: str
) -> None:
    signer = ec_signer()
    client_id = await register(client, admin, signer)
    body = {k: v for k, v in {**claims(client_id, TOKEN_URL), **change}.items() if v is not None}
    response = await ask_token(client, signer.sign(body))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client" and why in response.json()["error_description"]


async def test_post_token_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    registered, intruder = ec_signer("k1"), ec_signer("k1")
    client_id = await register(client, admin, registered)
    response = await ask_token(client, intruder.sign(claims(client_id, TOKEN_URL)))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_post_token_keys_from_a_jwks_url(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    signer = rsa_signer("published")
    with JwksServer(signer.jwks()) as server:
        client_id = await register(client, admin, signer, jwks_url=server.url)
        response = await ask_token(client, signer.sign(claims(client_id, TOKEN_URL)))
    assert response.status_code == 200, response.text
    assert server.fetches >= 1


async def test_post_token_form_errors_follow_rfc6749(client: httpx.AsyncClient) -> None:
    wrong_grant = await client.post("/oauth/token", data={"grant_type": "password"})
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"
    no_assertion = await client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert no_assertion.status_code == 400 and no_assertion.json()["error"] == "invalid_request"
    as_json = await client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    garbage = await ask_token(client, "not.a.jwt")
    assert garbage.status_code == 401 and garbage.json()["error"] == "invalid_client"


async def test_token_expired_or_client_revoked_is_401(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession
) -> None:
    signer = ec_signer()
    client_id = await register(client, admin, signer)
    auth = {"Authorization": f"Bearer {await token_for(client, signer, client_id)}"}
    assert (await client.get("/v1/patients", headers=auth)).status_code == 200
    revoked = await client.delete(f"/v1/oauth-clients/{client_id}", headers=admin)
    assert revoked.status_code == 204
    assert (await client.get("/v1/patients", headers=auth)).status_code == 401
    listed = await client.get("/v1/oauth-clients", headers=admin)
    assert listed.json()["items"] == []
    second = ec_signer()
    other_id = await register(client, admin, second)
    auth = {"Authorization": f"Bearer {await token_for(client, second, other_id)}"}
    async with session.begin():
        await session.execute(update(OAuthToken).values(expires_at=OAuthToken.created_at))
    assert (await client.get("/v1/patients", headers=auth)).status_code == 401


async def test_token_of_another_clinic_sees_nothing_of_ours(
    client: httpx.AsyncClient, admin: dict[str, str], other_clinic: dict[str, str]
) -> None:
    patient = await new_patient(client, admin)
    signer = ec_signer()
    client_id = await register(client, other_clinic, signer)
    auth = {"Authorization": f"Bearer {await token_for(client, signer, client_id)}"}
    assert (await client.get(f"/v1/patients/{patient['id']}", headers=auth)).status_code == 404
    assert (await client.get("/v1/patients", headers=auth)).json()["items"] == []
    assert (await client.delete(f"/v1/oauth-clients/{client_id}", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "role": "ehr"},
        {"name": "x", "role": "ehr", "jwks": {"keys": []}, "jwks_url": "https://a.example/jwks"},
        {"name": "x", "role": "ehr", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        {"name": "x", "role": "ehr", "jwks_url": "ftp://a.example/jwks"},
        {"name": "x", "role": "root", "jwks_url": "https://a.example/jwks"},
    ],
)
async def test_post_oauth_client_invalid_body_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post("/v1/oauth-clients", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]


async def test_post_oauth_client_private_key_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    signer = ec_signer()
    private = {"keys": [signer.key.as_dict(private=True)]}
    response = await client.post(
        "/v1/oauth-clients", json={"name": "x", "role": "ehr", "jwks": private}, headers=admin
    )
    assert response.status_code == 422 and "private" in response.text


async def test_oauth_clients_are_admin_only(client: httpx.AsyncClient, ehr: dict[str, str]) -> None:
    body = {"name": "x", "role": "ehr", "jwks_url": "https://a.example/jwks"}
    assert (await client.post("/v1/oauth-clients", json=body, headers=ehr)).status_code == 403
