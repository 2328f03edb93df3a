"""PATCH /v1/blocks/{id}, GET /v1/blocks/{id}/history and the coverage override (contract v1.1)."""

from datetime import timedelta
from typing import Any

import pytest

from tests.api.diaries import (
    DAY1,
    POSITIVE,
    WEEK,
    audit_rows,
    diary_block,
    levels_of,
    new_block,
    new_patient,
    referrals_of,
)

PROBLEM = "application/problem+json"


async def patch(client: Any, headers: dict[str, str], block_id: str, **body: Any) -> Any:
    return await client.patch(f"/v1/blocks/{block_id}", json=body, headers=headers)


async def test_patch_block_performed_at_moves_minutes_after_block_and_reevaluates(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (8, [(15, 1), (30, 1), (60, 1), (120, 8)]))
    assert block["outcome"]["targets"][0]["verdict"] == "positive"

    # The block was really given 10 minutes earlier than entered: relief now starts 25 min after it.
    response = await patch(
        client,
        ehr,
        block["id"],
        performed_at=(DAY1 - timedelta(minutes=10)).isoformat(),
        reason="wrong time entered",
    )

    assert response.status_code == 200, response.text
    assert (response.json()["version"], response.json()["performed_at"]) == (2, "2026-10-05T08:50:00Z")
    readings = (await client.get(f"/v1/blocks/{block['id']}/readings", headers=ehr)).json()["items"]
    assert [r["minutes_after_block"] for r in readings if r["phase"] == "post"] == [25, 40, 70, 130]
    assert [r["recorded_at"] for r in readings] == [r["recorded_at"] for r in block["readings"]]
    outcome = (await client.get(f"/v1/blocks/{block['id']}/outcome", headers=ehr)).json()
    assert outcome["targets"][0]["relief_duration_minutes"] == 70


async def test_patch_block_cr7_time_past_a_post_reading_unprocessable_naming_it(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    early = next(r["id"] for r in block["readings"] if r["minutes_after_block"] == 15)

    response = await patch(
        client, ehr, block["id"], performed_at=(DAY1 + timedelta(minutes=15)).isoformat(), reason="x"
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "performed_at"] and early in error["message"]
    assert (await client.get(f"/v1/blocks/{block['id']}", headers=ehr)).json()["version"] == 1


async def test_patch_block_time_before_its_baseline_unprocessable(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)  # baseline 10 min before
    pre = next(r["id"] for r in block["readings"] if r["phase"] == "pre")
    response = await patch(
        client, ehr, block["id"], performed_at=(DAY1 - timedelta(minutes=20)).isoformat(), reason="x"
    )
    assert response.status_code == 422 and pre in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"agent": "other", "reason": "x"}, ["body", "expected_relief_minutes"]),
        ({"expected_relief_minutes": 90, "reason": "x"}, ["body", "expected_relief_minutes"]),
        ({"agent": None, "reason": "x"}, ["body", "agent"]),
        ({"performed_at": None, "reason": "x"}, ["body", "performed_at"]),
        ({"sedation": "deep", "reason": "x"}, ["body", "sedation"]),
        ({"reason": "nothing"}, ["body"]),
        ({"agent": "bupivacaine"}, ["body", "reason"]),
        ({"targets": [], "reason": "x"}, ["body", "targets"]),
        ({"performed_at": "2026-10-05T09:00:00", "reason": "x"}, ["body", "performed_at"]),
    ],
)
async def test_patch_block_bad_input_unprocessable(client, ehr, body, loc):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    response = await patch(client, ehr, block["id"], **body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_patch_block_agent_and_minutes_together(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    response = await patch(
        client, ehr, block["id"], agent="other", expected_relief_minutes=90, reason="articaine"
    )
    assert response.status_code == 200, response.text
    assert (response.json()["agent"], response.json()["expected_relief_minutes"]) == ("other", 90)
    back = await patch(
        client, ehr, block["id"], agent="lidocaine", expected_relief_minutes=None, reason="undo"
    )
    assert (back.status_code, back.json()["expected_relief_minutes"]) == (200, None)


async def test_patch_block_stale_if_match_precondition_failed(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    etag = (await client.get(f"/v1/blocks/{block['id']}", headers=ehr)).headers["etag"]
    fresh = await client.patch(
        f"/v1/blocks/{block['id']}",
        json={"sedation": "minimal", "reason": "a"},
        headers={**ehr, "If-Match": etag},
    )
    stale = await client.patch(
        f"/v1/blocks/{block['id']}",
        json={"sedation": "none", "reason": "b"},
        headers={**ehr, "If-Match": etag},
    )
    assert fresh.status_code == 200 and stale.status_code == 412
    assert stale.json()["current_etag"] == fresh.headers["etag"]


async def test_patch_block_same_values_no_new_version(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    response = await patch(client, ehr, block["id"], agent="lidocaine", reason="checked")
    assert (response.status_code, response.json()["version"]) == (200, 1)


async def test_patch_block_voided_conflict_and_roles(client, ehr, staff, viewer):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    for headers in (staff, viewer):
        assert (await patch(client, headers, block["id"], sedation="minimal", reason="x")).status_code == 403
    await client.post(f"/v1/blocks/{block['id']}/void", json={"reason": "dup"}, headers=ehr)
    assert (await patch(client, ehr, block["id"], sedation="minimal", reason="x")).status_code == 409


async def test_patch_block_withdraws_a_referral_its_new_time_breaks(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    second = await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)
    [referral] = await referrals_of(client, ehr, patient, "open")
    # Moving the second block 7 days earlier would collide with its diary; correct its agent instead.
    response = await patch(client, ehr, second["id"], agent="bupivacaine", reason="it was bupivacaine")
    assert response.status_code == 200
    [withdrawn] = await referrals_of(client, ehr, patient)  # 120 min of relief: too short for bupivacaine
    assert (withdrawn["id"], withdrawn["status"]) == (referral["id"], "withdrawn")


async def test_get_block_history_every_version_with_who_and_why(client, ehr, session):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    await patch(client, ehr, block["id"], guidance="ct", reason="CT, not fluoroscopy")
    await client.put(f"/v1/blocks/{block['id']}/coverage-override", json={"reason": "reviewed"}, headers=ehr)
    await client.delete(f"/v1/blocks/{block['id']}/coverage-override", headers=ehr)
    await client.post(f"/v1/blocks/{block['id']}/void", json={"reason": "duplicate entry"}, headers=ehr)

    response = await client.get(f"/v1/blocks/{block['id']}/history", headers=ehr)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["version"], i["change"], i["status"]) for i in items] == [
        (1, "create", "active"),
        (2, "correct", "active"),
        (3, "override", "active"),
        (4, "override_removed", "active"),
        (5, "void", "entered_in_error"),
    ]
    assert [i["guidance"] for i in items] == ["fluoroscopy", "ct", "ct", "ct", "ct"]
    assert [i["reason"] for i in items] == [
        None,
        "CT, not fluoroscopy",
        "reviewed",
        "Coverage override removed.",
        "duplicate entry",
    ]
    assert [i["coverage_override_reason"] for i in items] == [None, None, "reviewed", None, None]
    assert {i["changed_by"] for i in items} == {"ehr key"}
    assert ("read", block["id"]) in await audit_rows(session, "block")


async def test_put_coverage_override_roles_and_kinds(client, ehr, staff, admin):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1, sedation="general")
    url = f"/v1/blocks/{block['id']}/coverage-override"
    assert (await client.put(url, json={"reason": "x"}, headers=staff)).status_code == 403
    assert (await client.put(url, json={}, headers=admin)).status_code == 422
    made = await client.put(url, json={"reason": "MAC needed: tremor"}, headers=admin)
    assert made.status_code == 200, made.text
    assert made.json()["coverage_override"]["by"] == "admin key"
    again = await client.put(url, json={"reason": "MAC needed: tremor"}, headers=admin)
    assert again.json()["version"] == made.json()["version"]  # the same override again changes nothing
    injection = await new_block(client, ehr, patient, DAY1, procedure="intra_articular_injection")
    refused = await client.put(
        f"/v1/blocks/{injection['id']}/coverage-override", json={"reason": "x"}, headers=ehr
    )
    assert refused.status_code == 409


async def test_delete_coverage_override_without_one_not_found(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    response = await client.delete(f"/v1/blocks/{block['id']}/coverage-override", headers=ehr)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_put_coverage_override_is_audited(client, ehr, session):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1, guidance="ultrasound")
    await client.put(f"/v1/blocks/{block['id']}/coverage-override", json={"reason": "r"}, headers=ehr)
    await client.delete(f"/v1/blocks/{block['id']}/coverage-override", headers=ehr)
    rows = await audit_rows(session, "block")
    assert ("override", block["id"]) in rows and ("override_removed", block["id"]) in rows


async def test_list_levels_override_on_a_low_baseline_target(client, ehr):
    """CR-24: the low-baseline gate is per target; the override is per block and lifts it."""
    patient = await new_patient(client, ehr)
    both = [{"joint": "L4-L5", "side": "bilateral"}]
    first = await new_block(client, ehr, patient, DAY1, targets=both)
    readings = [
        {"side": "left", "phase": "pre", "minutes_after_block": 0, "score": 3},
        {"side": "right", "phase": "pre", "minutes_after_block": 0, "score": 8},
        *({"phase": "post", "minutes_after_block": m, "score": 0} for m in (15, 30, 60)),
    ]
    assert (
        await client.post(f"/v1/blocks/{first['id']}/readings", json={"readings": readings}, headers=ehr)
    ).status_code == 201
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE, targets=both)
    statuses = {lv["side"]: lv["status"] for lv in await levels_of(client, ehr, patient)}
    assert statuses == {"left": "awaiting_confirmation", "right": "referral_recommended"}
    await client.put(
        f"/v1/blocks/{first['id']}/coverage-override", json={"reason": "chronic low scorer"}, headers=ehr
    )
    statuses = {lv["side"]: lv["status"] for lv in await levels_of(client, ehr, patient)}
    assert statuses == {"left": "referral_recommended", "right": "referral_recommended"}
