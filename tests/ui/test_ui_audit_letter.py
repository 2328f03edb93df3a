"""The audit names the person and the patient; the outcome letter as HTML and PDF, over the UI and the API."""

import asyncio
import subprocess
import uuid
from pathlib import Path

import httpx

from tests.api.diaries import DAY1, POSITIVE, WEEK, add_diary, new_block, new_patient
from tests.ui.conftest import UserFactory, signed_in

Headers = dict[str, str]


def pdf_page_one(pdf: bytes, folder: Path) -> tuple[bytes, str]:
    """Page 1 as PNG (pdftoppm) and the whole text (pdftotext), whitespace collapsed."""
    (folder / "letter.pdf").write_bytes(pdf)
    page = ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", "letter.pdf", "page"]
    subprocess.run(page, cwd=folder, check=True)
    out = subprocess.run(
        ["pdftotext", "letter.pdf", "-"], cwd=folder, check=True, capture_output=True, text=True
    )
    return (folder / "page.png").read_bytes(), " ".join(out.stdout.split())


async def _referral_patient(client: httpx.AsyncClient, ehr: Headers) -> str:
    """Two positive lidocaine blocks a week apart at L4-L5 left: a referral."""
    patient = await new_patient(client, ehr)
    for at in (DAY1, DAY1 + WEEK):
        block = await new_block(client, ehr, patient, at, volume_ml_per_nerve=0.5)
        await add_diary(client, ehr, block, *POSITIVE)
    return patient


async def test_audit_names_person_and_patient_filter_finds_ui_and_api_access(
    client: httpx.AsyncClient, make_user: UserFactory, admin: Headers, ehr: Headers
) -> None:
    patient = await _referral_patient(client, ehr)
    other = await new_patient(client, ehr)
    user = await make_user("clinician")
    await signed_in(client, user)
    assert (await client.get(f"/ui/patients/{patient}")).status_code == 200
    await client.get(f"/v1/patients/{patient}/levels", headers=ehr)
    mrn = (await client.get(f"/v1/patients/{patient}", headers=ehr)).json()["mrn"]
    await client.get("/v1/patients", params={"mrn": mrn}, headers=ehr)  # a lookup that finds this patient
    page = (
        await client.get("/v1/audit-events", params={"patient_id": patient, "limit": 200}, headers=admin)
    ).json()
    rows = page["items"]
    assert {r["patient_id"] for r in rows} == {patient}
    ui_rows = [r for r in rows if r["actor_user_id"] == str(user.id)]
    assert ui_rows and ui_rows[0]["actor_name"] == "Clinician Person" and ui_rows[0]["role"] == "clinician"
    assert ui_rows[0]["actor_key_id"] is None
    assert ("read", "patient") in {(r["action"], r["resource_type"]) for r in ui_rows}
    api_kinds = {(r["action"], r["resource_type"]) for r in rows if r["actor_key_id"]}
    wanted = {
        ("create", "patient"),
        ("create", "block"),
        ("create", "reading"),
        ("read", "level"),
        ("search", "patient"),
    }
    assert wanted <= api_kinds
    by_user = (
        await client.get("/v1/audit-events", params={"actor_user_id": str(user.id)}, headers=admin)
    ).json()
    assert {r["actor_user_id"] for r in by_user["items"]} == {str(user.id)}
    assert other not in {r["patient_id"] for r in rows}


async def test_acknowledge_referral_in_worklist_names_person(
    client: httpx.AsyncClient, make_user: UserFactory, ehr: Headers
) -> None:
    await _referral_patient(client, ehr)
    csrf = await signed_in(client, await make_user("clinician"))
    worklist = await client.get("/ui/referrals")
    referral_id = (await client.get("/v1/referrals", headers=ehr)).json()["items"][0]["id"]
    assert f'id="r-{referral_id}"' in worklist.text and "Acknowledge" in worklist.text
    answer = await client.post(
        f"/ui/referrals/{referral_id}/acknowledge", data={"external_order_id": "ORD-77", "csrf_token": csrf}
    )
    assert answer.status_code == 303
    referral = (await client.get(f"/v1/referrals/{referral_id}", headers=ehr)).json()
    assert referral["status"] == "acknowledged" and referral["acknowledged_by"] == "Clinician Person"
    assert referral["external_order_id"] == "ORD-77"


async def test_get_letter_api_html_and_pdf_by_accept(
    client: httpx.AsyncClient, ehr: Headers, admin: Headers
) -> None:
    patient = await _referral_patient(client, ehr)
    html = await client.get(f"/v1/patients/{patient}/levels/l4-5/left/letter", headers=ehr)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    text = html.text
    for expected in (
        "L4-L5, left side",
        "87.5%",
        "lidocaine",
        "0.5 mL",
        "fluoroscopy",
        "medicare</strong>, version 1",
        "64635",
        "64636",
        "L3 medial branch, L4 medial branch",
        "<svg",
        "60 min (required 60 min)",
    ):
        assert expected in text, expected
    pdf = await client.get(
        f"/v1/patients/{patient}/levels/L4-L5/left/letter", headers=ehr | {"Accept": "application/pdf"}
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    audit = (await client.get("/v1/audit-events", params={"resource_type": "letter"}, headers=admin)).json()
    assert [(r["action"], r["resource_id"], r["patient_id"]) for r in audit["items"]] == [
        ("export", "L4-L5:left", patient)
    ] * 2


async def test_get_letter_unknown_level_404_bad_joint_422(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await _referral_patient(client, ehr)
    missing = await client.get(f"/v1/patients/{patient}/levels/L5-S1/left/letter", headers=ehr)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    bad = await client.get(f"/v1/patients/{patient}/levels/L6-S1/left/letter", headers=ehr)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["path", "joint"]
    other = await client.get(f"/v1/patients/{uuid.uuid4()}/levels/L4-L5/left/letter", headers=ehr)
    assert other.status_code == 404


async def test_letter_pdf_page_one_renders_and_reads(
    client: httpx.AsyncClient, make_user: UserFactory, ehr: Headers, tmp_path: Path
) -> None:
    """Needs poppler-utils (pdftoppm, pdftotext), which .ci/run installs."""
    patient = await _referral_patient(client, ehr)
    await signed_in(client, await make_user("staff"))
    pdf = await client.get(f"/ui/patients/{patient}/levels/L4-L5/left/letter.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    png, text = await asyncio.to_thread(pdf_page_one, pdf.content, tmp_path)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    for expected in (
        "medical necessity",
        "L4-L5, left side",
        "Referral recommended",
        "87.5%",
        "64635",
        "L3 medial branch",
    ):
        assert expected in text, expected
