"""GET/PUT /v1/policy: versions, validation, If-Match, and clinic-wide re-evaluation (CR-21)."""

import asyncio

import pytest

from api.db import make_engine, make_sessionmaker
from api.errors import Conflict
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.services.policies import active_policy, create_version
from api.settings import Settings
from tests.api.diaries import (
    DAY1,
    MODERATE,
    WEEK,
    audit_rows,
    diary_block,
    events,
    levels_of,
    new_patient,
    referrals_of,
)
from tests.databases import throwaway_database

DEFAULT = {
    "profile": "medicare",
    "version": 1,
    "threshold_pct": 80,
    "min_readings": 2,
    "onset_window_minutes": 60,
    "required_minutes": {"lidocaine": 60, "bupivacaine": 180, "ropivacaine": 180},
    "diary_horizon_hours": 24,
    "min_gap_hours": 24,
    "min_baseline": {"nrs": 4, "vas": 40},
    "require_concordance": False,
    "blocks_required": 2,
    "enforce_coverage_criteria": True,
    "max_pair_interval_days": 180,
    "enforce_pair_interval": False,
    "repeat_rfa_threshold_pct": 50,
    "repeat_rfa_min_days": 180,
}


async def test_get_policy_default_medicare(client, viewer):
    response = await client.get("/v1/policy", headers=viewer)

    assert response.status_code == 200
    assert response.json() == DEFAULT
    assert response.headers["etag"].startswith('"')


async def test_put_policy_new_version(client, admin, session):
    response = await client.put(
        "/v1/policy", json={"profile": "custom", "threshold_pct": 70, "min_gap_hours": 48}, headers=admin
    )

    assert response.status_code == 200, response.text
    expected = {
        **DEFAULT,
        "profile": "custom",
        "version": 2,
        "threshold_pct": 70,
        "min_gap_hours": 48,
        "enforce_coverage_criteria": False,  # CR-24: on by default for medicare only
    }
    assert response.json() == expected
    current = await client.get("/v1/policy", headers=admin)
    assert current.json() == expected
    assert current.headers["etag"] == response.headers["etag"]
    assert ("update", "2") in await audit_rows(session, "policy")


async def test_put_policy_consensus_opens_referrals_and_back_withdraws(client, admin, ehr, session):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, MODERATE)
    await diary_block(client, ehr, patient, DAY1 + WEEK, MODERATE)
    assert (await levels_of(client, ehr, patient))[0]["status"] == "not_indicated"  # 70% < 80%

    consensus = await client.put("/v1/policy", json={"profile": "consensus"}, headers=admin)

    assert consensus.status_code == 200, consensus.text
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], level["policy_version"]) == ("referral_recommended", 2)
    [referral] = await referrals_of(client, ehr, patient, "open")
    assert referral["policy"] == {"profile": "consensus", "version": 2}
    outcome = (await client.get(f"/v1/blocks/{block['id']}/outcome", headers=ehr)).json()
    assert outcome["policy"] == {"profile": "consensus", "version": 2, "threshold_pct": 50}
    assert outcome["targets"][0]["verdict"] == "positive"

    medicare = await client.put("/v1/policy", json={"profile": "medicare"}, headers=admin)

    assert (medicare.status_code, medicare.json()["version"]) == (200, 3)
    [withdrawn] = await referrals_of(client, ehr, patient)
    assert (withdrawn["id"], withdrawn["status"]) == (referral["id"], "withdrawn")
    assert withdrawn["withdrawn_reason"].startswith("The level is now not indicated.")
    assert (await levels_of(client, ehr, patient))[0]["policy_version"] == 3


async def test_put_policy_other_clinic_untouched(client, admin, ehr, other_clinic):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, MODERATE)
    await diary_block(client, ehr, patient, DAY1 + WEEK, MODERATE)

    response = await client.put("/v1/policy", json={"profile": "consensus"}, headers=other_clinic)

    assert response.status_code == 200
    assert (await levels_of(client, ehr, patient))[0]["status"] == "not_indicated"
    assert (await client.get("/v1/policy", headers=admin)).json()["version"] == 1


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"profile": "lenient"}, ["body", "profile"]),
        ({"profile": "medicare", "threshold_pct": 50}, ["body", "threshold_pct"]),
        ({"profile": "custom"}, ["body", "threshold_pct"]),
        ({"profile": "custom", "threshold_pct": 101}, ["body", "threshold_pct"]),
        ({"profile": "medicare", "min_readings": 0}, ["body", "min_readings"]),
        ({"profile": "medicare", "min_gap_hours": 10**30}, ["body", "min_gap_hours"]),
        ({"profile": "medicare", "min_readings": True}, ["body", "min_readings"]),
        ({"profile": "medicare", "required_minutes": {"saline": 60}}, ["body", "required_minutes", "saline"]),
        ({"profile": "medicare", "min_baseline": {"nrs": 11}}, ["body", "min_baseline", "nrs"]),
        ({"profile": "medicare", "require_concordance": "yes"}, ["body", "require_concordance"]),
        ({"profile": "medicare", "threshold": 80}, ["body", "threshold"]),
        ({}, ["body", "profile"]),
    ],
)
async def test_put_policy_invalid_unprocessable(client, admin, body, loc):
    response = await client.put("/v1/policy", json=body, headers=admin)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert (await client.get("/v1/policy", headers=admin)).json() == DEFAULT  # nothing stored


async def test_put_policy_if_match(client, admin):
    etag = (await client.get("/v1/policy", headers=admin)).headers["etag"]

    fresh = await client.put("/v1/policy", json={"profile": "strict"}, headers={**admin, "If-Match": etag})
    stale = await client.put("/v1/policy", json={"profile": "consensus"}, headers={**admin, "If-Match": etag})

    assert fresh.status_code == 200, fresh.text
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == fresh.headers["etag"]
    current = (await client.get("/v1/policy", headers=admin)).json()
    assert (current["profile"], current["version"]) == ("strict", 2)  # the stale PUT wrote nothing


@pytest.mark.parametrize("role", ["ehr", "staff", "viewer"])
async def test_put_policy_non_admin_forbidden(client, make_key, role):
    headers = await make_key(role)

    response = await client.put("/v1/policy", json={"profile": "consensus"}, headers=headers)

    assert response.status_code == 403
    assert response.json()["status"] == 403
    assert (await client.get("/v1/policy", headers=headers)).json()["version"] == 1


async def test_get_policy_without_key_unauthorized(client):
    response = await client.get("/v1/policy")

    assert response.status_code == 401
    assert response.json()["status"] == 401


async def _change(factory, clinic_id, profile: str, start: asyncio.Event) -> object:
    async with factory() as session, session.begin():
        await active_policy(session, clinic_id)  # both read version 1 before either writes
        await start.wait()
        try:
            return (await create_version(session, clinic_id, None, profile, {}))[0].version
        except Conflict:
            return "conflict"


async def test_put_policy_concurrent_never_duplicates_version(tmp_path):
    """Two changes racing: never two version 2s (PostgreSQL: one 409; SQLite serialises writers)."""
    database = throwaway_database(tmp_path)  # its setup runs its own event loop: keep it off this one
    url = await asyncio.to_thread(database.__enter__)
    try:
        await asyncio.to_thread(upgrade, url)
        results, final = await _race(url)
    finally:
        await asyncio.to_thread(database.__exit__, None, None, None)
    assert sorted(map(str, results)) in (["2", "conflict"], ["2", "3"])
    assert final == max(r for r in results if isinstance(r, int))


async def _race(url: str) -> tuple[list[object], int]:
    engine = make_engine(Settings(database_url=url).async_database_url)
    factory = make_sessionmaker(engine)
    try:
        async with factory() as session, session.begin():
            clinic, _key, _token = await create_clinic(session, "Race Clinic")
        start = asyncio.Event()
        tasks = [asyncio.create_task(_change(factory, clinic.id, p, start)) for p in ("strict", "consensus")]
        await asyncio.sleep(0.2)
        start.set()
        results = await asyncio.gather(*tasks)
        async with factory() as session:
            return results, (await active_policy(session, clinic.id)).version
    finally:
        await engine.dispose()


async def test_put_policy_withdraws_many_referrals_at_once(client, admin, ehr, session, listening):
    patients = [await new_patient(client, ehr) for _ in range(3)]
    for patient in patients:
        await diary_block(client, ehr, patient, DAY1, MODERATE)
        await diary_block(client, ehr, patient, DAY1 + WEEK, MODERATE)
    await client.put("/v1/policy", json={"profile": "consensus"}, headers=admin)

    response = await client.put("/v1/policy", json={"profile": "strict"}, headers=admin)

    assert response.status_code == 200, response.text
    for patient in patients:
        [referral] = await referrals_of(client, ehr, patient)
        assert (referral["status"], referral["policy"]["version"]) == ("withdrawn", 2)
    withdrawn = await events(session, "referral.withdrawn")
    assert len([e for e in withdrawn if e["patient_id"] in patients]) == 3
