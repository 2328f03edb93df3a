"""Properties of the verdict (CR-8, CR-11, CR-12) over generated diaries."""

from random import Random

from hypothesis import given
from hypothesis import strategies as st

from api.clinical import Policy, ReadingFacts, evaluate_target
from tests.clinical.factories import at, block, pre

AGENTS = st.sampled_from(["lidocaine", "bupivacaine", "ropivacaine", "saline_placebo"])
THRESHOLDS = st.sampled_from([50, 80, 100])


@st.composite
def diaries(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """A baseline 1..10 and post readings at distinct minutes in the first 6 h, scores 0..10."""
    minutes = draw(st.lists(st.integers(1, 360), unique=True, max_size=8))
    return draw(st.integers(1, 10)), [(m, draw(st.integers(0, 10))) for m in minutes]


def _readings(baseline: int, posts: list[tuple[int, int]]) -> list[ReadingFacts]:
    return [pre(baseline)] + [ReadingFacts(f"p{m}", "post", at(m), s) for m, s in posts]


@given(AGENTS, THRESHOLDS, diaries(), st.integers(1, 10))
def test_cr11_verdict_is_monotone_in_the_scores(
    agent: str, threshold: int, diary: tuple[int, list[tuple[int, int]]], drop: int
) -> None:
    """Lowering post scores (more relief) never turns a positive into anything else."""
    baseline, posts = diary
    policy = Policy(profile="custom", threshold_pct=threshold)
    before = evaluate_target(block(agent), _readings(baseline, posts), policy)
    better = [(m, max(0, s - drop)) for m, s in posts]
    after = evaluate_target(block(agent), _readings(baseline, better), policy)
    if before.verdict == "positive":
        assert after.verdict == "positive"
        assert after.relief_duration_minutes >= before.relief_duration_minutes
    assert (after.peak_relief_pct or 0) >= (before.peak_relief_pct or 0)


@given(AGENTS, diaries(), st.randoms())
def test_cr13_verdict_does_not_depend_on_input_order(
    agent: str, diary: tuple[int, list[tuple[int, int]]], rnd: Random
) -> None:
    baseline, posts = diary
    readings = _readings(baseline, posts)
    shuffled = list(readings)
    rnd.shuffle(shuffled)
    assert evaluate_target(block(agent), shuffled, Policy()) == evaluate_target(
        block(agent), readings, Policy()
    )


@given(AGENTS, diaries())
def test_cr13_reported_figures_are_consistent(agent: str, diary: tuple[int, list[tuple[int, int]]]) -> None:
    baseline, posts = diary
    result = evaluate_target(block(agent), _readings(baseline, posts), Policy())
    assert result.verdict in {"positive", "negative", "indeterminate"}
    assert len(result.readings_used) == 1 + len(posts)
    assert result.reasons
    if result.sustained_relief_pct is not None:
        assert result.peak_relief_pct is not None
        assert result.sustained_relief_pct <= result.peak_relief_pct
        assert result.sustained_relief_pct >= 80
    if result.verdict == "positive":
        assert result.relief_duration_minutes >= result.required_minutes
    if not posts:
        assert result.verdict == "indeterminate"
