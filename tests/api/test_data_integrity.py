"""Data integrity (issue 7): one active reading per target and instant, no times in the future, one MRN
form, a policy PUT that changes nothing stores nothing."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import OutboxEvent, PolicyVersion, Reading
from tests.api.records import BLOCK_AT, add_readings, diary, iso, new_block, new_patient

Headers = dict[str, str]


async def _reading_count(session: AsyncSession) -> int:
    async with session.begin():  # not left open: the next request begins its own
        return int(await session.scalar(select(func.count()).select_from(Reading)) or 0)


async def test_create_readings_same_batch_twice_conflict_stores_nothing(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    block = await new_block(client, ehr, (await new_patient(client, ehr))["id"])
    first = await add_readings(client, ehr, block["id"], diary())
    assert first.status_code == 201, first.text
    stored = await _reading_count(session)

    again = await add_readings(client, ehr, block["id"], diary())

    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["existing_id"] in {r["id"] for r in first.json()["readings"]}
    assert again.json()["errors"][0]["loc"] == ["body", "readings", 0, "recorded_at"]
    assert await _reading_count(session) == stored  # the whole batch refused, nothing twice


async def test_create_readings_other_phase_same_instant_conflict(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    block = await new_block(
        client, ehr, (await new_patient(client, ehr))["id"], targets=[{"joint": "L4-L5", "side": "left"}]
    )
    at = iso(BLOCK_AT)  # the block's own instant: a pre reading may be there, a post one may not
    pre = await add_readings(client, ehr, block["id"], [{"phase": "pre", "recorded_at": at, "score": 7}])
    assert pre.status_code == 201, pre.text
    later = [
        {"phase": "post", "minutes_after_block": 30, "score": 2},
        {"phase": "pre", "recorded_at": at, "score": 6},
    ]

    response = await add_readings(client, ehr, block["id"], later)

    assert response.status_code == 409, response.text
    assert response.json()["existing_id"] == pre.json()["readings"][0]["id"]
    listed = (await client.get(f"/v1/blocks/{block['id']}/readings", headers=ehr)).json()["items"]
    assert [r["score"] for r in listed] == [7]


async def test_create_readings_two_entries_one_instant_unprocessable(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    block = await new_block(client, ehr, (await new_patient(client, ehr))["id"])
    twice = [
        {"phase": "post", "minutes_after_block": 30, "score": 2},
        {"phase": "post", "minutes_after_block": 30, "score": 3},
    ]

    response = await add_readings(client, ehr, block["id"], twice)

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "readings", 1, "minutes_after_block"]]
    assert await _reading_count(session) == 0


async def test_create_readings_after_void_same_instant_ok(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await new_block(client, ehr, (await new_patient(client, ehr))["id"])
    first = (await add_readings(client, ehr, block["id"], diary())).json()["readings"][0]
    voided = await client.post(f"/v1/readings/{first['id']}/void", json={"reason": "wrong"}, headers=ehr)
    assert voided.status_code == 200, voided.text
    entry = {"phase": first["phase"], "recorded_at": first["recorded_at"], "score": 5,
             "joint": first["joint"], "side": first["side"]}  # fmt: skip

    response = await add_readings(client, ehr, block["id"], [entry])

    assert response.status_code == 201, response.text
    assert response.json()["readings"][0]["score"] == 5


async def test_amend_reading_onto_other_instant_conflict(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await new_block(
        client, ehr, (await new_patient(client, ehr))["id"], targets=[{"joint": "L4-L5", "side": "left"}]
    )
    readings = (await add_readings(client, ehr, block["id"], diary())).json()["readings"]
    moved, target = readings[1], readings[2]
    etag = (await client.get(f"/v1/readings/{moved['id']}", headers=ehr)).headers["etag"]

    response = await client.patch(
        f"/v1/readings/{moved['id']}",
        json={"recorded_at": target["recorded_at"], "reason": "typed the wrong time"},
        headers=ehr | {"If-Match": etag},
    )

    assert response.status_code == 409, response.text
    assert response.json()["existing_id"] == target["id"]
    after = (await client.get(f"/v1/readings/{moved['id']}", headers=ehr)).json()
    assert (after["recorded_at"], after["version"]) == (moved["recorded_at"], 1)


async def test_reading_unique_index_refuses_second_active_row(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    """The constraint holds on its own, whatever a service checks first."""
    block = await new_block(client, ehr, (await new_patient(client, ehr))["id"])
    stored = (await add_readings(client, ehr, block["id"], diary())).json()["readings"][0]
    async with session.begin():
        row = await session.get(Reading, uuid.UUID(stored["id"]))
        assert row is not None
        copy = {c.key: getattr(row, c.key) for c in Reading.__table__.c if c.key != "id"}
        try:
            async with session.begin_nested():
                session.add(Reading(**copy))
                await session.flush()
        except IntegrityError as exc:
            assert "uq_reading_active_target_time" in str(exc) or "UNIQUE" in str(exc)
        else:
            raise AssertionError("a second active reading at one instant was stored")


async def test_create_block_far_future_unprocessable(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await new_patient(client, ehr)
    soon = datetime.now(UTC) + timedelta(minutes=20)
    body = {"performed_at": iso(soon), "agent": "lidocaine", "targets": [{"joint": "L4-L5", "side": "left"}]}

    response = await client.post(f"/v1/patients/{patient['id']}/blocks", json=body, headers=ehr)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "performed_at"]
    assert "10 minutes in the future" in response.json()["errors"][0]["message"]


async def test_create_block_within_clock_slack_ok(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await new_patient(client, ehr)
    body = {"performed_at": iso(datetime.now(UTC) + timedelta(minutes=5)), "agent": "lidocaine",
            "targets": [{"joint": "L4-L5", "side": "left"}]}  # fmt: skip

    response = await client.post(f"/v1/patients/{patient['id']}/blocks", json=body, headers=ehr)

    assert response.status_code == 201, response.text


async def test_create_readings_future_times_unprocessable(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    now = datetime.now(UTC)
    block = await new_block(
        client, ehr, (await new_patient(client, ehr))["id"], performed_at=iso(now - timedelta(hours=1))
    )
    entries = [
        {"phase": "post", "recorded_at": iso(now + timedelta(minutes=15)), "score": 1},
        {"phase": "post", "minutes_after_block": 120, "score": 1},  # one hour from now
        {"phase": "post", "minutes_after_block": 30, "score": 1},
    ]

    response = await add_readings(client, ehr, block["id"], entries)

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["body", "readings", 0, "recorded_at"],
        ["body", "readings", 1, "minutes_after_block"],
    ]
    assert await _reading_count(session) == 0


async def test_amend_reading_future_time_unprocessable(client: httpx.AsyncClient, ehr: Headers) -> None:
    block = await new_block(client, ehr, (await new_patient(client, ehr))["id"])
    reading = (await add_readings(client, ehr, block["id"], diary())).json()["readings"][1]
    etag = (await client.get(f"/v1/readings/{reading['id']}", headers=ehr)).headers["etag"]
    later = iso(datetime.now(UTC) + timedelta(hours=3))

    response = await client.patch(
        f"/v1/readings/{reading['id']}",
        json={"recorded_at": later, "reason": "x"},
        headers=ehr | {"If-Match": etag},
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "recorded_at"]


async def test_create_patient_invisible_characters_same_mrn_conflict(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    first = await new_patient(client, ehr, mrn="MRN-\u00e9-42")  # é precomposed

    for variant in ("\u200bMRN-\u00e9-42", "MRN-e\u0301-42", " MRN-\u00e9-42\ufeff\t", "MRN-\u00e9-\u200d42"):
        response = await client.post("/v1/patients", json={"mrn": variant}, headers=ehr)
        assert response.status_code == 409, (variant, response.text)
        assert response.json()["existing_id"] == first["id"]


async def test_create_patient_mrn_stored_normalised(client: httpx.AsyncClient, ehr: Headers) -> None:
    response = await client.post("/v1/patients", json={"mrn": "\u2060 MRN-e\u0301\u00ad7 "}, headers=ehr)

    assert response.status_code == 201, response.text
    assert response.json()["mrn"] == "MRN-\u00e97"


async def test_create_patient_only_invisible_mrn_unprocessable(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    response = await client.post("/v1/patients", json={"mrn": "\u200b\ufeff"}, headers=ehr)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "mrn"]


async def test_list_patients_mrn_lookup_normalised(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient = await new_patient(client, ehr, mrn="MRN-\u00e9-77")

    response = await client.get("/v1/patients", params={"mrn": "\ufeffMRN-e\u0301-77\u200b"}, headers=ehr)

    assert response.status_code == 200, response.text
    assert [p["id"] for p in response.json()["items"]] == [patient["id"]]


async def _policy_state(session: AsyncSession) -> tuple[int, int]:
    async with session.begin():
        versions = await session.scalar(select(func.count()).select_from(PolicyVersion))
        events = await session.scalar(select(func.count()).select_from(OutboxEvent))
    return int(versions or 0), int(events or 0)


async def test_put_policy_same_settings_no_new_version(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession, listening: None
) -> None:
    changed = await client.put("/v1/policy", json={"profile": "custom", "threshold_pct": 75}, headers=admin)
    assert changed.status_code == 200, changed.text
    block = await new_block(client, admin, (await new_patient(client, admin))["id"])
    assert (await add_readings(client, admin, block["id"], diary())).status_code == 201
    before = await _policy_state(session)

    same = await client.put("/v1/policy", json={"profile": "custom", "threshold_pct": 75}, headers=admin)

    assert same.status_code == 200, same.text
    assert same.json() == changed.json()
    assert same.headers["etag"] == changed.headers["etag"]
    assert await _policy_state(session) == before  # no version, no re-evaluation event


async def test_put_policy_other_settings_new_version(client: httpx.AsyncClient, admin: Headers) -> None:
    first = (
        await client.put("/v1/policy", json={"profile": "custom", "threshold_pct": 75}, headers=admin)
    ).json()

    changed = await client.put("/v1/policy", json={"profile": "custom", "threshold_pct": 70}, headers=admin)

    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == first["version"] + 1
