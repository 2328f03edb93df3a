"""The authorization matrix, generated from the app's route table: every route x every role of one clinic,
with path parameters filled with ANOTHER clinic's real ids.

A route must appear in RULES with the right it needs; a route that is not there fails CI, so a new route
cannot ship without an authorization rule. For each route and role:
- a role without the right gets 403 problem+json (the check runs before anything is looked up or stored);
- a role with it, asking for the other clinic's resources, gets 404, exactly as for an id that does not
  exist; on a collection it sees none of the other clinic's ids;
- without a key, 401 (public routes excepted).
The role table is the documented one (api/auth.py ROLE_RIGHTS, README "Auth, tenancy, roles").
"""

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.auth import ADMIN, READ, ROLE_RIGHTS, WRITE_CLINICAL, WRITE_READINGS
from tests.api.diaries import DAY1, POSITIVE, WEEK, diary_block, referrals_of
from tests.api.records import block_body, diary
from tests.interop.keys import ec_signer
from tests.interop.test_cds_hooks import hook_body, order

Headers = dict[str, str]
PUBLIC = "public"  # no API key: health, discovery, the OAuth token endpoint, the docs
CDS_JWT = "cds_jwt"  # CDS Hooks: the EHR's signed JWT, checked against the clinic's trusted issuers
UI = "/ui"  # the staff workspace: cookie sessions, covered by tests/ui

# (method, path) -> the right a bearer key needs. Every API route must be here.
RULES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/v1/patients"): WRITE_CLINICAL,
    ("GET", "/v1/patients"): READ,
    ("GET", "/v1/patients/{patient_id}"): READ,
    ("POST", "/v1/patients/{patient_id}/blocks"): WRITE_CLINICAL,
    ("GET", "/v1/patients/{patient_id}/blocks"): READ,
    ("GET", "/v1/blocks/{block_id}"): READ,
    ("POST", "/v1/blocks/{block_id}/void"): WRITE_CLINICAL,
    ("PATCH", "/v1/blocks/{block_id}"): WRITE_CLINICAL,
    ("GET", "/v1/blocks/{block_id}/history"): READ,
    ("PUT", "/v1/blocks/{block_id}/coverage-override"): WRITE_CLINICAL,
    ("DELETE", "/v1/blocks/{block_id}/coverage-override"): WRITE_CLINICAL,
    ("POST", "/v1/blocks/{block_id}/readings"): WRITE_READINGS,
    ("GET", "/v1/blocks/{block_id}/readings"): READ,
    ("GET", "/v1/readings/{reading_id}"): READ,
    ("PATCH", "/v1/readings/{reading_id}"): WRITE_READINGS,
    ("GET", "/v1/readings/{reading_id}/history"): READ,
    ("POST", "/v1/readings/{reading_id}/void"): WRITE_READINGS,
    ("GET", "/v1/blocks/{block_id}/outcome"): READ,
    ("GET", "/v1/blocks/{block_id}/hl7"): READ,
    ("GET", "/v1/patients/{patient_id}/levels"): READ,
    ("GET", "/v1/patients/{patient_id}/rfa-plan"): READ,
    ("GET", "/v1/patients/{patient_id}/levels/{joint}/{side}/letter"): READ,
    ("GET", "/v1/patients/{patient_id}/levels/{joint}/{side}/letter.pdf"): READ,
    ("GET", "/v1/jobs/{job_id}"): READ,
    ("GET", "/v1/api-keys"): ADMIN,
    ("GET", "/v1/api-keys/{key_id}"): ADMIN,
    ("POST", "/v1/api-keys/{key_id}/revoke"): ADMIN,
    ("POST", "/v1/api-keys/{key_id}/rotate"): ADMIN,
    ("GET", "/fhir/R4/DocumentReference/{resource_id}"): READ,
    ("GET", "/fhir/R4/DocumentReference"): READ,
    ("GET", "/v1/referrals"): READ,
    ("GET", "/v1/referrals/{referral_id}"): READ,
    ("POST", "/v1/referrals/{referral_id}/acknowledge"): WRITE_CLINICAL,
    ("GET", "/v1/policy"): READ,
    ("PUT", "/v1/policy"): ADMIN,
    ("GET", "/v1/clinic"): READ,
    ("PATCH", "/v1/clinic"): ADMIN,
    ("POST", "/v1/webhooks"): ADMIN,
    ("GET", "/v1/webhooks"): ADMIN,
    ("DELETE", "/v1/webhooks/{webhook_id}"): ADMIN,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): ADMIN,
    ("POST", "/v1/users"): ADMIN,
    ("GET", "/v1/users"): ADMIN,
    ("GET", "/v1/users/{user_id}"): ADMIN,
    ("POST", "/v1/users/{user_id}/disable"): ADMIN,
    ("POST", "/v1/users/{user_id}/reset-password"): ADMIN,
    ("GET", "/v1/audit-events"): ADMIN,
    ("GET", "/v1/exports/outcomes.csv"): READ,
    ("GET", "/v1/exports/audit.csv"): ADMIN,
    ("GET", "/fhir/R4/metadata"): PUBLIC,
    ("GET", "/fhir/R4/.well-known/smart-configuration"): PUBLIC,
    ("GET", "/fhir/R4/Patient/{resource_id}"): READ,
    ("GET", "/fhir/R4/Patient"): READ,
    ("GET", "/fhir/R4/Procedure/{resource_id}"): READ,
    ("GET", "/fhir/R4/Procedure"): READ,
    ("GET", "/fhir/R4/Observation/{resource_id}"): READ,
    ("GET", "/fhir/R4/Observation"): READ,
    ("GET", "/fhir/R4/ServiceRequest/{resource_id}"): READ,
    ("GET", "/fhir/R4/ServiceRequest"): READ,
    ("POST", "/oauth/token"): PUBLIC,
    ("POST", "/v1/oauth-clients"): ADMIN,
    ("GET", "/v1/oauth-clients"): ADMIN,
    ("DELETE", "/v1/oauth-clients/{client_id}"): ADMIN,
    ("GET", "/cds-services"): PUBLIC,
    ("POST", "/cds-services/{service_id}"): CDS_JWT,
    ("POST", "/v1/cds-issuers"): ADMIN,
    ("GET", "/v1/cds-issuers"): ADMIN,
    ("DELETE", "/v1/cds-issuers/{issuer_id}"): ADMIN,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/"): PUBLIC,
}

# A valid body, so that a role with the right reaches the lookup (a 422 would hide a missing 404).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/patients"): {"mrn": "MATRIX-1"},
    ("POST", "/v1/patients/{patient_id}/blocks"): block_body(),
    ("POST", "/v1/blocks/{block_id}/void"): {"reason": "not yours"},
    ("PATCH", "/v1/blocks/{block_id}"): {"sedation": "general", "reason": "not yours"},
    ("PUT", "/v1/blocks/{block_id}/coverage-override"): {"reason": "not yours"},
    ("POST", "/v1/blocks/{block_id}/readings"): {"readings": diary()},
    ("PATCH", "/v1/readings/{reading_id}"): {"score": 0, "reason": "not yours"},
    ("POST", "/v1/readings/{reading_id}/void"): {"reason": "not yours"},
    ("POST", "/v1/referrals/{referral_id}/acknowledge"): {"external_order_id": "ORD-1"},
    ("PUT", "/v1/policy"): {"profile": "medicare"},
    ("PATCH", "/v1/clinic"): {"time_zone": "UTC"},
    ("POST", "/v1/webhooks"): {"url": "https://ehr.example.org/matrix", "events": ["block.evaluated"]},
    ("POST", "/v1/users"): {"email": "matrix@example.org", "display_name": "M", "role": "staff"},
    ("POST", "/v1/cds-issuers"): {"issuer": "https://matrix.example", "jwks": ec_signer("m").jwks()},
    ("POST", "/v1/oauth-clients"): {"name": "matrix", "role": "viewer", "jwks": ec_signer("m").jwks()},
    ("POST", "/cds-services/{service_id}"): hook_body(order("THEIRS-1")),
}


def api_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Every (method, path) the app serves, through included routers, the staff workspace left out."""

    def walk(routes: Sequence[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # FastAPI keeps an included router as a branch
                yield from walk(route.original_router.routes)

    for route in walk(app.routes):
        if not route.path.startswith(UI):
            yield from ((method, route.path) for method in sorted(route.methods))


async def _theirs(client: httpx.AsyncClient, headers: Headers) -> dict[str, str]:
    """Real ids of every kind of resource of the other clinic."""
    patient = (await client.post("/v1/patients", json={"mrn": "THEIRS-1"}, headers=headers)).json()["id"]
    first = await diary_block(client, headers, patient, DAY1, POSITIVE)
    await diary_block(client, headers, patient, DAY1 + WEEK, POSITIVE)
    [referral] = await referrals_of(client, headers, patient, "open")
    hook = await client.post("/v1/webhooks", json=BODIES[("POST", "/v1/webhooks")], headers=headers)
    user = await client.post("/v1/users", json=BODIES[("POST", "/v1/users")], headers=headers)
    issuer = await client.post("/v1/cds-issuers", json=BODIES[("POST", "/v1/cds-issuers")], headers=headers)
    oauth = await client.post(
        "/v1/oauth-clients", json=BODIES[("POST", "/v1/oauth-clients")], headers=headers
    )
    for made in (hook, user, issuer, oauth):
        assert made.status_code == 201, made.text
    job = await client.put(
        "/v1/policy", json={"profile": "consensus"}, headers=headers | {"Prefer": "respond-async"}
    )
    assert job.status_code == 202, job.text
    keys = (await client.get("/v1/api-keys", headers=headers)).json()["items"]
    letters = await client.get("/fhir/R4/DocumentReference", params={"patient": patient}, headers=headers)
    assert letters.status_code == 200 and keys, letters.text
    return {
        "patient_id": patient, "block_id": first["id"], "reading_id": first["readings"][0]["id"],
        "referral_id": referral["id"], "webhook_id": hook.json()["id"], "delivery_id": str(uuid.uuid4()),
        "user_id": user.json()["id"], "issuer_id": issuer.json()["id"],
        "client_id": oauth.json()["client_id"], "job_id": job.json()["id"], "key_id": keys[0]["id"],
        "level_id": letters.json()["entry"][0]["resource"]["id"],
        "joint": "L4-L5", "side": "left", "service_id": "rfa-order-check",
    }  # fmt: skip


def _resource_id(path: str, ids: dict[str, str]) -> str:
    kind = path.split("/")[3]
    return {"Patient": ids["patient_id"], "Procedure": ids["block_id"], "Observation": ids["reading_id"],
            "ServiceRequest": ids["referral_id"], "DocumentReference": ids["level_id"]}[kind]  # fmt: skip


def _url(path: str, ids: dict[str, str]) -> str:
    if "{resource_id}" in path:
        return path.replace("{resource_id}", _resource_id(path, ids))
    return path.format(**ids)


def _expected(right: str, role: str, path: str) -> str:
    if right in (PUBLIC, CDS_JWT):
        return "no key needed"
    if right not in ROLE_RIGHTS[role]:
        return "403"
    return "404" if "{" in path else "none of theirs"


def _outcome(response: httpx.Response, path: str, theirs: dict[str, str]) -> str:
    if response.status_code in (401, 403, 404):
        return str(response.status_code)
    leaked = [name for name, value in theirs.items() if name.endswith("_id") and value in response.text]
    return f"{response.status_code} leaking {leaked}" if leaked else "none of theirs"


async def test_every_route_has_an_authorization_rule(app: FastAPI) -> None:
    served = set(api_routes(app))
    assert len(served) > 50  # the walk found the routers
    assert sorted(served - RULES.keys()) == [], "add these routes to RULES with the right they need"
    assert sorted(RULES.keys() - served) == [], "these routes are gone: remove them from RULES"


async def test_every_route_every_role_other_clinic_forbidden_or_not_found(
    client: httpx.AsyncClient, app: FastAPI, make_clinic: Any, make_key: Any
) -> None:
    mine = {role: await make_key(role) for role in ROLE_RIGHTS}
    _clinic, their_admin = await make_clinic("Matrix Other Clinic")
    theirs = await _theirs(client, their_admin)
    wrong = []
    for method, path in sorted(api_routes(app)):
        right, body = RULES[(method, path)], BODIES.get((method, path))
        url = _url(path, theirs)
        for role, headers in mine.items():
            expected = _expected(right, role, path)
            if expected == "no key needed":
                continue
            response = await client.request(method, url, json=body, headers=headers)
            if (got := _outcome(response, path, theirs)) != expected:
                wrong.append(
                    f"{role:7} {method} {path}: expected {expected}, got {got} {response.text[:120]}"
                )
    assert wrong == []


async def test_every_keyed_route_without_key_unauthorized(client: httpx.AsyncClient, app: FastAPI) -> None:
    names = ("patient_id", "block_id", "reading_id", "referral_id", "webhook_id", "delivery_id", "user_id")
    missing = dict.fromkeys(
        (*names, "issuer_id", "client_id", "job_id", "key_id", "level_id"), str(uuid.uuid4())
    )
    ids = missing | {"joint": "L4-L5", "side": "left", "service_id": "rfa-order-check"}
    # One address makes a keyless request per route, more than its lockout allows (covered by
    # tests/api/test_rate_limits.py): a 429 would hide a route that serves without a key.
    app.state.settings = app.state.settings.model_copy(update={"auth_failure_limit": 10_000})
    wrong = []
    for method, path in sorted(api_routes(app)):
        if RULES[(method, path)] == PUBLIC:
            continue
        response = await client.request(method, _url(path, ids), json=BODIES.get((method, path)))
        if response.status_code != 401:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []
