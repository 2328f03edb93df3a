"""The verdict of one block for one target (CR-9..CR-15) and the block's payer warnings (CR-14)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from api.clinical.block_checks import block_warnings
from api.clinical.facts import BlockFacts, ReadingFacts, TargetVerdict
from api.clinical.notes import Note
from api.clinical.policy import Policy, required_minutes_for
from api.clinical.runs import (
    Point,
    Run,
    best_run,
    minutes,
    qualifies,
    relief_runs,
    starts_in_onset,
    strongest,
    weakest,
)

__all__ = ["BlockFacts", "ReadingFacts", "TargetVerdict", "block_warnings", "evaluate_target"]

STALE_BASELINE_AFTER = timedelta(hours=24)  # CR-9: fixed by the rule, not a policy setting


def _agent_label(agent: str) -> str:
    return {"saline_placebo": "saline placebo", "other": "the agent given"}.get(agent, agent)


def _baseline(block: BlockFacts, readings: Sequence[ReadingFacts]) -> ReadingFacts | None:
    """CR-9: the latest pre reading at or before the block; on a tie, the one given last."""
    pres = [r for r in readings if r.phase == "pre" and r.recorded_at <= block.performed_at]
    return sorted(pres, key=lambda r: r.recorded_at)[-1] if pres else None


def _posts_in_horizon(
    block: BlockFacts, readings: Sequence[ReadingFacts], policy: Policy
) -> list[ReadingFacts]:
    """Post readings after the block up to the diary horizon (inclusive); later ones are ignored."""
    horizon = block.performed_at + timedelta(hours=policy.diary_horizon_hours)
    posts = [r for r in readings if r.phase == "post" and block.performed_at < r.recorded_at <= horizon]
    return sorted(posts, key=lambda r: r.recorded_at)


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


def _decide(
    points: Sequence[Point], block: BlockFacts, required: int, policy: Policy
) -> tuple[str, Run | None, list[Note]]:
    """CR-12: positive, indeterminate or negative, with the reasons that explain it."""
    runs = relief_runs(points, policy.threshold_pct)
    best = best_run(runs, required, policy)
    if best is not None and qualifies(best, required, policy):
        return "positive", best, [_run_note("relief_sustained", best, block, required)]
    last = runs[-1] if runs else None
    if last is not None and last[-1] is points[-1] and starts_in_onset(last, policy):
        # The diary stopped while relief was still going: too soon to tell.
        reasons = []
        if last[-1].after < timedelta(minutes=required):
            reasons.append(_run_note("diary_too_short", last, block, required))
        if len(last) < policy.min_readings:
            reasons.append(_sparse_note("diary_too_sparse", last, policy))
        return "indeterminate", best, reasons
    return "negative", best, [_negative_reason(points, runs, best, block, required, policy)]


def _baseline_warnings(block: BlockFacts, baseline: ReadingFacts, policy: Policy) -> list[Note]:
    """CR-9: a low or stale baseline is flagged, never a gate."""
    notes = []
    minimum = policy.min_baseline.get(block.pain_scale)
    if minimum is not None and 0 < baseline.score < minimum:
        notes.append(
            Note(
                "low_baseline",
                f"Baseline pain of {baseline.score} is below the policy minimum of {minimum} "
                f"({block.pain_scale.upper()}); relief from a low score is hard to judge.",
            )
        )
    age = block.performed_at - baseline.recorded_at
    if age > STALE_BASELINE_AFTER:
        notes.append(
            Note(
                "stale_baseline",
                f"The baseline was recorded {minutes(age) // 60} h before the block; "
                "one older than 24 h may not reflect the pain on the day.",
            )
        )
    return notes


def _pain_worse(baseline: int, points: Sequence[Point]) -> list[Note]:
    """CR-10: a score above baseline is reported as negative relief, with a warning."""
    worse = [p for p in points if p.reading.score > baseline]
    if not worse:
        return []
    worst = weakest(worse)
    return [
        Note(
            "pain_worse",
            f"Pain rose above the baseline of {baseline} after the block "
            f"(worst {worst.reading.score}, relief {worst.text}).",
        )
    ]


def _no_data_reasons(baseline: ReadingFacts | None, posts: list[ReadingFacts], policy: Policy) -> list[Note]:
    """CR-9/CR-12 gates that leave nothing to measure."""
    reasons = []
    if baseline is None:
        reasons.append(Note("no_baseline", "No pain score before the block; relief cannot be measured."))
    elif baseline.score == 0:
        reasons.append(Note("baseline_zero", "The baseline pain score was 0; relief cannot be measured."))
    if not posts:
        hours = policy.diary_horizon_hours
        reasons.append(Note("no_post_readings", f"No pain scores in the {hours} h after the block."))
    return reasons


def evaluate_target(block: BlockFacts, readings: Sequence[ReadingFacts], policy: Policy) -> TargetVerdict:
    """CR-9..CR-13 for one target's active readings; CR-15: a placebo is judged honestly."""
    required = required_minutes_for(block.agent, block.expected_relief_minutes, policy)
    baseline = _baseline(block, readings)
    posts = _posts_in_horizon(block, readings, policy)
    used = ((baseline.id,) if baseline else ()) + tuple(r.id for r in posts)
    warnings = _baseline_warnings(block, baseline, policy) if baseline else []
    reasons = _no_data_reasons(baseline, posts, policy)
    if reasons or baseline is None:
        score = baseline.score if baseline else None
        return TargetVerdict(
            "indeterminate", score, None, None, 0, required, used, tuple(reasons), tuple(warnings)
        )
    points = [Point(r, r.recorded_at - block.performed_at, baseline.score) for r in posts]
    verdict, best, reasons = _decide(points, block, required, policy)
    warnings += _pain_worse(baseline.score, points)
    if verdict == "positive" and block.agent == "saline_placebo":
        warnings.append(
            Note(
                "placebo_response",
                "This saline placebo block gave qualifying relief: "
                "a placebo response, not a sign of facet pain.",
            )
        )
    return TargetVerdict(
        verdict=verdict,
        baseline=baseline.score,
        peak_relief_pct=strongest(points).reported,
        sustained_relief_pct=weakest(best).reported if best else None,
        relief_duration_minutes=minutes(best[-1].after) if best else 0,
        required_minutes=required,
        readings_used=used,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
    )
