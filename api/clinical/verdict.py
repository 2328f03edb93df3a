"""The verdict of one block for one target (CR-9..CR-15, CR-25) and the block's payer warnings (CR-14)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from api.clinical.block_checks import block_warnings
from api.clinical.diary import (
    baseline_of,
    baseline_warnings,
    no_data_reasons,
    pain_worse,
    posts_within,
    split_at_analgesic,
)
from api.clinical.facts import RFA, BlockFacts, ReadingFacts, TargetVerdict
from api.clinical.follow_up import evaluate_follow_up
from api.clinical.notes import Note
from api.clinical.policy import Policy, required_minutes_for
from api.clinical.runs import (
    Point,
    Run,
    best_run,
    figures,
    minutes,
    qualifies,
    relief_runs,
    span,
    starts_in_onset,
    strongest,
    weakest,
)

__all__ = [
    "VERDICT_SETTINGS",
    "BlockFacts",
    "ReadingFacts",
    "TargetVerdict",
    "block_warnings",
    "evaluate_target",
    "verdict_settings_differ",
]

# The policy settings evaluate_target and block_warnings read (this module, diary.py, runs.py,
# follow_up.py, block_checks.py, required_minutes_for). The others (blocks_required, coverage, pair
# and session rules, the time zone) only decide level status and referrals (levels.py and below):
# a policy change touching only those leaves every stored block and target outcome as it is.
VERDICT_SETTINGS: frozenset[str] = frozenset(
    {
        "profile",
        "threshold_pct",
        "min_readings",
        "onset_window_minutes",
        "required_minutes",
        "diary_horizon_hours",
        "min_baseline",
        "repeat_rfa_threshold_pct",
        "repeat_rfa_min_days",
    }
)


def verdict_settings_differ(old: Policy, new: Policy) -> bool:
    """Whether a verdict or a block's warnings may differ between `old` and `new`."""
    return any(getattr(old, name) != getattr(new, name) for name in VERDICT_SETTINGS)


def _agent_label(agent: str) -> str:
    return {"saline_placebo": "saline placebo", "other": "the agent given"}.get(agent, agent)


def _run_note(code: str, run: Run, block: BlockFacts, required: int) -> Note:
    relief = weakest(run).text
    lasted = minutes(run[-1].after)
    needs = f"{_agent_label(block.agent)} needs {required} min."
    if code == "diary_too_short":
        return Note(
            code,
            f"Relief of {relief} was still going at the last reading, {lasted} min after the block; {needs}",
        )
    return Note(code, f"Relief of {relief} lasted {lasted} min; {needs}")


def _sparse_note(code: str, run: Run, policy: Policy) -> Note:
    ongoing = "was still going but " if code == "diary_too_sparse" else ""
    return Note(
        code,
        f"Relief of {weakest(run).text} {ongoing}was seen at only {len(run)} "
        f"reading(s) in a row; the policy needs {policy.min_readings}.",
    )


def _negative_reason(
    points: Sequence[Point],
    runs: Sequence[Run],
    best: Run | None,
    block: BlockFacts,
    required: int,
    policy: Policy,
) -> Note:
    """CR-12: whichever of below threshold, late onset or too short explains the negative."""
    if not runs:
        return Note(
            "relief_below_threshold",
            f"Peak relief was {strongest(points).text}; "
            f"the {policy.profile} policy needs at least {policy.threshold_pct}%.",
        )
    if best is None:
        return Note(
            "late_onset",
            f"Relief of at least {policy.threshold_pct}% first came {minutes(runs[0][0].after)} min "
            f"after the block; it must start within {policy.onset_window_minutes} min.",
        )
    if best[-1].after >= timedelta(minutes=required):
        # Long enough but too thin: a lone good score does not show sustained relief.
        return _sparse_note("relief_too_short", best, policy)
    return _run_note("relief_too_short", best, block, required)


def _no_early_note(first: Point, policy: Policy) -> Note:
    """CR-12 (v2): a diary that starts after the onset window cannot show when relief began."""
    return Note(
        "no_early_readings",
        f"The first pain score was {minutes(first.after)} min after the block; with none in the first "
        f"{policy.onset_window_minutes} min the diary cannot show when relief began, or whether it came "
        "and went unseen.",
    )


def _confounded_note(cut: ReadingFacts, block: BlockFacts, run: Run | None) -> Note:
    """CR-25: an analgesic ended what the diary could credit to the block."""
    when = minutes(cut.recorded_at - block.performed_at)
    going = f"while relief of {weakest(run).text} was still going" if run else "before any score without it"
    return Note(
        "analgesic_confounds",
        f"An analgesic was taken {when} min after the block {going}; "
        "relief from then on cannot be credited to the block.",
    )


def _decide(
    points: Sequence[Point], block: BlockFacts, required: int, policy: Policy, cut: ReadingFacts | None
) -> tuple[str, Run | None, list[Note]]:
    """CR-12: positive, indeterminate or negative, with the reasons that explain it.

    `cut`: the first reading taken with an analgesic (CR-25); `points` are the readings before it.
    """
    runs = relief_runs(points, policy.threshold_pct)
    best = best_run(runs, required, policy)
    if best is not None and qualifies(best, required, policy):
        return "positive", best, [_run_note("relief_sustained", best, block, required)]
    if points[0].after > span(policy.onset_window_minutes):
        return "indeterminate", best, [_no_early_note(points[0], policy)]
    last = runs[-1] if runs else None
    if last is not None and last[-1] is points[-1] and starts_in_onset(last, policy):
        if cut is not None:
            return "indeterminate", best, [_confounded_note(cut, block, last)]
        # The diary stopped while relief was still going: too soon to tell.
        reasons = []
        if last[-1].after < span(required):
            reasons.append(_run_note("diary_too_short", last, block, required))
        if len(last) < policy.min_readings:
            reasons.append(_sparse_note("diary_too_sparse", last, policy))
        return "indeterminate", best, reasons
    return "negative", best, [_negative_reason(points, runs, best, block, required, policy)]


def _placebo_response() -> Note:
    return Note(
        "placebo_response",
        "This saline placebo block gave qualifying relief: a placebo response, not a sign of facet pain.",
    )


def evaluate_target(block: BlockFacts, readings: Sequence[ReadingFacts], policy: Policy) -> TargetVerdict:
    """CR-9..CR-13 and CR-25 for one target's active readings; CR-15: a placebo is judged honestly.
    An ablation's target is judged by its follow-up instead (CR-28)."""
    if block.procedure == RFA:
        return evaluate_follow_up(block, readings, policy)
    required = required_minutes_for(block.agent, block.expected_relief_minutes, policy)
    baseline = baseline_of(block, readings)
    posts = posts_within(block, readings, span(policy.diary_horizon_hours * 60))
    kept, after = split_at_analgesic(posts)
    used = ((baseline.id,) if baseline else ()) + tuple(r.id for r in kept)
    excluded = tuple((r.id, "after_analgesic") for r in after) if after else ()
    warnings = baseline_warnings(block, baseline, policy) if baseline else []
    reasons = []
    if baseline is None or baseline.score == 0 or not posts:
        reasons = no_data_reasons(baseline, posts, f"{policy.diary_horizon_hours} h")
    elif not kept:
        reasons = [_confounded_note(after[0], block, None)]
    if reasons or baseline is None:
        score = baseline.score if baseline else None
        return TargetVerdict(
            "indeterminate", score, None, None, 0, required, used, tuple(reasons), tuple(warnings), excluded
        )
    points = [Point(r, r.recorded_at - block.performed_at, baseline.score) for r in kept]
    verdict, best, reasons = _decide(points, block, required, policy, after[0] if after else None)
    warnings += pain_worse(baseline.score, points)
    if verdict == "positive" and block.agent == "saline_placebo":
        warnings.append(_placebo_response())
    return TargetVerdict(
        verdict=verdict,
        baseline=baseline.score,
        required_minutes=required,
        readings_used=used,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
        excluded_readings=excluded,
        **figures(points, best)._asdict(),
    )
