"""Identifiers as a clinic types them: one canonical form, so that the same MRN is the same patient."""

import unicodedata

# Control (Cc) and format (Cf) characters: NUL, tabs and line breaks, zero-width spaces and joiners, the
# byte order mark, bidirectional marks. Invisible when pasted from an EHR screen, so never part of an MRN.
_INVISIBLE = frozenset({"Cc", "Cf"})


def normalise_mrn(value: str) -> str:
    """NFC, without control and format characters, without surrounding whitespace."""
    composed = unicodedata.normalize("NFC", value)
    return "".join(c for c in composed if unicodedata.category(c) not in _INVISIBLE).strip()
