"""GET /v1/blocks/{id}/outcome: stored verdicts (CR-9..CR-15) through the API."""

import uuid

import pytest

from tests.api.diaries import (
    DAY1,
    POSITIVE,
    add_diary,
    audit_rows,
    diary_block,
    events,
    new_block,
    new_patient,
)

# Issue 3, "Examples the engine must get right" (medicare defaults).
EXAMPLES = [
    ("lidocaine", 8, [(15, 1), (30, 1), (60, 1), (120, 5)], "positive", 87.5, 60, "relief_sustained"),
    ("lidocaine", 5, [(30, 1), (60, 1)], "positive", 80.0, 60, "relief_sustained"),
    ("lidocaine", 10, [(30, 3), (60, 3)], "negative", 70.0, 0, "relief_below_threshold"),
    ("bupivacaine", 8, [(30, 0), (60, 1), (120, 1)], "indeterminate", 100.0, 120, "diary_too_short"),
    ("bupivacaine", 8, [(30, 1), (60, 1), (120, 6), (180, 6)], "negative", 87.5, 60, "relief_too_short"),
]


@pytest.mark.parametrize(("agent", "baseline", "posts", "verdict", "peak", "duration", "reason"), EXAMPLES)
async def test_get_outcome_issue_examples(
    client, ehr, agent, baseline, posts, verdict, peak, duration, reason
):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (baseline, posts), agent=agent)

    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=ehr)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["block_id"] == block["id"]
    assert body["policy"] == {"profile": "medicare", "version": 1, "threshold_pct": 80}
    [target] = body["targets"]
    assert (target["verdict"], target["baseline"], target["peak_relief_pct"]) == (verdict, baseline, peak)
    assert target["relief_duration_minutes"] == duration
    assert target["required_minutes"] == (60 if agent == "lidocaine" else 180)
    assert [r["code"] for r in target["reasons"]] == [reason]
    assert sorted(target["readings_used"]) == sorted(r["id"] for r in block["readings"])
    assert body == block["outcome"]  # what the write answered is what is stored


async def test_get_outcome_block_without_readings_indeterminate(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)

    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=ehr)

    assert response.status_code == 200
    [target] = response.json()["targets"]
    assert target["verdict"] == "indeterminate"
    assert {r["code"] for r in target["reasons"]} == {"no_baseline", "no_post_readings"}
    assert (target["joint"], target["side"], target["target_id"]) == (
        "L4-L5",
        "left",
        block["targets"][0]["id"],
    )


async def test_get_outcome_bilateral_sides_differ(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1, targets=[{"joint": "L5-S1", "side": "bilateral"}])
    await add_diary(client, ehr, block, *POSITIVE, side="left")
    await add_diary(client, ehr, block, 8, [(30, 6), (60, 6)], side="right")

    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=ehr)

    assert response.status_code == 200
    verdicts = {(t["joint"], t["side"]): t["verdict"] for t in response.json()["targets"]}
    assert verdicts == {("L5-S1", "left"): "positive", ("L5-S1", "right"): "negative"}


async def test_get_outcome_block_warnings(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(
        client, ehr, patient, DAY1, POSITIVE, sedation="moderate", guidance="ultrasound"
    )

    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=ehr)

    assert response.status_code == 200
    codes = [w["code"] for w in response.json()["warnings"]]
    assert codes == ["sedation_confounds", "guidance_not_covered"]  # CR-14


async def test_get_outcome_voided_block_still_readable(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)
    voided = await client.post(
        f"/v1/blocks/{block['id']}/void", json={"reason": "wrong patient"}, headers=ehr
    )
    assert voided.status_code == 200

    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=ehr)

    assert response.status_code == 200
    assert response.json()["targets"][0]["verdict"] == "positive"


async def test_get_outcome_emits_block_evaluated(client, ehr, session, listening):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE)

    evaluated = [e for e in await events(session, "block.evaluated") if e["block_id"] == block["id"]]

    assert evaluated[-1] == block["outcome"]  # the whole outcome, as stored
    assert evaluated[0]["targets"][0]["verdict"] == "indeterminate"  # the block before its diary


async def test_get_outcome_viewer_allowed_and_audited(client, ehr, viewer, session):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)

    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=viewer)

    assert response.status_code == 200
    assert ("read", block["id"]) in await audit_rows(session, "outcome")


async def test_get_outcome_other_clinic_not_found(client, ehr, other_clinic):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)

    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=other_clinic)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_get_outcome_unknown_not_found(client, viewer):
    response = await client.get(f"/v1/blocks/{uuid.uuid4()}/outcome", headers=viewer)

    assert response.status_code == 404
    assert response.json()["title"] == "Not Found"


async def test_get_outcome_bad_id_unprocessable(client, viewer):
    response = await client.get("/v1/blocks/not-a-uuid/outcome", headers=viewer)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "block_id"]


async def test_get_outcome_without_key_unauthorized(client):
    response = await client.get(f"/v1/blocks/{uuid.uuid4()}/outcome")

    assert response.status_code == 401
    assert response.json()["status"] == 401
