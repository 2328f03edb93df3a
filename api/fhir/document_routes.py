"""FHIR DocumentReference: each level's outcome letter, read by id and searched by patient.

Same tenancy, roles and audit as the other FHIR reads: any role may read; another clinic's level is a 404;
a read leaves an audit row like the letter route of /v1 (`resource_type: "letter"`, id `joint:side`, with
the patient), a search one row listing the level ids it answered. Fetching the PDF at content.attachment.url
is audited there, as an export.
"""

from functools import partial

from fastapi import APIRouter, Request

from api.auth import Reader, Session
from api.errors import NotFound
from api.fhir.document_reference import document_reference
from api.fhir.errors import FHIRResponse
from api.fhir.routes import Search, _answer, _bundle, _docs, _uuid
from api.interop.urls import FHIR_BASE, base_url
from api.services.audit import AuditLog
from api.services.letter_documents import get_letter_document, letter_document_page

router = APIRouter(prefix=FHIR_BASE, tags=["fhir"], default_response_class=FHIRResponse)


@router.get(
    "/DocumentReference/{resource_id}",
    summary="Read a DocumentReference",
    responses=_docs("DocumentReference", 401, 403, 404),
)
async def read_document_reference(
    resource_id: str, request: Request, session: Session, principal: Reader, audit: AuditLog
) -> FHIRResponse:
    """A level's outcome letter (PDF at `content[0].attachment.url`); the id is the level's."""
    level_id = _uuid(resource_id)
    if level_id is None:
        raise NotFound(f"No DocumentReference {resource_id}.")
    document = await get_letter_document(session, principal.clinic_id, level_id)
    audit.record("read", "letter", f"{document.joint}:{document.side}", patient_id=document.patient.id)
    return _answer(document_reference(document, base_url(request)))


@router.get(
    "/DocumentReference", summary="Search DocumentReferences", responses=_docs("Bundle", 400, 401, 403)
)
async def search_document_references(
    request: Request,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    search: Search,
) -> FHIRResponse:
    """Outcome letters, one per level. Each is rendered (as HTML, not PDF) to version it."""
    page = await search.page(partial(letter_document_page, session, principal.clinic_id))
    audit.record("search", "letter", result_ids=[d.level_id for d in page.items])
    base = base_url(request)
    return _bundle(request, page, [document_reference(d, base) for d in page.items])
