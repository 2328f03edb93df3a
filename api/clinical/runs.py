"""Relief runs (CR-11) and the best run (CR-13), on exact relief values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction
from typing import NamedTuple

from api.clinical.facts import ReadingFacts
from api.clinical.policy import Policy
from api.clinical.relief import relief_fraction, relief_meets

__all__ = [
    "Point",
    "Run",
    "best_run",
    "highest_relief",
    "lowest_relief",
    "minutes",
    "qualifies",
    "relief_runs",
    "starts_in_onset",
]


class Point(NamedTuple):
    """A post reading with its time after the block, against the target's baseline (above 0).

    A NamedTuple and no stored Fraction: a clinic-wide re-evaluation makes hundreds of thousands.
    """

    reading: ReadingFacts
    after: timedelta
    baseline: int

    @property
    def relief(self) -> Fraction:
        """CR-8: the exact relief, for reported figures."""
        return relief_fraction(self.baseline, self.reading.score)


Run = tuple[Point, ...]


def highest_relief(points: Sequence[Point]) -> Fraction:
    """The peak relief of one target's points: its lowest score (one baseline, so no Fraction compares)."""
    return min(points, key=_score).relief


def lowest_relief(points: Sequence[Point]) -> Fraction:
    """The weakest relief of one target's points: its highest score."""
    return max(points, key=_score).relief


def _score(point: Point) -> int:
    return point.reading.score


def minutes(delta: timedelta) -> int:
    """Whole minutes, floored, so 59 min 59 s never counts as 60."""
    return delta // timedelta(minutes=1)


def relief_runs(points: Sequence[Point], threshold: int | Fraction) -> list[Run]:
    """CR-11: maximal sequences of consecutive readings, each at or above the threshold."""
    runs: list[Run] = []
    current: list[Point] = []
    for point in points:
        if relief_meets(point.baseline, point.reading.score, threshold):
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
