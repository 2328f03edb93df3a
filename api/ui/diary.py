"""The block diary: a keyboard-first grid saved as one all-or-nothing batch, the verdicts and charts,
and corrections of single readings (amend, void, history).

The grid is a stable form contract: a cell is `score-<row>-<target_id>` (or `score-<row>-all`, which
fills the row), a row's time is `minutes-<row>` (minutes after the block), and row 0 is the `pre` row.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.auth import READ, WRITE_READINGS
from api.errors import Conflict, Unprocessable, validation_errors
from api.schemas.readings import ReadingAmend, ReadingBatchIn, ReadingIn, ReadingVoid
from api.services import readings as service
from api.services.blocks import get_block
from api.services.letters import block_evidence
from api.services.patients import get_patient
from api.ui.deps import Ui, redirect, ui_require
from api.ui.forms import field_errors, parse_minutes, score_value, time_text
from api.ui.patients import validated

router = APIRouter(prefix="/ui", include_in_schema=False)
Reader = Annotated[Ui, Depends(ui_require(READ))]
Writer = Annotated[Ui, Depends(ui_require(WRITE_READINGS))]
Text = Annotated[str, Form(max_length=4000)]
# Rows: pre; 15, 30, 45, 60 min; 2, 3, 4, 5, 6, 8 and 24 h.
STANDARD_MINUTES = (0, 15, 30, 45, 60, 120, 180, 240, 300, 360, 480, 1440)
MAX_ROWS = 100


@dataclass
class Cell:
    """Where a batch entry came from, so the batch 422's `loc` lands on the cell that was typed."""

    row: int
    name: str  # the input that held the score


def _row_count(form: FormData) -> int:
    rows = [int(k.split("-")[1]) for k in form if k.startswith("minutes-") and k.split("-")[1].isdigit()]
    return min(MAX_ROWS, max(rows, default=-1) + 1)


def _entries(block: Any, form: FormData) -> tuple[list[dict[str, Any]], list[Cell], dict[str, str]]:
    """The batch the grid describes, where each entry came from, and errors of the row times."""
    entries, cells, errors = [], [], {}
    for row in range(_row_count(form)):
        typed = {t.id: str(form.get(f"score-{row}-{t.id}", "")).strip() for t in block.targets}
        every = str(form.get(f"score-{row}-all", "")).strip()
        if not every and not any(typed.values()):
            continue
        minutes = parse_minutes(str(form.get(f"minutes-{row}", "")))
        if minutes is None:
            errors[f"minutes-{row}"] = "type the time after the block in minutes (90) or hours (2h)"
            continue
        when = _when(block, row, minutes)
        for target in block.targets:
            name = f"score-{row}-{target.id}" if typed[target.id] else f"score-{row}-all"
            text = typed[target.id] or every
            if not text:  # a blank cell: no reading for that target at that time
                continue
            entry = {"joint": target.joint, "side": target.side, "score": score_value(text), **when}
            entries.append(entry | {"source": "patient_diary"})
            cells.append(Cell(row, name))
    return entries, cells, errors


def _when(block: Any, row: int, minutes: int) -> dict[str, Any]:
    if row == 0:  # the pre row: minutes may be 0 (at the block) or negative (before it)
        return {"phase": "pre", "recorded_at": block.performed_at + timedelta(minutes=minutes)}
    return {"phase": "post", "minutes_after_block": minutes}


def _cell_errors(exc: Unprocessable | Conflict, cells: list[Cell]) -> dict[str, str]:
    """The batch 422 per cell: loc ["body", "readings", i, field] -> the cell or row time of entry i."""
    found: dict[str, str] = {}
    for error in exc.errors:
        loc = error["loc"]
        if len(loc) < 3 or loc[:2] != ["body", "readings"] or not isinstance(loc[2], int):
            found.setdefault("form", error["message"])
            continue
        cell = cells[loc[2]]
        time_field = len(loc) > 3 and loc[3] in ("recorded_at", "minutes_after_block", "phase")
        found.setdefault(f"minutes-{cell.row}" if time_field else cell.name, error["message"])
    return found


async def _diary_page(ui: Ui, block_id: uuid.UUID, status: int = 200, **context: Any) -> HTMLResponse:
    evidence = await block_evidence(ui.session, ui.clinic_id, block_id, None, None)
    patient = await get_patient(ui.session, ui.clinic_id, evidence.block.patient_id)
    ui.audit.record("read", "block", block_id, patient_id=patient.id)
    grid = _recorded(evidence.block, evidence.readings)
    context = {"form": {}, "errors": {}, "extra_rows": 1} | context
    return ui.page(
        "diary.html", status, patient=patient, e=evidence, recorded=grid, standard=STANDARD_MINUTES, **context
    )


def _recorded(block: Any, rows: Any) -> list[dict[str, Any]]:
    """The stored diary as rows of (phase, minutes) with a reading (or None) per target."""
    by_time: dict[tuple[str, int], dict[Any, Any]] = {}
    for reading in rows:
        minutes = int((reading.recorded_at - block.performed_at).total_seconds() // 60)
        by_time.setdefault((reading.phase, minutes), {})[reading.target_id] = reading
    ordered = sorted(by_time.items(), key=lambda item: (item[0][0] != "pre", item[0][1]))
    return [{"phase": p, "minutes": m, "cells": cells} for (p, m), cells in ordered]


@router.get("/blocks/{block_id}/diary")
async def diary(ui: Reader, block_id: uuid.UUID) -> HTMLResponse:
    return await _diary_page(ui, block_id)


async def _diary_again(ui: Ui, block_id: uuid.UUID, form: FormData, errors: dict[str, str]) -> HTMLResponse:
    """The grid as typed, with its errors, and nothing stored."""
    typed = {k: str(v) for k, v in form.items() if k.startswith(("score-", "minutes-"))}
    extra = max(1, _row_count(form) - len(STANDARD_MINUTES))
    return await _diary_page(ui, block_id, 422, form=typed, errors=errors, extra_rows=extra)


async def _store(
    ui: Ui, block_id: uuid.UUID, entries: list[dict[str, Any]], cells: list[Cell], errors: dict[str, str]
) -> list[Any]:
    """The batch through the service (so every cell is judged by the API's rules); rolled back when
    any cell or row time has an error, so a save is all or nothing. Errors are added to `errors`."""
    batch = ReadingBatchIn.model_validate({"readings": entries})
    async with ui.session.begin_nested() as attempt:
        try:
            _, saved, _ = await service.create_readings(
                ui.session, ui.clinic_id, block_id, batch.readings, ui.principal
            )
        except (Unprocessable, Conflict) as exc:  # Conflict: a cell already stored at that time
            errors |= _cell_errors(exc, cells)
            saved = []
        if errors:
            await attempt.rollback()
    return saved


@router.post("/blocks/{block_id}/diary")
async def diary_save(ui: Writer, block_id: uuid.UUID, request: Request) -> Response:
    form = await request.form()
    block = await get_block(ui.session, ui.clinic_id, block_id)
    entries, cells, errors = _entries(block, form)
    if not entries and not errors:
        errors["form"] = "Type at least one score before saving."
    saved = await _store(ui, block_id, entries, cells, errors) if entries else []
    if errors:
        return await _diary_again(ui, block_id, form, errors)
    ui.audit.record("create", "reading", result_ids=[r.id for r in saved], patient_id=block.patient_id)
    return redirect(f"/ui/blocks/{block_id}/diary#verdict")


@router.get("/blocks/{block_id}/diary/check")
async def diary_check(ui: Reader, block_id: uuid.UUID, request: Request) -> HTMLResponse:
    """One cell checked as it is typed, by the API's own rules: the type, then the block's scale (CR-6)."""
    block = await get_block(ui.session, ui.clinic_id, block_id)
    text = next((v for k, v in request.query_params.items() if k.startswith("score-")), "").strip()
    if not text:
        return HTMLResponse("")
    try:
        entry = ReadingIn.model_validate(
            {"phase": "post", "minutes_after_block": 15, "score": score_value(text)}
        )
    except ValidationError as exc:
        errors = validation_errors(exc.errors(include_url=False))
        return HTMLResponse(escape(next(e["message"] for e in errors if e["loc"][:1] == ["score"])))
    return HTMLResponse(escape(service.check_score(block, entry.score) or ""))


@router.get("/readings/{reading_id}")
async def reading_view(ui: Reader, reading_id: uuid.UUID) -> HTMLResponse:
    return await reading_page(ui, reading_id)


async def reading_page(ui: Ui, reading_id: uuid.UUID, status: int = 200, **context: Any) -> HTMLResponse:
    block, history = await service.reading_history(ui.session, ui.clinic_id, reading_id)
    _, reading = await service.get_reading(ui.session, ui.clinic_id, reading_id)
    public = service.reading_public(block, reading)
    ui.audit.record("read", "reading", reading_id, patient_id=block.patient_id)
    context = {"errors": {}, "form": {}} | context
    return ui.page("reading.html", status, block=block, reading=public, history=history, **context)


@router.post("/readings/{reading_id}/amend")
async def reading_amend(
    ui: Writer, reading_id: uuid.UUID, score: Text = "", recorded_at: Text = "", reason: Text = ""
) -> Response:
    data = {"score": score_value(score) if score.strip() else None, "reason": reason.strip()}
    if recorded_at.strip():
        data["recorded_at"] = time_text(recorded_at)
    try:
        body = validated(ReadingAmend, data)
        block, _ = await service.amend_reading(ui.session, ui.clinic_id, reading_id, body, None, ui.principal)
    except Unprocessable as exc:
        form = {"score": score, "recorded_at": recorded_at, "reason": reason}
        return await reading_page(ui, reading_id, 422, errors=field_errors(exc), form=form)
    ui.audit.record("update", "reading", reading_id, patient_id=block.patient_id)
    return redirect(f"/ui/blocks/{block.id}/diary#verdict")


@router.post("/readings/{reading_id}/void")
async def reading_void(ui: Writer, reading_id: uuid.UUID, reason: Text = "") -> Response:
    try:
        body = validated(ReadingVoid, {"reason": reason.strip()})
    except Unprocessable:
        errors = {"void_reason": "Give a reason for voiding this reading."}
        return await reading_page(ui, reading_id, 422, errors=errors, form={})
    block, _ = await service.void_reading(ui.session, ui.clinic_id, reading_id, body.reason, ui.principal)
    ui.audit.record("void", "reading", reading_id, patient_id=block.patient_id)
    return redirect(f"/ui/blocks/{block.id}/diary#verdict")
