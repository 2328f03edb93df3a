"""Readings: the pain diary through the API (CR-6, CR-7), batches, amend with history, void, roles."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent
from tests.api.records import (
    BLOCK_AT,
    PROBLEM,
    add_readings,
    diary,
    error_locs,
    iso,
    new_block,
    new_patient,
)

Headers = dict[str, str]


async def _block(client: httpx.AsyncClient, headers: Headers, **overrides: Any) -> dict[str, Any]:
    patient = await new_patient(client, headers)
    return await new_block(client, headers, patient["id"], **overrides)


async def _stored(client: httpx.AsyncClient, headers: Headers, block_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/blocks/{block_id}/readings", headers=headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_create_readings_ok_apply_to_every_target(
    client: httpx.AsyncClient, staff: Headers, ehr: Headers
) -> None:
    block = await _block(client, ehr)
    response = await add_readings(client, staff, block["id"], diary())
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/blocks/{block['id']}/readings"
    body = response.json()
    # CR-7: a reading naming no joint or side applies to both targets of the bilateral block.
    assert len(body["readings"]) == 10
    assert {(r["joint"], r["side"]) for r in body["readings"]} == {("L4-L5", "left"), ("L4-L5", "right")}
    assert {r["target_id"] for r in body["readings"]} == {t["id"] for t in block["targets"]}
    pre = [r for r in body["readings"] if r["phase"] == "pre"]
    assert [r["minutes_after_block"] for r in pre] == [-10, -10]
    post = sorted({r["minutes_after_block"] for r in body["readings"] if r["phase"] == "post"})
    assert post == [15, 30, 60, 120]
    first = body["readings"][0]
    assert (first["status"], first["version"], first["source"], first["analgesic_taken"]) == (
        "active",
        1,
        "patient_diary",
        False,
    )
    assert body["outcome"]["block_id"] == block["id"]
    assert {t["target_id"] for t in body["outcome"]["targets"]} <= {t["id"] for t in block["targets"]}
    assert sorted(r["id"] for r in await _stored(client, ehr, block["id"])) == sorted(
        r["id"] for r in body["readings"]
    )


async def test_create_readings_joint_and_side_select_targets(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await _block(
        client, ehr, targets=[{"joint": "L4-L5", "side": "bilateral"}, {"joint": "L5-S1", "side": "left"}]
    )
    entries = [
        {"phase": "post", "minutes_after_block": 30, "score": 2, "side": "RIGHT"},
        {"phase": "post", "minutes_after_block": 30, "score": 3, "joint": "l5/s1"},
        {"phase": "post", "minutes_after_block": 30, "score": 4, "joint": "L4-5", "side": "left"},
        # Later: one active score per target and instant (a second one at 30 min would be refused).
        {"phase": "post", "minutes_after_block": 60, "score": 5, "side": "left"},
    ]
    response = await add_readings(client, ehr, block["id"], entries)
    assert response.status_code == 201, response.text
    got = sorted((r["score"], r["joint"], r["side"]) for r in response.json()["readings"])
    assert got == [
        (2, "L4-L5", "right"),
        (3, "L5-S1", "left"),
        (4, "L4-L5", "left"),
        (5, "L4-L5", "left"),
        (5, "L5-S1", "left"),
    ]


async def test_create_readings_minutes_after_block_floor(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await _block(client, ehr)
    entries = [
        {"phase": "pre", "recorded_at": iso(BLOCK_AT - timedelta(seconds=30)), "score": 7, "side": "left"},
        {
            "phase": "post",
            "recorded_at": iso(BLOCK_AT + timedelta(minutes=14, seconds=59)),
            "score": 2,
            "side": "left",
        },
        {"phase": "pre", "recorded_at": iso(BLOCK_AT), "score": 7, "side": "right"},
    ]
    response = await add_readings(client, ehr, block["id"], entries)
    assert response.status_code == 201, response.text
    assert [r["minutes_after_block"] for r in response.json()["readings"]] == [-1, 14, 0]


def _entry(**overrides: Any) -> dict[str, Any]:
    return {"phase": "post", "minutes_after_block": 30, "score": 2} | overrides


NAIVE = "2026-11-20T15:00:00"
BAD_READINGS: list[tuple[str, dict[str, Any], str]] = [
    ("nrs_11", _entry(score=11), "score"),
    ("nrs_fraction", _entry(score=7.5), "score"),
    ("nrs_negative", _entry(score=-1), "score"),
    ("nrs_string", _entry(score="7"), "score"),
    ("nrs_bool", _entry(score=True), "score"),
    (
        "post_before_block",
        _entry(minutes_after_block=None, recorded_at=iso(BLOCK_AT - timedelta(minutes=5))),
        "recorded_at",
    ),
    ("post_at_block", _entry(minutes_after_block=0), "minutes_after_block"),
    ("pre_after_block", _entry(phase="pre", minutes_after_block=5), "minutes_after_block"),
    (
        "pre_after_block_at",
        {"phase": "pre", "recorded_at": iso(BLOCK_AT + timedelta(hours=1)), "score": 8},
        "recorded_at",
    ),
    ("both_times", _entry(recorded_at=iso(BLOCK_AT + timedelta(hours=1))), "recorded_at"),
    ("neither_time", {"phase": "post", "score": 2}, "recorded_at"),
    ("naive_recorded_at", _entry(minutes_after_block=None, recorded_at=NAIVE), "recorded_at"),
    ("minutes_negative", _entry(minutes_after_block=-5), "minutes_after_block"),
    ("minutes_huge", _entry(minutes_after_block=10**30), "minutes_after_block"),
    ("untargeted_joint", _entry(joint="L5-S1"), "joint"),
    ("invalid_joint", _entry(joint="L6-S1"), "joint"),
    ("untargeted_side", _entry(side="left"), "side"),
    ("side_middle", _entry(side="middle"), "side"),
    ("phase_unknown", _entry(phase="during"), "phase"),
    ("source_unknown", _entry(source="fax"), "source"),
    ("analgesic_without_taken", _entry(analgesic="ibuprofen"), "analgesic"),
    ("note_nul", _entry(note="x\x00"), "note"),
    ("unknown_field", _entry(mood="fine"), "mood"),
]


@pytest.mark.parametrize(("case", "entry", "field"), BAD_READINGS, ids=[c[0] for c in BAD_READINGS])
async def test_create_readings_bad_entry_unprocessable_stores_nothing(
    client: httpx.AsyncClient, ehr: Headers, case: str, entry: dict[str, Any], field: str
) -> None:
    block = await _block(client, ehr, targets=[{"joint": "L4-L5", "side": "right"}])
    good = _entry(minutes_after_block=60)
    response = await add_readings(client, ehr, block["id"], [good, good, entry])
    assert response.status_code == 422, response.text
    assert ["body", "readings", 2, field] in error_locs(response)
    assert await _stored(client, ehr, block["id"]) == []


async def test_create_readings_vas_scale(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await _block(client, ehr, pain_scale="vas")
    bad = await add_readings(client, ehr, block["id"], [_entry(score=101)])
    assert bad.status_code == 422
    assert error_locs(bad) == [["body", "readings", 0, "score"]]
    assert await _stored(client, ehr, block["id"]) == []
    ok = await add_readings(
        client, ehr, block["id"], [_entry(score=100), _entry(score=45, minutes_after_block=60)]
    )
    assert ok.status_code == 201, ok.text
    assert sorted({r["score"] for r in ok.json()["readings"]}) == [45, 100]
    nrs = await _block(client, ehr)
    assert (await add_readings(client, ehr, nrs["id"], [_entry(score=45)])).status_code == 422


async def test_create_readings_batch_lists_every_failing_index(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    block = await _block(client, ehr)
    entries = [
        _entry(),
        _entry(score=11),
        _entry(),
        _entry(joint="C2-C3"),
        _entry(minutes_after_block=0, score=12),
    ]
    response = await add_readings(client, ehr, block["id"], entries)
    assert response.status_code == 422
    locs = error_locs(response)
    assert sorted(locs) == sorted(
        [
            ["body", "readings", 1, "score"],
            ["body", "readings", 3, "joint"],
            ["body", "readings", 4, "score"],
            ["body", "readings", 4, "minutes_after_block"],
        ]
    )
    assert await _stored(client, ehr, block["id"]) == []


async def test_create_readings_type_errors_list_every_index(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await _block(client, ehr)
    entries = [
        _entry(score=7.5),
        _entry(),
        _entry(phase="x"),
        _entry(recorded_at=NAIVE, minutes_after_block=None),
    ]
    response = await add_readings(client, ehr, block["id"], entries)
    assert response.status_code == 422
    assert {tuple(loc[:4]) for loc in error_locs(response)} == {
        ("body", "readings", 0, "score"),
        ("body", "readings", 2, "phase"),
        ("body", "readings", 3, "recorded_at"),
    }
    assert await _stored(client, ehr, block["id"]) == []


async def test_create_readings_mixed_type_and_block_errors_one_unprocessable(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    # Type errors (caught by the schema) and block-dependent ones (CR-6 scale, CR-7 time and targets) in
    # one batch: a single 422 lists them all by index, so the client fixes everything at once.
    block = await _block(client, ehr, targets=[{"joint": "L4-L5", "side": "right"}])
    before = iso(BLOCK_AT - timedelta(minutes=5))
    entries = [
        _entry(score="7"),
        _entry(),
        _entry(score=11),
        _entry(minutes_after_block=None, recorded_at=before),
        _entry(phase="during", mood="fine"),
        _entry(joint="L5-S1", analgesic="ibuprofen"),
        _entry(minutes_after_block=None, recorded_at=NAIVE),
        7,
    ]
    response = await add_readings(client, ehr, block["id"], entries)
    assert response.status_code == 422, response.text
    assert error_locs(response) == [
        ["body", "readings", 0, "score"],
        ["body", "readings", 2, "score"],
        ["body", "readings", 3, "recorded_at"],
        ["body", "readings", 4, "phase"],
        ["body", "readings", 4, "mood"],
        ["body", "readings", 5, "analgesic"],
        ["body", "readings", 5, "joint"],
        ["body", "readings", 6, "recorded_at"],
        ["body", "readings", 7],
    ]
    body = response.json()
    assert body["detail"] == "7 invalid reading(s) at index [0, 2, 3, 4, 5, 6, 7]; nothing was stored"
    assert body["errors"][1]["message"] == "NRS scores are whole numbers from 0 to 10"
    assert await _stored(client, ehr, block["id"]) == []


async def test_create_readings_type_errors_missing_block_not_found(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    # Entries are judged against their block: without one there is nothing to judge them by.
    missing = "00000000-0000-4000-8000-000000000000"
    response = await add_readings(client, ehr, missing, [_entry(score="7")])
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_create_readings_batch_size_limits(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await _block(client, ehr)
    empty = await add_readings(client, ehr, block["id"], [])
    assert empty.status_code == 422
    assert error_locs(empty) == [["body", "readings"]]
    huge = await add_readings(client, ehr, block["id"], [_entry()] * 501)
    assert huge.status_code == 422
    assert error_locs(huge) == [["body", "readings"]]
    assert await _stored(client, ehr, block["id"]) == []


async def test_create_readings_voided_block_conflict(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await _block(client, ehr)
    await client.post(f"/v1/blocks/{block['id']}/void", json={"reason": "wrong side"}, headers=ehr)
    response = await add_readings(client, ehr, block["id"], diary())
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert await _stored(client, ehr, block["id"]) == []


async def test_create_readings_roles(client: httpx.AsyncClient, ehr: Headers, viewer: Headers) -> None:
    block = await _block(client, ehr)
    denied = await add_readings(client, viewer, block["id"], diary())
    assert denied.status_code == 403
    assert denied.json()["status"] == 403
    assert (
        await client.post(f"/v1/blocks/{block['id']}/readings", json={"readings": diary()})
    ).status_code == 401
    assert await _stored(client, viewer, block["id"]) == []


async def _one_reading(client: httpx.AsyncClient, headers: Headers) -> tuple[dict[str, Any], dict[str, Any]]:
    block = await _block(client, headers, targets=[{"joint": "L4-L5", "side": "left"}])
    response = await add_readings(client, headers, block["id"], [_entry(score=3)])
    assert response.status_code == 201, response.text
    return block, response.json()["readings"][0]


async def test_amend_reading_new_version_and_history(
    client: httpx.AsyncClient, ehr: Headers, staff: Headers
) -> None:
    _block_, reading = await _one_reading(client, ehr)
    url = f"/v1/readings/{reading['id']}"
    current = await client.get(url, headers=staff)
    assert current.status_code == 200 and current.json() == reading
    new_time = iso(BLOCK_AT + timedelta(minutes=45))
    response = await client.patch(
        url,
        json={"score": 5, "recorded_at": new_time, "reason": "diary misread"},
        headers=staff | {"If-Match": current.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    amended = response.json()
    assert (amended["score"], amended["version"], amended["minutes_after_block"]) == (5, 2, 45)
    assert response.headers["etag"] != current.headers["etag"]
    history = (await client.get(f"{url}/history", headers=staff)).json()["items"]
    assert [(h["version"], h["score"], h["status"], h["changed_by"], h["reason"]) for h in history] == [
        (1, 3, "active", "ehr key", None),
        (2, 5, "active", "staff key", "diary misread"),
    ]
    assert history[0]["recorded_at"] != history[1]["recorded_at"]


async def test_amend_reading_stale_if_match_precondition_failed(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    _block_, reading = await _one_reading(client, ehr)
    url = f"/v1/readings/{reading['id']}"
    etag = (await client.get(url, headers=ehr)).headers["etag"]
    assert (await client.patch(url, json={"score": 4, "reason": "first"}, headers=ehr)).status_code == 200
    stale = await client.patch(url, json={"score": 6, "reason": "second"}, headers=ehr | {"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    after = (await client.get(url, headers=ehr)).json()
    assert (after["score"], after["version"]) == (4, 2)
    assert len((await client.get(f"{url}/history", headers=ehr)).json()["items"]) == 2


async def test_amend_reading_bad_input_unprocessable(client: httpx.AsyncClient, ehr: Headers) -> None:
    _block_, reading = await _one_reading(client, ehr)
    url = f"/v1/readings/{reading['id']}"
    cases = [
        ({"score": 11, "reason": "x"}, ["body", "score"]),
        ({"score": 7.5, "reason": "x"}, ["body", "score"]),
        ({"recorded_at": iso(BLOCK_AT - timedelta(minutes=1)), "reason": "x"}, ["body", "recorded_at"]),
        ({"recorded_at": NAIVE, "reason": "x"}, ["body", "recorded_at"]),
        ({"score": 4}, ["body", "reason"]),
        ({"reason": "nothing to change"}, ["body"]),
        ({"score": 4, "reason": "x", "phase": "pre"}, ["body", "phase"]),
    ]
    for body, loc in cases:
        response = await client.patch(url, json=body, headers=ehr)
        assert response.status_code == 422, body
        assert loc in error_locs(response), body
    after = (await client.get(url, headers=ehr)).json()
    assert after == reading
    assert len((await client.get(f"{url}/history", headers=ehr)).json()["items"]) == 1


async def test_void_reading_then_conflicts(client: httpx.AsyncClient, ehr: Headers, staff: Headers) -> None:
    _block_, reading = await _one_reading(client, ehr)
    url = f"/v1/readings/{reading['id']}"
    response = await client.post(f"{url}/void", json={"reason": "wrong patient"}, headers=staff)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["version"]) == ("entered_in_error", 2)
    assert response.headers["etag"]
    again = await client.post(f"{url}/void", json={"reason": "again"}, headers=staff)
    assert again.status_code == 409
    amend = await client.patch(url, json={"score": 2, "reason": "late fix"}, headers=staff)
    assert amend.status_code == 409
    history = (await client.get(f"{url}/history", headers=staff)).json()["items"]
    assert [(h["version"], h["status"], h["reason"]) for h in history] == [
        (1, "active", None),
        (2, "entered_in_error", "wrong patient"),
    ]


async def test_amend_reading_of_voided_block_conflict(client: httpx.AsyncClient, ehr: Headers) -> None:
    block, reading = await _one_reading(client, ehr)
    await client.post(f"/v1/blocks/{block['id']}/void", json={"reason": "wrong level"}, headers=ehr)
    response = await client.patch(
        f"/v1/readings/{reading['id']}", json={"score": 1, "reason": "x"}, headers=ehr
    )
    assert response.status_code == 409
    assert (await client.get(f"/v1/readings/{reading['id']}", headers=ehr)).json()["score"] == 3


async def test_reading_writes_roles(client: httpx.AsyncClient, ehr: Headers, viewer: Headers) -> None:
    _block_, reading = await _one_reading(client, ehr)
    url = f"/v1/readings/{reading['id']}"
    assert (await client.patch(url, json={"score": 1, "reason": "x"}, headers=viewer)).status_code == 403
    assert (await client.post(f"{url}/void", json={"reason": "x"}, headers=viewer)).status_code == 403
    assert (await client.get(url, headers=viewer)).json()["version"] == 1


async def test_get_reading_unknown_not_found(client: httpx.AsyncClient, viewer: Headers) -> None:
    for url in (
        "/v1/readings/00000000-0000-4000-8000-000000000000",
        "/v1/readings/00000000-0000-4000-8000-000000000000/history",
        "/v1/blocks/00000000-0000-4000-8000-000000000000/readings",
    ):
        response = await client.get(url, headers=viewer)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == PROBLEM


async def test_list_readings_paginated_in_time_order(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await _block(client, ehr, targets=[{"joint": "L4-L5", "side": "left"}])
    minutes = [120, 15, 60, 30, 240]
    await add_readings(client, ehr, block["id"], [_entry(minutes_after_block=m) for m in minutes])
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/v1/blocks/{block['id']}/readings", params=params, headers=ehr)).json()
        seen += [r["minutes_after_block"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(minutes)
    bad = await client.get(f"/v1/blocks/{block['id']}/readings", params={"cursor": "bm9wZQ"}, headers=ehr)
    assert bad.status_code == 422
    assert error_locs(bad) == [["query", "cursor"]]


async def test_reading_routes_are_audited(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    block, reading = await _one_reading(client, ehr)
    url = f"/v1/readings/{reading['id']}"
    await client.get(url, headers=ehr)
    await client.get(f"/v1/blocks/{block['id']}/readings", headers=ehr)
    await client.patch(url, json={"score": 4, "reason": "fix"}, headers=ehr)
    await client.post(f"{url}/void", json={"reason": "error"}, headers=ehr)
    rows = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.resource_type == "reading").order_by(AuditEvent.at)
        )
    ).all()
    assert [(r.action, r.resource_id, r.result_ids) for r in rows] == [
        ("create", None, [reading["id"]]),
        ("read", reading["id"], None),
        ("search", None, [reading["id"]]),
        ("update", reading["id"], None),
        ("void", reading["id"], None),
    ]
