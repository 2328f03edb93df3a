"""GET /v1/patients/{id}/levels: the stored referral status per (joint, side) (CR-15..CR-18)."""

import uuid
from datetime import timedelta

from tests.api.diaries import (
    DAY1,
    NEGATIVE,
    POSITIVE,
    WEEK,
    audit_rows,
    diary_block,
    levels_of,
    new_block,
    new_patient,
)


async def test_list_levels_two_positives_week_apart_referral_recommended(client, ehr):
    patient = await new_patient(client, ehr)
    first = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    second = await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)

    [level] = await levels_of(client, ehr, patient)

    assert (level["joint"], level["side"], level["region"]) == ("L4-L5", "left", "lumbar")
    assert level["status"] == "referral_recommended"
    assert level["qualifying_block_ids"] == [first["id"], second["id"]]
    assert [(b["block_id"], b["verdict"]) for b in level["blocks"]] == [
        (first["id"], "positive"),
        (second["id"], "positive"),
    ]
    assert level["referral_id"] is not None
    assert [r["code"] for r in level["reasons"]] == ["two_positive_blocks"]


async def test_list_levels_positive_then_negative_not_indicated(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    await diary_block(client, ehr, patient, DAY1 + WEEK, NEGATIVE)

    [level] = await levels_of(client, ehr, patient)

    assert level["status"] == "not_indicated"
    assert level["referral_id"] is None
    assert level["qualifying_block_ids"] == []
    assert [r["code"] for r in level["reasons"]] == ["negative_block"]


async def test_list_levels_positives_12_hours_apart_awaiting_confirmation(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    second = await diary_block(client, ehr, patient, DAY1 + timedelta(hours=12), POSITIVE)

    [level] = await levels_of(client, ehr, patient)

    assert level["status"] == "awaiting_confirmation"  # CR-17
    assert level["qualifying_block_ids"] == [second["id"]]
    assert level["reasons"][0]["code"] == "second_block_too_soon"
    assert level["referral_id"] is None


async def test_list_levels_negative_between_positives_awaiting_confirmation(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    await diary_block(client, ehr, patient, DAY1 + WEEK, NEGATIVE)
    last = await diary_block(client, ehr, patient, DAY1 + 2 * WEEK, POSITIVE)

    [level] = await levels_of(client, ehr, patient)

    assert level["status"] == "awaiting_confirmation"
    assert level["qualifying_block_ids"] == [last["id"]]


async def test_list_levels_block_without_diary_pending(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)

    [level] = await levels_of(client, ehr, patient)

    assert level["status"] == "pending"
    assert level["blocks"] == [
        {
            "block_id": block["id"],
            "performed_at": "2026-10-05T09:00:00Z",
            "agent": "lidocaine",
            "verdict": "indeterminate",
            "procedure": "medial_branch_block",
            "intent": "diagnostic",
            "status": "active",
        }
    ]


async def test_list_levels_therapeutic_block_no_blocks(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE, intent="therapeutic")

    [level] = await levels_of(client, ehr, patient)

    assert level["status"] == "no_blocks"  # CR-5: only diagnostic MBBs count
    assert level["blocks"][0]["verdict"] == "positive"


async def test_list_levels_one_per_joint_and_side(client, ehr):
    patient = await new_patient(client, ehr)
    targets = [{"joint": "L5-S1", "side": "bilateral"}, {"joint": "L4-L5", "side": "right"}]
    await new_block(client, ehr, patient, DAY1, targets=targets)

    levels = await levels_of(client, ehr, patient)

    assert [(lv["joint"], lv["side"]) for lv in levels] == [
        ("L4-L5", "right"),
        ("L5-S1", "left"),
        ("L5-S1", "right"),
    ]
    assert {lv["policy_version"] for lv in levels} == {1}


async def test_list_levels_voided_block_ignored(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    await client.post(f"/v1/blocks/{block['id']}/void", json={"reason": "wrong level"}, headers=ehr)

    [level] = await levels_of(client, ehr, patient)

    assert level["status"] == "no_blocks"  # CR-16: voided blocks do not count
    assert level["blocks"][0]["status"] == "entered_in_error"


async def test_list_levels_patient_without_blocks_empty(client, viewer, ehr, session):
    patient = await new_patient(client, ehr)

    response = await client.get(f"/v1/patients/{patient}/levels", headers=viewer)

    assert response.status_code == 200
    assert response.json() == {"items": []}
    assert ("read", patient) in await audit_rows(session, "level")


async def test_list_levels_other_clinic_not_found(client, ehr, other_clinic):
    patient = await new_patient(client, ehr)

    response = await client.get(f"/v1/patients/{patient}/levels", headers=other_clinic)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_list_levels_unknown_patient_not_found(client, viewer):
    response = await client.get(f"/v1/patients/{uuid.uuid4()}/levels", headers=viewer)

    assert response.status_code == 404
    assert response.json()["status"] == 404
