"""Tenancy: another clinic's key gets 404 on every route naming a patient, block or reading of this clinic,
reads and writes alike, exactly as for a resource that does not exist, and changes nothing."""

from typing import Any

import httpx
import pytest

from tests.api.records import add_readings, block_body, diary, new_block, new_patient
from tests.api.test_route_matrix import api_routes

Headers = dict[str, str]

# (method, path template, body): every route that names a patient, block or reading.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/patients/{patient_id}", None),
    ("GET", "/v1/patients/{patient_id}/blocks", None),
    ("POST", "/v1/patients/{patient_id}/blocks", block_body()),
    ("GET", "/v1/patients/{patient_id}/levels", None),
    ("GET", "/v1/patients/{patient_id}/rfa-plan", None),
    ("GET", "/v1/blocks/{block_id}", None),
    ("POST", "/v1/blocks/{block_id}/void", {"reason": "not yours"}),
    ("PATCH", "/v1/blocks/{block_id}", {"sedation": "general", "reason": "not yours"}),
    ("GET", "/v1/blocks/{block_id}/history", None),
    ("PUT", "/v1/blocks/{block_id}/coverage-override", {"reason": "not yours"}),
    ("DELETE", "/v1/blocks/{block_id}/coverage-override", None),
    ("GET", "/v1/blocks/{block_id}/readings", None),
    ("POST", "/v1/blocks/{block_id}/readings", {"readings": diary()}),
    ("GET", "/v1/blocks/{block_id}/outcome", None),
    ("GET", "/v1/blocks/{block_id}/hl7", None),
    ("GET", "/v1/patients/{patient_id}/levels/{joint}/{side}/letter", None),
    ("GET", "/v1/patients/{patient_id}/levels/{joint}/{side}/letter.pdf", None),
    ("GET", "/v1/readings/{reading_id}", None),
    ("PATCH", "/v1/readings/{reading_id}", {"score": 0, "reason": "not yours"}),
    ("GET", "/v1/readings/{reading_id}/history", None),
    ("POST", "/v1/readings/{reading_id}/void", {"reason": "not yours"}),
]
PARAMS = ("{patient_id}", "{block_id}", "{reading_id}")


async def _records(client: httpx.AsyncClient, headers: Headers) -> dict[str, str]:
    patient = await new_patient(client, headers)
    block = await new_block(client, headers, patient["id"])
    readings = (await add_readings(client, headers, block["id"], diary())).json()["readings"]
    ids = {"patient_id": patient["id"], "block_id": block["id"], "reading_id": readings[0]["id"]}
    return ids | {"joint": "L4-L5", "side": "left"}


async def _snapshot(client: httpx.AsyncClient, headers: Headers, ids: dict[str, str]) -> list[Any]:
    urls = [
        f"/v1/patients/{ids['patient_id']}/blocks",
        f"/v1/blocks/{ids['block_id']}/history",
        f"/v1/blocks/{ids['block_id']}/readings?limit=200",
        f"/v1/readings/{ids['reading_id']}/history",
    ]
    return [(await client.get(url, headers=headers)).json() for url in urls]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_other_clinic_route_not_found(
    client: httpx.AsyncClient,
    admin: Headers,
    other_clinic: Headers,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    ids = await _records(client, admin)
    before = await _snapshot(client, admin, ids)
    response = await client.request(method, path.format(**ids), json=body, headers=other_clinic)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404
    # Answered exactly like an id that does not exist.
    missing = ids | {name: "00000000-0000-4000-8000-000000000000" for name in ids if name.endswith("_id")}
    unknown = await client.request(method, path.format(**missing), json=body, headers=admin)
    assert unknown.status_code == 404
    assert response.json()["title"] == unknown.json()["title"]
    assert await _snapshot(client, admin, ids) == before


async def test_other_clinic_search_finds_nothing(
    client: httpx.AsyncClient, admin: Headers, other_clinic: Headers
) -> None:
    patient = await new_patient(client, admin, mrn="SHARED-1")
    page = (await client.get("/v1/patients", params={"mrn": "SHARED-1"}, headers=other_clinic)).json()
    assert page == {"items": [], "next_cursor": None}
    assert (await client.get("/v1/patients", headers=other_clinic)).json()["items"] == []
    mine = (await client.get("/v1/patients", params={"mrn": "SHARED-1"}, headers=admin)).json()
    assert [p["id"] for p in mine["items"]] == [patient["id"]]


def test_tenancy_routes_cover_every_resource_route(app) -> None:  # type: ignore[no-untyped-def]
    """A new route naming a patient, block or reading must be added to ROUTES above."""
    declared = {(m, p) for m, p, _ in ROUTES}
    # Through included routers: app.routes alone holds them as branches, not as APIRoutes.
    routes = {(m, p) for m, p in api_routes(app) if any(param in p for param in PARAMS)}
    assert len(routes) >= len(ROUTES) - 1
    assert routes - declared == set()
