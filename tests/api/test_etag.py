"""Optimistic concurrency (issue 4, item 2): ETags on single resources, If-Match on PATCH and PUT."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent, PolicyVersion, ReadingVersion
from tests.api.diaries import DAY1, POSITIVE, WEEK, diary_block, new_patient, referrals_of

Headers = dict[str, str]
PROBLEM = "application/problem+json"


async def get(client: httpx.AsyncClient, url: str, headers: Headers) -> httpx.Response:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.text)
    return response


async def audit_actions(session: AsyncSession, resource_type: str) -> list[str]:
    async with session.begin():
        query = select(AuditEvent.action).where(AuditEvent.resource_type == resource_type)
        return list((await session.scalars(query.order_by(AuditEvent.at))).all())


async def patient_with_block(client: httpx.AsyncClient, headers: Headers) -> tuple[str, dict[str, Any]]:
    patient = await new_patient(client, headers)
    return patient, await diary_block(client, headers, patient, DAY1, POSITIVE)


async def test_get_single_resources_have_stable_strong_etag(client: httpx.AsyncClient, ehr: Headers) -> None:
    patient, block = await patient_with_block(client, ehr)
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)
    [referral] = await referrals_of(client, ehr, patient)
    urls = [
        f"/v1/patients/{patient}",
        f"/v1/blocks/{block['id']}",
        f"/v1/readings/{block['readings'][0]['id']}",
        f"/v1/blocks/{block['id']}/outcome",
        f"/v1/referrals/{referral['id']}",
        "/v1/policy",
    ]
    tags = []
    for url in urls:
        first, second = await get(client, url, ehr), await get(client, url, ehr)
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2, url
        assert second.headers["etag"] == etag, url
        tags.append(etag)
    assert len(set(tags)) == len(urls)


async def test_create_answers_same_etag_as_get(client: httpx.AsyncClient, ehr: Headers) -> None:
    created = await client.post("/v1/patients", json={"mrn": "ET-1"}, headers=ehr)
    read = await get(client, f"/v1/patients/{created.json()['id']}", ehr)
    assert created.headers["etag"] == read.headers["etag"]


async def test_patch_reading_matching_if_match_ok(
    client: httpx.AsyncClient, ehr: Headers, staff: Headers
) -> None:
    _patient, block = await patient_with_block(client, ehr)
    url = f"/v1/readings/{block['readings'][-1]['id']}"
    etag = (await get(client, url, staff)).headers["etag"]
    first = await client.patch(url, json={"score": 2, "reason": "typo"}, headers=staff | {"If-Match": etag})
    assert first.status_code == 200, first.text
    assert (first.json()["score"], first.json()["version"]) == (2, 2)
    assert first.headers["etag"] != etag
    assert first.headers["etag"] == (await get(client, url, staff)).headers["etag"]
    # The ETag a write answers is good for the next conditional write; a list and W/ are honoured.
    listed = f'"nope", W/{first.headers["etag"]}'
    second = await client.patch(
        url, json={"score": 3, "reason": "again"}, headers=staff | {"If-Match": listed}
    )
    assert (second.status_code, second.json()["version"]) == (200, 3)
    star = await client.patch(url, json={"score": 4, "reason": "any"}, headers=staff | {"If-Match": "*"})
    assert (star.status_code, star.json()["version"]) == (200, 4)


@pytest.mark.parametrize("if_match", ["stale", '"0123456789abcdef0123456789abcdef"', '"', "W/", ",,,"])
async def test_patch_reading_stale_if_match_precondition_failed(
    client: httpx.AsyncClient, ehr: Headers, staff: Headers, session: AsyncSession, if_match: str
) -> None:
    _patient, block = await patient_with_block(client, ehr)
    reading_id = block["readings"][-1]["id"]
    url = f"/v1/readings/{reading_id}"
    before = await get(client, url, staff)
    outcome_before = (await get(client, f"/v1/blocks/{block['id']}/outcome", staff)).json()
    if if_match == "stale":
        amended = await client.patch(url, json={"score": 2, "reason": "first"}, headers=staff)
        assert amended.status_code == 200
        before, if_match = amended, before.headers["etag"]
        outcome_before = (await get(client, f"/v1/blocks/{block['id']}/outcome", staff)).json()
    actions_before = await audit_actions(session, "reading")

    response = await client.patch(
        url, json={"score": 9, "reason": "late"}, headers=staff | {"If-Match": if_match}
    )
    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 412
    assert response.json()["current_etag"] == before.headers["etag"]
    after = await get(client, url, staff)
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]
    assert (await get(client, f"/v1/blocks/{block['id']}/outcome", staff)).json() == outcome_before
    async with session.begin():
        versions = (
            await session.scalars(
                select(ReadingVersion.score)
                .where(ReadingVersion.reading_id == uuid.UUID(reading_id))
                .order_by(ReadingVersion.version)
            )
        ).all()
    assert 9 not in versions
    assert (await audit_actions(session, "reading"))[len(actions_before) :] == ["read"]


async def test_put_policy_matching_if_match_ok(client: httpx.AsyncClient, admin: Headers) -> None:
    etag = (await get(client, "/v1/policy", admin)).headers["etag"]
    response = await client.put("/v1/policy", json={"profile": "strict"}, headers=admin | {"If-Match": etag})
    assert response.status_code == 200, response.text
    assert (response.json()["profile"], response.json()["version"]) == ("strict", 2)
    assert response.headers["etag"] == (await get(client, "/v1/policy", admin)).headers["etag"]


async def test_put_policy_stale_if_match_precondition_failed(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, session: AsyncSession
) -> None:
    patient, _block = await patient_with_block(client, ehr)
    stale = (await get(client, "/v1/policy", admin)).headers["etag"]
    assert (await client.put("/v1/policy", json={"profile": "strict"}, headers=admin)).status_code == 200
    current = await get(client, "/v1/policy", admin)
    levels = (await get(client, f"/v1/patients/{patient}/levels", admin)).json()

    response = await client.put(
        "/v1/policy", json={"profile": "consensus"}, headers=admin | {"If-Match": stale}
    )
    assert response.status_code == 412
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["current_etag"] == current.headers["etag"]
    assert (await get(client, "/v1/policy", admin)).json() == current.json()
    assert (await get(client, f"/v1/patients/{patient}/levels", admin)).json() == levels
    async with session.begin():
        versions = (await session.scalars(select(PolicyVersion.version))).all()
    assert sorted(versions) == [1, 2]
    assert (await audit_actions(session, "policy")).count("update") == 1
