"""Patients: create, duplicate MRN, read, search, pagination, roles."""

import uuid
from datetime import datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import encode_cursor
from models import AuditEvent

Headers = dict[str, str]
PROBLEM = "application/problem+json"


async def test_create_patient_ok(client: httpx.AsyncClient, ehr: Headers) -> None:
    body = {"mrn": " MRN-1 ", "name": "Maria Alvarez", "birth_date": "1961-04-09"}
    response = await client.post("/v1/patients", json=body, headers=ehr)
    assert response.status_code == 201, response.text
    patient = response.json()
    assert patient["mrn"] == "MRN-1"
    assert patient["name"] == "Maria Alvarez"
    assert patient["birth_date"] == "1961-04-09"
    assert patient["created_at"].endswith("Z") or patient["created_at"].endswith("+00:00")
    assert response.headers["etag"]
    assert response.headers["location"] == f"/v1/patients/{patient['id']}"
    fetched = await client.get(response.headers["location"], headers=ehr)
    assert fetched.json() == patient


async def test_create_patient_duplicate_mrn_conflict(client: httpx.AsyncClient, ehr: Headers) -> None:
    first = (await client.post("/v1/patients", json={"mrn": "MRN-2"}, headers=ehr)).json()
    response = await client.post("/v1/patients", json={"mrn": "MRN-2", "name": "Other"}, headers=ehr)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["existing_id"] == first["id"]
    # The request after the conflict still works: the failed insert was rolled back to its savepoint.
    listed = (await client.get("/v1/patients", params={"mrn": "MRN-2"}, headers=ehr)).json()
    assert [p["id"] for p in listed["items"]] == [first["id"]]


async def test_create_patient_same_mrn_other_clinic_ok(
    client: httpx.AsyncClient, ehr: Headers, other_clinic: Headers
) -> None:
    assert (await client.post("/v1/patients", json={"mrn": "MRN-3"}, headers=ehr)).status_code == 201
    response = await client.post("/v1/patients", json={"mrn": "MRN-3"}, headers=other_clinic)
    assert response.status_code == 201, response.text


async def test_create_patient_bad_fields_unprocessable(client: httpx.AsyncClient, ehr: Headers) -> None:
    cases = [
        ({"mrn": ""}, ["body", "mrn"]),
        ({"mrn": "   "}, ["body", "mrn"]),
        ({"mrn": "x" * 65}, ["body", "mrn"]),
        ({"mrn": "a\x00b"}, ["body", "mrn"]),
        ({"mrn": "M", "birth_date": "2999-01-01"}, ["body", "birth_date"]),
        ({"mrn": "M", "birth_date": "1961-13-01"}, ["body", "birth_date"]),
        ({"mrn": "M", "surname": "x"}, ["body", "surname"]),
        ({}, ["body", "mrn"]),
    ]
    for body, loc in cases:
        response = await client.post("/v1/patients", json=body, headers=ehr)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
        assert loc in [e["loc"] for e in response.json()["errors"]], response.json()
    listed = (await client.get("/v1/patients", headers=ehr)).json()
    assert listed == {"items": [], "next_cursor": None}


async def test_get_patient_ok_and_unknown(client: httpx.AsyncClient, viewer: Headers, ehr: Headers) -> None:
    created = (await client.post("/v1/patients", json={"mrn": "MRN-4"}, headers=ehr)).json()
    response = await client.get(f"/v1/patients/{created['id']}", headers=viewer)
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"].startswith('"')
    missing = await client.get("/v1/patients/00000000-0000-4000-8000-000000000000", headers=viewer)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    bad = await client.get("/v1/patients/not-a-uuid", headers=viewer)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["path", "patient_id"]


async def test_list_patients_paginates_with_cursor(client: httpx.AsyncClient, ehr: Headers) -> None:
    ids = []
    for i in range(5):
        ids.append((await client.post("/v1/patients", json={"mrn": f"P{i}"}, headers=ehr)).json()["id"])
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/patients", params=params, headers=ehr)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert cursor is None


async def test_list_patients_bad_cursor_unprocessable(client: httpx.AsyncClient, ehr: Headers) -> None:
    for cursor in ["nonsense", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIngiXQ", "W10"]:
        response = await client.get("/v1/patients", params={"cursor": cursor}, headers=ehr)
        assert response.status_code == 422, cursor
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_list_patients_naive_cursor_unprocessable(client: httpx.AsyncClient, ehr: Headers) -> None:
    # A forged cursor with a time without offset must be a 422, not a 500.
    cursor = encode_cursor(datetime(2026, 1, 1), uuid.uuid4())
    response = await client.get("/v1/patients", params={"cursor": cursor}, headers=ehr)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_list_patients_bad_limit_unprocessable(client: httpx.AsyncClient, ehr: Headers) -> None:
    for limit in [0, 201, "x"]:
        response = await client.get("/v1/patients", params={"limit": limit}, headers=ehr)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "limit"]


async def test_list_patients_by_mrn(client: httpx.AsyncClient, ehr: Headers) -> None:
    await client.post("/v1/patients", json={"mrn": "A-1"}, headers=ehr)
    wanted = (await client.post("/v1/patients", json={"mrn": "A-2"}, headers=ehr)).json()
    page = (await client.get("/v1/patients", params={"mrn": "A-2"}, headers=ehr)).json()
    assert page == {"items": [wanted], "next_cursor": None}
    nul = await client.get("/v1/patients", params={"mrn": "A\x00"}, headers=ehr)
    assert nul.status_code == 422


async def test_create_patient_roles(
    client: httpx.AsyncClient, admin: Headers, staff: Headers, viewer: Headers
) -> None:
    for headers in (staff, viewer):
        response = await client.post("/v1/patients", json={"mrn": "R-1"}, headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM
    assert (await client.post("/v1/patients", json={"mrn": "R-1"})).status_code == 401
    bad_key = {"Authorization": "Bearer bt_nope"}
    assert (await client.get("/v1/patients", headers=bad_key)).status_code == 401
    assert (await client.post("/v1/patients", json={"mrn": "R-1"}, headers=admin)).status_code == 201
    page = (await client.get("/v1/patients", headers=viewer)).json()
    assert [p["mrn"] for p in page["items"]] == ["R-1"]


async def test_patient_routes_are_audited(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    created = (await client.post("/v1/patients", json={"mrn": "AU-1"}, headers=ehr)).json()
    await client.get(f"/v1/patients/{created['id']}", headers=ehr)
    await client.get("/v1/patients", headers=ehr)
    rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.at))).all()
    actions = [(r.action, r.resource_type, r.resource_id, r.result_ids) for r in rows]
    assert actions == [
        ("create", "patient", created["id"], None),
        ("read", "patient", created["id"], None),
        ("search", "patient", None, [created["id"]]),
    ]
    assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 3
