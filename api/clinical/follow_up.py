"""The follow-up verdict of a radiofrequency ablation (CR-28): does its diary show a durable response?

An ablation's target is judged like a block's (CR-11 runs, CR-12 verdicts, CR-13 figures) on another
scale: relief of at least `repeat_rfa_threshold_pct` in a run that starts within 30 days and reaches
`repeat_rfa_min_days` after the ablation, read up to 400 days. `positive` is a durable response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from api.clinical.diary import baseline_of, baseline_warnings, no_data_reasons, pain_worse, posts_within
from api.clinical.facts import BlockFacts, ReadingFacts, TargetVerdict
from api.clinical.notes import Note
from api.clinical.policy import Policy
from api.clinical.runs import (
    Point,
    Run,
    best_run,
    figures,
    minutes,
    qualifies,
    relief_runs,
    starts_in_onset,
    strongest,
    weakest,
)

__all__ = ["FOLLOW_UP_DAYS", "ONSET_DAYS", "evaluate_follow_up"]

FOLLOW_UP_DAYS = 400  # CR-28: post readings up to 400 days after the ablation
ONSET_DAYS = 30  # CR-28: the run must start within 30 days
DAY_MINUTES = 1440


def _days(delta: timedelta) -> int:
    return minutes(delta) // DAY_MINUTES


def _rules(policy: Policy) -> Policy:
    """The policy with CR-28's threshold and onset window in place of a block's (CR-11 reads them)."""
    return replace(
        policy,
        threshold_pct=policy.repeat_rfa_threshold_pct,
        onset_window_minutes=ONSET_DAYS * DAY_MINUTES,
    )


def _negative(points: Sequence[Point], runs: Sequence[Run], best: Run | None, policy: Policy) -> Note:
    pct, needs = policy.repeat_rfa_threshold_pct, policy.repeat_rfa_min_days
    if not runs:
        return Note(
            "relief_below_threshold",
            f"Peak relief after the ablation was {strongest(points).text}; "
            f"a durable response needs at least {pct}%.",
        )
    if best is None:
        return Note(
            "late_onset",
            f"Relief of at least {pct}% first came {_days(runs[0][0].after)} days after the ablation; "
            f"a durable response must start within {ONSET_DAYS} days.",
        )
    lasted = _days(best[-1].after)
    if lasted >= needs:  # long enough but too thin
        return Note(
            "relief_too_short",
            f"Relief of {weakest(best).text} was seen at only {len(best)} follow-up reading(s) in a row; "
            f"the policy needs {policy.min_readings}.",
        )
    return Note(
        "relief_too_short",
        f"Relief of {weakest(best).text} lasted {lasted} days after the ablation; "
        f"a durable response needs {needs} days.",
    )


def _still_going(run: Run, required: int, policy: Policy) -> list[Note]:
    """The follow-up stopped while relief was still going: too soon to tell."""
    reasons = []
    if run[-1].after < timedelta(minutes=required):
        reasons.append(
            Note(
                "diary_too_short",
                f"Relief of {weakest(run).text} was still going at the last follow-up, "
                f"{_days(run[-1].after)} days after the ablation; a durable response needs "
                f"{policy.repeat_rfa_min_days} days.",
            )
        )
    if len(run) < policy.min_readings:
        reasons.append(
            Note(
                "diary_too_sparse",
                f"Relief of {weakest(run).text} was still going but seen at only {len(run)} follow-up "
                f"reading(s) in a row; the policy needs {policy.min_readings}.",
            )
        )
    return reasons


def _decide(points: Sequence[Point], policy: Policy) -> tuple[str, Run | None, list[Note]]:
    rules, required = _rules(policy), policy.repeat_rfa_min_days * DAY_MINUTES
    runs = relief_runs(points, rules.threshold_pct)
    best = best_run(runs, required, rules)
    if best is not None and qualifies(best, required, rules):
        note = Note(
            "durable_response",
            f"Relief of {weakest(best).text} or more lasted {_days(best[-1].after)} days after the ablation "
            f"(at least {policy.repeat_rfa_threshold_pct}% for {policy.repeat_rfa_min_days} days): a repeat "
            "ablation needs no new diagnostic blocks.",
        )
        return "positive", best, [note]
    if points[0].after > timedelta(days=ONSET_DAYS):
        note = Note(
            "no_early_readings",
            f"The first follow-up score was {_days(points[0].after)} days after the ablation; with none in "
            f"the first {ONSET_DAYS} days the diary cannot show when relief began.",
        )
        return "indeterminate", best, [note]
    last = runs[-1] if runs else None
    if last is not None and last[-1] is points[-1] and starts_in_onset(last, rules):
        return "indeterminate", best, _still_going(last, required, policy)
    return "negative", best, [_negative(points, runs, best, policy)]


def evaluate_follow_up(block: BlockFacts, readings: Sequence[ReadingFacts], policy: Policy) -> TargetVerdict:
    """CR-28: the ablation's target verdict from its follow-up diary (`positive`: a durable response)."""
    required = policy.repeat_rfa_min_days * DAY_MINUTES
    baseline = baseline_of(block, readings)
    posts = posts_within(block, readings, timedelta(days=FOLLOW_UP_DAYS))
    used = ((baseline.id,) if baseline else ()) + tuple(r.id for r in posts)
    warnings = baseline_warnings(block, baseline, policy) if baseline else []
    reasons = no_data_reasons(baseline, posts, f"{FOLLOW_UP_DAYS} days")
    if reasons or baseline is None:
        score = baseline.score if baseline else None
        return TargetVerdict(
            "indeterminate", score, None, None, 0, required, used, tuple(reasons), tuple(warnings)
        )
    points = [Point(r, r.recorded_at - block.performed_at, baseline.score) for r in posts]
    verdict, best, reasons = _decide(points, policy)
    warnings += pain_worse(baseline.score, points)
    return TargetVerdict(
        verdict=verdict,
        baseline=baseline.score,
        required_minutes=required,
        readings_used=used,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
        **figures(points, best)._asdict(),
    )
