"""The level's outcome letter as a FHIR DocumentReference (US Core shape), validated with fhir.resources.

Decisions (see the README, "FHIR R4"):
- id: the level's id; one document per stored level, as the staff workspace shows a letter on every card.
- type: LOINC 11488-4 "Consult note" (the HL7 v2 MDM^T02 files the same letter under the same code, TXA-2
  CN consultation); category: US Core `clinical-note`.
- content: a URL to the PDF (`GET /v1/patients/{id}/levels/{joint}/{side}/letter.pdf`, the same bearer
  token), never inline data: a PDF costs ~0.1-1 s of CPU to render, which a search of 50 letters cannot pay.
- meta.versionId: a digest of the letter's rendering; meta.lastUpdated and `date`: the latest change of what
  the letter shows.
"""

from typing import Any

from fhir.resources.R4B.documentreference import DocumentReference

from api.fhir.resources import concept, instant, ref
from api.interop import codes
from api.services.letter_documents import LetterDocument

US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
FORMAT_CODE = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
PDF = "application/pdf"


def letter_pdf_path(d: LetterDocument) -> str:
    return f"/v1/patients/{d.patient.id}/levels/{d.joint}/{d.side}/letter.pdf"


def document_reference(d: LetterDocument, base_url: str) -> DocumentReference:
    title = f"Outcome letter, {d.joint} {d.side}"
    related = [ref("ServiceRequest", r) for r in d.referral_ids] + [ref("Procedure", t) for t in d.target_ids]
    context: dict[str, Any] = {"sourcePatientInfo": ref("Patient", d.patient.id)}
    if related:
        context["related"] = related
    resource = {
        "resourceType": "DocumentReference",
        "id": str(d.level_id),
        "meta": {"versionId": d.digest, "lastUpdated": instant(d.changed_at)},
        "status": "current",
        "type": concept(codes.LOINC, *codes.LETTER_LOINC, text="Outcome letter (medical necessity)"),
        "category": [concept(US_CORE_CATEGORY, "clinical-note", "Clinical Note")],
        "subject": ref("Patient", d.patient.id),
        "date": instant(d.changed_at),
        "description": f"{title}: level status {d.status.replace('_', ' ')}",
        "content": [
            {
                "attachment": {
                    "contentType": PDF,
                    "language": "en",
                    "url": base_url + letter_pdf_path(d),
                    "title": title,
                    "creation": instant(d.changed_at),
                },
                "format": {"system": FORMAT_CODE, "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient"},
            }
        ],
        "context": context,
    }
    return DocumentReference.model_validate(resource)
