"""Concurrent block corrections, coverage overrides and ablations for one patient store what a fresh
evaluation gives, referrals included, and racing corrections with one ETag answer 412.

Real connections on a fresh migrated database, like test_concurrent_evaluation.py: each write takes the
patient's lock (api/services/locks.py) before it reads what it evaluates.
"""

import asyncio
from datetime import timedelta

import pytest

from tests.api.test_concurrent_evaluation import (  # noqa: F401 - fixtures
    BLOCK_AT,
    FIRST_HALF,
    SECOND_HALF,
    api,
    created,
    entries,
    fresh_url,
    new_block,
    new_patient,
)
from tests.evaluation_state import differences, stored_and_fresh

pytestmark = pytest.mark.race

PATCHES = 16


async def test_patch_block_sixteen_racing_corrections_one_etag_one_wins(api) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    client, _engine, headers, _clinic_id = api
    patient_id = await new_patient(client, headers)
    block = await new_block(client, headers, patient_id, BLOCK_AT, side="left")
    etag = (await client.get(f"/v1/blocks/{block['id']}", headers=headers)).headers["ETag"]
    answers = await asyncio.gather(
        *(
            client.patch(
                f"/v1/blocks/{block['id']}",
                json={"concentration_pct": 1 + i, "reason": f"correction {i}"},
                headers={**headers, "If-Match": etag},
            )
            for i in range(PATCHES)
        )
    )
    assert sorted(a.status_code for a in answers) == [200] + [412] * (PATCHES - 1), [a.text for a in answers]
    history = (await client.get(f"/v1/blocks/{block['id']}/history", headers=headers)).json()["items"]
    assert [item["version"] for item in history] == [1, 2]


async def test_corrections_overrides_and_ablations_racing_diaries_match_a_fresh_evaluation(api) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    client, engine, headers, clinic_id = api
    patient_id = await new_patient(client, headers)
    days = (0, 7, 14)
    blocks = [
        await new_block(client, headers, patient_id, BLOCK_AT + timedelta(days=d), side="left") for d in days
    ]
    url = "/v1/blocks/{}/readings"
    first_halves = [
        client.post(
            url.format(b["id"]), json=entries(FIRST_HALF, BLOCK_AT + timedelta(days=d)), headers=headers
        )
        for b, d in zip(blocks, days, strict=True)
    ]
    for answer in await asyncio.gather(*first_halves):
        await created(answer)
    rfa_body = {
        "performed_at": (BLOCK_AT + timedelta(days=21)).isoformat(),
        "agent": "lidocaine",
        "procedure": "radiofrequency_ablation",
        "targets": [{"joint": "L4-L5", "side": "left"}],
    }
    work = [
        *(
            client.post(
                url.format(b["id"]), json=entries(SECOND_HALF, BLOCK_AT + timedelta(days=d)), headers=headers
            )
            for b, d in zip(blocks, days, strict=True)
        ),
        client.patch(
            f"/v1/blocks/{blocks[1]['id']}",
            json={"sedation": "general", "reason": "it was GA"},
            headers=headers,
        ),
        client.put(
            f"/v1/blocks/{blocks[1]['id']}/coverage-override", json={"reason": "reviewed"}, headers=headers
        ),
        client.post(f"/v1/patients/{patient_id}/blocks", json=rfa_body, headers=headers),
        client.patch(
            f"/v1/blocks/{blocks[2]['id']}", json={"guidance": "ct", "reason": "CT"}, headers=headers
        ),
    ]
    statuses = [a.status_code for a in await asyncio.gather(*work)]
    assert set(statuses) <= {200, 201}, statuses
    stored, fresh = await stored_and_fresh(engine, clinic_id)
    assert differences(stored, fresh) == []
    rfa = next(
        b
        for b in (await client.get(f"/v1/patients/{patient_id}/blocks", headers=headers)).json()["items"]
        if b["procedure"] == "radiofrequency_ablation"
    )
    voided = await asyncio.gather(
        client.post(f"/v1/blocks/{rfa['id']}/void", json={"reason": "wrong patient"}, headers=headers),
        client.delete(f"/v1/blocks/{blocks[1]['id']}/coverage-override", headers=headers),
        client.post(url.format(blocks[0]["id"]), json=entries([("post", 120, 1)], BLOCK_AT), headers=headers),
    )
    assert [a.status_code for a in voided] == [200, 200, 201], [a.text for a in voided]
    stored, fresh = await stored_and_fresh(engine, clinic_id)
    assert differences(stored, fresh) == []
