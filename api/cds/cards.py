"""CDS Hooks cards for an ablation order, from a level's status and its qualifying blocks. Pure functions.

The indicator comes from one table (api.interop.codes.CARD_INDICATOR): info when the criteria are met,
warning when the level awaits confirmation or data or a payer guardrail applies, critical when not indicated.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.interop.codes import CARD_INDICATOR
from api.schemas.levels import LevelPublic
from api.services.records import TargetRecord

SOURCE = {"label": "Blocktrack", "topic": {"code": "rfa-criteria", "display": "Ablation criteria"}}
HEADLINES = {
    "referral_recommended": "Criteria met",
    "repeat_rfa_eligible": "Repeat ablation criteria met",
    "awaiting_confirmation": "Awaiting a confirming block",
    "pending": "Diagnostic blocks not yet decided",
    "ablated": "Already ablated",
    "not_indicated": "Ablation not indicated",
    "no_blocks": "No diagnostic blocks",
}


@dataclass(frozen=True)
class Requested:
    """One level an order asks to ablate, and what Blocktrack knows of it."""

    joint: str
    side: str
    level: LevelPublic | None
    qualifying: Sequence[TargetRecord]  # the qualifying blocks' targets at this level, oldest first
    links: Sequence[dict[str, str]]


def _day(t: TargetRecord) -> str:
    return f"{t.performed_at:%-d %b %Y}"


def _figure(t: TargetRecord) -> str:
    o = t.outcome
    if o is None or o.peak_relief_pct is None:
        return f"{_day(t)} (no figures yet)"
    return f"{_day(t)}: {o.peak_relief_pct:g}% relief for {o.relief_duration_minutes} min ({t.agent})"


def _summary(r: Requested, status: str) -> str:
    where = f"{r.joint} {r.side}"
    if r.qualifying and status in ("referral_recommended", "repeat_rfa_eligible", "awaiting_confirmation"):
        days = " and ".join(_day(t) for t in r.qualifying)
        reliefs = " and ".join(
            f"{t.outcome.peak_relief_pct:g}%"
            for t in r.qualifying
            if t.outcome and t.outcome.peak_relief_pct is not None
        )
        text = f"{HEADLINES[status]}: {where}, blocks of {days}, {reliefs} relief"
    else:
        text = f"{HEADLINES[status]}: {where}"
    return text if len(text) < 140 else text[:136] + "..."


def card(r: Requested) -> dict[str, Any]:
    status = r.level.status if r.level else "no_blocks"
    warnings = list(r.level.warnings) if r.level else []
    indicator = CARD_INDICATOR[status]
    if indicator == "info" and warnings:
        indicator = "warning"  # a payer guardrail: met, but the claim may be questioned
    lines = [f"**{HEADLINES[status]}** at {r.joint} {r.side}."]
    lines += [f"- Block {_figure(t)}" for t in r.qualifying]
    lines += [f"- {note.message}" for note in (r.level.reasons if r.level else [])]
    lines += [f"- Payer warning: {note.message}" for note in warnings]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(r, status),
        "indicator": indicator,
        "detail": "\n".join(lines),
        "source": SOURCE,
        **({"links": list(r.links)} if r.links else {}),
    }


def unknown_patient_card(mrn: str | None) -> dict[str, Any]:
    what = f"MRN {mrn}" if mrn else "this patient (no MRN on the order)"
    return {
        "uuid": str(uuid.uuid4()),
        "summary": f"No diagnostic block record for {what}"[:139],
        "indicator": "critical",
        "detail": "Blocktrack holds no diagnostic medial branch blocks for this patient, so the ablation "
        "criteria cannot be shown to be met.",
        "source": SOURCE,
    }
