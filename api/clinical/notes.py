"""Machine-readable codes with a sentence a clinician understands."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from api.clinical.clinic_time import format_when

__all__ = ["Note", "format_when", "notes_from"]


@dataclass(frozen=True)
class Note:
    """A reason or warning: a stable `code` for machines and a `message` for people.

    `block_id` names the block a note is about when it travels beyond that block's own outcome (CR-23:
    a level's and a referral's warnings name the qualifying block each came from).
    """

    code: str
    message: str
    block_id: Hashable | None = None


def notes_from(stored: Iterable[Note | Mapping[str, str]] | None) -> tuple[Note, ...]:
    """Notes from the `{"code", "message"}` objects stored in JSON columns; Notes pass as they are (history
    rows built in memory during a write already carry them)."""
    return tuple(n if isinstance(n, Note) else Note(n["code"], n["message"]) for n in stored or ())
