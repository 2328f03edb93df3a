"""CDS Hooks rfa-order-check: a card per ordered level, by level status, signed by a test issuer."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.interop.codes import CPT, LATERALITY_EXTENSION, SNOMED
from models import AuditEvent
from tests.api.diaries import DAY1, NEGATIVE, POSITIVE, WEEK, diary_block, new_block
from tests.interop.keys import JwksServer, Signer, claims, ec_signer, rsa_signer

ISSUER = "https://ehr.riverside.example/interconnect"
SERVICE = "http://testserver/cds-services/rfa-order-check"
LATERAL = {"left": "7771000", "right": "24028007", "bilateral": "51440002"}


def order(mrn: str, joint: str = "L4-L5", side: str = "left", code: str = "64635") -> dict[str, Any]:
    site = {
        "text": f"{joint} facet joint",
        "extension": [
            {
                "url": LATERALITY_EXTENSION,
                "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": LATERAL[side]}]},
            }
        ],
    }
    return {
        "resourceType": "ServiceRequest",
        "id": "rfa-1",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": CPT, "code": code}]},
        "subject": {"identifier": {"system": "urn:oid:2.16.840.1.113883.3.1", "value": mrn}},
        "bodySite": [site],
    }


def hook_body(*orders: dict[str, Any], hook: str = "order-sign", **extra: Any) -> dict[str, Any]:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": o} for o in orders]}
    context = {"userId": "Practitioner/42", "patientId": "e63wRTbPfr1p8UW81d8Seiw3", "draftOrders": bundle}
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, **extra}


async def trust(client: httpx.AsyncClient, admin: dict[str, str], signer: Signer, **source: Any) -> None:
    body = {"issuer": ISSUER, **(source or {"jwks": signer.jwks()})}
    response = await client.post("/v1/cds-issuers", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/cds-issuers/{response.json()['id']}"


async def ask(
    client: httpx.AsyncClient, signer: Signer, body: dict[str, Any], **claim: Any
) -> httpx.Response:
    token = signer.sign({**claims(ISSUER, SERVICE), **claim})
    return await client.post(
        "/cds-services/rfa-order-check", json=body, headers={"Authorization": f"Bearer {token}"}
    )


async def patient_with(client: httpx.AsyncClient, ehr: dict[str, str], *diaries: Any, **fields: Any) -> str:
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"
    response = await client.post("/v1/patients", json={"mrn": mrn}, headers=ehr)
    patient = response.json()["id"]
    for week, diary in enumerate(diaries):
        if diary is None:
            await new_block(client, ehr, patient, DAY1 + week * WEEK, **fields)
        else:
            await diary_block(client, ehr, patient, DAY1 + week * WEEK, diary, **fields)
    return mrn


async def test_get_discovery_lists_the_order_services(client: httpx.AsyncClient) -> None:
    response = await client.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s["hook"] for s in response.json()["services"]}
    assert services == {"rfa-order-check": "order-sign", "rfa-order-select": "order-select"}


@pytest.mark.parametrize(
    ("diaries", "indicator", "summary"),
    [
        (
            (POSITIVE, POSITIVE),
            "info",
            "Criteria met: L4-L5 left, blocks of 5 Oct 2026 and 12 Oct 2026, 87.5% and 87.5% relief",
        ),
        (
            (POSITIVE,),
            "warning",
            "Awaiting a confirming block: L4-L5 left, blocks of 5 Oct 2026, 87.5% relief",
        ),
        ((None,), "warning", "Diagnostic blocks not yet decided: L4-L5 left"),
        ((POSITIVE, NEGATIVE), "critical", "Ablation not indicated: L4-L5 left"),
        ((), "critical", "No diagnostic blocks: L4-L5 left"),
    ],
    ids=["referral_recommended", "awaiting_confirmation", "pending", "not_indicated", "no_blocks"],
)
async def test_post_rfa_order_check_card_for_each_level_status(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    ehr: dict[str, str],
    diaries: Any,
    indicator: str,
    summary: str,
) -> None:
    signer = ec_signer()
    await trust(client, admin, signer)
    mrn = await patient_with(client, ehr, *diaries)
    response = await ask(client, signer, hook_body(order(mrn)))
    assert response.status_code == 200, response.text
    [card] = response.json()["cards"]
    assert (card["indicator"], card["summary"]) == (indicator, summary)
    assert len(card["summary"]) < 140 and card["source"]["label"] == "Blocktrack"
    letters = [link for link in card.get("links") or [] if "/letter" in link["url"]]
    assert len(letters) == (2 if indicator == "info" else 0)


async def test_post_rfa_order_check_criteria_met_card_carries_figures_and_referral_link(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str]
) -> None:
    signer = rsa_signer()
    await trust(client, admin, signer)
    mrn = await patient_with(client, ehr, POSITIVE, POSITIVE)
    [card] = (await ask(client, signer, hook_body(order(mrn)))).json()["cards"]
    assert "- Block 5 Oct 2026: 87.5% relief for 60 min (lidocaine)" in card["detail"]
    assert "- Block 12 Oct 2026: 87.5% relief for 60 min (lidocaine)" in card["detail"]
    patient = (await client.get("/v1/patients", params={"mrn": mrn}, headers=ehr)).json()["items"][0]["id"]
    letter = f"http://testserver/ui/patients/{patient}/levels/L4-L5/left/letter"
    assert [(link["label"], link["url"], link["type"]) for link in card["links"][:2]] == [
        ("Outcome letter, L4-L5 left", letter, "absolute"),
        ("Outcome letter, L4-L5 left (PDF)", f"{letter}.pdf", "absolute"),
    ]
    assert card["links"][2]["type"] == "absolute" and "/fhir/R4/ServiceRequest/" in card["links"][2]["url"]
    signed_out = await client.get(letter.removeprefix("http://testserver"))  # a clinician signs in first
    assert signed_out.status_code in (302, 303) and signed_out.headers["location"].startswith(
        "/ui/sign-in?next="
    )


async def test_post_rfa_order_check_payer_guardrail_is_a_warning(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str]
) -> None:
    signer = ec_signer()
    await trust(client, admin, signer)
    mrn = await patient_with(client, ehr, POSITIVE, POSITIVE, sedation="moderate")
    [card] = (await ask(client, signer, hook_body(order(mrn)))).json()["cards"]
    assert card["indicator"] == "warning" and card["summary"].startswith("Criteria met")
    assert "Payer warning:" in card["detail"] and "sedation" in card["detail"]


async def test_post_rfa_order_check_other_side_and_non_ablation_orders(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str]
) -> None:
    signer = ec_signer()
    await trust(client, admin, signer)
    mrn = await patient_with(client, ehr, POSITIVE, POSITIVE)
    both = await ask(client, signer, hook_body(order(mrn, side="bilateral")))
    assert [c["indicator"] for c in both.json()["cards"]] == ["info", "critical"]
    lab = await ask(client, signer, hook_body(order(mrn, code="80061")))
    assert lab.json()["cards"] == []


async def test_post_rfa_order_check_mrn_from_prefetch_and_unknown_patient(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str]
) -> None:
    signer = ec_signer()
    await trust(client, admin, signer)
    mrn = await patient_with(client, ehr, POSITIVE, POSITIVE)
    draft = order(mrn)
    draft["subject"] = {"reference": "Patient/e63wRTbPfr1p8UW81d8Seiw3"}
    patient = {"resourceType": "Patient", "identifier": [
        {"type": {"coding": [{"code": "MR"}]}, "value": mrn}]}  # fmt: skip
    [card] = (await ask(client, signer, hook_body(draft, prefetch={"patient": patient}))).json()["cards"]
    assert card["indicator"] == "info"
    [unknown] = (await ask(client, signer, hook_body(order("NOBODY")))).json()["cards"]
    assert unknown["indicator"] == "critical" and "NOBODY" in unknown["summary"]


async def test_post_rfa_order_check_replayed_jti_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str]
) -> None:
    signer = ec_signer()
    await trust(client, admin, signer)
    mrn = await patient_with(client, ehr, POSITIVE)
    token = signer.sign(claims(ISSUER, SERVICE))
    headers = {"Authorization": f"Bearer {token}"}
    first = await client.post("/cds-services/rfa-order-check", json=hook_body(order(mrn)), headers=headers)
    assert first.status_code == 200, first.text
    replay = await client.post("/cds-services/rfa-order-check", json=hook_body(order(mrn)), headers=headers)
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]


@pytest.mark.parametrize(
    ("claim", "why"),
    [
        ({"aud": "http://testserver/cds-services/other"}, "aud"),
        ({"exp": 1_000_000_000}, "expired"),
        ({"iss": "https://stranger.example"}, "not registered"),
    ],  # fmt: skip
)
async def test_post_rfa_order_check_bad_jwt_is_401(
    client: httpx.AsyncClient, admin: dict[str, str], claim: dict[str, Any], why: str
) -> None:
    signer = ec_signer()
    await trust(client, admin, signer)
    response = await ask(client, signer, hook_body(order("MRN-1")), **claim)
    assert response.status_code == 401 and why in response.json()["detail"]


async def test_post_rfa_order_check_without_jwt_or_with_another_key_is_401(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await trust(client, admin, ec_signer("k"))
    unsigned = await client.post("/cds-services/rfa-order-check", json=hook_body(order("MRN-1")))
    assert unsigned.status_code == 401
    forged = await ask(client, ec_signer("k"), hook_body(order("MRN-1")))
    assert forged.status_code == 401


async def test_post_rfa_order_check_keys_from_jwks_url_and_audited(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str], session: AsyncSession
) -> None:
    signer = rsa_signer("ehr-2026")
    mrn = await patient_with(client, ehr, POSITIVE, POSITIVE)
    with JwksServer(signer.jwks()) as server:
        await trust(client, admin, signer, jwks_url=server.url)
        response = await ask(client, signer, hook_body(order(mrn), hook="order-select"))
    assert response.status_code == 200 and response.json()["cards"][0]["indicator"] == "info"
    actors = (
        await session.scalars(select(AuditEvent.actor_name).where(AuditEvent.resource_type == "level"))
    ).all()
    assert f"CDS Hooks: {ISSUER}" in actors


async def test_post_rfa_order_check_issuer_of_another_clinic_sees_not_our_patients(
    client: httpx.AsyncClient, other_clinic: dict[str, str], ehr: dict[str, str]
) -> None:
    signer = ec_signer()
    await trust(client, other_clinic, signer)
    mrn = await patient_with(client, ehr, POSITIVE, POSITIVE)
    [card] = (await ask(client, signer, hook_body(order(mrn)))).json()["cards"]
    assert card["indicator"] == "critical" and "No diagnostic block record" in card["summary"]


async def test_cds_issuers_registry_admin_only_and_duplicate_conflict(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str]
) -> None:
    signer = ec_signer()
    assert (
        await client.post("/v1/cds-issuers", json={"issuer": ISSUER, "jwks": signer.jwks()}, headers=ehr)
    ).status_code == 403
    await trust(client, admin, signer)
    again = await client.post(
        "/v1/cds-issuers", json={"issuer": ISSUER, "jwks": signer.jwks()}, headers=admin
    )
    assert again.status_code == 409
    [issuer] = (await client.get("/v1/cds-issuers", headers=admin)).json()["items"]
    assert (await client.delete(f"/v1/cds-issuers/{issuer['id']}", headers=admin)).status_code == 204
    assert (await client.get("/v1/cds-issuers", headers=admin)).json()["items"] == []
