"""The level's outcome letter (medical necessity for radiofrequency ablation), as HTML and as PDF.

Every figure comes from what the service stored: the level, its qualifying blocks and their outcomes,
the referral. The relief charts are the same SVG the diary page shows. render_letter_pdf is the one
entry point other renderings (FHIR DocumentReference, HL7 attachments) reuse.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.levels import suggested_procedure
from api.clinical.nomenclature import NomenclatureError, nerves_of, normalise_joint
from api.clinical.relief import reported_relief
from api.errors import NotFound, invalid
from api.schemas.blocks import BlockPublic
from api.schemas.levels import LevelPublic
from api.schemas.outcomes import OutcomePublic, TargetOutcomePublic
from api.services import blocks as block_service
from api.services import readings as reading_service
from api.services.levels import levels_for_patient
from api.services.outcomes import outcome_for_block
from api.services.patients import get_patient
from api.services.referrals import get_referral
from api.ui.chart import ChartFigures, Series, relief_chart
from api.ui.templating import templates
from models import Clinic, Reading

SCALE_MAX = {"nrs": 10, "vas": 100}


@dataclass(frozen=True)
class BlockEvidence:
    """One block with its outcome, its figures for the level's target, and its chart."""

    block: BlockPublic
    outcome: OutcomePublic
    target: TargetOutcomePublic | None
    figures: ChartFigures
    chart: str
    readings: list[Reading]  # every reading of the block, voided ones included, in time order


def _series(target: TargetOutcomePublic, readings: list[Reading], performed_at: datetime) -> Series:
    used = {str(i) for i in target.readings_used}
    points = []
    for reading in sorted(readings, key=lambda r: r.recorded_at):
        if str(reading.id) in used and reading.phase == "post" and target.baseline:
            minutes = (reading.recorded_at - performed_at).total_seconds() // 60
            points.append((int(minutes), reported_relief(target.baseline, reading.score)))
    return Series(f"{target.joint} {target.side}", target.baseline, tuple(points), target.verdict)


def chart_figures(block: BlockPublic, outcome: OutcomePublic, readings: list[Reading]) -> ChartFigures:
    """The chart's figures: each target's relief at the readings its verdict used."""
    by_target: dict[uuid.UUID, list[Reading]] = {}
    for reading in readings:
        if reading.status == "active":
            by_target.setdefault(reading.target_id, []).append(reading)
    series = tuple(_series(t, by_target.get(t.target_id, []), block.performed_at) for t in outcome.targets)
    required = max((t.required_minutes for t in outcome.targets), default=60)
    title = f"Relief after the {block.agent} block of {block.performed_at:%Y-%m-%d %H:%M %z}"
    return ChartFigures(title, outcome.policy.threshold_pct, required, SCALE_MAX[block.pain_scale], series)


async def block_evidence(
    session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID, joint: str | None, side: str | None
) -> BlockEvidence:
    """A block, its stored outcome and chart; `target` is the outcome of (joint, side) when given."""
    row = await block_service.get_block(session, clinic_id, block_id)
    outcome = await outcome_for_block(session, clinic_id, block_id)
    block = block_service.block_public(row, outcome.warnings)  # the block's warnings are its outcome's
    readings = await reading_service.readings_of_block(session, clinic_id, block_id)
    target = next((t for t in outcome.targets if (t.joint, t.side) == (joint, side)), None)
    figures = chart_figures(block, outcome, list(readings))
    return BlockEvidence(block, outcome, target, figures, relief_chart(figures), list(readings))


def level_key(joint: str, side: str) -> tuple[str, str]:
    try:
        joint = normalise_joint(joint)
    except NomenclatureError as exc:
        raise invalid(["path", "joint"], str(exc)) from None
    if side not in ("left", "right"):
        raise invalid(["path", "side"], "use left or right")
    return joint, side


async def _level(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID, joint: str, side: str
) -> LevelPublic:
    levels = await levels_for_patient(session, clinic_id, patient_id)
    found = next((lv for lv in levels.items if (lv.joint, lv.side) == (joint, side)), None)
    if found is None:
        raise NotFound(f"The patient has no blocks at {joint} {side}.")
    return found


async def letter_context(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    joint: str,
    side: str,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """Everything the letter shows. Without qualifying blocks it lists the level's active blocks.

    `generated_at` (default now) is the "Produced" time printed on it: a fixed one makes the rendering
    depend on the record alone, which is how the FHIR DocumentReference versions the letter."""
    joint, side = level_key(joint, side)
    patient = await get_patient(session, clinic_id, patient_id)
    level = await _level(session, clinic_id, patient_id, joint, side)
    ids = level.qualifying_block_ids or [b.block_id for b in level.blocks if b.status == "active"]
    evidence = [await block_evidence(session, clinic_id, i, joint, side) for i in ids]
    referral = await get_referral(session, clinic_id, level.referral_id) if level.referral_id else None
    procedure = suggested_procedure(joint) if level.status == "referral_recommended" else None
    clinic = await session.get(Clinic, clinic_id)
    return {
        "clinic": clinic,
        "patient": patient,
        "level": level,
        "nerves": nerves_of(joint),
        "evidence": evidence,
        "qualifying": bool(level.qualifying_block_ids),
        "referral": referral,
        "procedure": procedure,
        "policy": evidence[-1].outcome.policy if evidence else None,
        "generated_at": generated_at or datetime.now(UTC),
    }


async def render_letter_html(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    joint: str,
    side: str,
    generated_at: datetime | None = None,
) -> str:
    context = await letter_context(session, clinic_id, patient_id, joint, side, generated_at)
    return str(templates.get_template("letter.html").render(context))


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    # Everything the letter needs is inline: a PDF render never reaches the network or the disk.
    raise ValueError(f"the letter refers to an outside resource: {url}")


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported here: it loads Pango and fonts, which only letters need

    return bytes(HTML(string=html, url_fetcher=_no_fetch).write_pdf())


async def render_letter_pdf(
    session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID, joint: str, side: str
) -> bytes:
    html = await render_letter_html(session, clinic_id, patient_id, joint, side)
    return await asyncio.to_thread(html_to_pdf, html)  # ~0.5 s of CPU: off the event loop
