"""Clinic time (CR-30): sentences show times in the clinic's IANA time zone, with its abbreviation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, available_timezones

__all__ = ["DEFAULT_TIME_ZONE", "TimeZoneError", "canonical_time_zone", "format_when", "rezone_sentence"]

DEFAULT_TIME_ZONE = "UTC"


class TimeZoneError(ValueError):
    """Not an IANA time zone name; str(e) says what is expected."""


@cache
def _known() -> dict[str, str]:
    # Lower-cased lookup: 'america/denver' is the same zone as 'America/Denver'.
    return {name.lower(): name for name in available_timezones()}


def canonical_time_zone(name: object) -> str:
    """CR-30: the IANA name as the time zone database spells it, or TimeZoneError."""
    found = _known().get(name.strip().lower()) if isinstance(name, str) else None
    if found is None:
        raise TimeZoneError(f"{name!r} is not an IANA time zone name such as America/Denver or Europe/Paris")
    return found


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_when(at: datetime, zone: str = DEFAULT_TIME_ZONE) -> str:
    """CR-30: '2026-03-03 15:00 MST': the clinic's wall clock and zone abbreviation, so no one converts."""
    if zone == "UTC":  # the default zone, formatted without a zone database lookup
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return at.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M %Z")


_WHEN = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) ([A-Za-z0-9+\-]{1,6})\b")


def _instant(text: str, abbreviation: str, zone: str) -> datetime | None:
    """The instant format_when(..., zone) wrote as `text` `abbreviation`; the abbreviation settles the
    hour repeated when clocks go back. None when it is not one of this zone's times."""
    try:
        wall = datetime.strptime(text, "%Y-%m-%d %H:%M")
    except ValueError:
        return None
    for fold in (0, 1):
        at = wall.replace(tzinfo=_zone(zone), fold=fold)
        if format_when(at, zone) == f"{text} {abbreviation}":
            return at
    return None


def rezone_sentence(sentence: str, old: str, new: str) -> str:
    """CR-30: a stored sentence with its times (written by format_when in `old`) shown in `new` instead.

    For sentences stored once and not recomputed (a referral's warnings, a withdrawal's reason), so a
    change of the clinic's zone reaches them too; text that is not a time in `old` is left as it is.
    """

    def swap(match: re.Match[str]) -> str:
        at = _instant(match.group(1), match.group(2), old)
        return match.group(0) if at is None else format_when(at, new)

    return _WHEN.sub(swap, sentence)
