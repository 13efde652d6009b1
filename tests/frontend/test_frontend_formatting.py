"""French dates, times and durations, in the event's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from frontend import formatting

PARIS = ZoneInfo("Europe/Paris")


def test_times_read_in_the_events_zone_across_daylight_saving() -> None:
    winter = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)
    summer = datetime(2030, 6, 3, 17, 5, tzinfo=UTC)
    assert formatting.hour_minute(winter, PARIS) == "19 h 00"
    assert formatting.hour_minute(summer, PARIS) == "19 h 05"
    assert formatting.date_time(winter, PARIS) == "lundi 23 novembre 2020 à 19 h 00"
    assert formatting.long_date(datetime(2021, 8, 1, 10, tzinfo=UTC), PARIS) == "dimanche 1er août 2021"
    assert formatting.hour_minute(winter, ZoneInfo("America/Montreal")) == "13 h 00"


def test_spans_name_the_end_date_only_when_it_differs() -> None:
    start = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)
    assert (
        formatting.time_span(start, datetime(2020, 11, 23, 20, 0, tzinfo=UTC), PARIS) == "19 h 00 – 21 h 00"
    )
    assert (
        formatting.time_span(start, datetime(2020, 11, 24, 1, 0, tzinfo=UTC), PARIS)
        == "19 h 00 – mardi 24 novembre 2020 à 2 h 00"
    )


def test_zone_label_names_the_city() -> None:
    assert formatting.zone_label(PARIS) == "heure de Paris"
    assert formatting.zone_label(ZoneInfo("America/New_York")) == "heure de New York"
    assert formatting.zone_label(ZoneInfo("UTC")) == "heure UTC"


def test_drift_and_durations_in_words() -> None:
    assert formatting.drift(0) == "à l'heure"
    assert formatting.drift(45) == "à l'heure"
    assert formatting.drift(240) == "4 min de retard"
    assert formatting.drift(-120) == "2 min d'avance"
    assert formatting.drift(3900) == "1 h 05 de retard"
    assert formatting.duration(30) == "30 s"
    assert formatting.duration(3 * 86400 + 7200) == "3 j 02 h"


def test_offsets_read_like_video_chapters() -> None:
    assert formatting.offset(0) == "0:00"
    assert formatting.offset(725.9) == "12:05"
    assert formatting.offset(3723) == "1:02:03"
    assert formatting.offset(-5) == "0:00"


def test_machine_times_are_utc_with_a_z() -> None:
    assert formatting.iso(datetime(2020, 11, 23, 18, 0, tzinfo=UTC)) == "2020-11-23T18:00:00Z"
