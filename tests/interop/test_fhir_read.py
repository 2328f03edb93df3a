"""FHIR R4 read API: a FHIR client reads the demo clinic end to end; codes, statuses, versions, tenancy."""

from typing import Any

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.demo import PATIENTS, _load_patient
from api.interop.codes import LATERALITY_EXTENSION, MRN_SYSTEM, SERVICE_REQUEST_STATUS
from models import AuditEvent
from tests.api.diaries import DAY1, POSITIVE, WEEK, diary_block, new_block, new_patient

FHIR = "/fhir/R4"
FHIR_JSON = "application/fhir+json"


def parsed(body: dict[str, Any]) -> Any:
    """Validate a resource with fhir.resources (R4B models); return the model."""
    return get_fhir_model_class(body["resourceType"]).model_validate(body)


async def read(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    response = await client.get(path if path.startswith(("http", FHIR)) else FHIR + path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR_JSON
    body = response.json()
    parsed(body)
    return dict(body)


async def search_all(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> tuple[list[dict[str, Any]], int]:
    """Follow `next` links to the last page; every Bundle and every resource in it validates."""
    resources, pages, url = [], 0, FHIR + path
    while url:
        bundle = await read(client, headers, url)
        Bundle.model_validate(bundle)
        pages += 1
        resources += [parsed(entry["resource"]).model_dump(mode="json") for entry in bundle.get("entry", [])]
        assert len(bundle.get("entry", [])) <= (4 if "_count=4" in url else 50)
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert len(resources) == bundle["total"]
    assert len({r["id"] for r in resources}) == len(resources)
    return resources, pages


async def test_fhir_client_reads_the_demo_clinic_end_to_end(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    demo = httpx.AsyncClient(transport=client._transport, base_url="http://testserver", headers=admin)
    for patient in PATIENTS:
        await _load_patient(demo, patient)
    capability = await read(client, {}, "/metadata")
    assert {r["type"] for r in capability["rest"][0]["resource"]} == {
        "Patient",
        "Procedure",
        "Observation",
        "ServiceRequest",
        "DocumentReference",
    }
    targets = sum(
        len(block.joints) * (2 if block.target_side == "bilateral" else 1)
        for patient in PATIENTS
        for block in patient.blocks
    )
    patients, pages = await search_all(client, admin, "/Patient?_count=4")
    assert len(patients) == len(PATIENTS) and pages == -(-len(PATIENTS) // 4)
    procedures, _ = await search_all(client, admin, "/Procedure?_count=4")
    assert len(procedures) == targets  # one per block target
    observations, pages = await search_all(client, admin, "/Observation?_count=4")
    readings = [o for o in observations if o["code"]["coding"][0]["system"] == "http://loinc.org"]
    verdicts = [o for o in observations if o not in readings]
    assert len(verdicts) == targets and len(readings) == len(observations) - targets and pages > 20
    requests, _ = await search_all(client, admin, "/ServiceRequest?_count=4")
    referrals = (await demo.get("/v1/referrals", params={"limit": 200})).json()["items"]
    expected = sorted(SERVICE_REQUEST_STATUS[r["status"]] for r in referrals)
    assert sorted(r["status"] for r in requests) == expected
    assert {"active", "completed"} <= {r["status"] for r in requests}
    letters, _ = await search_all(client, admin, "/DocumentReference?_count=4")
    levels = [
        lv for p in patients for lv in (await demo.get(f"/v1/patients/{p['id']}/levels")).json()["items"]
    ]
    assert len(letters) == len(levels)  # one letter per level
    related = {r["reference"] for d in letters for r in d.get("context", {}).get("related", [])}
    assert {f"ServiceRequest/{r['id']}" for r in requests} <= related
    for resource in (*patients[:1], *procedures[:1], *observations[:1], *requests, *letters[:1]):
        again = await read(client, admin, f"/{resource['resourceType']}/{resource['id']}")
        assert again == resource


async def test_fhir_search_by_patient_and_identifier(client: httpx.AsyncClient, ehr: dict[str, str]) -> None:
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    other = await new_patient(client, ehr)
    await diary_block(client, ehr, other, DAY1, POSITIVE)
    mrn = (await client.get(f"/v1/patients/{patient}", headers=ehr)).json()["mrn"]
    for query in (f"identifier={mrn}", f"identifier={MRN_SYSTEM}|{mrn}"):
        found, _ = await search_all(client, ehr, f"/Patient?{query}")
        assert [p["id"] for p in found] == [patient]
    assert (await search_all(client, ehr, f"/Patient?identifier=urn:oid:1.2.3|{mrn}"))[0] == []
    procedures, _ = await search_all(client, ehr, f"/Procedure?patient=Patient/{patient}")
    assert [p["subject"]["reference"] for p in procedures] == [f"Patient/{patient}"]
    assert (await search_all(client, ehr, "/Procedure?patient=not-an-id"))[0] == []


async def test_fhir_procedure_cpt_by_payer_family_and_position(
    client: httpx.AsyncClient, ehr: dict[str, str]
) -> None:
    patient = await new_patient(client, ehr)
    three = [{"joint": j, "side": "left"} for j in ("L5-S1", "L3-L4", "L4-L5")]
    await new_block(client, ehr, patient, DAY1, targets=three)
    mixed = [{"joint": "T12-L1", "side": "bilateral"}, {"joint": "L1-L2", "side": "right"}]
    await new_block(client, ehr, patient, DAY1 + WEEK, targets=mixed)
    procedures, _ = await search_all(client, ehr, f"/Procedure?patient={patient}")
    coded = {(p["bodySite"][0]["coding"][0]["code"], p["bodySite"][0]["text"]): p["code"]["coding"][0]["code"]
             for p in procedures}  # fmt: skip
    assert coded == {
        ("L3-L4", "Left L3-L4 facet joint"): "64493",
        ("L4-L5", "Left L4-L5 facet joint"): "64494",
        ("L5-S1", "Left L5-S1 facet joint"): "64495",  # a third lumbar level
        ("T12-L1", "Left T12-L1 facet joint"): "64490",  # T12-L1 codes as thoracic
        ("T12-L1", "Right T12-L1 facet joint"): "64490",
        ("L1-L2", "Right L1-L2 facet joint"): "64493",
    }
    sides = {p["bodySite"][0]["text"].split()[0]: p["bodySite"][0]["extension"][0] for p in procedures}
    assert sides["Left"]["url"] == LATERALITY_EXTENSION
    assert sides["Left"]["valueCodeableConcept"]["coding"][0]["code"] == "7771000"
    assert sides["Right"]["valueCodeableConcept"]["coding"][0]["code"] == "24028007"
    detail = {
        e["url"]: next(iter(v for k, v in e.items() if k.startswith("value")))
        for e in procedures[0]["extension"][0]["extension"]
    }
    assert (
        detail["agent"] == "lidocaine"
        and detail["guidance"] == "fluoroscopy"
        and detail["sedation"] == "none"
    )


async def test_fhir_observations_reading_and_verdict(client: httpx.AsyncClient, ehr: dict[str, str]) -> None:
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE, pain_scale="vas")
    target = block["targets"][0]["id"]
    verdict = await read(client, ehr, f"/Observation/{target}")
    assert verdict["valueCodeableConcept"]["coding"][0]["code"] == "positive"
    assert verdict["interpretation"][0]["coding"][0]["code"] == "POS"
    assert verdict["partOf"] == [{"reference": f"Procedure/{target}"}]
    figures = {c["code"]["coding"][0]["code"]: c for c in verdict["component"]}
    assert figures["peak-relief"]["valueQuantity"]["value"] == 87.5
    assert figures["relief-duration"]["valueQuantity"]["value"] == 60
    used = block["outcome"]["targets"][0]["readings_used"]
    assert [d["reference"] for d in verdict["derivedFrom"]] == [f"Observation/{r}" for r in used]
    reading = await read(client, ehr, f"/Observation/{used[0]}")
    assert reading["code"]["coding"][0]["code"] == "38214-3"  # VAS
    assert reading["status"] == "final" and reading["effectiveDateTime"].endswith(("Z", "+00:00"))
    assert reading["partOf"] == [{"reference": f"Procedure/{target}"}]


async def test_fhir_reading_amended_then_voided_changes_status_and_version(
    client: httpx.AsyncClient, ehr: dict[str, str], staff: dict[str, str]
) -> None:
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    reading_id = block["readings"][1]["id"]
    first = await client.get(f"{FHIR}/Observation/{reading_id}", headers=ehr)
    patched = await client.patch(
        f"/v1/readings/{reading_id}", json={"score": 2, "reason": "typo"}, headers=staff
    )
    assert patched.status_code == 200, patched.text
    amended = await read(client, ehr, f"/Observation/{reading_id}")
    assert amended["status"] == "amended" and amended["valueInteger"] == 2
    assert amended["meta"]["versionId"] != first.json()["meta"]["versionId"]
    assert first.headers["etag"] == f'W/"{first.json()["meta"]["versionId"]}"'
    await client.post(f"/v1/readings/{reading_id}/void", json={"reason": "wrong patient"}, headers=staff)
    assert (await read(client, ehr, f"/Observation/{reading_id}"))["status"] == "entered-in-error"


async def test_fhir_service_request_active_then_revoked(
    client: httpx.AsyncClient, ehr: dict[str, str]
) -> None:
    patient = await new_patient(client, ehr)
    first = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    second = await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)
    [request] = (await search_all(client, ehr, f"/ServiceRequest?patient={patient}"))[0]
    assert (request["status"], request["intent"]) == ("active", "proposal")
    assert request["code"]["coding"][0]["code"] == "64635"
    targets = [first["targets"][0]["id"], second["targets"][0]["id"]]
    assert [r["reference"] for r in request["reasonReference"]] == [f"Observation/{t}" for t in targets]
    assert [r["reference"] for r in request["supportingInfo"]] == [f"Procedure/{t}" for t in targets]
    await client.post(f"/v1/blocks/{second['id']}/void", json={"reason": "wrong level"}, headers=ehr)
    revoked = await read(client, ehr, f"/ServiceRequest/{request['id']}")
    assert revoked["status"] == "revoked" and revoked["meta"]["versionId"] != request["meta"]["versionId"]
    procedure = await read(client, ehr, f"/Procedure/{targets[1]}")
    assert procedure["status"] == "entered-in-error" and procedure["statusReason"]["text"] == "wrong level"


async def test_fhir_other_clinic_sees_404_and_empty_searches(
    client: httpx.AsyncClient, ehr: dict[str, str], other_clinic: dict[str, str]
) -> None:
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    target = block["targets"][0]["id"]
    for path in (f"/Patient/{patient}", f"/Procedure/{target}", f"/Observation/{target}"):
        response = await client.get(FHIR + path, headers=other_clinic)
        assert response.status_code == 404
        assert parsed(response.json()).issue[0].code == "not-found"
    for path in ("/Patient", f"/Procedure?patient={patient}", "/Observation", "/ServiceRequest"):
        assert (await read(client, other_clinic, path))["total"] == 0


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/Patient", 401, "login"),
        ("/Patient?_count=0", 400, "invalid"),
        ("/Patient?_count=abc", 400, "invalid"),
        ("/Procedure/xyz", 404, "not-found"),
        ("/Nothing", 404, "not-found"),
    ],  # fmt: skip
)
async def test_fhir_errors_are_operation_outcomes(
    client: httpx.AsyncClient, viewer: dict[str, str], path: str, status: int, code: str
) -> None:
    headers = {} if status == 401 else viewer
    response = await client.get(FHIR + path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == FHIR_JSON
    assert parsed(response.json()).issue[0].code == code


async def test_fhir_reads_and_searches_are_audited(
    client: httpx.AsyncClient, ehr: dict[str, str], viewer: dict[str, str], session: AsyncSession
) -> None:
    patient = await new_patient(client, ehr)
    await read(client, viewer, f"/Patient/{patient}")
    await read(client, viewer, f"/Procedure?patient={patient}")
    rows = (await session.execute(
        select(AuditEvent.action, AuditEvent.resource_type, AuditEvent.resource_id, AuditEvent.role)
        .where(AuditEvent.role == "viewer").order_by(AuditEvent.at))).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("read", "patient", patient, "viewer"),
        ("search", "block", None, "viewer"),
    ]


async def test_fhir_smart_configuration_names_the_token_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{FHIR}/.well-known/smart-configuration")
    assert response.status_code == 200
    assert response.json()["token_endpoint"] == "http://testserver/oauth/token"
