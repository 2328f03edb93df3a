"""Relief arithmetic, exact (CR-8)."""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

__all__ = [
    "format_pct",
    "meets_threshold",
    "relief_fraction",
    "relief_meets",
    "relief_text",
    "report_pct",
    "reported_relief",
]


# Cached: scores and baselines come from small scales (NRS 0-10, VAS 0-100), so a clinic-wide
# re-evaluation asks for the same few hundred values again and again.
@lru_cache(maxsize=4096)
def relief_fraction(baseline: int, score: int) -> Fraction:
    """CR-8: (baseline - score) / baseline x 100 as an exact percentage; negative when pain got worse."""
    if baseline <= 0:
        raise ValueError(f"baseline must be above 0 to compute relief, got {baseline}")
    return Fraction((baseline - score) * 100, baseline)


def meets_threshold(relief: Fraction, threshold_pct: int | Fraction) -> bool:
    """CR-8: compared with >= on exact values, so NRS 5 -> 1 (exactly 80%) passes at 80%."""
    return relief >= Fraction(threshold_pct)


def relief_meets(baseline: int, score: int, threshold_pct: int | Fraction) -> bool:
    """meets_threshold(relief_fraction(baseline, score), threshold_pct), in integers.

    With baseline > 0, (baseline - score) / baseline x 100 >= t <=> (baseline - score) x 100 >= t x baseline:
    the same exact comparison without building a Fraction per reading (the hot loop of CR-11).
    """
    if baseline <= 0:
        raise ValueError(f"baseline must be above 0 to compute relief, got {baseline}")
    return (baseline - score) * 100 >= threshold_pct * baseline


def report_pct(value: Fraction) -> float:
    """CR-8: one decimal, half away from zero (87.5 -> 87.5, 200/3 -> 66.7, -12.25 -> -12.3)."""
    tenths = abs(Fraction(value)) * 10
    rounded = math.floor(tenths + Fraction(1, 2))
    # float(Fraction) is the float nearest to the decimal, so it prints as e.g. 66.7.
    return float(Fraction(rounded if value >= 0 else -rounded, 10))


def format_pct(value: Fraction | int) -> str:
    """A percentage for messages: '87.5%', '80%'."""
    reported = report_pct(Fraction(value))
    text = f"{reported:.1f}".removesuffix(".0")
    return f"{text}%"


# The figures of one (baseline, score), cached on the integers: hashing a Fraction is slow.
@lru_cache(maxsize=4096)
def reported_relief(baseline: int, score: int) -> float:
    """report_pct(relief_fraction(baseline, score))."""
    return report_pct(relief_fraction(baseline, score))


@lru_cache(maxsize=4096)
def relief_text(baseline: int, score: int) -> str:
    """format_pct(relief_fraction(baseline, score))."""
    return format_pct(relief_fraction(baseline, score))
