"""Machine-readable codes with a sentence a clinician understands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Note:
    """A reason or warning: a stable `code` for machines and a `message` for people."""

    code: str
    message: str


def format_when(at: datetime) -> str:
    """A block time as clinicians read it, keeping the offset so no one guesses the zone."""
    return at.strftime("%Y-%m-%d %H:%M %z").strip()
