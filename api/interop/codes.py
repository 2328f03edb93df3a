"""The codes Blocktrack speaks to EHRs, as small tables (clinical rules: "Codes used in the FHIR view").

FHIR, HL7 v2 and CDS Hooks all read these tables, so a code is decided in one place. They already hold the
values of clinical rules v2 (the ablation, `fulfilled` referrals, `ablated` and `repeat_rfa_eligible` levels):
when those land, only the data has to flow.
"""

from collections.abc import Iterable

from api.clinical.nomenclature import joint_sort_key, region_of

# Identifier and code systems. Blocktrack's own concepts (there is no standard code for a block's verdict or
# its relief figures) live in one code system under a URN that names the product.
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"
LATERALITY_EXTENSION = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
BLOCKTRACK = "urn:blocktrack:fhir:CodeSystem:blocktrack"
FACET_JOINT = "urn:blocktrack:fhir:CodeSystem:facet-joint"
MRN_SYSTEM = "urn:blocktrack:fhir:NamingSystem:mrn"
PROCEDURE_EXTENSION = "urn:blocktrack:fhir:StructureDefinition:block-detail"

# CR-6: the pain scale of a block -> the LOINC code of each reading (and its HL7 v2 text).
PAIN_SCORE_LOINC: dict[str, tuple[str, str]] = {
    "nrs": ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    "vas": ("38214-3", "Pain severity [Score] Visual analog score"),
}

# The outcome letter, as a FHIR DocumentReference.type and the MDM^T02's OBX-3 (TXA-2 CN: consultation).
LETTER_LOINC = ("11488-4", "Consult note")

# SNOMED CT laterality qualifiers (mCODE LateralityQualifier value set).
LATERALITY: dict[str, tuple[str, str]] = {
    "left": ("7771000", "Left (qualifier value)"),
    "right": ("24028007", "Right (qualifier value)"),
    "bilateral": ("51440002", "Right and left (qualifier value)"),
}
SIDE_OF_LATERALITY = {code: side for side, (code, _display) in LATERALITY.items()}

# CR-22 payer family by CR-3 region: T12-L1 is thoracic, so it codes as cervical_thoracic.
PAYER_FAMILY = {"cervical": "cervical_thoracic", "thoracic": "cervical_thoracic", "lumbar": "lumbar_sacral"}

# CPT by (procedure, payer family): the codes for the 1st, 2nd and 3rd-or-later joint of a session.
# 64490-64495 cover facet injections and medial branch blocks alike; 64633-64636 are the ablation.
CPT_BY_POSITION: dict[tuple[str, str], tuple[str, str, str]] = {
    ("medial_branch_block", "cervical_thoracic"): ("64490", "64491", "64492"),
    ("medial_branch_block", "lumbar_sacral"): ("64493", "64494", "64495"),
    ("intra_articular_injection", "cervical_thoracic"): ("64490", "64491", "64492"),
    ("intra_articular_injection", "lumbar_sacral"): ("64493", "64494", "64495"),
    ("radiofrequency_ablation", "cervical_thoracic"): ("64633", "64634", "64634"),
    ("radiofrequency_ablation", "lumbar_sacral"): ("64635", "64636", "64636"),
}
_INJECTION = "Injection, paravertebral facet joint or nerves"
_ABLATION = "Destruction by neurolytic agent, paravertebral facet joint nerve"
CPT_DISPLAY = {
    "64490": f"{_INJECTION}, cervical or thoracic; single level",
    "64491": f"{_INJECTION}, cervical or thoracic; second level",
    "64492": f"{_INJECTION}, cervical or thoracic; third and any additional level",
    "64493": f"{_INJECTION}, lumbar or sacral; single level",
    "64494": f"{_INJECTION}, lumbar or sacral; second level",
    "64495": f"{_INJECTION}, lumbar or sacral; third and any additional level",
    "64633": f"{_ABLATION}, cervical or thoracic; single joint",
    "64634": f"{_ABLATION}, cervical or thoracic; each additional joint",
    "64635": f"{_ABLATION}, lumbar or sacral; single joint",
    "64636": f"{_ABLATION}, lumbar or sacral; each additional joint",
}
RFA_CODES = frozenset({"64633", "64634", "64635", "64636"})

# Referral status -> FHIR ServiceRequest.status.
SERVICE_REQUEST_STATUS = {
    "open": "active",
    "acknowledged": "active",
    "withdrawn": "revoked",
    "fulfilled": "completed",
}

# Reading -> Observation.status and HL7 v2 OBX-11 (F final, C corrected, W wrong: posted in error).
READING_STATUS = {
    "final": ("final", "F"),
    "amended": ("amended", "C"),
    "entered_in_error": ("entered-in-error", "W"),
}

# Target verdict -> v3 ObservationInterpretation, and the derived Observation's status.
VERDICT_INTERPRETATION = {
    "positive": ("POS", "Positive"),
    "negative": ("NEG", "Negative"),
    "indeterminate": ("IND", "Indeterminate"),
}
VERDICT_STATUS = {"positive": "final", "negative": "final", "indeterminate": "preliminary"}

# Level status -> CDS Hooks card indicator (info: criteria met; warning: not yet, or a payer guardrail;
# critical: not indicated).
CARD_INDICATOR = {
    "referral_recommended": "info",
    "repeat_rfa_eligible": "info",
    "awaiting_confirmation": "warning",
    "pending": "warning",
    "ablated": "warning",
    "not_indicated": "critical",
    "no_blocks": "critical",
}

# Webhook event -> the HL7 v2 message an hl7v2 subscription receives for it. A referral that opens or is
# fulfilled sends the level's outcome letter (api.hl7.messages.mdm_t02), rendered by the deliverer.
HL7_MESSAGES = {
    "block.evaluated": "ORU^R01",
    "referral.recommended": "MDM^T02",
    "referral.fulfilled": "MDM^T02",
}
LETTER_EVENTS = frozenset(e for e, kind in HL7_MESSAGES.items() if kind == "MDM^T02")


def payer_family(joint: str) -> str:
    return PAYER_FAMILY[region_of(joint)]


def cpt_for(procedure: str, joint: str, session_joints: Iterable[str]) -> str:
    """CPT of `joint` in a session on `session_joints`: by payer family and the joint's place among the
    session's joints of that family, head to foot (a third lumbar level is 64495)."""
    family = payer_family(joint)
    same_family = sorted({j for j in session_joints if payer_family(j) == family}, key=joint_sort_key)
    position = same_family.index(joint) if joint in same_family else 0
    return CPT_BY_POSITION[(procedure, family)][min(position, 2)]


def reading_status(status: str, version: int) -> str:
    """A reading's state as Observation.status names it: corrected readings are `amended`."""
    if status == "entered_in_error":
        return "entered_in_error"
    return "amended" if version > 1 else "final"
