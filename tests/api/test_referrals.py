"""Referrals (CR-19, CR-20): opened and withdrawn by evaluation; the worklist; acknowledge."""

import uuid
from typing import Any

from tests.api.diaries import (
    DAY1,
    NEGATIVE,
    POSITIVE,
    WEEK,
    audit_rows,
    diary_block,
    events,
    levels_of,
    new_patient,
    referrals_of,
)


async def two_positives(client, headers, **fields: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    patient = await new_patient(client, headers)
    first = await diary_block(client, headers, patient, DAY1, POSITIVE, **fields)
    second = await diary_block(client, headers, patient, DAY1 + WEEK, POSITIVE, **fields)
    return patient, first, second


def reading_at(block: dict[str, Any], minutes: int) -> str:
    [reading] = [r for r in block["readings"] if r["phase"] == "post" and r["minutes_after_block"] == minutes]
    return str(reading["id"])


async def test_list_referrals_two_positives_one_open_referral(client, ehr):
    patient, first, second = await two_positives(client, ehr)

    [referral] = await referrals_of(client, ehr, patient, "open")

    assert referral["status"] == "open"
    assert (referral["joint"], referral["side"], referral["region"]) == ("L4-L5", "left", "lumbar")
    assert referral["qualifying_block_ids"] == [first["id"], second["id"]]
    assert referral["policy"] == {"profile": "medicare", "version": 1}
    assert referral["procedure"] == {
        "name": "radiofrequency ablation",
        "nerves": ["L3 medial branch", "L4 medial branch"],
        "cpt_first_joint": "64635",
        "cpt_each_additional_joint": "64636",
    }
    assert referral["warnings"] == []
    assert (referral["acknowledged_at"], referral["withdrawn_at"], referral["withdrawn_reason"]) == (
        None,
    ) * 3
    [level] = await levels_of(client, ehr, patient)
    assert level["referral_id"] == referral["id"]


async def test_list_referrals_cervical_cpt_and_guardrails(client, ehr):
    patient, _first, _second = await two_positives(
        client, ehr, targets=[{"joint": "C2-C3", "side": "right"}], sedation="moderate"
    )

    [referral] = await referrals_of(client, ehr, patient, "open")

    assert referral["procedure"]["nerves"] == ["third occipital nerve"]
    assert (referral["procedure"]["cpt_first_joint"], referral["procedure"]["cpt_each_additional_joint"]) == (
        "64633",
        "64634",
    )
    # CR-20 (medicare), then CR-23: each block's own sedation warning travels, naming its block.
    assert [(w["code"], w.get("block_id")) for w in referral["warnings"]] == [
        ("sedated_block", None),
        ("sedation_confounds", _first["id"]),
        ("sedation_confounds", _second["id"]),
    ]


async def test_list_referrals_third_positive_no_duplicate(client, ehr):
    patient, first, second = await two_positives(client, ehr)
    await diary_block(client, ehr, patient, DAY1 + 2 * WEEK, POSITIVE)

    referrals = await referrals_of(client, ehr, patient)

    assert len(referrals) == 1  # CR-19: never a duplicate while one is live
    assert referrals[0]["qualifying_block_ids"] == [first["id"], second["id"]]


async def test_patch_reading_second_block_negative_withdraws_referral(client, ehr, staff, session, listening):
    patient, _first, second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient, "open")

    patched = await client.patch(
        f"/v1/readings/{reading_at(second, 60)}", json={"score": 5, "reason": "diary misread"}, headers=staff
    )
    assert patched.status_code == 200, patched.text

    [withdrawn] = await referrals_of(client, ehr, patient, "withdrawn")
    assert withdrawn["id"] == referral["id"]
    assert withdrawn["withdrawn_at"] is not None
    assert withdrawn["withdrawn_reason"].startswith("The level is now not indicated.")
    assert "negative" in withdrawn["withdrawn_reason"]
    assert await referrals_of(client, ehr, patient, "open") == []
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], level["referral_id"]) == ("not_indicated", None)
    published = [e for e in await events(session, "referral.withdrawn") if e["id"] == referral["id"]]
    assert published == [withdrawn]


async def test_patch_reading_back_to_positive_opens_new_referral(client, ehr, staff):
    patient, _first, second = await two_positives(client, ehr)
    reading = reading_at(second, 60)
    for score in (5, 1):
        response = await client.patch(
            f"/v1/readings/{reading}", json={"score": score, "reason": "fix"}, headers=staff
        )
        assert response.status_code == 200, response.text

    referrals = await referrals_of(client, ehr, patient)

    assert [r["status"] for r in referrals] == ["withdrawn", "open"]  # CR-19: a return opens a new one
    assert referrals[0]["id"] != referrals[1]["id"]


async def test_void_block_withdraws_referral(client, ehr):
    patient, first, _second = await two_positives(client, ehr)

    voided = await client.post(
        f"/v1/blocks/{first['id']}/void", json={"reason": "wrong patient"}, headers=ehr
    )
    assert voided.status_code == 200, voided.text

    [referral] = await referrals_of(client, ehr, patient)
    assert referral["status"] == "withdrawn"
    assert referral["withdrawn_reason"].startswith("The level is now awaiting confirmation.")


async def test_referral_recommended_event_emitted(client, ehr, session, listening):
    patient, _first, _second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)

    published = [e for e in await events(session, "referral.recommended") if e["id"] == referral["id"]]

    assert published == [referral]


async def test_get_referral_with_etag(client, ehr, viewer, session):
    patient, _first, _second = await two_positives(client, ehr)
    [listed] = await referrals_of(client, ehr, patient)

    response = await client.get(f"/v1/referrals/{listed['id']}", headers=viewer)

    assert response.status_code == 200
    assert response.json() == listed
    assert response.headers["etag"].startswith('"')
    assert ("read", listed["id"]) in await audit_rows(session, "referral")


async def test_list_referrals_pages_with_cursor(client, ehr):
    for _ in range(3):
        await two_positives(client, ehr)

    first = await client.get("/v1/referrals", params={"status": "open", "limit": 2}, headers=ehr)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/v1/referrals", params={"status": "open", "limit": 2, "cursor": cursor}, headers=ehr
    )

    assert first.status_code == second.status_code == 200
    assert len(first.json()["items"]) == 2 and cursor is not None
    assert len(second.json()["items"]) == 1 and second.json()["next_cursor"] is None
    seen = [r["id"] for r in first.json()["items"] + second.json()["items"]]
    assert len(set(seen)) == 3


async def test_list_referrals_bad_query_unprocessable(client, viewer):
    response = await client.get(
        "/v1/referrals", params={"status": "closed", "patient_id": "x", "cursor": "zz"}, headers=viewer
    )

    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["errors"]]
    assert ["query", "status"] in locs and ["query", "patient_id"] in locs


async def test_list_referrals_bad_cursor_unprocessable(client, viewer):
    response = await client.get("/v1/referrals", params={"cursor": "not-a-cursor"}, headers=viewer)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_acknowledge_referral_open_to_acknowledged(client, ehr, session):
    patient, _first, _second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)
    url = f"/v1/referrals/{referral['id']}/acknowledge"

    response = await client.post(url, json={"external_order_id": "ORD-1"}, headers=ehr)
    again = await client.post(url, json={}, headers=ehr)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["external_order_id"]) == ("acknowledged", "ORD-1")
    assert body["acknowledged_at"] is not None
    assert again.status_code == 200 and again.json() == body  # idempotent
    [level] = await levels_of(client, ehr, patient)
    assert level["referral_id"] == referral["id"]  # acknowledged is still live
    assert ("acknowledge", referral["id"]) in await audit_rows(
        session, "referral"
    )  # last: it reads the session


async def test_acknowledge_referral_other_order_conflict(client, ehr):
    patient, _first, _second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)
    url = f"/v1/referrals/{referral['id']}/acknowledge"
    await client.post(url, json={"external_order_id": "ORD-1"}, headers=ehr)

    response = await client.post(url, json={"external_order_id": "ORD-2"}, headers=ehr)

    assert response.status_code == 409
    assert response.json()["current_external_order_id"] == "ORD-1"


async def test_acknowledge_referral_withdrawn_conflict(client, ehr):
    patient, first, _second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)
    await client.post(f"/v1/blocks/{first['id']}/void", json={"reason": "wrong patient"}, headers=ehr)

    response = await client.post(f"/v1/referrals/{referral['id']}/acknowledge", headers=ehr)

    assert response.status_code == 409
    assert "withdrawn" in response.json()["detail"]


async def test_acknowledge_then_negative_withdraws_acknowledged(client, ehr):
    patient, _first, _second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)
    await client.post(f"/v1/referrals/{referral['id']}/acknowledge", headers=ehr)

    await diary_block(client, ehr, patient, DAY1 + 2 * WEEK, NEGATIVE)

    [withdrawn] = await referrals_of(client, ehr, patient)
    assert (withdrawn["status"], withdrawn["acknowledged_at"] is not None) == ("withdrawn", True)


async def test_acknowledge_referral_staff_forbidden(client, ehr, staff, viewer):
    patient, _first, _second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)

    for headers in (staff, viewer):
        response = await client.post(f"/v1/referrals/{referral['id']}/acknowledge", headers=headers)
        assert response.status_code == 403
        assert response.json()["status"] == 403
    assert (await referrals_of(client, ehr, patient))[0]["status"] == "open"


async def test_acknowledge_referral_nul_byte_unprocessable(client, ehr):
    response = await client.post(
        f"/v1/referrals/{uuid.uuid4()}/acknowledge", json={"external_order_id": "A\x00B"}, headers=ehr
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "external_order_id"]


async def test_referrals_other_clinic_not_found(client, ehr, other_clinic):
    patient, _first, _second = await two_positives(client, ehr)
    [referral] = await referrals_of(client, ehr, patient)

    got = await client.get(f"/v1/referrals/{referral['id']}", headers=other_clinic)
    acked = await client.post(f"/v1/referrals/{referral['id']}/acknowledge", headers=other_clinic)
    listed = await client.get("/v1/referrals", params={"patient_id": patient}, headers=other_clinic)

    assert (got.status_code, acked.status_code) == (404, 404)
    assert got.headers["content-type"] == "application/problem+json"
    assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}
    assert (await referrals_of(client, ehr, patient))[0]["status"] == "open"


async def test_get_referral_unknown_not_found(client, viewer):
    response = await client.get(f"/v1/referrals/{uuid.uuid4()}", headers=viewer)

    assert response.status_code == 404
    assert response.json()["status"] == 404
