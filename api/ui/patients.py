"""Patients: search and register; the patient board (levels, blocks) and recording or voiding a block."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.auth import READ, RECORD_BLOCKS, REGISTER_PATIENTS
from api.errors import Conflict, Unprocessable, validation_errors
from api.schemas.blocks import BlockCreate, BlockVoid
from api.schemas.patients import PatientCreate
from api.services import blocks as block_service
from api.services import patients as service
from api.services.levels import levels_for_patient
from api.ui.deps import Ui, redirect, ui_require
from api.ui.forms import blank_to_none, field_errors, now_text, time_text

router = APIRouter(prefix="/ui", include_in_schema=False)
Reader = Annotated[Ui, Depends(ui_require(READ))]
Registrar = Annotated[Ui, Depends(ui_require(REGISTER_PATIENTS))]
BlockRecorder = Annotated[Ui, Depends(ui_require(RECORD_BLOCKS))]
Text = Annotated[str, Form(max_length=4000)]
SEARCH_LIMIT = 50


def validated(model: Any, data: dict[str, Any]) -> Any:
    """The model, or the same 422 the JSON API answers for this body."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc.errors(include_url=False), ["body"])
        raise Unprocessable(f"{len(errors)} invalid field(s)", errors=errors) from None


@router.get("/patients")
async def patient_list(ui: Reader, q: str = "") -> HTMLResponse:
    found = await service.search_patients(ui.session, ui.clinic_id, q[:200], SEARCH_LIMIT)
    only = found[0].id if len(found) == 1 else None  # one patient found: a look at that record
    ui.audit.record("search", "patient", result_ids=[p.id for p in found], patient_id=only)
    return ui.page("patients.html", patients=found, q=q, form={}, errors={})


@router.post("/patients")
async def patient_create(ui: Registrar, mrn: Text = "", name: Text = "", birth_date: Text = "") -> Response:
    form = {"mrn": mrn, "name": name, "birth_date": birth_date}
    data = {"mrn": mrn, "name": blank_to_none(name), "birth_date": blank_to_none(birth_date)}
    try:
        patient = await service.create_patient(ui.session, ui.clinic_id, validated(PatientCreate, data))
    except Unprocessable as exc:
        return ui.page("patients.html", 422, patients=[], q="", form=form, errors=field_errors(exc))
    except Conflict as exc:
        errors = {"mrn": exc.detail, "existing_id": exc.extra.get("existing_id", "")}
        return ui.page("patients.html", 409, patients=[], q="", form=form, errors=errors)
    ui.audit.record("create", "patient", patient.id, patient_id=patient.id)
    return redirect(f"/ui/patients/{patient.id}")


async def _board(ui: Ui, patient_id: uuid.UUID, status: int = 200, **context: Any) -> HTMLResponse:
    patient = await service.get_patient(ui.session, ui.clinic_id, patient_id)
    levels = await levels_for_patient(ui.session, ui.clinic_id, patient_id)
    rows, _ = await block_service.list_blocks(ui.session, ui.clinic_id, patient_id, 200, None)
    blocks = await block_service.blocks_public(ui.session, ui.clinic_id, rows)
    ui.audit.record("read", "patient", patient.id, patient_id=patient.id)
    defaults = {"performed_at": now_text(datetime.now(UTC)), "side": "bilateral", "agent": "lidocaine"}
    context = {"form": defaults, "errors": {}} | context
    return ui.page("patient.html", status, patient=patient, levels=levels.items, blocks=blocks, **context)


@router.get("/patients/{patient_id}")
async def patient_board(ui: Reader, patient_id: uuid.UUID) -> HTMLResponse:
    return await _board(ui, patient_id)


def _block_data(form: dict[str, str]) -> dict[str, Any]:
    joints = [j for j in form["joints"].replace(";", ",").split(",") if j.strip()]
    optional = ("expected_relief_minutes", "concentration_pct", "volume_ml_per_nerve", "notes")
    data: dict[str, Any] = {name: blank_to_none(form[name]) for name in optional}
    if data["expected_relief_minutes"] and data["expected_relief_minutes"].isdigit():
        data["expected_relief_minutes"] = int(data["expected_relief_minutes"])
    fixed = ("procedure", "intent", "agent", "sedation", "guidance", "pain_scale")
    data |= {name: form[name] for name in fixed}
    data["performed_at"] = time_text(form["performed_at"])
    data["targets"] = [{"joint": j.strip(), "side": form["side"]} for j in joints]
    return data


@router.post("/patients/{patient_id}/blocks")
async def block_create(  # noqa: PLR0913 - one parameter per form field
    ui: BlockRecorder,
    patient_id: uuid.UUID,
    request: Request,
) -> Response:
    names = ("performed_at", "joints", "side", "procedure", "intent", "agent", "sedation", "guidance")
    names += ("pain_scale", "expected_relief_minutes", "concentration_pct", "volume_ml_per_nerve", "notes")
    raw = await request.form()
    form = {name: str(raw.get(name, ""))[:4000] for name in names}
    try:
        body = validated(BlockCreate, _block_data(form))
        row = await block_service.create_block(
            ui.session, ui.clinic_id, patient_id, body, None, ui.principal.key_name
        )
    except Unprocessable as exc:
        errors = {_form_field(k): v for k, v in reversed(field_errors(exc).items())}
        return await _board(ui, patient_id, 422, form=form, errors=errors)
    ui.audit.record("create", "block", row.id, patient_id=patient_id)
    return redirect(f"/ui/blocks/{row.id}/diary")


def _form_field(loc: str) -> str:
    # targets.0.joint -> the joints box; targets (none given) -> the joints box too.
    return "joints" if loc.startswith("targets") else loc


@router.post("/blocks/{block_id}/void")
async def block_void(ui: BlockRecorder, block_id: uuid.UUID, reason: Text = "") -> Response:
    block = await block_service.get_block(ui.session, ui.clinic_id, block_id)
    try:
        body = validated(BlockVoid, {"reason": reason.strip()})
    except Unprocessable:
        return await _board(ui, block.patient_id, 422, void_error={str(block_id): "Give a reason."})
    await block_service.void_block(
        ui.session, ui.clinic_id, block_id, body.reason, None, ui.principal.key_name
    )
    ui.audit.record("void", "block", block_id, patient_id=block.patient_id)
    return redirect(f"/ui/patients/{block.patient_id}")
