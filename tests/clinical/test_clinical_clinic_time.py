"""CR-30: sentences show times in the clinic's IANA zone with its abbreviation; stored times stay UTC."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from api.clinical import Policy, TimeZoneError, canonical_time_zone, evaluate_level, format_when
from api.clinical.clinic_time import rezone_sentence
from tests.clinical.factories import level_block

DENVER = replace(Policy(), time_zone="America/Denver")


def test_cr30_utc_by_default() -> None:
    assert format_when(datetime(2026, 3, 3, 22, 0, tzinfo=UTC)) == "2026-03-03 22:00 UTC"


@pytest.mark.parametrize(
    ("utc", "shown"),
    [
        (datetime(2026, 3, 3, 22, 0, tzinfo=UTC), "2026-03-03 15:00 MST"),
        (datetime(2026, 7, 3, 21, 0, tzinfo=UTC), "2026-07-03 15:00 MDT"),  # daylight saving time
        (datetime(2026, 3, 4, 6, 30, tzinfo=UTC), "2026-03-03 23:30 MST"),  # the clinic's date, not UTC's
    ],
)
def test_cr30_times_in_the_clinic_zone_with_its_abbreviation(utc: datetime, shown: str) -> None:
    assert format_when(utc, "America/Denver") == shown


@pytest.mark.parametrize(("given", "canonical"), [("america/denver", "America/Denver"), (" UTC ", "UTC")])
def test_cr30_zone_names_are_canonicalised(given: str, canonical: str) -> None:
    assert canonical_time_zone(given) == canonical


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "../etc/passwd", "MST7", "+05:00", None, 5])
def test_cr30_unknown_zone_names_are_rejected(bad: object) -> None:
    with pytest.raises(TimeZoneError, match="IANA"):
        canonical_time_zone(bad)


def test_cr30_level_reasons_name_blocks_by_clinic_date_and_time() -> None:
    # T0 is 2025-03-10 09:00 UTC: 03:00 in Denver, which moved to daylight time the day before.
    result = evaluate_level([level_block("a", 0, "positive"), level_block("b", 7, "positive")], DENVER)
    assert "(2025-03-10 03:00 MDT and 2025-03-17 03:00 MDT)" in result.reasons[0].message
    utc = evaluate_level([level_block("a", 0, "positive")], Policy())
    assert "2025-03-10 09:00 UTC" in utc.reasons[0].message


def test_cr30_stored_sentences_are_re_rendered_in_a_new_zone() -> None:
    sentence = "Two positive blocks (2026-03-03 22:00 UTC and 2026-07-03 21:00 UTC); 10 min: fine."
    assert rezone_sentence(sentence, "UTC", "America/Denver") == (
        "Two positive blocks (2026-03-03 15:00 MST and 2026-07-03 15:00 MDT); 10 min: fine."
    )
    back = rezone_sentence(rezone_sentence(sentence, "UTC", "America/Denver"), "America/Denver", "UTC")
    assert back == sentence


def test_cr30_the_repeated_hour_is_told_apart_by_its_abbreviation() -> None:
    # 2026-11-01 01:30 happens twice in Denver: first MDT (07:30 UTC), then MST (08:30 UTC).
    first = rezone_sentence("on 2026-11-01 01:30 MDT", "America/Denver", "UTC")
    second = rezone_sentence("on 2026-11-01 01:30 MST", "America/Denver", "UTC")
    assert (first, second) == ("on 2026-11-01 07:30 UTC", "on 2026-11-01 08:30 UTC")


def test_cr30_text_that_is_not_a_time_in_the_old_zone_is_left_alone() -> None:
    for text in ("on 2026-03-03 15:00 MST", "on 2026-02-30 10:00 UTC", "version 2026-03-03 15:00"):
        assert rezone_sentence(text, "UTC", "Europe/Paris") == text
