"""Relief runs (CR-11) and the best run (CR-13), on exact relief values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from api.clinical.facts import ReadingFacts
from api.clinical.policy import Policy
from api.clinical.relief import meets_threshold

__all__ = ["Point", "Run", "best_run", "minutes", "qualifies", "relief_runs", "starts_in_onset"]


@dataclass(frozen=True)
class Point:
    """A post reading with its time after the block and its exact relief."""

    reading: ReadingFacts
    after: timedelta
    relief: Fraction


Run = tuple[Point, ...]


def minutes(delta: timedelta) -> int:
    """Whole minutes, floored, so 59 min 59 s never counts as 60."""
    return delta // timedelta(minutes=1)


def relief_runs(points: Sequence[Point], threshold: int) -> list[Run]:
    """CR-11: maximal sequences of consecutive readings, each at or above the threshold."""
    runs: list[Run] = []
    current: list[Point] = []
    for point in points:
        if meets_threshold(point.relief, threshold):
            current.append(point)
        elif current:
            runs.append(tuple(current))
            current = []
    if current:
        runs.append(tuple(current))
    return runs


def starts_in_onset(run: Run, policy: Policy) -> bool:
    """CR-11: the first reading of the run is within the onset window (inclusive)."""
    return run[0].after <= timedelta(minutes=policy.onset_window_minutes)


def qualifies(run: Run, required: int, policy: Policy) -> bool:
    """CR-11: onset in the window, enough readings, and the last at least `required` minutes after."""
    return (
        starts_in_onset(run, policy)
        and len(run) >= policy.min_readings
        and run[-1].after >= timedelta(minutes=required)
    )


def best_run(runs: Sequence[Run], required: int, policy: Policy) -> Run | None:
    """CR-13: the longest run starting in the onset window (ties: the earliest).

    A qualifying run is preferred, so a positive verdict always reports the run that earned it
    rather than a later, longer but thinner one.
    """
    qualifying = [run for run in runs if qualifies(run, required, policy)]
    candidates = qualifying or [run for run in runs if starts_in_onset(run, policy)]
    best: Run | None = None
    for run in candidates:
        if best is None or run[-1].after > best[-1].after:
            best = run
    return best
