"""Form helpers: the service layer's 422 mapped onto the form's fields by `loc`, and form values parsed."""

from datetime import datetime
from typing import Any

from api.errors import Unprocessable


def field_errors(exc: Unprocessable) -> dict[str, str]:
    """`{"mrn": "must not be blank"}` from errors whose loc is ["body", "mrn"]; the first error wins."""
    found: dict[str, str] = {}
    for error in exc.errors:
        loc = [part for part in error["loc"] if part != "body"]
        key = ".".join(str(part) for part in loc) or "form"
        found.setdefault(key, error["message"])
    return found


def blank_to_none(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value.strip()


def time_text(value: str) -> str:
    """Accept what people type: `2026-11-20 09:30 -05:00` as well as ISO 8601 (`T`, `Z`). The API's
    own validation then decides; a time without an offset is refused there with its own message."""
    text = value.strip()
    if " " in text:
        date, _, rest = text.partition(" ")
        rest = rest.replace(" ", "")
        text = f"{date}T{rest}"
    return text


def parse_minutes(value: str) -> int | None:
    """A diary row's time: `90`, `90 min`, `2h`, `1.5 h` -> minutes; None when it is not one."""
    text = value.strip().lower().replace(" ", "")
    try:
        if text.endswith("h"):
            return round(float(text[:-1]) * 60)
        return int(text.removesuffix("min").removesuffix("m"))
    except ValueError:
        return None


def now_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M %z")


def score_value(text: str) -> Any:
    """A cell's text as the API would receive it: a whole number when it is one, else the text itself
    (so the API's own rules, and its messages, judge `7/10` or `7.5`)."""
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped
