"""CR-1..CR-21 through the API: each rule named by a test that drives it over HTTP, as an EHR would.

(The same rules are tested as plain function calls in tests/clinical/; the API tests in the other modules
cover the routes themselves.)
"""

from datetime import timedelta
from typing import Any

from tests.api.diaries import (
    DAY1,
    NEGATIVE,
    POSITIVE,
    WEEK,
    add_diary,
    diary_block,
    levels_of,
    new_block,
    new_patient,
    referrals_of,
)


async def outcome_of(client: Any, headers: dict[str, str], block: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/v1/blocks/{block['id']}/outcome", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def codes(notes: list[dict[str, Any]]) -> list[str]:
    return [n["code"] for n in notes]


async def test_create_block_cr1_rejects_l6_s1_listing_the_valid_form(client, ehr):
    patient = await new_patient(client, ehr)
    body = {
        "performed_at": DAY1.isoformat(),
        "agent": "lidocaine",
        "targets": [{"joint": "l6-s1", "side": "left"}],
    }
    response = await client.post(f"/v1/patients/{patient}/blocks", json=body, headers=ehr)
    assert response.status_code == 422
    assert "C2-C3 ... C7-T1" in response.json()["errors"][0]["message"]


async def test_create_block_cr2_bilateral_gives_two_levels(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE, targets=[{"joint": "L4-L5", "side": "bilateral"}])
    assert [(lv["joint"], lv["side"]) for lv in await levels_of(client, ehr, patient)] == [
        ("L4-L5", "left"),
        ("L4-L5", "right"),
    ]


async def test_create_block_cr3_region_of_each_target(client, ehr):
    patient = await new_patient(client, ehr)
    targets = [{"joint": j, "side": "left"} for j in ("C7-T1", "T12-L1")]
    block = await new_block(client, ehr, patient, DAY1, targets=targets)
    assert [t["region"] for t in block["targets"]] == ["cervical", "thoracic"]


async def test_list_levels_cr5_intra_articular_injection_never_qualifies(client, ehr):
    patient = await new_patient(client, ehr)
    for day in (0, 7):
        await diary_block(
            client, ehr, patient, DAY1 + timedelta(days=day), POSITIVE, procedure="intra_articular_injection"
        )
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], codes(level["reasons"])) == ("no_blocks", ["not_a_diagnostic_mbb"])


async def test_create_readings_cr6_score_outside_the_block_scale_unprocessable(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1, pain_scale="nrs")
    response = await client.post(
        f"/v1/blocks/{block['id']}/readings",
        json={"readings": [{"phase": "post", "minutes_after_block": 30, "score": 70}]},
        headers=ehr,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "readings", 0, "score"]


async def test_create_readings_cr7_post_reading_at_the_block_time_unprocessable(client, ehr):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    entry = {"phase": "post", "recorded_at": DAY1.isoformat(), "score": 1}
    response = await client.post(
        f"/v1/blocks/{block['id']}/readings", json={"readings": [entry]}, headers=ehr
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "a post reading must be after the block time"


async def test_get_outcome_cr8_exactly_80_percent_passes(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (5, [(30, 1), (60, 1)]))
    [target] = (await outcome_of(client, ehr, block))["targets"]
    assert (target["verdict"], target["peak_relief_pct"]) == ("positive", 80.0)


async def test_get_outcome_cr9_baseline_zero_indeterminate(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (0, [(30, 0), (60, 0)]))
    [target] = (await outcome_of(client, ehr, block))["targets"]
    assert (target["verdict"], codes(target["reasons"])) == ("indeterminate", ["baseline_zero"])


async def test_get_outcome_cr10_pain_worse_reported_as_negative_relief(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (6, [(30, 7), (60, 7)]))
    [target] = (await outcome_of(client, ehr, block))["targets"]
    assert (target["verdict"], target["peak_relief_pct"]) == ("negative", -16.7)
    assert codes(target["warnings"]) == ["pain_worse"]


async def test_get_outcome_cr11_readings_past_the_horizon_are_kept_out(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (8, [(30, 1), (60, 1), (25 * 60, 1)]))
    [target] = (await outcome_of(client, ehr, block))["targets"]
    late = [r["id"] for r in block["readings"] if r["minutes_after_block"] == 25 * 60]
    assert target["verdict"] == "positive" and late[0] not in target["readings_used"]


async def test_get_outcome_cr12_diary_that_stops_early_indeterminate(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (8, [(15, 1), (30, 1)]))
    [target] = (await outcome_of(client, ehr, block))["targets"]
    assert (target["verdict"], codes(target["reasons"])) == ("indeterminate", ["diary_too_short"])


async def test_get_outcome_cr13_figures_of_the_best_run(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, (8, [(15, 1), (30, 0), (90, 1), (120, 7)]))
    [target] = (await outcome_of(client, ehr, block))["targets"]
    assert (target["peak_relief_pct"], target["sustained_relief_pct"]) == (100.0, 87.5)
    assert (target["relief_duration_minutes"], target["required_minutes"]) == (90, 60)


async def test_get_outcome_cr14_high_volume_warned_on_the_block(client, ehr):
    patient = await new_patient(client, ehr)
    block = await diary_block(client, ehr, patient, DAY1, POSITIVE, volume_ml_per_nerve=1.5)
    assert codes((await outcome_of(client, ehr, block))["warnings"]) == ["high_volume"]


async def test_get_outcome_cr14_sedation_guidance_joints_and_families_warned_on_the_block(client, ehr):
    patient = await new_patient(client, ehr)
    joints = ("T12-L1", "L1-L2", "L2-L3")  # three joints, both payer families (CR-22)
    block = await new_block(
        client,
        ehr,
        patient,
        DAY1,
        targets=[{"joint": joint, "side": "left"} for joint in joints],
        sedation="moderate",
        guidance="ultrasound",
    )
    await add_diary(client, ehr, block, *POSITIVE)
    warnings = codes((await outcome_of(client, ehr, block))["warnings"])
    assert warnings == ["sedation_confounds", "guidance_not_covered", "too_many_levels", "multiple_regions"]


async def test_get_outcome_cr14_minimal_sedation_under_fluoroscopy_two_joints_not_warned(client, ehr):
    patient = await new_patient(client, ehr)
    targets = [{"joint": "L4-L5", "side": "left"}, {"joint": "L5-S1", "side": "left"}]
    block = await new_block(
        client, ehr, patient, DAY1, targets=targets, sedation="minimal", guidance="fluoroscopy"
    )
    await add_diary(client, ehr, block, *POSITIVE)
    assert (await outcome_of(client, ehr, block))["warnings"] == []


async def test_list_levels_cr15_placebo_response_resets(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE, agent="saline_placebo")
    [level] = await levels_of(client, ehr, patient)
    assert (level["status"], codes(level["reasons"])[0]) == ("not_indicated", "placebo_response")


async def test_list_levels_cr16_negative_resets_the_count(client, ehr):
    patient = await new_patient(client, ehr)
    for day, diary in ((0, POSITIVE), (7, NEGATIVE), (14, POSITIVE)):
        await diary_block(client, ehr, patient, DAY1 + timedelta(days=day), diary)
    [level] = await levels_of(client, ehr, patient)
    assert level["status"] == "awaiting_confirmation"


async def test_list_levels_cr17_exactly_24_hours_apart_confirms(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    await diary_block(client, ehr, patient, DAY1 + timedelta(hours=24), POSITIVE)
    [level] = await levels_of(client, ehr, patient)
    assert level["status"] == "referral_recommended"


async def test_list_referrals_cr18_discordant_comparative_blocks_warned(client, ehr):
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, (8, [(15, 1), (60, 1), (240, 1), (300, 8)]))
    # Bupivacaine relief of 200 min, seen to end at 240 min: shorter than lidocaine's 240 min.
    await diary_block(
        client, ehr, patient, DAY1 + WEEK, (8, [(15, 1), (100, 1), (200, 1), (240, 8)]), agent="bupivacaine"
    )
    [referral] = await referrals_of(client, ehr, patient, "open")
    assert codes(referral["warnings"]) == ["discordant_comparative_blocks"]


async def test_list_referrals_cr19_one_referral_with_the_rfa_of_the_same_nerves(client, ehr):
    patient = await new_patient(client, ehr)
    for day in (0, 7, 14):
        await diary_block(
            client,
            ehr,
            patient,
            DAY1 + timedelta(days=day),
            POSITIVE,
            targets=[{"joint": "L5-S1", "side": "left"}],
        )
    [referral] = await referrals_of(client, ehr, patient)
    assert referral["procedure"]["nerves"] == ["L4 medial branch", "L5 dorsal ramus"]
    assert referral["status"] == "open"


async def test_list_referrals_cr20_too_many_sessions_in_twelve_months(client, ehr):
    patient = await new_patient(client, ehr)
    for day, diary in ((-120, NEGATIVE), (-90, NEGATIVE), (-60, NEGATIVE), (-30, POSITIVE), (0, POSITIVE)):
        await diary_block(client, ehr, patient, DAY1 + timedelta(days=day), diary)
    [referral] = await referrals_of(client, ehr, patient, "open")
    assert "too_many_sessions" in codes(referral["warnings"])


async def test_put_policy_cr21_new_version_recorded_on_outcomes(client, ehr, admin):
    patient = await new_patient(client, ehr)
    block = await new_block(client, ehr, patient, DAY1)
    await add_diary(client, ehr, block, 10, [(15, 4), (30, 4), (60, 4)])
    assert (await client.put("/v1/policy", json={"profile": "strict"}, headers=admin)).status_code == 200
    outcome = await outcome_of(client, ehr, block)
    assert outcome["policy"] == {"profile": "strict", "version": 2, "threshold_pct": 100}
    assert outcome["targets"][0]["verdict"] == "negative"
