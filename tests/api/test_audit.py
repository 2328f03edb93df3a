"""The audit trail (issue 4, item 3): GET /v1/audit-events and one row for every clinical call."""

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import hash_token
from models import ApiKey, AuditEvent
from tests.api.records import PROBLEM, add_readings, diary, new_block, new_patient
from tests.databases import throwaway_database
from tests.test_cli import blocktrack, call

Headers = dict[str, str]
CLIENT_ADDR = "10.1.2.3"  # the conftest client's address


async def key_of(session: AsyncSession, headers: Headers) -> ApiKey:
    token = headers["Authorization"].removeprefix("Bearer ")
    async with session.begin():
        key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(token)))
    assert key is not None
    return key


async def events(client: httpx.AsyncClient, headers: Headers, **params: Any) -> httpx.Response:
    return await client.get("/v1/audit-events", params=params, headers=headers)


async def all_rows(session: AsyncSession) -> list[AuditEvent]:
    async with session.begin():
        query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
        return list((await session.scalars(query.execution_options(populate_existing=True))).all())


@pytest.mark.parametrize("role", ["staff", "viewer", "ehr"])
async def test_list_audit_events_non_admin_forbidden(client: httpx.AsyncClient, make_key, role: str) -> None:  # type: ignore[no-untyped-def]
    response = await events(client, await make_key(role))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 403


async def test_list_audit_events_without_key_unauthorized(client: httpx.AsyncClient) -> None:
    response = await events(client, {})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


async def test_list_audit_events_newest_first_with_fields(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, session: AsyncSession
) -> None:
    patient = await new_patient(client, ehr)
    await client.get(f"/v1/patients/{patient['id']}", headers=ehr | {"X-Request-ID": "req-read-1"})
    page = (await events(client, admin)).json()
    assert [(e["action"], e["resource_type"]) for e in page["items"]] == [
        ("read", "patient"),
        ("create", "patient"),
    ]
    read = page["items"][0]
    key = await key_of(session, ehr)
    assert read == {
        "id": read["id"],
        "at": read["at"],
        "actor_key_id": str(key.id),
        "actor_name": "ehr key",
        "role": "ehr",
        "action": "read",
        "resource_type": "patient",
        "resource_id": patient["id"],
        "result_ids": None,
        "request_id": "req-read-1",
        "client_addr": CLIENT_ADDR,
        "actor_user_id": None,
        "patient_id": patient["id"],
    }
    assert datetime.fromisoformat(read["at"]).utcoffset() == timedelta(0)
    assert page["next_cursor"] is None


async def test_list_audit_events_is_itself_audited(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, session: AsyncSession
) -> None:
    await new_patient(client, ehr)
    first = (await events(client, admin)).json()
    second = (await events(client, admin, resource_type="audit_event")).json()
    [search] = second["items"]
    assert (search["action"], search["resource_type"], search["resource_id"]) == (
        "search",
        "audit_event",
        None,
    )
    assert search["result_ids"] == [e["id"] for e in first["items"]]
    assert search["role"] == "admin"


async def test_list_audit_events_filters(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, staff: Headers, session: AsyncSession
) -> None:
    one, two = await new_patient(client, ehr), await new_patient(client, ehr)
    await client.get(f"/v1/patients/{one['id']}", headers=staff)
    await client.get(f"/v1/patients/{two['id']}", headers=ehr)

    def summary(response: httpx.Response) -> list[tuple[str, str | None]]:
        assert response.status_code == 200, response.text
        return [(e["action"], e["resource_id"]) for e in response.json()["items"]]

    assert summary(await events(client, admin, resource_id=one["id"].upper())) == [
        ("read", one["id"]),
        ("create", one["id"]),
    ]
    staff_key = await key_of(session, staff)
    assert summary(await events(client, admin, actor_key_id=str(staff_key.id))) == [("read", one["id"])]
    assert summary(await events(client, admin, resource_type="patient", order="oldest_first")) == [
        ("create", one["id"]),
        ("create", two["id"]),
        ("read", one["id"]),
        ("read", two["id"]),
    ]
    rows = [r for r in await all_rows(session) if r.resource_type == "patient"]
    since, until = rows[1].at, rows[3].at  # since inclusive, until exclusive
    assert summary(
        await events(client, admin, resource_type="patient", since=since.isoformat(), until=until.isoformat())
    ) == [("read", one["id"]), ("create", two["id"])]
    assert summary(await events(client, admin, resource_type="block")) == []


async def test_list_audit_events_other_clinic_sees_nothing(
    client: httpx.AsyncClient, ehr: Headers, other_clinic: Headers
) -> None:
    patient = await new_patient(client, ehr)
    response = await events(client, other_clinic, resource_id=patient["id"])
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
async def test_list_audit_events_pages_with_cursor(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, order: str
) -> None:
    for _ in range(5):
        await new_patient(client, ehr)
    everything = (await events(client, admin, resource_type="patient", order=order)).json()["items"]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"resource_type": "patient", "order": order, "limit": 2} | (
            {"cursor": cursor} if cursor else {}
        )
        page = (await events(client, admin, **params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert seen == [e["id"] for e in everything]
    assert len(seen) == 5
    ats = [e["at"] for e in everything]
    assert ats == sorted(ats, reverse=order == "newest_first")


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, ["query", "until"]),
        ({"since": "2026-11-01T00:00:00"}, ["query", "since"]),
        ({"until": "0001-01-01T00:00:00+05:00"}, ["query", "until"]),
        ({"since": "yesterday"}, ["query", "since"]),
        ({"resource_type": "Patient; drop"}, ["query", "resource_type"]),
        ({"resource_type": "patient\x00"}, ["query", "resource_type"]),
        ({"resource_id": "a\x00b"}, ["query", "resource_id"]),
        ({"actor_key_id": "not-a-uuid"}, ["query", "actor_key_id"]),
        ({"order": "sideways"}, ["query", "order"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"cursor": "nonsense"}, ["query", "cursor"]),
    ],
)
async def test_list_audit_events_bad_query_unprocessable(
    client: httpx.AsyncClient, admin: Headers, params: dict[str, Any], loc: list[str]
) -> None:
    response = await events(client, admin, **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_change_audit_events_not_allowed(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, session: AsyncSession
) -> None:
    await new_patient(client, ehr)
    [row] = await all_rows(session)
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/v1/audit-events", f"/v1/audit-events/{row.id}"):
            response = await client.request(method, path, json={"action": "nothing"}, headers=admin)
            assert response.status_code in (404, 405), (method, path)
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["status"] == response.status_code
    after = await all_rows(session)
    assert [(r.id, r.action, r.resource_id) for r in after] == [(row.id, row.action, row.resource_id)]


async def test_request_id_generated_echoed_and_recorded(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    response = await client.post("/v1/patients", json={"mrn": "RID-1"}, headers=ehr)
    generated = response.headers["x-request-id"]
    assert uuid.UUID(generated)
    [row] = await all_rows(session)
    assert row.request_id == generated


async def test_failed_writes_leave_no_audit_row(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    patient = await new_patient(client, ehr, mrn="FAIL-1")
    block = await new_block(client, ehr, patient["id"])
    attempts = [
        await client.post("/v1/patients", json={"mrn": ""}, headers=ehr | {"X-Request-ID": "fail-1"}),
        await client.post("/v1/patients", json={"mrn": "FAIL-1"}, headers=ehr | {"X-Request-ID": "fail-2"}),
        await client.post(
            f"/v1/blocks/{block['id']}/readings",
            json={"readings": [{"phase": "pre"}]},
            headers=ehr | {"X-Request-ID": "fail-3"},
        ),
    ]
    assert [a.status_code for a in attempts] == [422, 409, 422]
    rows = await all_rows(session)
    assert not [r for r in rows if (r.request_id or "").startswith("fail-")]
    assert [(r.action, r.resource_type) for r in rows] == [("create", "patient"), ("create", "block")]


async def test_clinical_flow_every_call_audited(
    client: httpx.AsyncClient, ehr: Headers, admin: Headers, session: AsyncSession
) -> None:
    """A scripted flow: each call leaves exactly one row with who, what, ids, request id and address."""
    calls: list[
        tuple[str, str, str, str | None, list[str] | None]
    ] = []  # request id, action, type, id, results

    async def call(
        method: str,
        url: str,
        expect: int,
        audit: tuple[str, str],
        resource_id: Any = "",
        results: Any = None,
        headers: Headers = ehr,
        **kwargs: Any,
    ) -> dict[str, Any]:
        request_id = f"flow-{len(calls)}"
        response = await client.request(method, url, headers=headers | {"X-Request-ID": request_id}, **kwargs)
        assert response.status_code == expect, (url, response.text)
        assert response.headers["x-request-id"] == request_id
        body = response.json()
        rid = body.get("id") if resource_id == "" else resource_id
        ids = results(body) if callable(results) else results
        calls.append((request_id, *audit, None if rid is None else str(rid), ids))
        return dict(body)

    items = lambda body: [i["id"] for i in body["items"]]  # noqa: E731
    patient = await call("POST", "/v1/patients", 201, ("create", "patient"), json={"mrn": "FLOW-1"})
    await call("GET", "/v1/patients", 200, ("search", "patient"), None, items, params={"mrn": "FLOW-1"})
    await call("GET", f"/v1/patients/{patient['id']}", 200, ("read", "patient"))
    block = await call(
        "POST",
        f"/v1/patients/{patient['id']}/blocks",
        201,
        ("create", "block"),
        json={
            "performed_at": "2026-11-20T14:30:00+00:00",
            "agent": "lidocaine",
            "targets": [{"joint": "L4-L5", "side": "bilateral"}],
        },
    )
    await call("GET", f"/v1/blocks/{block['id']}", 200, ("read", "block"))
    added = await call(
        "POST",
        f"/v1/blocks/{block['id']}/readings",
        201,
        ("create", "reading"),
        None,
        lambda body: [r["id"] for r in body["readings"]],
        json={"readings": diary()},
    )
    reading_id = added["readings"][-1]["id"]
    await call("GET", f"/v1/blocks/{block['id']}/readings", 200, ("search", "reading"), None, items)
    await call(
        "PATCH",
        f"/v1/readings/{reading_id}",
        200,
        ("update", "reading"),
        json={"score": 2, "reason": "transcription error"},
    )
    await call(
        "POST", f"/v1/readings/{reading_id}/void", 200, ("void", "reading"), json={"reason": "duplicate"}
    )
    await call("GET", f"/v1/blocks/{block['id']}/outcome", 200, ("read", "outcome"), block["id"])
    await call("GET", f"/v1/patients/{patient['id']}/levels", 200, ("read", "level"), patient["id"])
    await call("GET", "/v1/referrals", 200, ("search", "referral"), None, items)
    await call(
        "POST", f"/v1/blocks/{block['id']}/void", 200, ("void", "block"), json={"reason": "wrong patient"}
    )
    policy = await call(
        "PUT", "/v1/policy", 200, ("update", "policy"), None, headers=admin, json={"profile": "strict"}
    )
    calls[-1] = (*calls[-1][:3], str(policy["version"]), None)

    rows = [r for r in await all_rows(session) if (r.request_id or "").startswith("flow-")]
    recorded = [(r.request_id, r.action, r.resource_type, r.resource_id, r.result_ids) for r in rows]
    assert recorded == calls
    keys = {"ehr": await key_of(session, ehr), "admin": await key_of(session, admin)}
    for row in rows:
        key = keys[row.role or ""]
        assert (row.actor_key_id, row.actor_name, row.client_addr) == (key.id, key.name, CLIENT_ADDR)
        assert row.clinic_id == key.clinic_id
    assert [r.role for r in rows].count("admin") == 1
    await add_readings(client, ehr, block["id"], [])  # a failing batch afterwards adds nothing
    assert len([r for r in await all_rows(session) if (r.request_id or "").startswith("flow-")]) == len(calls)


def test_create_key_on_command_line_audited(tmp_path: Path) -> None:
    with throwaway_database(tmp_path) as url:
        clinic = json.loads(blocktrack(url, "clinic", "create", "CLI Clinic", "--json").stdout)
        args = (
            "key",
            "create",
            "--clinic",
            clinic["clinic_id"],
            "--role",
            "ehr",
            "--name",
            "Bridge",
            "--json",
        )
        key = json.loads(blocktrack(url, *args).stdout)
        page = call(url, clinic["api_key"], "GET", "/v1/audit-events", params={"resource_type": "api_key"})
    assert page.status_code == 200, page.text
    rows = [(e["action"], e["resource_id"], e["actor_key_id"], e["actor_name"]) for e in page.json()["items"]]
    assert rows[0] == ("create", key["key_id"], None, "blocktrack key create")
    assert rows[1][0::2] == ("create", None)
    assert rows[1][3] == "blocktrack clinic create"
