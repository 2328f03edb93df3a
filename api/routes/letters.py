"""The level's outcome letter over the API: HTML or PDF by Accept (contract: Patients, levels)."""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import Reader, Session
from api.examples import example
from api.schemas.common import AUTHED, problems
from api.services.audit import AuditLog
from api.services.letters import level_key, render_letter_html, render_letter_pdf

router = APIRouter(prefix="/v1", tags=["levels"])
PDF = "application/pdf"
_DOCUMENTED = {
    200: {
        "description": "The letter: `text/html` (default) or `application/pdf` when Accept prefers it.",
        "content": {
            "text/html": {"schema": {"type": "string"}, "example": example("letter_html")},
            PDF: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **problems(*AUTHED, 404),
}


def _quality(accept: str, media_type: str) -> float:
    """The q of `media_type` in an Accept header (0 when absent); `*/*` and `type/*` count for less."""
    best = 0.0
    for part in accept.split(","):
        name, *params = [p.strip() for p in part.split(";")]
        q = next((p.removeprefix("q=") for p in params if p.startswith("q=")), "1")
        try:
            value = float(q)
        except ValueError:
            continue
        if name == media_type:
            best = max(best, value)
        elif name in ("*/*", media_type.split("/")[0] + "/*"):
            best = max(best, value * 0.99)  # an exact match beats a wildcard of the same q
    return best


def wants_pdf(accept: str) -> bool:
    return _quality(accept, PDF) > _quality(accept, "text/html")


@router.get(
    "/patients/{patient_id}/levels/{joint}/{side}/letter",
    response_class=HTMLResponse,
    responses=_DOCUMENTED,  # type: ignore[arg-type]
)
async def get_letter(
    patient_id: uuid.UUID,
    joint: str,
    side: str,
    request: Request,
    session: Session,
    principal: Reader,
    audit: AuditLog,
) -> Response:
    """The level's outcome letter documenting medical necessity: patient, the qualifying blocks and
    their figures, relief charts, the policy and its version, warnings and the suggested procedure with
    its nerves and CPT codes. `joint` is written as clinicians write it (`L4-L5`, `l4-5`)."""
    joint, side = level_key(joint, side)
    accept = request.headers.get("accept", "")
    if wants_pdf(accept):
        body = await render_letter_pdf(session, principal.clinic_id, patient_id, joint, side)
        response: Response = Response(body, media_type=PDF)
    else:
        response = HTMLResponse(
            await render_letter_html(session, principal.clinic_id, patient_id, joint, side)
        )
    audit.record("export", "letter", f"{joint}:{side}", patient_id=patient_id)
    response.headers["Vary"] = "Accept"
    return response


@router.get(
    "/patients/{patient_id}/levels/{joint}/{side}/letter.pdf",
    response_class=Response,
    responses={
        200: {
            "description": "The letter as a PDF.",
            "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems(*AUTHED, 404),
    },  # type: ignore[dict-item]
)
async def get_letter_pdf(
    patient_id: uuid.UUID, joint: str, side: str, session: Session, principal: Reader, audit: AuditLog
) -> Response:
    """The same letter, always as a PDF whatever `Accept` says: the URL a FHIR DocumentReference's
    attachment points at, for clients that cannot choose a media type."""
    joint, side = level_key(joint, side)
    body = await render_letter_pdf(session, principal.clinic_id, patient_id, joint, side)
    audit.record("export", "letter", f"{joint}:{side}", patient_id=patient_id)
    return Response(body, media_type=PDF)
