"""Blocks: record (CR-1..CR-5 through the API), read, list, void, roles."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent
from tests.api.records import PROBLEM, block_body, error_locs, new_block, new_patient

Headers = dict[str, str]


async def _blocks(client: httpx.AsyncClient, headers: Headers, patient_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/patients/{patient_id}/blocks", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_create_block_ok_bilateral_expands(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await new_patient(client, ehr)
    response = await client.post(
        f"/v1/patients/{patient['id']}/blocks",
        json=block_body(concentration_pct=2, volume_ml_per_nerve=0.5, notes="index pain: standing"),
        headers=ehr,
    )
    assert response.status_code == 201, response.text
    block = response.json()
    assert response.headers["etag"]
    assert response.headers["location"] == f"/v1/blocks/{block['id']}"
    assert block["patient_id"] == patient["id"]
    assert block["status"] == "active"
    assert block["procedure"] == "medial_branch_block"
    assert block["intent"] == "diagnostic"
    assert (block["sedation"], block["guidance"], block["pain_scale"]) == ("none", "fluoroscopy", "nrs")
    assert (block["concentration_pct"], block["volume_ml_per_nerve"]) == (2.0, 0.5)
    assert block["performed_at"] in ("2026-11-20T14:30:00Z", "2026-11-20T14:30:00+00:00")
    # CR-2: bilateral -> one target per side; CR-3 region; CR-4 nerves derived.
    assert [(t["joint"], t["side"], t["region"], t["nerves"]) for t in block["targets"]] == [
        ("L4-L5", "left", "lumbar", ["L3 medial branch", "L4 medial branch"]),
        ("L4-L5", "right", "lumbar", ["L3 medial branch", "L4 medial branch"]),
    ]
    assert isinstance(block["warnings"], list)
    fetched = await client.get(f"/v1/blocks/{block['id']}", headers=ehr)
    assert fetched.status_code == 200
    assert fetched.json() == block
    assert fetched.headers["etag"] == response.headers["etag"]


@pytest.mark.parametrize("given", ["L4/L5", "l4-5", "l4-l5", " L4-5 ", "L4/5"])
async def test_create_block_cr1_joint_normalised(client: httpx.AsyncClient, ehr: Headers, given: str) -> None:
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient["id"], targets=[{"joint": given, "side": "Left"}])
    assert [(t["joint"], t["side"]) for t in block["targets"]] == [("L4-L5", "left")]


async def test_create_block_cr4_nerves_in_output(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await new_patient(client, ehr)
    targets = [{"joint": j, "side": "right"} for j in ("C2-C3", "C7-T1", "T1-T2", "T12-L1", "L5-S1")]
    block = await new_block(client, ehr, patient["id"], targets=targets)
    assert {t["joint"]: t["nerves"] for t in block["targets"]} == {
        "C2-C3": ["third occipital nerve"],
        "C7-T1": ["C7 medial branch", "C8 medial branch"],
        "T1-T2": ["C8 medial branch", "T1 medial branch"],
        "T12-L1": ["T11 medial branch", "T12 medial branch"],
        "L5-S1": ["L4 medial branch", "L5 dorsal ramus"],
    }
    assert {t["joint"]: t["region"] for t in block["targets"]}["T12-L1"] == "thoracic"


NAIVE = "2026-11-20T14:30:00"
BAD_BLOCKS: list[tuple[str, dict[str, Any], list[str | int]]] = [
    ("joint_l6_s1", {"targets": [{"joint": "L6-S1", "side": "left"}]}, ["body", "targets", 0, "joint"]),
    ("joint_c1_c2", {"targets": [{"joint": "C1-C2", "side": "left"}]}, ["body", "targets", 0, "joint"]),
    ("joint_l4_l3", {"targets": [{"joint": "L4-L3", "side": "left"}]}, ["body", "targets", 0, "joint"]),
    (
        "joint_l5s1_no_separator",
        {"targets": [{"joint": "l5s1", "side": "left"}]},
        ["body", "targets", 0, "joint"],
    ),
    ("joint_not_text", {"targets": [{"joint": 45, "side": "left"}]}, ["body", "targets", 0, "joint"]),
    ("side_middle", {"targets": [{"joint": "L4-L5", "side": "middle"}]}, ["body", "targets", 0, "side"]),
    ("targets_empty", {"targets": []}, ["body", "targets"]),
    ("agent_other_without_minutes", {"agent": "other"}, ["body", "expected_relief_minutes"]),
    ("minutes_for_lidocaine", {"expected_relief_minutes": 90}, ["body", "expected_relief_minutes"]),
    (
        "minutes_fraction",
        {"agent": "other", "expected_relief_minutes": 7.5},
        ["body", "expected_relief_minutes"],
    ),
    ("agent_unknown", {"agent": "ketamine"}, ["body", "agent"]),
    ("sedation_unknown", {"sedation": "deep"}, ["body", "sedation"]),
    ("scale_unknown", {"pain_scale": "faces"}, ["body", "pain_scale"]),
    ("guidance_unknown", {"guidance": "xray"}, ["body", "guidance"]),
    ("procedure_unknown", {"procedure": "rfa"}, ["body", "procedure"]),
    ("naive_performed_at", {"performed_at": NAIVE}, ["body", "performed_at"]),
    ("performed_at_future", {"performed_at": "2999-01-01T00:00:00Z"}, ["body", "performed_at"]),
    ("performed_at_year_1", {"performed_at": "0001-01-01T00:00:00+05:00"}, ["body", "performed_at"]),
    ("volume_zero", {"volume_ml_per_nerve": 0}, ["body", "volume_ml_per_nerve"]),
    ("volume_huge", {"volume_ml_per_nerve": 1e300}, ["body", "volume_ml_per_nerve"]),
    ("concentration_negative", {"concentration_pct": -1}, ["body", "concentration_pct"]),
    ("notes_nul", {"notes": "a\x00b"}, ["body", "notes"]),
    ("unknown_field", {"colour": "blue"}, ["body", "colour"]),
    (
        "duplicate_after_expansion",
        {"targets": [{"joint": "L4-L5", "side": "bilateral"}, {"joint": "l4/5", "side": "left"}]},
        ["body", "targets", 1],
    ),
]


@pytest.mark.parametrize(("case", "overrides", "loc"), BAD_BLOCKS, ids=[c[0] for c in BAD_BLOCKS])
async def test_create_block_bad_input_unprocessable_stores_nothing(
    client: httpx.AsyncClient, ehr: Headers, case: str, overrides: dict[str, Any], loc: list[str | int]
) -> None:
    patient = await new_patient(client, ehr)
    response = await client.post(
        f"/v1/patients/{patient['id']}/blocks", json=block_body(**overrides), headers=ehr
    )
    assert response.status_code == 422, response.text
    assert loc in error_locs(response)
    assert await _blocks(client, ehr, patient["id"]) == []


async def test_create_block_bad_joint_message_lists_valid_form(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    patient = await new_patient(client, ehr)
    body = block_body(targets=[{"joint": "L4-L5", "side": "left"}, {"joint": "L6-S1", "side": "left"}])
    response = await client.post(f"/v1/patients/{patient['id']}/blocks", json=body, headers=ehr)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "targets", 1, "joint"]
    assert "L4-L5" in error["message"] and "L5-S1" in error["message"] and "C2-C3" in error["message"]


async def test_create_block_agent_minutes_rules(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await new_patient(client, ehr)
    other = await new_block(client, ehr, patient["id"], agent="other", expected_relief_minutes=240)
    assert other["expected_relief_minutes"] == 240
    placebo = await new_block(client, ehr, patient["id"], agent="saline_placebo")
    assert placebo["expected_relief_minutes"] is None
    timed = await new_block(client, ehr, patient["id"], agent="saline_placebo", expected_relief_minutes=60)
    assert timed["expected_relief_minutes"] == 60


async def test_create_block_unknown_patient_not_found(client: httpx.AsyncClient, ehr: Headers) -> None:
    response = await client.post(
        "/v1/patients/00000000-0000-4000-8000-000000000000/blocks", json=block_body(), headers=ehr
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_create_block_roles(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, staff: Headers, viewer: Headers
) -> None:
    patient = await new_patient(client, ehr)
    url = f"/v1/patients/{patient['id']}/blocks"
    for headers in (staff, viewer):
        response = await client.post(url, json=block_body(), headers=headers)
        assert response.status_code == 403
        assert response.json()["status"] == 403
    assert (await client.post(url, json=block_body())).status_code == 401
    assert (await client.post(url, json=block_body(), headers=admin)).status_code == 201
    assert len(await _blocks(client, viewer, patient["id"])) == 1


async def test_void_block_ok_then_conflict(client: httpx.AsyncClient, ehr: Headers, staff: Headers) -> None:
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient["id"])
    url = f"/v1/blocks/{block['id']}/void"
    assert (await client.post(url, json={"reason": "wrong patient"}, headers=staff)).status_code == 403
    assert (await client.post(url, json={"reason": ""}, headers=ehr)).status_code == 422
    response = await client.post(url, json={"reason": "wrong patient"}, headers=ehr)
    assert response.status_code == 200, response.text
    voided = response.json()
    assert response.headers["etag"]
    assert voided["status"] == "entered_in_error"
    assert voided["void_reason"] == "wrong patient"
    assert voided["voided_at"] is not None
    again = await client.post(url, json={"reason": "again"}, headers=ehr)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    fetched = (await client.get(f"/v1/blocks/{block['id']}", headers=ehr)).json()
    assert fetched["status"] == "entered_in_error"
    assert fetched["void_reason"] == "wrong patient"


async def test_list_blocks_ordered_and_paginated(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await new_patient(client, ehr)
    start = datetime(2026, 10, 1, 9, tzinfo=UTC)
    # Recorded out of order: the list follows the time they were performed.
    for days in (3, 1, 2):
        await new_block(client, ehr, patient["id"], performed_at=(start + timedelta(days=days)).isoformat())
    first = (await client.get(f"/v1/patients/{patient['id']}/blocks?limit=2", headers=ehr)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = await client.get(
        f"/v1/patients/{patient['id']}/blocks",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=ehr,
    )
    page = second.json()
    assert page["next_cursor"] is None
    days = [datetime.fromisoformat(b["performed_at"]).day for b in first["items"] + page["items"]]
    assert days == [2, 3, 4]
    bad = await client.get(f"/v1/patients/{patient['id']}/blocks", params={"cursor": "%%%"}, headers=ehr)
    assert bad.status_code == 422
    assert error_locs(bad) == [["query", "cursor"]]


async def test_get_block_unknown_not_found(client: httpx.AsyncClient, viewer: Headers) -> None:
    response = await client.get("/v1/blocks/00000000-0000-4000-8000-000000000000", headers=viewer)
    assert response.status_code == 404
    assert response.json()["status"] == 404
    unknown_patient = await client.get(
        "/v1/patients/00000000-0000-4000-8000-000000000000/blocks", headers=viewer
    )
    assert unknown_patient.status_code == 404


async def test_create_block_warnings_from_stored_outcome(client: httpx.AsyncClient, ehr: Headers) -> None:
    # CR-14 session warnings are the evaluator's; the block shows those of its stored outcome.
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient["id"], sedation="moderate", volume_ml_per_nerve=1)
    codes = {w["code"] for w in block["warnings"]}
    assert {"sedation_confounds", "high_volume"} <= codes
    assert all(w["message"] for w in block["warnings"])
    fetched = (await client.get(f"/v1/blocks/{block['id']}", headers=ehr)).json()
    assert fetched["warnings"] == block["warnings"]
    plain = await new_block(client, ehr, patient["id"])
    assert plain["warnings"] == []


async def test_block_routes_are_audited(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient["id"])
    await client.get(f"/v1/blocks/{block['id']}", headers=ehr)
    await client.get(f"/v1/patients/{patient['id']}/blocks", headers=ehr)
    await client.post(f"/v1/blocks/{block['id']}/void", json={"reason": "duplicate entry"}, headers=ehr)
    rows = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.resource_type == "block").order_by(AuditEvent.at)
        )
    ).all()
    assert [(r.action, r.resource_id, r.result_ids, r.actor_name) for r in rows] == [
        ("create", block["id"], None, "ehr key"),
        ("read", block["id"], None, "ehr key"),
        ("search", None, [block["id"]], "ehr key"),
        ("void", block["id"], None, "ehr key"),
    ]
