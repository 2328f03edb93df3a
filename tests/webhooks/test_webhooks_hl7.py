"""hl7v2 subscriptions: a block's ORU^R01 and a referral's letter as an MDM^T02, as application/hl7-v2,
signed and retried like JSON."""

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.services.outbox import emit
from api.webhooks.deliverer import Deliverer
from models import OutboxEvent, WebhookDelivery, WebhookSubscription
from tests.interop.hl7_check import segments, strict, structural
from tests.webhooks.receiver import Receiver
from tests.webhooks.verify import verify_by_hand

REFERRAL = {
    "joint": "L4-L5", "side": "left", "region": "lumbar", "payer_family": "lumbar_sacral", "status": "open",
    "fulfilled_by_block_id": None, "fulfilled_at": None, "qualifying_block_ids": [],
    "recommended_at": "2026-03-09T14:00:00+00:00", "policy": {"profile": "medicare", "version": 1},
    "procedure": {"name": "radiofrequency ablation", "nerves": ["L3 medial branch", "L4 medial branch"],
                  "cpt_first_joint": "64635", "cpt_each_additional_joint": "64636"},
    "warnings": [], "acknowledged_at": None, "external_order_id": None, "withdrawn_at": None,
    "withdrawn_reason": None,
}  # fmt: skip


async def test_deliver_hl7v2_oru_signed_and_retried(
    live_client: httpx.AsyncClient,
    live_admin,
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    _clinic_id, headers = live_admin
    body = {"url": receiver.url("/plan"), "events": ["block.evaluated"], "format": "hl7v2"}
    hook = (await live_client.post("/v1/webhooks", json=body, headers=headers)).json()
    patient = await live_client.post(
        "/v1/patients", json={"mrn": f"H-{uuid.uuid4().hex[:8]}"}, headers=headers
    )
    at = datetime.now(UTC) - timedelta(days=1)
    block_body = {
        "performed_at": at.isoformat(),
        "agent": "lidocaine",
        "targets": [{"joint": "L4-L5", "side": "left"}],
    }
    block = await live_client.post(
        f"/v1/patients/{patient.json()['id']}/blocks", json=block_body, headers=headers
    )
    assert block.status_code == 201, block.text
    receiver.plan.append(503)  # the first attempt fails; the retry carries the same message
    deadline = time.monotonic() + 10
    while len(receiver.bodies("/plan")) < 2 and time.monotonic() < deadline:
        await deliverer.deliver_due()
    first, second = receiver.bodies("/plan")[:2]
    assert first.headers["content-type"] == "application/hl7-v2"
    assert first.body == second.body and first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verify_by_hand(hook["secret"], second.headers, second.body)
    message = strict(second.body.decode())
    assert message.msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert message.msh.msh_10.to_er7() == uuid.UUID(second.headers["webhook-id"]).hex[:20]


async def _positive_block(
    client: httpx.AsyncClient, headers: dict[str, str], patient: str, days_ago: int
) -> None:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    body = {
        "performed_at": at.isoformat(),
        "agent": "lidocaine",
        "targets": [{"joint": "L4-L5", "side": "left"}],
    }
    block = (await client.post(f"/v1/patients/{patient}/blocks", json=body, headers=headers)).json()
    pre = (at - timedelta(minutes=10)).isoformat()
    readings = [{"phase": "pre", "recorded_at": pre, "score": 8}]
    readings += [
        {"phase": "post", "minutes_after_block": m, "score": s} for m, s in ((15, 1), (30, 1), (60, 1))
    ]
    answer = await client.post(
        f"/v1/blocks/{block['id']}/readings", json={"readings": readings}, headers=headers
    )
    assert answer.status_code == 201, answer.text


async def _deliveries(deliverer: Deliverer, receiver: Receiver, path: str, count: int) -> list[Any]:
    deadline = time.monotonic() + 20
    while len(receiver.bodies(path)) < count and time.monotonic() < deadline:
        await deliverer.deliver_due()
    return receiver.bodies(path)


def _letter(er7: str) -> tuple[list[str], bytes]:
    structural(er7)
    [txa] = segments(er7, "TXA")
    return txa, base64.b64decode("".join(obx[5].split("^")[4] for obx in segments(er7, "OBX")))


async def test_deliver_hl7v2_mdm_with_the_letter_when_a_referral_opens_and_is_fulfilled(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: async_sessionmaker[AsyncSession],
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    _clinic_id, headers = live_admin
    events = ["referral.recommended", "referral.fulfilled"]
    body = {"url": receiver.url("/plan"), "events": events, "format": "hl7v2"}
    hook = (await live_client.post("/v1/webhooks", json=body, headers=headers)).json()
    mrn = f"M-{uuid.uuid4().hex[:8]}"
    patient = (await live_client.post("/v1/patients", json={"mrn": mrn}, headers=headers)).json()["id"]
    await _positive_block(live_client, headers, patient, 9)
    await _positive_block(live_client, headers, patient, 2)
    async with live_sessions() as session:  # the write stored the event, not a message: the deliverer renders
        [opened] = (await session.execute(select(OutboxEvent).where(OutboxEvent.type == events[0]))).scalars()
        assert opened.payload["data"]["patient_id"] == patient and opened.hl7_message is None
    receiver.plan.append(503)  # the first attempt fails; the retry carries the same message
    first, second = (await _deliveries(deliverer, receiver, "/plan", 2))[:2]
    assert first.headers["content-type"] == "application/hl7-v2" and first.body == second.body
    assert verify_by_hand(hook["secret"], second.headers, second.body)
    er7 = second.body.decode()
    assert er7.split("\r")[0].split("|")[8] == "MDM^T02^MDM_T02"
    txa, pdf = _letter(er7)
    assert txa[2] == "CN" and txa[17] == "DO" and txa[12].startswith(opened.id.hex[:20])
    assert pdf.startswith(b"%PDF-") and segments(er7, "PID")[0][3].startswith(mrn)
    ablation = {"performed_at": datetime.now(UTC).isoformat(), "procedure": "radiofrequency_ablation",
                "agent": "lidocaine", "targets": [{"joint": "L4-L5", "side": "left"}]}  # fmt: skip
    assert (
        await live_client.post(f"/v1/patients/{patient}/blocks", json=ablation, headers=headers)
    ).is_success
    fulfilled = (await _deliveries(deliverer, receiver, "/plan", 3))[2]
    txa_fulfilled, pdf = _letter(fulfilled.body.decode())
    assert txa_fulfilled[12] != txa[12] and pdf.startswith(b"%PDF-")
    assert fulfilled.headers["webhook-id"] != second.headers["webhook-id"]


async def test_deliver_hl7v2_mdm_letter_not_rendered_is_a_failed_attempt_retried(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: async_sessionmaker[AsyncSession],
    deliverer: Deliverer,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    clinic_id, headers = live_admin
    body = {"url": receiver.url("/ok"), "events": ["referral.recommended"], "format": "hl7v2"}
    assert (await live_client.post("/v1/webhooks", json=body, headers=headers)).status_code == 201
    gone = {**REFERRAL, "id": str(uuid.uuid4()), "patient_id": str(uuid.uuid4())}  # no such patient
    async with live_sessions() as session, session.begin():
        await emit(session, clinic_id, "referral.recommended", gone)
    assert await deliverer.deliver_due() == 1
    async with live_sessions() as session:
        [delivery] = (
            await session.execute(
                select(WebhookDelivery)
                .join(WebhookSubscription)
                .where(WebhookSubscription.clinic_id == clinic_id)
            )
        ).scalars()
    assert delivery.state == "pending" and delivery.attempt_count == 1
    assert delivery.last_error.startswith("letter not rendered: NotFound")
    assert receiver.bodies("/ok") == []
