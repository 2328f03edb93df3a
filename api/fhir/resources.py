"""Pure builders: service-layer records -> FHIR R4 resources, validated with fhir.resources (R4B models).

Mapping decisions (see the README, "FHIR R4"):
- Procedure: one per block target (joint and side), id = the target's id. CPT by payer family and the
  joint's place in the session (api/interop/codes.py). Agent, guidance, sedation, intent, concentration
  and volume travel in one complex extension (machine-readable) and in a note (for people).
- Observation: one per reading (id = the reading's id), LOINC by pain scale; one derived per target
  (id = the target's id) with the verdict and the relief figures, Blocktrack code system.
- ServiceRequest: one per referral, intent `proposal`, RFA CPT code.
"""

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.servicerequest import ServiceRequest

from api.clinical.nomenclature import nerves_of
from api.interop import codes
from api.services.reading_records import ReadingRecord
from api.services.record_pages import ReferralRecord
from api.services.records import PatientRecord, TargetRecord

Json = dict[str, Any]
PROCEDURE_NAMES = {
    "medial_branch_block": "Medial branch block",
    "intra_articular_injection": "Facet joint injection",
    "radiofrequency_ablation": "Radiofrequency ablation",
}
DIAGNOSTIC, THERAPEUTIC = ("103693007", "Diagnostic procedure"), ("277132007", "Therapeutic procedure")


def instant(at: datetime) -> str:
    return at.isoformat()


def coding(system: str, code: str, display: str | None = None) -> Json:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> Json:
    return {"coding": [coding(system, code, display)], **({"text": text} if text else {})}


def ref(resource_type: str, resource_id: Any) -> Json:
    return {"reference": f"{resource_type}/{resource_id}"}


def with_meta(resource: Json, last_updated: datetime) -> Json:
    """meta.versionId is a digest of the resource's content: it changes with every change of it."""
    body = json.dumps(resource, sort_keys=True, default=str).encode()
    version = hashlib.sha256(body).hexdigest()[:16]
    return {**resource, "meta": {"versionId": version, "lastUpdated": instant(last_updated)}}


def body_site(joint: str, side: str) -> Json:
    laterality = codes.LATERALITY[side]
    return {
        "extension": [
            {"url": codes.LATERALITY_EXTENSION, "valueCodeableConcept": concept(codes.SNOMED, *laterality)}
        ],
        "coding": [coding(codes.FACET_JOINT, joint, f"{joint} facet joint")],
        "text": f"{side.capitalize()} {joint} facet joint",
    }


def patient(p: PatientRecord) -> Patient:
    resource: Json = {
        "resourceType": "Patient",
        "id": str(p.id),
        "identifier": [
            {
                "use": "usual",
                "type": concept(codes.V2_0203, "MR", "Medical record number"),
                "system": codes.MRN_SYSTEM,
                "value": p.mrn,
            }
        ],
    }
    if p.name:
        resource["name"] = [{"text": p.name}]
    if p.birth_date:
        resource["birthDate"] = p.birth_date.isoformat()
    return Patient.model_validate(with_meta(resource, p.created_at))


def _detail_extension(t: TargetRecord) -> Json:
    parts: list[Json] = [
        {"url": "intent", "valueCode": t.intent},
        {"url": "agent", "valueCode": t.agent},
        {"url": "guidance", "valueCode": t.guidance},
        {"url": "sedation", "valueCode": t.sedation},
        {"url": "painScale", "valueCode": t.pain_scale},
    ]
    if t.concentration_pct is not None:
        parts.append({"url": "concentrationPercent", "valueDecimal": float(t.concentration_pct)})
    if t.volume_ml_per_nerve is not None:
        parts.append({"url": "volumeMlPerNerve", "valueDecimal": float(t.volume_ml_per_nerve)})
    return {"url": codes.PROCEDURE_EXTENSION, "extension": parts}


def _detail_text(t: TargetRecord) -> str:
    dose = f" {float(t.concentration_pct):g}%" if t.concentration_pct is not None else ""
    volume = f", {float(t.volume_ml_per_nerve):g} mL per nerve" if t.volume_ml_per_nerve is not None else ""
    nerves = ", ".join(nerves_of(t.joint))
    sedation = "no sedation" if t.sedation == "none" else f"{t.sedation.replace('_', ' ')} sedation"
    return (
        f"{t.intent.capitalize()} {PROCEDURE_NAMES[t.procedure].lower()} of {nerves}: "
        f"{t.agent}{dose}{volume}; "
        f"{t.guidance} guidance, {sedation}; pain scale {t.pain_scale.upper()}."
    )


def _last_updated(t: TargetRecord) -> datetime:
    times = [t.block_created_at, t.voided_at, t.outcome.computed_at if t.outcome else None]
    return max(at for at in times if at is not None)


def procedure(t: TargetRecord) -> Procedure:
    cpt = codes.cpt_for(t.procedure, t.joint, t.session_joints)
    name = f"{PROCEDURE_NAMES[t.procedure]}, {t.joint} {t.side}"
    resource: Json = {
        "resourceType": "Procedure",
        "id": str(t.target_id),
        "extension": [_detail_extension(t)],
        "status": "entered-in-error" if t.block_status == "entered_in_error" else "completed",
        "category": concept(codes.SNOMED, *(DIAGNOSTIC if t.intent == "diagnostic" else THERAPEUTIC)),
        "code": concept(codes.CPT, cpt, codes.CPT_DISPLAY[cpt], name),
        "subject": ref("Patient", t.patient.id),
        "performedDateTime": instant(t.performed_at),
        "bodySite": [body_site(t.joint, t.side)],
        "note": [{"text": _detail_text(t)}, *([{"text": t.notes}] if t.notes else [])],
    }
    if t.outcome is not None:
        resource["outcome"] = concept(codes.BLOCKTRACK, t.outcome.verdict, t.outcome.verdict.capitalize())
    if t.void_reason:
        resource["statusReason"] = {"text": t.void_reason}
    return Procedure.model_validate(with_meta(resource, _last_updated(t)))


def _quantity(value: float | int, unit: str, code: str) -> Json:
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": code}


def _component(code: str, display: str, value: Json) -> Json:
    return {"code": concept(codes.BLOCKTRACK, code, display), **value}


def reading_observation(r: ReadingRecord) -> Observation:
    loinc, display = codes.PAIN_SCORE_LOINC[r.pain_scale]
    status = codes.READING_STATUS[codes.reading_status(r.status, r.version)][0]
    phase = "before the block" if r.phase == "pre" else f"{r.minutes_after_block} min after the block"
    notes = [
        f"Activity: {r.activity}" if r.activity else None,
        r.note,
        r.analgesic and f"Analgesic: {r.analgesic}",
    ]
    resource: Json = {
        "resourceType": "Observation",
        "id": str(r.id),
        "status": status,
        "category": [concept(codes.OBSERVATION_CATEGORY, "survey", "Survey")],
        "code": concept(codes.LOINC, loinc, display, f"Pain score ({r.pain_scale.upper()}), {phase}"),
        "subject": ref("Patient", r.patient_id),
        "partOf": [ref("Procedure", r.target_id)],
        "effectiveDateTime": instant(r.recorded_at),
        "issued": instant(r.changed_at),
        "valueInteger": r.score,
        "component": [
            _component(
                "diary-phase",
                "Diary phase",
                {
                    "valueCodeableConcept": concept(
                        codes.BLOCKTRACK,
                        f"{r.phase}-block",
                        "Before the block" if r.phase == "pre" else "After the block",
                    )
                },
            ),
            _component(
                "minutes-after-block",
                "Minutes after the block",
                {"valueQuantity": _quantity(r.minutes_after_block, "min", "min")},
            ),
            _component("analgesic-taken", "Analgesic taken", {"valueBoolean": r.analgesic_taken}),
        ],
    }
    if r.source == "patient_diary":
        resource["performer"] = [ref("Patient", r.patient_id)]
    if texts := [{"text": text} for text in notes if text]:
        resource["note"] = texts
    return Observation.model_validate(with_meta(resource, r.changed_at))


def _figures(t: TargetRecord) -> Iterable[Json]:
    o = t.outcome
    assert o is not None
    if o.baseline is not None:
        yield _component("baseline-score", "Baseline pain score", {"valueInteger": o.baseline})
    for code, display, value in (
        ("peak-relief", "Peak relief", o.peak_relief_pct),
        ("sustained-relief", "Sustained relief", o.sustained_relief_pct),
    ):
        if value is not None:
            yield _component(code, display, {"valueQuantity": _quantity(value, "%", "%")})
    yield _component(
        "relief-duration",
        "Relief duration",
        {"valueQuantity": _quantity(o.relief_duration_minutes, "min", "min")},
    )
    yield _component(
        "required-duration",
        "Relief duration required",
        {"valueQuantity": _quantity(o.required_minutes, "min", "min")},
    )


def verdict_observation(t: TargetRecord) -> Observation | None:
    """The derived Observation of a target: its verdict and figures; None while it is not evaluated."""
    o = t.outcome
    if o is None:
        return None
    status = "entered-in-error" if t.block_status == "entered_in_error" else codes.VERDICT_STATUS[o.verdict]
    resource: Json = {
        "resourceType": "Observation",
        "id": str(t.target_id),
        "status": status,
        "category": [concept(codes.OBSERVATION_CATEGORY, "procedure", "Procedure")],
        "code": concept(
            codes.BLOCKTRACK,
            "block-relief-verdict",
            "Diagnostic block relief verdict",
            f"Relief after the block, {t.joint} {t.side}",
        ),
        "subject": ref("Patient", t.patient.id),
        "partOf": [ref("Procedure", t.target_id)],
        "effectiveDateTime": instant(t.performed_at),
        "issued": instant(o.computed_at),
        "valueCodeableConcept": concept(codes.BLOCKTRACK, o.verdict, o.verdict.capitalize()),
        "interpretation": [concept(codes.INTERPRETATION, *codes.VERDICT_INTERPRETATION[o.verdict])],
        "component": list(_figures(t)),
    }
    if o.readings_used:
        resource["derivedFrom"] = [ref("Observation", rid) for rid in o.readings_used]
    if notes := [{"text": n.message} for n in (*o.reasons, *o.warnings)]:
        resource["note"] = notes
    return Observation.model_validate(with_meta(resource, _last_updated(t)))


def service_request(record: ReferralRecord) -> ServiceRequest:
    r = record.referral
    status = codes.SERVICE_REQUEST_STATUS[r.status]
    nerves = ", ".join(r.procedure.nerves)
    resource: Json = {
        "resourceType": "ServiceRequest",
        "id": str(r.id),
        "status": status,
        "intent": "proposal",
        "code": concept(
            codes.CPT,
            r.procedure.cpt_first_joint,
            codes.CPT_DISPLAY[r.procedure.cpt_first_joint],
            f"Radiofrequency ablation of {nerves} ({r.joint} {r.side})",
        ),
        "subject": ref("Patient", r.patient_id),
        "authoredOn": instant(r.recommended_at),
        "bodySite": [body_site(r.joint, r.side)],
    }
    if record.evidence_target_ids:
        resource["reasonReference"] = [ref("Observation", t) for t in record.evidence_target_ids]
        resource["supportingInfo"] = [ref("Procedure", t) for t in record.evidence_target_ids]
    if r.external_order_id:
        placer = concept(codes.V2_0203, "PLAC", "Placer Identifier")
        resource["identifier"] = [{"type": placer, "value": r.external_order_id}]
    notes = [w.message for w in r.warnings] + ([r.withdrawn_reason] if r.withdrawn_reason else [])
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    # `fulfilled_at` arrives with clinical rules v2 (CR-27); read it when the referral has it.
    times = (r.recommended_at, r.acknowledged_at, r.withdrawn_at, getattr(r, "fulfilled_at", None))
    changed = [at for at in times if at is not None]
    return ServiceRequest.model_validate(with_meta(resource, max(changed)))
