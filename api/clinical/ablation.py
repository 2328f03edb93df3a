"""The ablation and what comes after it, as one level sees it (CR-27, CR-28).

- An ablation (`radiofrequency_ablation`) puts the level in `ablated`, or `repeat_rfa_eligible` when its
  follow-up shows a durable response (its target verdict is positive, CR-28), until a diagnostic block
  after it is decided; then CR-16 applies to the blocks after it only.
- A third ablation session in a payer family within 12 months is warned; under
  `enforce_coverage_criteria` it fulfils no referral, grants no eligibility and does not change the
  level, like a block the coverage gate leaves out (CR-24).
- A live referral is fulfilled by the first counting ablation after its qualifying blocks; voiding that
  ablation returns the referral to the status it had. A fulfilled referral is never withdrawn.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.clinical.clinic_time import format_when
from api.clinical.facts import RFA, LevelBlock, LevelStatus
from api.clinical.notes import Note
from api.clinical.policy import Policy

__all__ = [
    "INDICATED",
    "MAX_RFA_SESSIONS",
    "ReferralChange",
    "StoredReferral",
    "ablated_status",
    "is_rfa",
    "no_referral_note",
    "referral_changes",
    "rfa_session_counts",
    "too_many_rfa_note",
]

RFA_LOOKBACK = timedelta(days=365)  # CR-28: "a rolling 12 months", inclusive like CR-20's
MAX_RFA_SESSIONS = 2  # CR-28: a third session in the window is warned
INDICATED = ("referral_recommended", "repeat_rfa_eligible")  # CR-27/CR-28: an ablation with a reason
LIVE = ("open", "acknowledged")


def is_rfa(block: LevelBlock) -> bool:
    return not block.voided and block.procedure == RFA


def rfa_session_counts(rfas: Sequence[LevelBlock], family_times: Sequence[datetime]) -> dict[Hashable, int]:
    """CR-28: per ablation, the ablation sessions of its payer family in the 12 months up to it (itself
    included). `family_times` are the patient's ablation sessions in the family, at any level."""
    times = {*family_times, *(r.performed_at for r in rfas)}  # one instant is one session
    return {
        r.block_id: sum(1 for t in times if r.performed_at - RFA_LOOKBACK <= t <= r.performed_at)
        for r in rfas
    }


def too_many_rfa_note(rfa: LevelBlock, count: int, policy: Policy) -> Note:
    barred = (
        " Under the clinic's coverage criteria it fulfils no referral and grants no repeat eligibility."
        if policy.enforce_coverage_criteria
        else ""
    )
    return Note(
        "too_many_rfa_sessions",
        f"The ablation on {format_when(rfa.performed_at, policy.time_zone)} is ablation session {count} in "
        f"this payer family within 12 months; payers cover at most {MAX_RFA_SESSIONS}.{barred}",
        rfa.block_id,
    )


def no_referral_note(rfa: LevelBlock, before: LevelStatus, policy: Policy) -> Note:
    status = before.status.replace("_", " ")
    return Note(
        "no_referral",
        f"No referral was open for this level when the ablation on "
        f"{format_when(rfa.performed_at, policy.time_zone)} was done (the level was {status}), and no "
        "earlier ablation had shown a durable response.",
        rfa.block_id,
    )


def ablated_status(rfa: LevelBlock, after: LevelStatus, policy: Policy) -> LevelStatus:
    """CR-27/CR-28: the level after its last counting ablation, while no diagnostic block after it is
    decided; `after` is the status of the blocks after it (no_blocks or pending)."""
    when = format_when(rfa.performed_at, policy.time_zone)
    waiting = after.reasons if after.status == "pending" else ()
    if rfa.verdict == "positive":
        note = Note(
            "durable_response",
            f"The ablation on {when} gave a durable response (at least {policy.repeat_rfa_threshold_pct}% "
            f"relief for {policy.repeat_rfa_min_days} days or more): a repeat ablation may be done without "
            "new diagnostic blocks.",
            rfa.block_id,
        )
        return LevelStatus("repeat_rfa_eligible", (rfa.block_id,), (note, *waiting), after.warnings)
    notes = [
        Note(
            "ablated",
            f"Radiofrequency ablation on {when}; diagnostic blocks after it start a new count.",
            rfa.block_id,
        )
    ]
    if rfa.verdict == "negative":
        notes.append(
            Note(
                "no_durable_response",
                f"The follow-up of the ablation on {when} shows no durable response: a repeat needs a new "
                "pair of diagnostic blocks.",
                rfa.block_id,
            )
        )
    return LevelStatus("ablated", (rfa.block_id,), (*notes, *waiting), after.warnings)


@dataclass(frozen=True)
class StoredReferral:
    """A referral of one level as CR-27 needs it: the times of its qualifying blocks, its fulfilment."""

    id: Hashable
    status: str  # open | acknowledged | fulfilled (withdrawn ones are final and never given)
    acknowledged: bool
    qualifying_times: tuple[datetime, ...]
    fulfilled_by: Hashable | None = None


@dataclass(frozen=True)
class ReferralChange:
    id: Hashable
    status: str  # open | acknowledged | fulfilled | withdrawn
    fulfilled_by: Hashable | None = None
    fulfilled_at: datetime | None = None
    reason: str | None = None  # when withdrawn


def _fulfilling(
    status: LevelStatus, referral: StoredReferral, used: set[Hashable]
) -> tuple[Hashable, datetime] | None:
    """The first counting ablation after the referral's last qualifying block, not fulfilling another."""
    latest = max(referral.qualifying_times)
    return next(((i, at) for i, at in status.counting_rfas if at > latest and i not in used), None)


def _still_fulfils(blocks: Sequence[LevelBlock], referral: StoredReferral) -> bool:
    # Once fulfilled, a referral stays so while its ablation stands (a later policy does not undo a done
    # procedure): only a voided ablation, or one moved before the qualifying blocks, lets it go.
    latest = max(referral.qualifying_times)
    return any(is_rfa(b) and b.block_id == referral.fulfilled_by and b.performed_at > latest for b in blocks)


def referral_changes(
    status: LevelStatus, blocks: Sequence[LevelBlock], referrals: Sequence[StoredReferral]
) -> list[ReferralChange]:
    """CR-27/CR-19: how the level's live and fulfilled referrals change with its ablations.

    A live referral with a counting ablation after its qualifying blocks is fulfilled by it (an ablation
    fulfils one referral). A fulfilled referral whose ablation no longer stands is fulfilled by another,
    else returns to the status it had, or is withdrawn when the level has another live referral
    meanwhile. Opening and withdrawing on the level's status (CR-19) is the caller's next step, on what
    is live after these changes.
    """
    lost = [r for r in referrals if r.status == "fulfilled" and not _still_fulfils(blocks, r)]
    used = {r.fulfilled_by for r in referrals if r.status == "fulfilled" and r not in lost}
    changes, live_left = [], False
    for referral in (r for r in referrals if r.status in LIVE):
        found = _fulfilling(status, referral, used)
        if found is None:
            live_left = True
            continue
        changes.append(ReferralChange(referral.id, "fulfilled", *found))
        used.add(found[0])
    for referral in lost:
        found = _fulfilling(status, referral, used)
        if found is not None:
            changes.append(ReferralChange(referral.id, "fulfilled", *found))
            used.add(found[0])
        elif live_left:
            reason = "Its ablation was voided, and the level has another open or acknowledged referral."
            changes.append(ReferralChange(referral.id, "withdrawn", reason=reason))
        else:
            changes.append(ReferralChange(referral.id, "acknowledged" if referral.acknowledged else "open"))
            live_left = True
    return changes
