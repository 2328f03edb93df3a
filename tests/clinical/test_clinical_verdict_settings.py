"""CR-21: which policy settings a verdict depends on. The clinic-wide pass keeps every stored block and
target outcome when a policy change touches none of VERDICT_SETTINGS, so no other setting may change one."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from api.clinical import Policy, ReadingFacts
from api.clinical.verdict import VERDICT_SETTINGS, block_warnings, evaluate_target, verdict_settings_differ
from tests.clinical.factories import at, block, pre

AGENTS = st.sampled_from(["lidocaine", "bupivacaine", "saline_placebo"])
PROCEDURES = st.sampled_from(["medial_branch_block", "radiofrequency_ablation"])

# Every setting outside VERDICT_SETTINGS, with values far from the defaults.
level_only = st.fixed_dictionaries(
    {
        "blocks_required": st.sampled_from([1, 2]),
        "enforce_coverage_criteria": st.booleans(),
        "max_pair_interval_days": st.integers(1, 3650),
        "enforce_pair_interval": st.booleans(),
        "min_gap_hours": st.integers(0, 8760),
        "require_concordance": st.booleans(),
        "time_zone": st.sampled_from(["UTC", "America/New_York", "Pacific/Chatham"]),
        "version": st.integers(1, 50),
    }
)


@st.composite
def diaries(draw: st.DrawFn) -> list[ReadingFacts]:
    """A baseline and post readings over 30 days (an ablation's follow-up reaches that far), some with an
    analgesic."""
    minutes = draw(st.lists(st.integers(1, 30 * 1440), unique=True, max_size=8))
    readings = [pre(draw(st.integers(0, 10)))]
    for m in sorted(minutes):
        readings.append(ReadingFacts(f"p{m}", "post", at(m), draw(st.integers(0, 10)), draw(st.booleans())))
    return readings


def test_list_verdict_settings_covers_every_other_setting_once() -> None:
    """Every Policy field is either a verdict setting or varied by the property below."""
    fields = set(Policy.__dataclass_fields__)
    assert VERDICT_SETTINGS <= fields
    assert fields - VERDICT_SETTINGS == set(level_only.wrapped_strategy.mapping)  # type: ignore[attr-defined]


@given(AGENTS, PROCEDURES, st.sampled_from(["medicare", "consensus", "strict"]), diaries(), level_only)
def test_keep_verdict_when_only_level_settings_change(
    agent: str, procedure: str, profile: str, readings: list[ReadingFacts], changes: dict[str, object]
) -> None:
    facts = block(agent, procedure=procedure, guidance="ultrasound", sedation="general")
    old = Policy(profile=profile, threshold_pct={"medicare": 80, "consensus": 50, "strict": 100}[profile])
    new = replace(old, **changes)
    assert not verdict_settings_differ(old, new)
    assert evaluate_target(facts, readings, new) == evaluate_target(facts, readings, old)
    assert block_warnings(facts, readings, new) == block_warnings(facts, readings, old)


def test_find_verdict_settings_differ_on_threshold() -> None:
    assert verdict_settings_differ(Policy(), replace(Policy(), threshold_pct=50))
