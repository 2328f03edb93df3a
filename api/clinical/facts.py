"""The plain values the clinical rules read and return (CR-5, CR-7, CR-13)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from api.clinical.notes import Note

__all__ = ["BlockFacts", "ReadingFacts", "TargetVerdict"]


@dataclass(frozen=True)
class BlockFacts:
    """CR-5: what the verdict needs to know about one block."""

    performed_at: datetime  # timezone-aware
    procedure: str  # medial_branch_block | intra_articular_injection
    intent: str  # diagnostic | therapeutic
    agent: str  # lidocaine | bupivacaine | ropivacaine | saline_placebo | other
    expected_relief_minutes: int | None
    volume_ml_per_nerve: Fraction | None  # exact: callers pass Fraction(str(decimal))
    sedation: str  # none | minimal | moderate | monitored_anesthesia_care | general
    guidance: str  # fluoroscopy | ct | ultrasound | none
    pain_scale: str  # nrs | vas
    joints: tuple[str, ...]  # the distinct joints targeted in the session


@dataclass(frozen=True)
class ReadingFacts:
    """CR-7: one active pain score of one target."""

    id: Hashable
    phase: str  # pre | post
    recorded_at: datetime  # timezone-aware
    score: int
    analgesic_taken: bool = False


@dataclass(frozen=True)
class TargetVerdict:
    """CR-13: the verdict of one block for one target, with the figures behind it."""

    verdict: str  # positive | negative | indeterminate
    baseline: int | None
    peak_relief_pct: float | None
    sustained_relief_pct: float | None
    relief_duration_minutes: int
    required_minutes: int
    readings_used: tuple[Hashable, ...]
    reasons: tuple[Note, ...]
    warnings: tuple[Note, ...]
