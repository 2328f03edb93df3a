"""HL7 v2.5.1: the ORU^R01 of a block (on demand, and to hl7v2 webhooks) and the MDM^T02 carrying a letter."""

import base64
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.hl7.messages import ED_CHUNK, mdm_t02
from api.schemas.referrals import ReferralPublic
from api.services.records import PatientRecord
from models import OutboxEvent
from tests.api.diaries import DAY1, POSITIVE, WEEK, diary_block
from tests.interop.hl7_check import segments, strict, structural

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


async def patient_named(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "Maria Alvarez"
) -> str:
    body = {"mrn": f"MRN-{uuid.uuid4().hex[:6]}", "name": name, "birth_date": "1961-04-12"}
    response = await client.post("/v1/patients", json=body, headers=headers)
    return str(response.json()["id"])


async def test_get_block_hl7_is_a_valid_oru_with_scores_relief_and_verdict(
    client: httpx.AsyncClient, ehr: dict[str, str], viewer: dict[str, str]
) -> None:
    patient = await patient_named(client, ehr)
    mrn = (await client.get(f"/v1/patients/{patient}", headers=ehr)).json()["mrn"]
    block = await diary_block(
        client, ehr, patient, DAY1, POSITIVE, targets=[{"joint": "L4-L5", "side": "bilateral"}]
    )
    response = await client.get(f"/v1/blocks/{block['id']}/hl7", headers=viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/hl7-v2"
    er7 = response.text
    message = strict(er7)
    assert message.msh.msh_9.to_er7() == "ORU^R01^ORU_R01" and message.msh.msh_12.to_er7() == "2.5.1"
    [pid] = segments(er7, "PID")
    assert pid[3] == f"{mrn}^^^BLOCKTRACK^MR" and pid[5] == "Alvarez^Maria" and pid[7] == "19610412"
    assert [obr[4].split("^")[0] for obr in segments(er7, "OBR")] == ["64493", "64493"]
    values = [(obx[2], obx[3].split("^")[0], obx[5]) for obx in segments(er7, "OBX")]
    scores = [v for kind, code, v in values if code == "72514-3"]
    assert scores == ["8", "1", "1", "1", "5"] * 2
    assert ("NM", "peak-relief", "87.5") in values and ("NM", "relief-duration", "60") in values
    verdicts = [v for kind, code, v in values if code == "block-verdict"]
    assert verdicts == ["positive: Relief of 87.5% lasted 60 min; lidocaine needs 60 min."] * 2


async def test_get_block_hl7_corrected_and_voided_readings_are_c_and_w(
    client: httpx.AsyncClient, ehr: dict[str, str], staff: dict[str, str]
) -> None:
    patient = await patient_named(client, ehr, "Cher")
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    first, second = block["readings"][1]["id"], block["readings"][2]["id"]
    await client.patch(f"/v1/readings/{first}", json={"score": 2, "reason": "typo"}, headers=staff)
    await client.post(f"/v1/readings/{second}/void", json={"reason": "wrong time"}, headers=staff)
    er7 = (await client.get(f"/v1/blocks/{block['id']}/hl7", headers=ehr)).text
    strict(er7)
    assert segments(er7, "PID")[0][5] == "Cher"
    statuses = [obx[11] for obx in segments(er7, "OBX") if obx[3].startswith("72514-3")]
    assert statuses == ["F", "C", "W", "F", "F"]


async def test_get_block_hl7_other_clinic_404(
    client: httpx.AsyncClient, ehr: dict[str, str], other_clinic: dict[str, str]
) -> None:
    patient = await patient_named(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    response = await client.get(f"/v1/blocks/{block['id']}/hl7", headers=other_clinic)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def _referral() -> ReferralPublic:
    return ReferralPublic.model_validate({
        "id": uuid.uuid4(), "patient_id": uuid.uuid4(), "joint": "L4-L5", "side": "left", "region": "lumbar",
        "payer_family": "lumbar_sacral", "status": "open", "fulfilled_by_block_id": None,
        "fulfilled_at": None, "qualifying_block_ids": [], "recommended_at": datetime(2026, 3, 9, tzinfo=UTC),
        "policy": {"profile": "medicare", "version": 1},
        "procedure": {"name": "radiofrequency ablation", "nerves": ["L3 medial branch", "L4 medial branch"],
                      "cpt_first_joint": "64635", "cpt_each_additional_joint": "64636"},
        "warnings": [], "acknowledged_at": None, "external_order_id": None, "withdrawn_at": None,
        "withdrawn_reason": None,
    })  # fmt: skip


PATIENT = PatientRecord(uuid.uuid4(), "MRN-0042", "Dana Whitfield", date(1964, 3, 8), datetime.now(UTC))


def test_mdm_t02_carries_the_pdf_and_validates() -> None:
    now = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    er7 = mdm_t02(PATIENT, _referral(), PDF, "evt-1", now)
    structural(er7)
    [txa] = segments(er7, "TXA")
    assert txa[2] == "CN" and txa[17] == "DO"
    [obx] = segments(er7, "OBX")
    assert obx[2] == "ED" and obx[3] == "11488-4^Consult note^LN"
    assert obx[5].split("^")[1:4] == ["AP", "PDF", "Base64"]
    assert base64.b64decode(obx[5].split("^")[4]) == PDF


def test_mdm_t02_txa_names_activity_document_and_order() -> None:
    now, opened = datetime(2026, 3, 9, 15, 0, tzinfo=UTC), datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    referral = _referral().model_copy(update={"external_order_id": "ORD-77"})
    event = "0b5f3c1e-5d8a-4b52-9a57-1d2c3b4a5f60"
    er7 = mdm_t02(PATIENT, referral, PDF, event, now, opened)
    structural(er7)
    [txa] = segments(er7, "TXA")
    assert (txa[4], txa[6]) == ("20260309140000+0000", "20260309150000+0000")
    assert txa[12] == "0b5f3c1e5d8a4b529a57^BLOCKTRACK" and txa[14] == "ORD-77"
    assert (txa[17], txa[19]) == ("DO", "AV")


def test_mdm_t02_large_letter_is_split_over_ed_segments_in_order() -> None:
    pdf = PDF + bytes(range(256)) * 600  # about 150 KB: 205,000 base64 characters, four ED chunks
    er7 = mdm_t02(PATIENT, _referral(), pdf, "evt-2", datetime.now(UTC))
    structural(er7)
    parts = segments(er7, "OBX")
    assert [p[4] for p in parts] == ["1", "2", "3", "4"]
    assert all(len(p[5].split("^")[4]) <= ED_CHUNK for p in parts)
    assert base64.b64decode("".join(p[5].split("^")[4] for p in parts)) == pdf


async def test_webhook_hl7v2_subscription_gets_the_oru_with_the_event(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str], session: AsyncSession
) -> None:
    body = {"url": "http://10.0.0.5/hl7", "events": ["block.evaluated"], "format": "hl7v2"}
    hook = await client.post("/v1/webhooks", json=body, headers=admin)
    assert hook.status_code == 201 and hook.json()["format"] == "hl7v2"
    patient = await patient_named(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)
    columns = (OutboxEvent.id, OutboxEvent.payload, OutboxEvent.hl7_message)
    rows = (await session.execute(select(*columns).order_by(OutboxEvent.created_at))).all()
    last = [row for row in rows if row.payload["data"]["block_id"] == block["id"]][-1]
    message = strict(last.hl7_message)
    assert message.msh.msh_10.to_er7() == last.id.hex[:20]
    assert "positive: Relief of 87.5%" in last.hl7_message


@pytest.mark.parametrize("events", [["referral.withdrawn"], ["block.evaluated", "referral.withdrawn"]])
async def test_post_webhook_hl7v2_for_referral_events_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], events: list[str]
) -> None:
    body = {"url": "http://10.0.0.5/hl7", "events": events, "format": "hl7v2"}
    response = await client.post("/v1/webhooks", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "format"]
