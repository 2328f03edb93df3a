"""The referral worklist: open and acknowledged referrals; acknowledging one with an order id."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, Response

from api.auth import ACKNOWLEDGE, READ
from api.errors import Conflict, Unprocessable
from api.schemas.referrals import AcknowledgeRequest
from api.services import referrals as service
from api.services.patients import get_patient
from api.ui.deps import Ui, redirect, ui_require
from api.ui.forms import blank_to_none, field_errors
from api.ui.patients import validated

router = APIRouter(prefix="/ui", include_in_schema=False)
Reader = Annotated[Ui, Depends(ui_require(READ))]
Acknowledger = Annotated[Ui, Depends(ui_require(ACKNOWLEDGE))]
WORKLIST = ("open", "acknowledged")
PAGE = 200


async def _worklist(ui: Ui, status: int = 200, **context: object) -> HTMLResponse:
    items = []
    for state in WORKLIST:
        page = await service.list_referrals(ui.session, ui.clinic_id, state, None, PAGE, None)
        items += page.items
    items.sort(key=lambda r: r.recommended_at)
    patients = {
        pid: await get_patient(ui.session, ui.clinic_id, pid) for pid in {r.patient_id for r in items}
    }
    ui.audit.record("search", "referral", result_ids=[r.id for r in items])
    context = {"errors": {}, "form": {}} | context
    return ui.page("referrals.html", status, referrals=items, patients=patients, **context)


@router.get("/referrals")
async def worklist(ui: Reader) -> HTMLResponse:
    return await _worklist(ui)


@router.post("/referrals/{referral_id}/acknowledge")
async def acknowledge(
    ui: Acknowledger, referral_id: uuid.UUID, external_order_id: Annotated[str, Form()] = ""
) -> Response:
    order = blank_to_none(external_order_id)
    try:
        body = validated(AcknowledgeRequest, {"external_order_id": order})
        referral = await service.acknowledge(
            ui.session, ui.clinic_id, referral_id, body.external_order_id, ui.principal
        )
    except (Unprocessable, Conflict) as exc:
        message = field_errors(exc).get("external_order_id") if isinstance(exc, Unprocessable) else exc.detail
        errors = {str(referral_id): message or "Could not acknowledge."}
        return await _worklist(ui, 409 if isinstance(exc, Conflict) else 422, errors=errors)
    ui.audit.record("acknowledge", "referral", referral_id, patient_id=referral.patient_id)
    return redirect("/ui/referrals")
