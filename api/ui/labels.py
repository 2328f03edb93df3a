"""Words and colours for statuses, in one place: a new status needs one line here and nothing else."""

from typing import NamedTuple


class Label(NamedTuple):
    text: str
    tone: str  # a CSS class: good, wait, bad, muted, info


LEVEL_STATUS: dict[str, Label] = {
    "referral_recommended": Label("Referral recommended", "good"),
    "awaiting_confirmation": Label("Awaiting confirmation", "wait"),
    "pending": Label("Pending: waiting for diary data", "muted"),
    "not_indicated": Label("Not indicated", "bad"),
    "no_blocks": Label("No diagnostic blocks", "muted"),
}
VERDICT: dict[str, Label] = {
    "positive": Label("Positive", "good"),
    "negative": Label("Negative", "bad"),
    "indeterminate": Label("Indeterminate", "wait"),
}
REFERRAL_STATUS: dict[str, Label] = {
    "open": Label("Open", "good"),
    "acknowledged": Label("Acknowledged", "info"),
    "withdrawn": Label("Withdrawn", "muted"),
}
RECORD_STATUS: dict[str, Label] = {
    "active": Label("Active", "info"),
    "entered_in_error": Label("Entered in error", "muted"),
}


def label(mapping: dict[str, Label], value: str | None) -> Label:
    """The label of a value; an unknown one (a status added later) still shows, in neutral."""
    if value is None:
        return Label("Not evaluated", "muted")
    return mapping.get(value, Label(value.replace("_", " ").capitalize(), "muted"))


def words(value: str | None) -> str:
    """`monitored_anesthesia_care` -> `monitored anesthesia care`."""
    return "" if value is None else value.replace("_", " ")
