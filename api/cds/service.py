"""CDS Hooks `rfa-order-check`: who calls (the EHR's signed JWT), which orders and levels, which cards.

The caller is authenticated as the CDS Hooks specification requires: a JWT signed by a key of an issuer the
clinic registered (`POST /v1/cds-issuers`), `aud` this service's URL, a short `exp`, a `jti` never seen
before. The issuer decides the clinic; an issuer registered by more than one clinic is answered only when
exactly one clinic's keys verify the JWT.
"""

import re
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.cds.cards import Requested, card, unknown_patient_card
from api.clinical.nomenclature import NomenclatureError, normalise_joint
from api.errors import Unauthorized
from api.interop import codes
from api.interop.jwt import JwtRejected, keys_for, peek, remember_jti, verify
from api.schemas.levels import LevelPublic
from api.services import records
from api.services.levels import levels_for_patient
from models import AuditEvent, CdsIssuer

_JOINT = re.compile(r"\b([CTL]\d{1,2}\s*[-/]\s*[CTLS]?\d{1,2})\b", re.IGNORECASE)


async def authenticate(
    session: AsyncSession, token: str, audience: str, max_lifetime: int
) -> tuple[uuid.UUID, str]:
    """(clinic_id, issuer) of a verified CDS Hooks JWT; 401 otherwise."""
    try:
        header, claims = peek(token)
        issuer = str(claims.get("iss", ""))
        candidates = (await session.scalars(select(CdsIssuer).where(CdsIssuer.issuer == issuer))).all()
        if not candidates:
            raise JwtRejected(f"issuer {issuer!r} is not registered (POST /v1/cds-issuers)")
        verified, errors = {}, []
        for candidate in candidates:
            try:
                keys = await keys_for(candidate.jwks, candidate.jwks_url, header.get("kid"))
                verified[candidate.clinic_id] = verify(token, keys, issuer, audience, max_lifetime)
            except JwtRejected as exc:
                errors.append(str(exc))
        if len(verified) != 1:
            raise JwtRejected(
                errors[0] if not verified else "the issuer and its keys belong to several clinics"
            )
        [(clinic_id, verified_claims)] = verified.items()
        await remember_jti(session, issuer, verified_claims)
    except JwtRejected as exc:
        raise Unauthorized(f"CDS Hooks JWT refused: {exc}") from None
    return clinic_id, issuer


def _resources(bundle: Any) -> Iterator[dict[str, Any]]:
    if isinstance(bundle, dict):
        for entry in bundle.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield entry["resource"]


def ablation_orders(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft ServiceRequests coded as an ablation (CPT 64633-64636); for order-select, the selected."""
    selected = set(context.get("selections") or [])
    orders = []
    for resource in _resources(context.get("draftOrders")):
        if resource.get("resourceType") != "ServiceRequest":
            continue
        if selected and f"ServiceRequest/{resource.get('id')}" not in selected:
            continue
        found = [
            c.get("code") for c in (resource.get("code") or {}).get("coding") or [] if isinstance(c, dict)
        ]
        if any(code in codes.RFA_CODES for code in found):
            orders.append(resource)
    return orders


def _mrn(identifiers: Any) -> str | None:
    usable = [i for i in identifiers or [] if isinstance(i, dict) and i.get("value")]
    mr = [i for i in usable if any(c.get("code") == "MR" for c in (i.get("type") or {}).get("coding") or [])]
    return str((mr or usable)[0]["value"]) if usable else None


def mrn_of(order: dict[str, Any], prefetch: dict[str, Any] | None) -> str | None:
    subject = order.get("subject") or {}
    from_order = _mrn([subject.get("identifier")] if isinstance(subject.get("identifier"), dict) else [])
    patient = (prefetch or {}).get("patient") or {}
    return from_order or _mrn(patient.get("identifier") if isinstance(patient, dict) else None)


def _sides(site: dict[str, Any]) -> list[str]:
    for ext in site.get("extension") or []:
        for c in (ext.get("valueCodeableConcept") or {}).get("coding") or []:
            side = codes.SIDE_OF_LATERALITY.get(c.get("code"))
            if side:
                return ["left", "right"] if side == "bilateral" else [side]
    text = " ".join(
        [site.get("text") or "", *[c.get("display") or "" for c in site.get("coding") or []]]
    ).lower()
    if "bilateral" in text or ("left" in text and "right" in text):
        return ["left", "right"]
    return [side for side in ("left", "right") if side in text] or ["left", "right"]


def levels_asked(order: dict[str, Any]) -> list[tuple[str, str]]:
    """(joint, side) of each body site: the joint from a code or the text, the side from the laterality."""
    asked = []
    for site in order.get("bodySite") or []:
        words = [c.get("code") or "" for c in site.get("coding") or []] + [site.get("text") or ""]
        joints = []
        for match in (m for word in words for m in _JOINT.findall(word)):
            try:
                joints.append(normalise_joint(match))
            except NomenclatureError:
                continue
        for joint in dict.fromkeys(joints):
            asked += [(joint, side) for side in _sides(site)]
    return list(dict.fromkeys(asked))


async def cards_for(
    session: AsyncSession, clinic_id: uuid.UUID, request: dict[str, Any], base: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The cards for every ablation order of the request, and the ids of the patients they looked at."""
    cards, seen = [], []
    for order in ablation_orders(request.get("context") or {}):
        mrn = mrn_of(order, request.get("prefetch"))
        patient = await records.patient_by_mrn(session, clinic_id, mrn) if mrn else None
        if patient is None:
            cards.append(unknown_patient_card(mrn))
            continue
        seen.append(str(patient.id))
        cards += [
            card(r) for r in await _requested(session, clinic_id, patient.id, levels_asked(order), base)
        ]
    return cards, seen


async def _requested(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    asked: list[tuple[str, str]],
    base: str,
) -> list[Requested]:
    levels = {
        (lvl.joint, lvl.side): lvl for lvl in (await levels_for_patient(session, clinic_id, patient_id)).items
    }
    if not asked:  # no body site on the order: every level Blocktrack knows of
        asked = list(levels)
    wanted = [b for lvl in levels.values() for b in lvl.qualifying_block_ids]
    targets = await records.targets_of_blocks(session, clinic_id, wanted) if wanted else []
    requested = []
    for joint, side in asked:
        level = levels.get((joint, side))
        qualifying = [
            t
            for t in targets
            if (t.joint, t.side) == (joint, side)
            and level is not None
            and t.block_id in level.qualifying_block_ids
        ]
        requested.append(Requested(joint, side, level, qualifying, _links(base, patient_id, level)))
    return requested


def _links(base: str, patient_id: uuid.UUID, level: LevelPublic | None) -> list[dict[str, str]]:
    """The referral, and where the criteria are met the outcome letter: its page and PDF in the staff
    workspace (a clinician following the link from the EHR signs in there, then lands on the letter)."""
    if level is None:
        return []
    links = []
    if codes.CARD_INDICATOR[level.status] == "info":  # criteria met, a payer guardrail or not
        letter = f"{base}/ui/patients/{patient_id}/levels/{level.joint}/{level.side}/letter"
        where = f"{level.joint} {level.side}"
        links += [
            {"label": f"Outcome letter, {where}", "url": letter, "type": "absolute"},
            {"label": f"Outcome letter, {where} (PDF)", "url": f"{letter}.pdf", "type": "absolute"},
        ]
    if level.referral_id is not None:
        url = f"{base}/fhir/R4/ServiceRequest/{level.referral_id}"
        links.append({"label": "Ablation referral (FHIR ServiceRequest)", "url": url, "type": "absolute"})
    return links


def audit(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    issuer: str,
    request_id: str | None,
    client: str | None,
    patient_ids: list[str],
) -> None:
    """The EHR read these patients' levels: one audit row, the issuer standing as the actor."""
    session.add(
        AuditEvent(
            clinic_id=clinic_id,
            actor_key_id=None,
            actor_name=f"CDS Hooks: {issuer}"[:200],
            role=None,
            action="search",
            resource_type="level",
            result_ids=patient_ids,
            request_id=request_id,
            client_addr=client,
        )
    )
