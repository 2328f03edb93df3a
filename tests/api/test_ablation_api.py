"""The ablation and after it through the API (CR-27, CR-28, CR-19 v2): recording an RFA fulfils the level's
referral, voiding it gives the referral back, its follow-up can make a repeat eligible."""

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from models import OutboxEvent, WebhookDelivery
from tests.api.diaries import (
    DAY1,
    NEGATIVE,
    POSITIVE,
    WEEK,
    Headers,
    diary_block,
    events,
    levels_of,
    new_block,
    new_patient,
    referrals_of,
)

RFA = {"procedure": "radiofrequency_ablation"}
EARLY = DAY1 - timedelta(days=400)  # room for a follow-up diary before today


def codes(notes: list[dict[str, Any]]) -> list[str]:
    return [n["code"] for n in notes]


async def referred(
    client: httpx.AsyncClient, headers: Headers, start: datetime = DAY1
) -> tuple[str, dict[str, Any]]:
    """A patient with two positive blocks at L4-L5 left and its open referral."""
    patient = await new_patient(client, headers)
    await diary_block(client, headers, patient, start, POSITIVE)
    await diary_block(client, headers, patient, start + WEEK, POSITIVE)
    [referral] = await referrals_of(client, headers, patient, "open")
    return patient, referral


async def follow_up(
    client: httpx.AsyncClient,
    headers: Headers,
    block: dict[str, Any],
    baseline: int,
    posts: list[tuple[int, int]],
) -> dict[str, Any]:
    """The ablation's follow-up diary: a baseline before it and scores (days after, score)."""
    at = datetime.fromisoformat(block["performed_at"])
    readings = [{"phase": "pre", "recorded_at": (at - timedelta(days=1)).isoformat(), "score": baseline}]
    readings += [
        {"phase": "post", "recorded_at": (at + timedelta(days=d)).isoformat(), "score": s} for d, s in posts
    ]
    response = await client.post(
        f"/v1/blocks/{block['id']}/readings", json={"readings": readings}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["outcome"])


async def test_create_block_cr27_rfa_fulfils_the_open_referral(client, ehr, session, listening):
    patient, referral = await referred(client, ehr)
    rfa = await new_block(client, ehr, patient, DAY1 + 3 * WEEK, **RFA)

    assert (rfa["procedure"], rfa["intent"]) == ("radiofrequency_ablation", "therapeutic")
    [fulfilled] = await referrals_of(client, ehr, patient, "fulfilled")
    assert fulfilled["id"] == referral["id"]
    assert fulfilled["fulfilled_by_block_id"] == rfa["id"]
    assert datetime.fromisoformat(fulfilled["fulfilled_at"]) == DAY1 + 3 * WEEK
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], level["qualifying_block_ids"]) == ("ablated", [rfa["id"]])
    assert (level["referral_id"], level["fulfilled_referral_id"]) == (None, referral["id"])
    outcome = (await client.get(f"/v1/blocks/{rfa['id']}/outcome", headers=ehr)).json()
    assert "no_referral" not in codes(outcome["targets"][0]["warnings"])
    # The test shares the app's session: read the outbox once the requests are done.
    published = [e for e in await events(session, "referral.fulfilled") if e["id"] == referral["id"]]
    assert published == [fulfilled]


async def test_create_block_cr27_rfa_without_referral_warns_no_referral(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    rfa = await new_block(client, ehr, patient, DAY1 + WEEK, **RFA)

    outcome = (await client.get(f"/v1/blocks/{rfa['id']}/outcome", headers=ehr)).json()
    [target] = outcome["targets"]
    assert codes(target["warnings"]) == ["no_referral"]
    assert "awaiting confirmation" in target["warnings"][0]["message"]
    [level] = await levels_of(client, ehr, patient)
    assert level["status"] == "ablated"
    assert [(w["code"], w["block_id"]) for w in level["warnings"]] == [("no_referral", rfa["id"])]


async def test_create_block_cr27_rfa_diagnostic_intent_unprocessable(client, ehr):
    patient = await new_patient(client, ehr)
    body = {
        "performed_at": DAY1.isoformat(),
        "agent": "lidocaine",
        "procedure": "radiofrequency_ablation",
        "intent": "diagnostic",
        "targets": [{"joint": "L4-L5", "side": "left"}],
    }
    response = await client.post(f"/v1/patients/{patient}/blocks", json=body, headers=ehr)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "intent"]]
    assert (await client.get(f"/v1/patients/{patient}/blocks", headers=ehr)).json()["items"] == []


async def test_void_block_cr27_voided_rfa_gives_the_referral_back_as_acknowledged(
    client, ehr, session, listening
):
    patient, referral = await referred(client, ehr)
    ack = await client.post(f"/v1/referrals/{referral['id']}/acknowledge", json={}, headers=ehr)
    assert ack.status_code == 200
    rfa = await new_block(client, ehr, patient, DAY1 + 3 * WEEK, **RFA)

    voided = await client.post(f"/v1/blocks/{rfa['id']}/void", json={"reason": "wrong patient"}, headers=ehr)

    assert voided.status_code == 200, voided.text
    [back] = await referrals_of(client, ehr, patient)
    assert (back["id"], back["status"]) == (referral["id"], "acknowledged")
    assert (back["fulfilled_by_block_id"], back["fulfilled_at"]) == (None, None)
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], level["referral_id"]) == ("referral_recommended", referral["id"])
    again = [e for e in await events(session, "referral.recommended") if e["id"] == referral["id"]]
    assert again[-1] == back


async def test_create_block_cr19_negative_block_after_rfa_withdraws_nothing_fulfilled(client, ehr, session):
    patient, referral = await referred(client, ehr)
    await new_block(client, ehr, patient, DAY1 + 3 * WEEK, **RFA)

    await diary_block(client, ehr, patient, DAY1 + 6 * WEEK, NEGATIVE)

    [kept] = await referrals_of(client, ehr, patient)
    assert (kept["id"], kept["status"]) == (referral["id"], "fulfilled")
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], level["fulfilled_referral_id"]) == ("not_indicated", referral["id"])
    assert [e for e in await events(session, "referral.withdrawn") if e["id"] == referral["id"]] == []


async def test_list_levels_cr27_new_pair_after_rfa_opens_a_new_referral(client, ehr):
    patient, referral = await referred(client, ehr, DAY1 - 10 * WEEK)
    await new_block(client, ehr, patient, DAY1 - 8 * WEEK, **RFA)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], codes(level["reasons"])) == (
        "awaiting_confirmation",
        ["awaiting_second_block", "after_ablation"],
    )
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)
    statuses = {r["id"]: r["status"] for r in await referrals_of(client, ehr, patient)}
    assert statuses.pop(referral["id"]) == "fulfilled"
    assert list(statuses.values()) == ["open"]


async def test_list_referrals_cr27_status_fulfilled_filter(client, ehr):
    patient, referral = await referred(client, ehr)
    await new_block(client, ehr, patient, DAY1 + 3 * WEEK, **RFA)
    response = await client.get("/v1/referrals", params={"status": "fulfilled"}, headers=ehr)
    assert [r["id"] for r in response.json()["items"]] == [referral["id"]]
    assert (await client.get("/v1/referrals", params={"status": "open"}, headers=ehr)).json()["items"] == []


async def test_acknowledge_referral_cr19_attaches_an_order_id_once(client, ehr):
    _patient, referral = await referred(client, ehr)
    url = f"/v1/referrals/{referral['id']}/acknowledge"
    first = await client.post(url, json={}, headers=ehr)
    assert (first.status_code, first.json()["external_order_id"]) == (200, None)

    attached = await client.post(url, json={"external_order_id": "ORD-1"}, headers=ehr)
    same = await client.post(url, json={"external_order_id": "ORD-1"}, headers=ehr)
    none = await client.post(url, json={}, headers=ehr)
    other = await client.post(url, json={"external_order_id": "ORD-2"}, headers=ehr)

    assert (attached.status_code, attached.json()["external_order_id"]) == (200, "ORD-1")
    assert attached.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert (same.status_code, same.json()) == (200, attached.json())
    assert (none.status_code, none.json()) == (200, attached.json())
    assert other.status_code == 409
    assert other.json()["current_external_order_id"] == "ORD-1"


async def test_acknowledge_referral_cr19_fulfilled_referral_takes_an_order_id(client, ehr):
    patient, referral = await referred(client, ehr)
    await new_block(client, ehr, patient, DAY1 + 3 * WEEK, **RFA)
    response = await client.post(
        f"/v1/referrals/{referral['id']}/acknowledge", json={"external_order_id": "ORD-9"}, headers=ehr
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["external_order_id"]) == ("fulfilled", "ORD-9")


async def test_list_levels_cr28_durable_response_makes_a_repeat_eligible(client, ehr):
    patient, _referral = await referred(client, ehr, EARLY)
    rfa = await new_block(client, ehr, patient, EARLY + 3 * WEEK, **RFA)

    outcome = await follow_up(client, ehr, rfa, 8, [(7, 3), (60, 2), (120, 3), (181, 4), (240, 7)])

    [target] = outcome["targets"]
    assert (target["verdict"], codes(target["reasons"])) == ("positive", ["durable_response"])
    assert (target["required_minutes"], target["relief_duration_minutes"]) == (180 * 1440, 181 * 1440)
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], level["qualifying_block_ids"]) == ("repeat_rfa_eligible", [rfa["id"]])
    repeat = await new_block(client, ehr, patient, EARLY + 300 * timedelta(days=1), **RFA)
    repeat_outcome = (await client.get(f"/v1/blocks/{repeat['id']}/outcome", headers=ehr)).json()
    assert "no_referral" not in codes(repeat_outcome["targets"][0]["warnings"])


async def test_list_levels_cr28_short_relief_needs_a_new_pair(client, ehr):
    patient, _referral = await referred(client, ehr, EARLY)
    rfa = await new_block(client, ehr, patient, EARLY + 3 * WEEK, **RFA)
    outcome = await follow_up(client, ehr, rfa, 8, [(7, 3), (60, 3), (120, 7)])
    assert outcome["targets"][0]["verdict"] == "negative"
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], codes(level["reasons"])) == ("ablated", ["ablated", "no_durable_response"])


async def test_create_block_cr28_third_rfa_session_in_a_year_fulfils_nothing_under_medicare(client, ehr):
    patient = await new_patient(client, ehr)
    for day, joint in ((0, "L2-L3"), (60, "L3-L4")):  # two sessions at other lumbar joints
        await new_block(
            client,
            ehr,
            patient,
            EARLY + timedelta(days=day),
            targets=[{"joint": joint, "side": "left"}],
            **RFA,
        )
    await diary_block(client, ehr, patient, EARLY + timedelta(days=100), POSITIVE)
    await diary_block(client, ehr, patient, EARLY + timedelta(days=107), POSITIVE)
    third = await new_block(client, ehr, patient, EARLY + timedelta(days=120), **RFA)

    [referral] = [r for r in await referrals_of(client, ehr, patient) if r["joint"] == "L4-L5"]
    assert referral["status"] == "open"
    outcome = (await client.get(f"/v1/blocks/{third['id']}/outcome", headers=ehr)).json()
    assert codes(outcome["targets"][0]["warnings"]) == ["too_many_rfa_sessions"]
    [level] = [lv for lv in await levels_of(client, ehr, patient) if lv["joint"] == "L4-L5"]
    assert level["status"] == "referral_recommended"
    assert ("too_many_rfa_sessions", third["id"]) in [(w["code"], w["block_id"]) for w in level["warnings"]]


async def test_create_webhook_cr27_referral_fulfilled_is_delivered(client, admin, ehr, session):
    hook = await client.post(
        "/v1/webhooks",
        json={"url": "https://ehr.example.org/h", "events": ["referral.fulfilled"]},
        headers=admin,
    )
    assert hook.status_code == 201, hook.text
    patient, referral = await referred(client, ehr)
    await new_block(client, ehr, patient, DAY1 + 3 * WEEK, **RFA)
    [fulfilled] = await referrals_of(client, ehr, patient)

    rows = (
        await session.execute(
            select(OutboxEvent.payload, WebhookDelivery.subscription_id).join(
                WebhookDelivery, WebhookDelivery.event_id == OutboxEvent.id
            )
        )
    ).all()

    assert [(payload["type"], payload["data"], str(sub)) for payload, sub in rows] == [
        ("referral.fulfilled", fulfilled, hook.json()["id"])
    ]
    assert fulfilled["id"] == referral["id"]


async def test_patch_reading_cr28_corrected_follow_up_takes_eligibility_away(client, ehr, staff):
    patient, _referral = await referred(client, ehr, EARLY)
    rfa = await new_block(client, ehr, patient, EARLY + 3 * WEEK, **RFA)
    await follow_up(client, ehr, rfa, 8, [(7, 3), (60, 2), (120, 3), (181, 4)])
    assert (await levels_of(client, ehr, patient))[0]["status"] == "repeat_rfa_eligible"
    readings = (await client.get(f"/v1/blocks/{rfa['id']}/readings", headers=ehr)).json()["items"]
    day_120 = next(r for r in readings if r["phase"] == "post" and r["minutes_after_block"] == 120 * 1440)

    response = await client.patch(
        f"/v1/readings/{day_120['id']}", json={"score": 7, "reason": "misread"}, headers=staff
    )

    assert response.status_code == 200, response.text
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], [r["code"] for r in level["reasons"]]) == (
        "ablated",
        ["ablated", "no_durable_response"],
    )


async def test_patch_reading_cr19_a_fulfilled_referral_survives_a_corrected_qualifying_block(
    client, ehr, staff
):
    patient = await new_patient(client, ehr)
    first = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)
    [referral] = await referrals_of(client, ehr, patient, "open")
    await new_block(client, ehr, patient, DAY1 + 3 * WEEK, **RFA)
    reading = next(r for r in first["readings"] if r["minutes_after_block"] == 60)

    response = await client.patch(
        f"/v1/readings/{reading['id']}", json={"score": 6, "reason": "misread"}, headers=staff
    )

    assert response.status_code == 200
    [kept] = await referrals_of(client, ehr, patient)
    assert (kept["id"], kept["status"]) == (referral["id"], "fulfilled")
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], level["fulfilled_referral_id"]) == ("ablated", referral["id"])
    outcome = (await client.get(f"/v1/blocks/{kept['fulfilled_by_block_id']}/outcome", headers=ehr)).json()
    assert outcome["targets"][0]["warnings"] == []  # it had its referral: no `no_referral`
