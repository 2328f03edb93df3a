"""The level's outcome letter: a printable page and its PDF."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from api.auth import READ
from api.services.letters import level_key, render_letter_html, render_letter_pdf
from api.ui.deps import PAGE_HEADERS, Ui, ui_require

router = APIRouter(prefix="/ui", include_in_schema=False)
Reader = Annotated[Ui, Depends(ui_require(READ))]


def letter_filename(patient_id: uuid.UUID, joint: str, side: str) -> str:
    return f"blocktrack-letter-{joint}-{side}-{str(patient_id)[:8]}.pdf"


@router.get("/patients/{patient_id}/levels/{joint}/{side}/letter")
async def letter_page(ui: Reader, patient_id: uuid.UUID, joint: str, side: str) -> HTMLResponse:
    joint, side = level_key(joint, side)
    html = await render_letter_html(ui.session, ui.clinic_id, patient_id, joint, side)
    ui.audit.record("export", "letter", f"{joint}:{side}", patient_id=patient_id)
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/patients/{patient_id}/levels/{joint}/{side}/letter.pdf")
async def letter_pdf(ui: Reader, patient_id: uuid.UUID, joint: str, side: str) -> Response:
    joint, side = level_key(joint, side)
    pdf = await render_letter_pdf(ui.session, ui.clinic_id, patient_id, joint, side)
    ui.audit.record("export", "letter", f"{joint}:{side}", patient_id=patient_id)
    disposition = f'inline; filename="{letter_filename(patient_id, joint, side)}"'
    headers = {"Content-Disposition": disposition, **PAGE_HEADERS}
    return Response(pdf, media_type="application/pdf", headers=headers)
