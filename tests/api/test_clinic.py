"""GET and PATCH /v1/clinic: the clinic's IANA time zone (CR-30)."""

from datetime import timedelta

from sqlalchemy import func, select

from models import TargetOutcome
from tests.api.diaries import DAY1, NEGATIVE, POSITIVE, audit_rows, diary_block, levels_of, new_patient

PROBLEM = "application/problem+json"


async def test_get_clinic_ok_utc_by_default(client, viewer, clinic, session):
    response = await client.get("/v1/clinic", headers=viewer)
    assert response.status_code == 200
    assert response.json() == {"id": str(clinic.id), "name": "Riverside Spine", "time_zone": "UTC"}
    assert response.headers["etag"].startswith('"')
    assert ("read", str(clinic.id)) in await audit_rows(session, "clinic")


async def test_patch_clinic_time_zone_canonical_and_audited(client, admin, clinic, session):
    response = await client.patch("/v1/clinic", json={"time_zone": "europe/paris"}, headers=admin)
    assert (response.status_code, response.json()["time_zone"]) == (200, "Europe/Paris")
    assert (await client.get("/v1/clinic", headers=admin)).json()["time_zone"] == "Europe/Paris"
    assert ("update", str(clinic.id)) in await audit_rows(session, "clinic")


async def test_patch_clinic_unknown_zone_unprocessable_nothing_stored(client, admin):
    for bad in ("Mars/Olympus", "", "UTC+5", "x" * 65):
        response = await client.patch("/v1/clinic", json={"time_zone": bad}, headers=admin)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["loc"] == ["body", "time_zone"]
    assert (await client.get("/v1/clinic", headers=admin)).json()["time_zone"] == "UTC"


async def test_patch_clinic_non_admin_forbidden(client, ehr, staff, viewer):
    for headers in (ehr, staff, viewer):
        response = await client.patch("/v1/clinic", json={"time_zone": "America/Denver"}, headers=headers)
        assert response.status_code == 403


async def test_patch_clinic_stale_if_match_precondition_failed(client, admin):
    etag = (await client.get("/v1/clinic", headers=admin)).headers["etag"]
    fresh = await client.patch(
        "/v1/clinic", json={"time_zone": "Asia/Tokyo"}, headers={**admin, "If-Match": etag}
    )
    stale = await client.patch(
        "/v1/clinic", json={"time_zone": "Asia/Seoul"}, headers={**admin, "If-Match": etag}
    )
    assert (fresh.status_code, stale.status_code) == (200, 412)


async def test_patch_clinic_same_zone_re_renders_nothing(client, admin, ehr, session):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    before = await levels_of(client, ehr, patient)

    async def last_computed():  # type: ignore[no-untyped-def]
        async with session.begin():  # the app shares the test's session: end each read before a call
            return await session.scalar(select(func.max(TargetOutcome.computed_at)))

    computed = await last_computed()
    same = await client.patch("/v1/clinic", json={"time_zone": "UTC"}, headers=admin)
    assert same.status_code == 200
    assert await levels_of(client, ehr, patient) == before
    assert await last_computed() == computed  # no clinic-wide pass
    changed = await client.patch("/v1/clinic", json={"time_zone": "Asia/Tokyo"}, headers=admin)
    assert changed.status_code == 200
    assert await last_computed() == computed  # no verdict reads the zone: the stored outcomes are kept


async def test_patch_clinic_other_clinic_untouched(client, admin, other_clinic):
    await client.patch("/v1/clinic", json={"time_zone": "America/Denver"}, headers=other_clinic)
    assert (await client.get("/v1/clinic", headers=admin)).json()["time_zone"] == "UTC"


async def test_patch_clinic_cr30_referral_sentences_follow_the_zone(client, admin, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE, sedation="moderate")
    await diary_block(client, ehr, patient, DAY1 + timedelta(days=7), POSITIVE, sedation="moderate")
    await diary_block(
        client,
        ehr,
        patient,
        DAY1 + timedelta(days=14),
        NEGATIVE,
        targets=[{"joint": "L4-L5", "side": "left"}],
    )
    [referral] = (await client.get("/v1/referrals", params={"patient_id": patient}, headers=ehr)).json()[
        "items"
    ]
    assert "2026-10-05 09:00 UTC" in referral["warnings"][0]["message"]
    assert "2026-10-19 09:00 UTC" in referral["withdrawn_reason"]

    assert (
        await client.patch("/v1/clinic", json={"time_zone": "America/Denver"}, headers=admin)
    ).status_code == 200

    [rezoned] = (await client.get("/v1/referrals", params={"patient_id": patient}, headers=ehr)).json()[
        "items"
    ]
    assert "2026-10-05 03:00 MDT" in rezoned["warnings"][0]["message"]
    assert "UTC" not in rezoned["withdrawn_reason"] and "2026-10-19 03:00 MDT" in rezoned["withdrawn_reason"]
    assert [w["block_id"] if "block_id" in w else None for w in rezoned["warnings"]] == [
        w["block_id"] if "block_id" in w else None for w in referral["warnings"]
    ]
