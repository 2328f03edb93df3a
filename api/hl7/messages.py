"""HL7 v2.5.1 messages built with hl7apy, each validated against 2.5.1 before it is returned. Pure functions.

- ORU^R01: one ORDER_OBSERVATION per block target (OBR-4 the CPT code); one OBX per pain score (LOINC by
  scale, OBX-11 F/C/W), then the relief figures (NM, % and min) and the verdict with its reasons (ST text).
- MDM^T02: a document (the outcome letter, a PDF) as base64 in ED OBX segments. HL7 2.5.1 caps ED.5 at
  65,536 characters, so a larger document is split over consecutive OBX segments with the same OBX-3 and
  OBX-4 sub-ids 1, 2, ...: concatenate their OBX-5.5 in that order before decoding.
"""

import base64
from collections.abc import Sequence
from datetime import UTC, datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Component, Field, Group, Message, Segment

from api.interop import codes
from api.schemas.referrals import ReferralPublic
from api.services.reading_records import ReadingRecord
from api.services.records import PatientRecord, TargetRecord

VERSION = "2.5.1"
STRICT = VALIDATION_LEVEL.STRICT
SENDER = "BLOCKTRACK"
ED_CHUNK = 65536  # characters of base64 per OBX-5.5 (a multiple of 4: every chunk decodes alone too)
OBR_STATUS = {"positive": "F", "negative": "F", "indeterminate": "P"}


def ts(at: datetime) -> str:
    """An HL7 DTM in UTC with its offset, to the second."""
    return at.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _header(message: Message, kind: str, control_id: str, now: datetime) -> None:
    message.msh.msh_3 = SENDER
    message.msh.msh_7 = ts(now)
    message.msh.msh_9 = kind
    message.msh.msh_10 = control_id.replace("-", "")[:20]  # ST(20) in 2.5.1
    message.msh.msh_11 = "P"


def _pid(pid: Segment, patient: PatientRecord) -> None:
    pid.pid_1 = "1"
    identifier = pid.add_field("PID_3")
    identifier.cx_1 = patient.mrn
    identifier.cx_4 = SENDER
    identifier.cx_5 = "MR"
    name = pid.add_field("PID_5")
    given, _, family = (patient.name or "").strip().rpartition(" ")
    # "Maria Alvarez" -> Alvarez^Maria; one word is the family name; no name is HL7's explicit null.
    name.xpn_1.fn_1 = family or '""'
    if given:
        name.xpn_2 = given
    if patient.birth_date:
        pid.pid_7 = patient.birth_date.strftime("%Y%m%d")


def _value(segment: Segment, datatype: str, parts: Sequence[str]) -> None:
    """OBX-5 (type varies) as typed components, so hl7apy escapes the text and checks the type."""
    field: Field = segment.add_field("OBX_5")
    for i, part in enumerate(parts, 1):
        component = Component(f"VARIES_{i}", datatype=datatype, version=VERSION, validation_level=STRICT)
        component.value = part
        field.add(component)


def _obx(
    group: Group,
    n: int,
    kind: str,
    code: str,
    value: Sequence[str],
    at: datetime,
    status: str,
    units: str = "",
    sub_id: str = "",
) -> Segment:
    obx = group.add_group("ORU_R01_OBSERVATION").obx if group.name.startswith("ORU") else group.obx
    obx.obx_1 = str(n)
    obx.obx_2 = kind
    obx.obx_3 = code
    if sub_id:
        obx.obx_4 = sub_id
    _value(obx, "TX" if kind == "ED" else kind, value)
    if units:
        obx.obx_6 = units
    obx.obx_11 = status
    obx.obx_14 = ts(at)
    return obx


def _reading_obx(order: Group, n: int, r: ReadingRecord) -> None:
    loinc, display = codes.PAIN_SCORE_LOINC[r.pain_scale]
    status = codes.READING_STATUS[codes.reading_status(r.status, r.version)][1]
    _obx(order, n, "NM", f"{loinc}^{display}^LN", [str(r.score)], r.recorded_at, status, "{score}^score^UCUM")
    when = "before the block" if r.phase == "pre" else f"{r.minutes_after_block} min after the block"
    _note(order.children[-1], f"{r.phase}: {when}")


def _note(observation: Group, text: str) -> None:
    nte = observation.add_segment("NTE")
    nte.nte_1 = "1"
    nte.nte_3 = text


def _figures(order: Group, n: int, t: TargetRecord) -> int:
    o = t.outcome
    if o is None:
        return n
    status = OBR_STATUS[o.verdict] if t.block_status == "active" else "W"
    for code, value, units in (
        ("peak-relief^Peak relief^L", o.peak_relief_pct, "%^percent^UCUM"),
        ("sustained-relief^Sustained relief^L", o.sustained_relief_pct, "%^percent^UCUM"),
        ("relief-duration^Relief duration^L", o.relief_duration_minutes, "min^minute^UCUM"),
        ("required-duration^Relief duration required^L", o.required_minutes, "min^minute^UCUM"),
    ):
        if value is not None:
            n += 1
            _obx(order, n, "NM", code, [f"{value:g}"], o.computed_at, status, units)
    reasons = " ".join(note.message for note in (*o.reasons, *o.warnings))
    n += 1
    _obx(
        order,
        n,
        "ST",
        "block-verdict^Block verdict^L",
        [f"{o.verdict}: {reasons}"[:199]],
        o.computed_at,
        status,
    )
    return n


def _order(result: Group, index: int, t: TargetRecord, readings: Sequence[ReadingRecord]) -> None:
    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    obr = order.obr
    obr.obr_1 = str(index)
    obr.obr_3 = f"{t.target_id}^{SENDER}"
    cpt = codes.cpt_for(t.procedure, t.joint, t.session_joints)
    obr.obr_4 = f"{cpt}^{codes.CPT_DISPLAY[cpt][:150]}^C4"
    obr.obr_7 = ts(t.performed_at)
    obr.obr_25 = (
        "X"
        if t.block_status == "entered_in_error"
        else OBR_STATUS[t.outcome.verdict if t.outcome else "indeterminate"]
    )
    nte = order.add_segment("NTE")
    nte.nte_1 = "1"
    nte.nte_3 = f"{t.joint} {t.side} facet joint; {t.agent}; {t.intent} {t.procedure.replace('_', ' ')}"
    n = 0
    for reading in readings:
        n += 1
        _reading_obx(order, n, reading)
    _figures(order, n, t)


def oru_r01(
    patient: PatientRecord,
    targets: Sequence[TargetRecord],
    readings: Sequence[ReadingRecord],
    control_id: str,
    now: datetime,
) -> str:
    """ORU^R01 for one block: the pain scores, relief figures and verdict of each of its targets."""
    message = Message("ORU_R01", version=VERSION, validation_level=STRICT)
    _header(message, "ORU^R01^ORU_R01", control_id, now)
    result = message.add_group("ORU_R01_PATIENT_RESULT")
    _pid(result.add_group("ORU_R01_PATIENT").pid, patient)
    for index, target in enumerate(targets, 1):
        _order(result, index, target, [r for r in readings if r.target_id == target.target_id])
    message.validate()
    return str(message.to_er7())


def mdm_t02(
    patient: PatientRecord,
    referral: ReferralPublic,
    pdf: bytes,
    control_id: str,
    now: datetime,
    activity_at: datetime | None = None,
) -> str:
    """MDM^T02 carrying a referral's letter (`pdf`) as base64, for an EHR to file in the chart.

    TXA-4 is when the referral opened or was fulfilled (`activity_at`), TXA-6 when the letter was produced;
    TXA-12, the document's unique number, is the control id (the event's): a referral's letters at opening
    and at fulfilment are two documents. TXA-14 carries the EHR's order id once it is known."""
    message = Message("MDM_T02", version=VERSION, validation_level=STRICT)
    _header(message, "MDM^T02^MDM_T02", control_id, now)
    message.evn.evn_1 = "T02"
    message.evn.evn_2 = ts(now)
    _pid(message.pid, patient)
    message.pv1.pv1_2 = "O"  # outpatient
    _txa(message.txa, referral, control_id, now, activity_at or now)
    data = base64.b64encode(pdf).decode("ascii")
    chunks = [data[i : i + ED_CHUNK] for i in range(0, len(data), ED_CHUNK)] or [""]
    code = "{}^{}^LN".format(*codes.LETTER_LOINC)
    for n, chunk in enumerate(chunks, 1):
        group = message.add_group("MDM_T02_OBXNTE_SUPPGRP")
        _obx(group, n, "ED", code, ["", "AP", "PDF", "Base64", chunk], now, "F", sub_id=str(n))
    message.validate()
    return str(message.to_er7())


def _txa(
    txa: Segment, referral: ReferralPublic, control_id: str, now: datetime, activity_at: datetime
) -> None:
    txa.txa_1, txa.txa_2, txa.txa_3 = "1", "CN", "AP"  # consultation; other application data
    txa.txa_4 = ts(activity_at)
    txa.txa_6 = ts(now)
    txa.txa_12 = f"{control_id.replace('-', '')[:20]}^{SENDER}"
    if referral.external_order_id:
        txa.txa_14 = referral.external_order_id[:199]
    txa.txa_17 = "DO"  # documented: produced from the record, not signed by a person
    txa.txa_19 = "AV"  # available for patient care
