"""Reading HL7 v2 messages back with hl7apy, validated against the 2.5.1 structures."""

from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message


def strict(er7: str) -> Any:
    """Parse with hl7apy's strict validation (every datatype and length checked); validate the structure."""
    message = parse_message(er7, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert message.validate()
    return message


def structural(er7: str) -> Any:
    """Parse tolerantly, then validate the structure, cardinality and datatypes against 2.5.1. For messages
    with long ED data: hl7apy types every component of a `varies` field (OBX-5) as ST(199) when parsing,
    whatever OBX-2 says, though 2.5.1 lets ED.5 hold 65,536 characters."""
    message = parse_message(er7, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=True)
    assert message.validate()
    return message


def segments(er7: str, name: str) -> list[list[str]]:
    return [line.split("|") for line in er7.split("\r") if line.startswith(name + "|")]
