"""The Jinja2 environment of the workspace and the letter: one base layout, filters, status labels."""

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from api.clinical.notes import format_when
from api.ui import labels

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)


def _when(at: datetime | None) -> str:
    return "" if at is None else format_when(at)


def _pct(value: float | None) -> str:
    # One decimal, as the API reports relief (CR-8): 87.5%.
    return "n/a" if value is None else f"{value:.1f}%"


def _badge(value: str | None, kind: str) -> Markup:
    mapping = {
        "level": labels.LEVEL_STATUS,
        "verdict": labels.VERDICT,
        "referral": labels.REFERRAL_STATUS,
        "record": labels.RECORD_STATUS,
    }[kind]
    found = labels.label(mapping, value)
    return Markup('<span class="badge {}">{}</span>').format(found.tone, found.text)


def _minutes(value: int | None) -> str:
    """Diary time points as people say them: 45 min, 2 h, 1 h 30 min."""
    if value is None:
        return ""
    if value < 0:
        return f"{-value} min before"
    hours, minutes = divmod(value, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" if not minutes else f"{hours} h {minutes} min"


env: Any = templates.env
env.filters.update(when=_when, pct=_pct, badge=_badge, minutes=_minutes, words=labels.words)
env.globals.update(labels=labels)
