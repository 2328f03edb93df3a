"""Facet joints, sides, regions, payer families, nerves and RFA codes (CR-1..CR-4, CR-19, CR-22)."""

from __future__ import annotations

import re

__all__ = [
    "FAMILY_OF",
    "JOINTS",
    "NomenclatureError",
    "PAYER_FAMILIES",
    "SIDES",
    "expand_side",
    "joint_sort_key",
    "nerves_of",
    "normalise_joint",
    "payer_family_of",
    "region_of",
    "rfa_cpt_codes",
]


class NomenclatureError(ValueError):
    """A joint or side that does not exist; str(e) tells the user the valid form."""


# Spinal nerves in order; the nerve "above" T1 is C8 and above L1 is T12 (CR-4).
_NERVE_ROOTS: tuple[str, ...] = (
    *(f"C{n}" for n in range(1, 9)),
    *(f"T{n}" for n in range(1, 13)),
    *(f"L{n}" for n in range(1, 6)),
)

# CR-1/CR-3: the canonical joints in anatomical order, with their region.
_REGIONS: dict[str, str] = {
    **{f"C{n}-C{n + 1}": "cervical" for n in range(2, 7)},
    "C7-T1": "cervical",
    **{f"T{n}-T{n + 1}": "thoracic" for n in range(1, 12)},
    "T12-L1": "thoracic",
    **{f"L{n}-L{n + 1}": "lumbar" for n in range(1, 5)},
    "L5-S1": "lumbar",
}
JOINTS: tuple[str, ...] = tuple(_REGIONS)
_ORDER: dict[str, int] = {joint: i for i, joint in enumerate(JOINTS)}

SIDES: tuple[str, ...] = ("left", "right")

# CR-22: payers and CPT group the spine in two families, not three regions: cervical and thoracic joints
# (C2-C3 ... T12-L1) share 64490-64492 and 64633/64634; lumbar and sacral joints share 64493-64495 and
# 64635/64636. Keyed by canonical joint: the clinic-wide pass looks one up per target.
PAYER_FAMILIES: tuple[str, ...] = ("cervical_thoracic", "lumbar_sacral")
FAMILY_OF: dict[str, str] = {
    joint: "lumbar_sacral" if region == "lumbar" else "cervical_thoracic"
    for joint, region in _REGIONS.items()
}

# A separator is mandatory (CR-1: 'l5s1' is rejected); the lower letter may be left out ('L4-5').
_JOINT_RE = re.compile(r"([CTLS])([1-9][0-9]?)\s*[-/]\s*([CTLS])?([1-9][0-9]?)")
_VALID_FORM = (
    "use <upper>-<lower> such as L4-L5: C2-C3 ... C7-T1, T1-T2 ... T12-L1, L1-L2 ... L5-S1"
    " ('/' and the short form L4-5 are accepted)"
)


def normalise_joint(raw: str) -> str:
    """CR-1: any case, '-' or '/', long or short form -> canonical 'L4-L5'."""
    if not isinstance(raw, str):
        raise NomenclatureError(f"{raw!r} is not a facet joint; {_VALID_FORM}")
    match = _JOINT_RE.fullmatch(raw.strip().upper())
    if match is None:
        raise NomenclatureError(f"{raw!r} is not a facet joint; {_VALID_FORM}")
    upper_letter, upper_num, lower_letter, lower_num = match.groups()
    joint = f"{upper_letter}{upper_num}-{lower_letter or upper_letter}{lower_num}"
    if joint not in _REGIONS:
        raise NomenclatureError(f"{raw!r} is not a facet joint; {_VALID_FORM}")
    return joint


def region_of(joint: str) -> str:
    """CR-3: 'cervical', 'thoracic' or 'lumbar' (T12-L1 is thoracic)."""
    return _REGIONS[normalise_joint(joint)]


def payer_family_of(joint: str) -> str:
    """CR-22: 'cervical_thoracic' (C2-C3 ... T12-L1) or 'lumbar_sacral' (L1-L2 ... L5-S1)."""
    return FAMILY_OF[normalise_joint(joint)]


def joint_sort_key(joint: str) -> int:
    """Anatomical order, head to tail."""
    return _ORDER[normalise_joint(joint)]


def nerves_of(joint: str) -> list[str]:
    """CR-4: the nerves blocked (and ablated) for a joint, in the service's output format."""
    joint = normalise_joint(joint)
    if joint == "C2-C3":
        return ["third occipital nerve"]
    if joint == "L5-S1":
        return ["L4 medial branch", "L5 dorsal ramus"]
    upper = joint.split("-")[0]
    i = _NERVE_ROOTS.index(upper)
    if upper.startswith("C"):
        # Cervical medial branches are named for both vertebrae of the joint (C7-T1 -> C7, C8).
        pair = (_NERVE_ROOTS[i], _NERVE_ROOTS[i + 1])
    else:
        # Thoracic and lumbar: the vertebra above and the upper vertebra (T1-T2 -> C8, T1).
        pair = (_NERVE_ROOTS[i - 1], _NERVE_ROOTS[i])
    return [f"{root} medial branch" for root in pair]


def expand_side(side: str) -> list[str]:
    """CR-2: 'bilateral' becomes one target per side."""
    value = side.strip().lower() if isinstance(side, str) else side
    if value == "bilateral":
        return list(SIDES)
    if value in SIDES:
        return [value]
    raise NomenclatureError(f"{side!r} is not a side; use left, right or bilateral")


def rfa_cpt_codes(joint: str) -> tuple[str, str]:
    """CR-19/CR-22: (first joint, each additional joint) RFA codes by payer family (T12-L1 as thoracic)."""
    if payer_family_of(joint) == "lumbar_sacral":
        return ("64635", "64636")
    return ("64633", "64634")
