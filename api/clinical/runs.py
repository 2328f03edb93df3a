"""Relief runs (CR-11) and the best run (CR-13), on exact relief values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from api.clinical.facts import ReadingFacts
from api.clinical.policy import Policy
from api.clinical.relief import relief_fraction, relief_meets, relief_text, reported_relief

__all__ = [
    "Figures",
    "Point",
    "Run",
    "best_run",
    "figures",
    "minutes",
    "qualifies",
    "relief_runs",
    "span",
    "starts_in_onset",
    "strongest",
    "weakest",
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
        """CR-8: the exact relief."""
        return relief_fraction(self.baseline, self.reading.score)

    @property
    def reported(self) -> float:
        """CR-8: the relief as reported, to one decimal."""
        return reported_relief(self.baseline, self.reading.score)

    @property
    def text(self) -> str:
        """The relief for messages: '87.5%'."""
        return relief_text(self.baseline, self.reading.score)


Run = tuple[Point, ...]


def strongest(points: Sequence[Point]) -> Point:
    """The point of peak relief among one target's points: its lowest score (one baseline)."""
    return min(points, key=_score)


def weakest(points: Sequence[Point]) -> Point:
    """The point of least relief among one target's points: its highest score."""
    return max(points, key=_score)


class Figures(NamedTuple):
    """CR-13: the figures of a verdict decided on points, the fields of TargetVerdict of the same names."""

    peak_relief_pct: float
    sustained_relief_pct: float | None
    relief_duration_minutes: int
    relief_ended: bool


def figures(points: Sequence[Point], best: Run | None) -> Figures:
    """CR-13: peak relief over every point; sustained relief and duration of the best run. CR-18: the run is
    seen to end when a later point follows it."""
    return Figures(
        peak_relief_pct=strongest(points).reported,
        sustained_relief_pct=weakest(best).reported if best else None,
        relief_duration_minutes=minutes(best[-1].after) if best else 0,
        relief_ended=best is not None and best[-1] is not points[-1],
    )


def _score(point: Point) -> int:
    return point.reading.score


def minutes(delta: timedelta) -> int:
    """Whole minutes, floored, so 59 min 59 s never counts as 60."""
    return delta // timedelta(minutes=1)


@lru_cache(maxsize=256)
def span(minutes: int) -> timedelta:
    """timedelta(minutes=...), cached: asked several times per target, from a few policy settings."""
    return timedelta(minutes=minutes)


_span = span


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
    return run[0].after <= _span(policy.onset_window_minutes)


def qualifies(run: Run, required: int, policy: Policy) -> bool:
    """CR-11: onset in the window, enough readings, and the last at least `required` minutes after."""
    return (
        starts_in_onset(run, policy) and len(run) >= policy.min_readings and run[-1].after >= _span(required)
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
