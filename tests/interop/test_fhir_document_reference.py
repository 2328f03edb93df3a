"""FHIR DocumentReference: each level's outcome letter, its PDF, its versions, paging, tenancy and audit."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent
from tests.api.diaries import (
    DAY1,
    NEGATIVE,
    POSITIVE,
    WEEK,
    diary_block,
    new_block,
    new_patient,
    referrals_of,
)
from tests.interop.test_fhir_read import FHIR, read, search_all

LOINC = "http://loinc.org"


async def referred_patient(
    client: httpx.AsyncClient, ehr: dict[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """A patient whose L4-L5 left has two positive blocks in a row: an open referral."""
    patient = await new_patient(client, ehr)
    blocks = [await diary_block(client, ehr, patient, DAY1 + n * WEEK, POSITIVE) for n in range(2)]
    return patient, blocks


async def test_search_document_reference_by_patient_is_the_letter_of_the_referral(
    client: httpx.AsyncClient, ehr: dict[str, str], viewer: dict[str, str]
) -> None:
    patient, blocks = await referred_patient(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)
    [document], _ = await search_all(client, viewer, f"/DocumentReference?patient=Patient/{patient}")
    assert document["status"] == "current" and document["subject"]["reference"] == f"Patient/{patient}"
    assert document["type"]["coding"][0] == {"system": LOINC, "code": "11488-4", "display": "Consult note"}
    assert document["category"][0]["coding"][0]["code"] == "clinical-note"
    [content] = document["content"]
    assert content["attachment"]["contentType"] == "application/pdf"
    assert content["attachment"]["url"].endswith(f"/v1/patients/{patient}/levels/L4-L5/left/letter.pdf")
    targets = [b["targets"][0]["id"] for b in blocks]
    assert [r["reference"] for r in document["context"]["related"]] == [
        f"ServiceRequest/{referral['id']}",
        *(f"Procedure/{t}" for t in targets),
    ]
    assert document["date"] == document["meta"]["lastUpdated"]
    pdf = await client.get(content["attachment"]["url"], headers=viewer)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")


async def test_read_document_reference_is_the_search_entry_with_its_etag(
    client: httpx.AsyncClient, ehr: dict[str, str]
) -> None:
    patient, _ = await referred_patient(client, ehr)
    [found], _ = await search_all(client, ehr, f"/DocumentReference?patient={patient}")
    response = await client.get(f"{FHIR}/DocumentReference/{found['id']}", headers=ehr)
    assert response.status_code == 200 and response.json() == found
    assert response.headers["etag"] == f'W/"{found["meta"]["versionId"]}"'


async def test_read_document_reference_version_changes_with_the_letter_only(
    client: httpx.AsyncClient, ehr: dict[str, str], staff: dict[str, str]
) -> None:
    patient, blocks = await referred_patient(client, ehr)
    [found], _ = await search_all(client, ehr, f"/DocumentReference?patient={patient}")
    path = f"/DocumentReference/{found['id']}"
    assert (await read(client, ehr, path))["meta"] == found["meta"]  # nothing changed: the same version
    reading = blocks[1]["readings"][2]["id"]
    corrected = {"score": 2, "reason": "transcription error"}
    assert (await client.patch(f"/v1/readings/{reading}", json=corrected, headers=staff)).status_code == 200
    after = await read(client, ehr, path)
    assert after["meta"]["versionId"] != found["meta"]["versionId"]
    assert after["meta"]["lastUpdated"] > found["meta"]["lastUpdated"]


async def test_search_document_references_pages_to_the_last_with_next_links(
    client: httpx.AsyncClient, ehr: dict[str, str]
) -> None:
    patient = await new_patient(client, ehr)
    joints = [{"joint": j, "side": "left"} for j in ("L3-L4", "L4-L5", "L5-S1")]
    await new_block(client, ehr, patient, DAY1, targets=joints)
    await diary_block(
        client, ehr, patient, DAY1 + WEEK, NEGATIVE, targets=[{"joint": "L2-L3", "side": "right"}]
    )
    documents, pages = await search_all(client, ehr, f"/DocumentReference?patient={patient}&_count=2")
    assert pages == 2 and len(documents) == 4
    titles = sorted(d["content"][0]["attachment"]["title"] for d in documents)
    assert titles == [
        f"Outcome letter, {j}" for j in ("L2-L3 right", "L3-L4 left", "L4-L5 left", "L5-S1 left")
    ]


async def test_read_document_reference_other_clinic_404_and_empty_search(
    client: httpx.AsyncClient, ehr: dict[str, str], other_clinic: dict[str, str]
) -> None:
    patient, _ = await referred_patient(client, ehr)
    [found], _ = await search_all(client, ehr, f"/DocumentReference?patient={patient}")
    response = await client.get(f"{FHIR}/DocumentReference/{found['id']}", headers=other_clinic)
    assert response.status_code == 404 and response.json()["resourceType"] == "OperationOutcome"
    assert (await search_all(client, other_clinic, f"/DocumentReference?patient={patient}"))[0] == []
    missing = await client.get(f"{FHIR}/DocumentReference/not-a-level", headers=ehr)
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


async def test_read_document_reference_is_audited_as_a_letter_read(
    client: httpx.AsyncClient, ehr: dict[str, str], session: AsyncSession
) -> None:
    patient, _ = await referred_patient(client, ehr)
    [found], _ = await search_all(client, ehr, f"/DocumentReference?patient={patient}")
    await read(client, ehr, f"/DocumentReference/{found['id']}")
    columns = (AuditEvent.action, AuditEvent.resource_id, AuditEvent.result_ids, AuditEvent.patient_id)
    # In time order: without ORDER BY, PostgreSQL may return rows in any order (it did, in CI).
    rows = await session.execute(
        select(*columns).where(AuditEvent.resource_type == "letter").order_by(AuditEvent.at)
    )
    assert [tuple(map(str, row)) for row in rows.all()] == [
        ("search", "None", str([found["id"]]), "None"),
        ("read", "L4-L5:left", "None", patient),
    ]
