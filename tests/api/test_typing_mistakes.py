"""The usual typing mistakes get a 422 that says what to type instead (the pages show the same words)."""

import re

import httpx

from tests.api.records import add_readings, new_block, new_patient

Headers = dict[str, str]


def messages(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {".".join(map(str, e["loc"])): e["message"] for e in response.json()["errors"]}


async def test_create_patient_birth_date_with_slashes_says_iso_form(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    answer = await client.post("/v1/patients", json={"mrn": "M-1", "birth_date": "03/08/1964"}, headers=ehr)
    assert (
        messages(answer)["body.birth_date"]
        == "write the date as YYYY-MM-DD, e.g. 1964-03-08 (got '03/08/1964')"
    )


async def test_create_block_time_without_zone_says_add_offset(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    patient = await new_patient(client, ehr)
    body = {
        "performed_at": "2026-11-20T09:30:00",
        "agent": "lidocaine",
        "targets": [{"joint": "L4-L5", "side": "left"}],
    }
    answer = await client.post(f"/v1/patients/{patient['id']}/blocks", json=body, headers=ehr)
    assert messages(answer)["body.performed_at"].startswith(
        "add the time zone offset, e.g. 2026-11-20T09:30:00-05:00"
    )


async def test_create_readings_score_out_of_ten_says_score_alone(
    client: httpx.AsyncClient, ehr: Headers
) -> None:
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient["id"])
    answer = await add_readings(
        client, ehr, block["id"], [{"phase": "post", "minutes_after_block": 30, "score": "7/10"}]
    )
    found = messages(answer)["body.readings.0.score"]
    assert found == "type the score alone as a whole number, e.g. 7 (not 7/10)"


async def test_docs_and_redoc_load_nothing_from_outside(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/static/") for s in sources), sources
        assert "https://" not in page.text.replace("https://json-schema", "")
    asset = await client.get("/static/vendor/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000
