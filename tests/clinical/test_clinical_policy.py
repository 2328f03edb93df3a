"""CR-21: policy profiles, overrides and their validation; the CR-10 preamble's required minutes."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.clinical import (
    Policy,
    PolicyError,
    build_policy,
    policy_from_dict,
    policy_to_dict,
    required_minutes_for,
)


def test_cr21_default_policy_is_medicare() -> None:
    assert policy_to_dict(Policy()) == {
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
    assert build_policy("medicare", {}) == Policy()


@pytest.mark.parametrize(("profile", "threshold"), [("medicare", 80), ("consensus", 50), ("strict", 100)])
def test_cr21_profile_defines_the_threshold(profile: str, threshold: int) -> None:
    policy = build_policy(profile, {}, version=3)
    assert (policy.profile, policy.threshold_pct, policy.version) == (profile, threshold, 3)


def test_cr21_profile_threshold_may_be_repeated_but_not_changed() -> None:
    assert build_policy("consensus", {"threshold_pct": 50}).threshold_pct == 50
    with pytest.raises(PolicyError) as error:
        build_policy("medicare", {"threshold_pct": 70})
    assert error.value.field == "threshold_pct"
    assert "custom" in error.value.message


@pytest.mark.parametrize("threshold", [1, 65, 100])
def test_cr21_custom_takes_any_threshold_from_1_to_100(threshold: int) -> None:
    assert build_policy("custom", {"threshold_pct": threshold}).threshold_pct == threshold


@pytest.mark.parametrize(
    "overrides", [{}, {"threshold_pct": 0}, {"threshold_pct": 101}, {"threshold_pct": 66.5}]
)
def test_cr21_custom_requires_a_threshold_from_1_to_100(overrides: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as error:
        build_policy("custom", overrides)
    assert error.value.field == "threshold_pct"


def test_cr21_unknown_profile_is_rejected() -> None:
    with pytest.raises(PolicyError) as error:
        build_policy("lenient", {})
    assert error.value.field == "profile"


def test_cr21_unknown_setting_is_rejected() -> None:
    with pytest.raises(PolicyError) as error:
        build_policy("medicare", {"min_reading": 3})
    assert error.value.field == "min_reading"
    assert str(error.value).startswith("min_reading:")


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("min_readings", 1, 50),
        ("onset_window_minutes", 1, 1440),
        ("diary_horizon_hours", 1, 168),
        ("min_gap_hours", 0, 8760),
    ],
)
def test_cr21_integer_settings_are_range_checked(field: str, low: int, high: int) -> None:
    assert getattr(build_policy("medicare", {field: low}), field) == low
    assert getattr(build_policy("medicare", {field: high}), field) == high
    for bad in (low - 1, high + 1, "3", 2.0, True):
        with pytest.raises(PolicyError) as error:
            build_policy("medicare", {field: bad})
        assert error.value.field == field


def test_cr21_required_minutes_partial_override_merges_onto_defaults() -> None:
    policy = build_policy("medicare", {"required_minutes": {"bupivacaine": 240}})
    assert dict(policy.required_minutes) == {"lidocaine": 60, "bupivacaine": 240, "ropivacaine": 180}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"mepivacaine": 90}, "required_minutes.mepivacaine"),
        ({"saline_placebo": 60}, "required_minutes.saline_placebo"),
        ({"lidocaine": 0}, "required_minutes.lidocaine"),
        ({"lidocaine": 1441}, "required_minutes.lidocaine"),
        ({"lidocaine": False}, "required_minutes.lidocaine"),
        (60, "required_minutes"),
    ],
)
def test_cr21_required_minutes_are_validated(value: object, field: str) -> None:
    with pytest.raises(PolicyError) as error:
        build_policy("medicare", {"required_minutes": value})
    assert error.value.field == field


def test_cr21_min_baseline_partial_override_merges_per_scale() -> None:
    policy = build_policy("consensus", {"min_baseline": {"vas": 30}})
    assert dict(policy.min_baseline) == {"nrs": 4, "vas": 30}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"nrs": 11}, "min_baseline.nrs"),
        ({"vas": 101}, "min_baseline.vas"),
        ({"nrs": -1}, "min_baseline.nrs"),
        ({"mm": 40}, "min_baseline.mm"),
    ],
)
def test_cr21_min_baseline_is_validated(value: object, field: str) -> None:
    with pytest.raises(PolicyError) as error:
        build_policy("medicare", {"min_baseline": value})
    assert error.value.field == field


def test_cr21_require_concordance_must_be_a_boolean() -> None:
    assert build_policy("medicare", {"require_concordance": True}).require_concordance is True
    with pytest.raises(PolicyError) as error:
        build_policy("medicare", {"require_concordance": 1})
    assert error.value.field == "require_concordance"


def test_cr21_none_override_means_the_default() -> None:
    assert build_policy("medicare", {"min_readings": None, "threshold_pct": None}) == Policy()


def test_cr21_version_must_be_positive() -> None:
    with pytest.raises(PolicyError) as error:
        build_policy("medicare", {}, version=0)
    assert error.value.field == "version"


def test_cr21_policy_is_immutable() -> None:
    policy = build_policy("medicare", {"required_minutes": {"lidocaine": 90}})
    with pytest.raises(TypeError):
        policy.required_minutes["lidocaine"] = 10  # type: ignore[index]
    mutable = {"lidocaine": 30, "bupivacaine": 120, "ropivacaine": 120}
    direct = Policy(required_minutes=mutable)
    mutable["lidocaine"] = 1
    assert direct.required_minutes["lidocaine"] == 30


def test_cr21_policy_is_hashable_by_value() -> None:
    same = build_policy("medicare", {"required_minutes": {"lidocaine": 90}})
    again = build_policy("medicare", {"required_minutes": {"lidocaine": 90}})
    assert hash(same) == hash(again)
    assert len({same, again, Policy()}) == 2


@given(
    profile=st.sampled_from(["medicare", "consensus", "strict"]),
    version=st.integers(1, 1000),
    min_readings=st.integers(1, 50),
    bupivacaine=st.integers(1, 1440),
    vas=st.integers(0, 100),
    concordance=st.booleans(),
)
def test_cr21_policy_round_trips_through_its_dict(
    profile: str, version: int, min_readings: int, bupivacaine: int, vas: int, concordance: bool
) -> None:
    overrides = {
        "min_readings": min_readings,
        "required_minutes": {"bupivacaine": bupivacaine},
        "min_baseline": {"vas": vas},
        "require_concordance": concordance,
    }
    policy = build_policy(profile, overrides, version=version)
    as_dict = policy_to_dict(policy)
    assert policy_from_dict(as_dict) == policy
    assert type(as_dict["required_minutes"]) is dict


def test_cr21_policy_from_older_dict_takes_defaults_for_missing_keys() -> None:
    policy = policy_from_dict(
        {"profile": "consensus", "version": 4, "threshold_pct": 50, "required_minutes": {}}
    )
    # CR-26/CR-24: a row written before those settings existed takes its own profile's defaults.
    assert policy == Policy(
        profile="consensus", version=4, threshold_pct=50, blocks_required=1, enforce_coverage_criteria=False
    )


@pytest.mark.parametrize(
    ("agent", "given_minutes", "required"),
    [
        ("lidocaine", None, 60),
        ("bupivacaine", None, 180),
        ("ropivacaine", None, 180),
        ("other", 120, 120),
        ("saline_placebo", None, 60),
        ("saline_placebo", 90, 90),
    ],
)
def test_cr10_required_minutes_per_agent(agent: str, given_minutes: int | None, required: int) -> None:
    assert required_minutes_for(agent, given_minutes, Policy()) == required


def test_cr10_saline_placebo_defaults_to_the_policy_lidocaine_minutes() -> None:
    policy = build_policy("medicare", {"required_minutes": {"lidocaine": 45}})
    assert required_minutes_for("saline_placebo", None, policy) == 45


@pytest.mark.parametrize(("agent", "given_minutes"), [("other", None), ("other", 0), ("tetracaine", None)])
def test_cr10_required_minutes_refuses_what_it_cannot_know(agent: str, given_minutes: int | None) -> None:
    with pytest.raises(ValueError):
        required_minutes_for(agent, given_minutes, Policy())
