"""CR-22..CR-26, CR-29, CR-30 and the (v2) amendments of CR-12 and CR-18 through the API.

(CR-27, CR-28 and CR-19's amendment: test_ablation_api.py; block corrections and overrides in detail:
test_block_changes.py; the clinic resource: test_clinic.py.)
"""

from datetime import timedelta
from typing import Any

from tests.api.diaries import (
    DAY1,
    POSITIVE,
    WEEK,
    diary_block,
    events,
    levels_of,
    new_block,
    new_patient,
    referrals_of,
)


def codes(notes: list[dict[str, Any]]) -> list[str]:
    return [n["code"] for n in notes]


async def outcome_of(client: Any, headers: dict[str, str], block_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/blocks/{block_id}/outcome", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_get_outcome_cr12_diary_starting_at_6_hours_indeterminate(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (8, [(360, 8), (420, 8)]), agent="bupivacaine")
    [target] = (await outcome_of(client, ehr, block["id"]))["targets"]
    assert (target["verdict"], codes(target["reasons"])) == ("indeterminate", ["no_early_readings"])


async def test_list_levels_cr18_ropivacaine_seen_to_end_against_lidocaine(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, (8, [(15, 1), (60, 1), (300, 1), (360, 8)]))
    await diary_block(
        client, ehr, patient, DAY1 + WEEK, (8, [(15, 1), (120, 1), (200, 1), (240, 8)]), agent="ropivacaine"
    )
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], codes(level["warnings"])) == (
        "referral_recommended",
        ["discordant_comparative_blocks"],
    )


async def test_list_levels_cr18_long_acting_relief_not_seen_to_end_is_not_discordant(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, (8, [(15, 1), (60, 1), (300, 1), (360, 8)]))
    await diary_block(
        client, ehr, patient, DAY1 + WEEK, (8, [(15, 1), (120, 1), (200, 1)]), agent="bupivacaine"
    )
    [level] = await levels_of(client, ehr, patient)
    assert level["warnings"] == []


async def test_create_block_cr22_payer_family_on_targets_levels_and_referrals(client, ehr):
    patient = await new_patient(client, ehr)
    targets = [{"joint": "T12-L1", "side": "left"}, {"joint": "L1-L2", "side": "left"}]
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE, targets=targets)
    assert [t["payer_family"] for t in block["targets"]] == ["cervical_thoracic", "lumbar_sacral"]
    assert [t["region"] for t in block["targets"]] == ["thoracic", "lumbar"]
    assert codes(block["outcome"]["warnings"]) == ["multiple_regions"]
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE, targets=targets)
    families = {(lv["joint"], lv["payer_family"]) for lv in await levels_of(client, ehr, patient)}
    assert families == {("T12-L1", "cervical_thoracic"), ("L1-L2", "lumbar_sacral")}
    assert {(r["joint"], r["payer_family"]) for r in await referrals_of(client, ehr, patient)} == families


async def test_create_block_cr22_cervical_and_thoracic_together_is_one_family(client, ehr):
    patient = await new_patient(client, ehr)
    targets = [{"joint": "C7-T1", "side": "left"}, {"joint": "T1-T2", "side": "left"}]
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE, targets=targets)
    assert block["outcome"]["warnings"] == []


async def test_list_referrals_cr23_block_warnings_travel_naming_their_block(client, ehr, admin, session):
    hook = await client.post(
        "/v1/webhooks",
        json={"url": "https://ehr.example.org/h", "events": ["referral.recommended"]},
        headers=admin,
    )
    assert hook.status_code == 201
    patient = await new_patient(client, ehr)
    first = await diary_block(client, ehr, patient, DAY1, POSITIVE, volume_ml_per_nerve=1)
    [level] = await levels_of(client, ehr, patient)
    assert [(w["code"], w["block_id"]) for w in level["warnings"]] == [("high_volume", first["id"])]
    assert level["warnings"][0]["message"].startswith("Block of 2026-10-05 09:00 UTC: 1 mL per nerve")
    second = await diary_block(
        client, ehr, patient, DAY1 + WEEK, (80, [(15, 10), (30, 10), (60, 10)]), pain_scale="vas"
    )

    [referral] = await referrals_of(client, ehr, patient, "open")

    assert [(w["code"], w.get("block_id")) for w in referral["warnings"]] == [
        ("scale_changed", None),
        ("high_volume", first["id"]),
    ]
    assert referral["qualifying_block_ids"] == [first["id"], second["id"]]
    [level] = await levels_of(client, ehr, patient)
    assert level["warnings"] == referral["warnings"]
    published = [e for e in await events(session, "referral.recommended") if e["id"] == referral["id"]]
    assert published == [referral]  # the webhook payload carries them too


async def test_list_levels_cr24_general_anaesthesia_held_back_then_overridden(client, ehr, admin):
    patient = await new_patient(client, ehr)
    first = await diary_block(client, ehr, patient, DAY1, POSITIVE, sedation="general")
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], codes(level["reasons"])) == (
        "awaiting_confirmation",
        ["awaiting_second_block", "coverage_criteria_not_met"],
    )
    assert level["reasons"][1]["block_id"] == first["id"]

    override = await client.put(
        f"/v1/blocks/{first['id']}/coverage-override",
        json={"reason": "Needle phobia; diary verified."},
        headers=admin,
    )

    assert override.status_code == 200, override.text
    assert override.json()["coverage_override"]["reason"] == "Needle phobia; diary verified."
    [referral] = await referrals_of(client, ehr, patient, "open")
    assert ("coverage_override", first["id"]) in [
        (w["code"], w.get("block_id")) for w in referral["warnings"]
    ]
    removed = await client.delete(f"/v1/blocks/{first['id']}/coverage-override", headers=ehr)
    assert (removed.status_code, removed.json()["coverage_override"]) == (200, None)
    [withdrawn] = await referrals_of(client, ehr, patient)
    assert (withdrawn["id"], withdrawn["status"]) == (referral["id"], "withdrawn")


async def test_get_outcome_cr25_readings_after_an_analgesic_are_excluded(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    readings = [
        {"phase": "pre", "minutes_after_block": 0, "score": 8},
        {"phase": "post", "minutes_after_block": 15, "score": 1},
        {
            "phase": "post",
            "minutes_after_block": 30,
            "score": 1,
            "analgesic_taken": True,
            "analgesic": "ibuprofen",
        },
        {"phase": "post", "minutes_after_block": 60, "score": 0},
    ]
    response = await client.post(
        f"/v1/blocks/{block['id']}/readings", json={"readings": readings}, headers=ehr
    )
    assert response.status_code == 201, response.text
    ids = [r["id"] for r in response.json()["readings"]]
    [target] = response.json()["outcome"]["targets"]
    assert (target["verdict"], codes(target["reasons"])) == ("indeterminate", ["analgesic_confounds"])
    assert target["excluded_readings"] == [
        {"reading_id": ids[2], "reason": "after_analgesic"},
        {"reading_id": ids[3], "reason": "after_analgesic"},
    ]
    assert sorted(target["readings_used"]) == sorted(ids[:2])
    assert (await outcome_of(client, ehr, block["id"]))["targets"][0] == target


async def test_put_policy_cr26_consensus_refers_on_one_positive_block(client, ehr, admin):
    assert (await client.put("/v1/policy", json={"profile": "consensus"}, headers=admin)).json()[
        "blocks_required"
    ] == 1
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (10, [(15, 4), (30, 4), (60, 4)]))  # 60%
    [referral] = await referrals_of(client, ehr, patient, "open")
    assert referral["qualifying_block_ids"] == [block["id"]]
    refused = await client.put(
        "/v1/policy", json={"profile": "consensus", "blocks_required": 2}, headers=admin
    )
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["errors"]] == [["body", "blocks_required"]]


async def test_get_rfa_plan_cr29_two_sessions_for_three_bilateral_joints(client, ehr, viewer):
    patient = await new_patient(client, ehr)
    targets = [{"joint": j, "side": "bilateral"} for j in ("L3-L4", "L4-L5", "L5-S1")]
    await diary_block(client, ehr, patient, DAY1, POSITIVE, targets=targets)
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE, targets=targets)
    referrals = await referrals_of(client, ehr, patient, "open")
    assert {r["procedure"]["cpt_first_joint"] for r in referrals} == {"64635"}  # each referral alone

    response = await client.get(f"/v1/patients/{patient}/rfa-plan", headers=viewer)

    assert response.status_code == 200, response.text
    [family] = response.json()["families"]
    assert family["payer_family"] == "lumbar_sacral"
    first, second = family["sessions"]
    assert [(t["joint"], t["side"]) for t in first["targets"]] == [
        ("L3-L4", "left"),
        ("L3-L4", "right"),
        ("L4-L5", "left"),
        ("L4-L5", "right"),
    ]
    assert first["nerves"] == ["L2 medial branch", "L3 medial branch", "L4 medial branch"]
    assert first["codes"] == [
        {"cpt": "64635", "modifier": "50", "units": 1},
        {"cpt": "64636", "modifier": "50", "units": 1},
    ]
    assert second["codes"] == [{"cpt": "64635", "modifier": "50", "units": 1}]
    assert sorted(first["referral_ids"] + second["referral_ids"]) == sorted(r["id"] for r in referrals)


async def test_get_rfa_plan_cr29_one_side_per_family_gets_its_own_session_and_side_modifier(
    client, ehr, viewer
):
    patient = await new_patient(client, ehr)
    for joint, side in (("C5-C6", "right"), ("L5-S1", "left")):
        targets = [{"joint": joint, "side": side}]
        await diary_block(client, ehr, patient, DAY1, POSITIVE, targets=targets)
        await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE, targets=targets)

    response = await client.get(f"/v1/patients/{patient}/rfa-plan", headers=viewer)

    assert response.status_code == 200, response.text
    plan = {f["payer_family"]: f["sessions"] for f in response.json()["families"]}
    assert set(plan) == {"cervical_thoracic", "lumbar_sacral"}
    [cervical] = plan["cervical_thoracic"]
    [lumbar] = plan["lumbar_sacral"]
    assert cervical["codes"] == [{"cpt": "64633", "modifier": "RT", "units": 1}]
    assert lumbar["codes"] == [{"cpt": "64635", "modifier": "LT", "units": 1}]
    assert lumbar["nerves"] == ["L4 medial branch", "L5 dorsal ramus"]


async def test_get_rfa_plan_cr29_unknown_patient_not_found(client, viewer):
    response = await client.get("/v1/patients/00000000-0000-4000-8000-000000000000/rfa-plan", headers=viewer)
    assert response.status_code == 404


async def test_patch_clinic_cr30_sentences_show_the_clinic_zone(client, ehr, admin):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)  # 2026-10-05 09:00 UTC
    [level] = await levels_of(client, ehr, patient)
    assert "2026-10-05 09:00 UTC" in level["reasons"][0]["message"]

    response = await client.patch("/v1/clinic", json={"time_zone": "America/Denver"}, headers=admin)

    assert response.status_code == 200, response.text
    [level] = await levels_of(client, ehr, patient)
    assert "2026-10-05 03:00 MDT" in level["reasons"][0]["message"]
    later = await diary_block(client, ehr, patient, DAY1 + timedelta(days=50), POSITIVE)  # 2026-11-24: MST
    [level] = await levels_of(client, ehr, patient)
    assert "(2026-10-05 03:00 MDT and 2026-11-24 02:00 MST)" in level["reasons"][0]["message"]
    assert later["performed_at"] == "2026-11-24T09:00:00Z"  # stored and answered in UTC
