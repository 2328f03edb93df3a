"""The plain values the clinical rules read and return (CR-5, CR-7, CR-13)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import NamedTuple

from api.clinical.notes import Note

__all__ = [
    "RFA",
    "BlockFacts",
    "CoverageOverride",
    "LevelBlock",
    "LevelStatus",
    "ReadingFacts",
    "TargetVerdict",
]

RFA = "radiofrequency_ablation"  # CR-27: the therapeutic procedure a referral asks for


@dataclass(frozen=True)
class BlockFacts:
    """CR-5: what the verdict needs to know about one block."""

    performed_at: datetime  # timezone-aware
    procedure: str  # medial_branch_block | intra_articular_injection | radiofrequency_ablation
    intent: str  # diagnostic | therapeutic
    agent: str  # lidocaine | bupivacaine | ropivacaine | saline_placebo | other
    expected_relief_minutes: int | None
    volume_ml_per_nerve: Fraction | None  # exact: callers pass Fraction(str(decimal))
    sedation: str  # none | minimal | moderate | monitored_anesthesia_care | general
    guidance: str  # fluoroscopy | ct | ultrasound | none
    pain_scale: str  # nrs | vas
    joints: tuple[str, ...]  # the distinct joints targeted in the session


class ReadingFacts(NamedTuple):
    """CR-7: one active pain score of one target.

    A named tuple rather than a frozen dataclass: a clinic-wide pass builds one per reading (~500k),
    and a frozen dataclass costs over twice as much to build.
    """

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
    # CR-25: (reading id, reason) of the readings kept but left out of the verdict.
    excluded_readings: tuple[tuple[Hashable, str], ...] = ()
    # CR-18: the best run is seen to end (a later reading in the horizon fell below the threshold).
    relief_ended: bool = False


@dataclass(frozen=True)
class CoverageOverride:
    """CR-24: a clinician's decision that a block counts although it misses the coverage criteria."""

    reason: str
    by: str | None  # the API key's name
    at: datetime


class LevelBlock(NamedTuple):
    """One block as seen from one level (patient, joint, side): its verdict for that level's target.

    A NamedTuple, like runs.Point: a clinic-wide pass builds one per target (tens of thousands).
    """

    block_id: Hashable
    performed_at: datetime
    agent: str
    procedure: str
    intent: str
    voided: bool
    verdict: str  # positive | negative | indeterminate
    relief_duration_minutes: int
    sedation: str
    guidance: str
    pain_scale: str = "nrs"
    baseline: int | None = None  # CR-24: this target's baseline
    relief_ended: bool = False  # CR-18
    warnings: tuple[Note, ...] = ()  # CR-23: the block's CR-14 warnings and this target's CR-9/CR-10 ones
    coverage_override: CoverageOverride | None = None  # CR-24


@dataclass(frozen=True)
class LevelStatus:
    status: str  # no_blocks | pending | awaiting_confirmation | referral_recommended | not_indicated
    #            | ablated | repeat_rfa_eligible
    qualifying_block_ids: tuple[Hashable, ...]
    reasons: tuple[Note, ...]
    warnings: tuple[Note, ...]
    # CR-27/CR-28: per ablation at this level, the warnings its outcome carries for this level's target
    # (`no_referral`, `too_many_rfa_sessions`), which depend on the level's other blocks.
    rfa_notes: tuple[tuple[Hashable, tuple[Note, ...]], ...] = ()
    # CR-27: the ablations that count here (not barred by CR-28), (block id, time), in time order.
    counting_rfas: tuple[tuple[Hashable, datetime], ...] = ()
