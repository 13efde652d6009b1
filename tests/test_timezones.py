"""Times right across daylight-saving changes and time zones, in exports and projections.

Three shows at night: Paris on 25 October 2020 (03:00 CEST becomes 02:00 CET, so 02:00–03:00
happens twice), Paris on 28 March 2021 (02:00 CET becomes 03:00 CEST, so 02:00–03:00 never
happens), and Montréal on 1 November 2020 (02:00 EDT becomes 01:00 EST) across midnight.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.conftest import Api, programme_file
from tests.test_exports import assert_c3voc_json, assert_c3voc_xml
from tests.test_projection import Clock, clocked_api

PARIS, MONTREAL = ZoneInfo("Europe/Paris"), ZoneInfo("America/Montreal")


def show(slug: str, zone: str, *segments: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": f"Nuit « {slug} »",
        "timezone": zone,
        "starts_at": segments[0][1],
        "ends_at": segments[-1][2],
        "segments": [
            {"id": title, "title": title.capitalize(), "planned_start": start, "planned_end": end,
             "items": [{"id": f"{title}-item", "title": f"Moment {title}", "planned_start": start}]}
            for title, start, end in segments
        ],
    }  # fmt: skip


OCTOBER = show(
    "automne-2020",
    "Europe/Paris",
    ("avant", "2020-10-25T01:30:00+02:00", "2020-10-25T02:30:00+02:00"),
    ("pendant", "2020-10-25T02:30:00+02:00", "2020-10-25T02:15:00+01:00"),  # 45 minutes, not −15
    ("apres", "2020-10-25T02:15:00+01:00", "2020-10-25T03:00:00+01:00"),
)
MARCH = show(
    "printemps-2021",
    "Europe/Paris",
    ("avant", "2021-03-28T01:30:00+01:00", "2021-03-28T01:55:00+01:00"),
    ("pendant", "2021-03-28T01:55:00+01:00", "2021-03-28T03:10:00+02:00"),  # 15 minutes, not 1 h 15
    ("apres", "2021-03-28T03:10:00+02:00", "2021-03-28T03:30:00+02:00"),
)
MONTREAL_SHOW = show(
    "montreal-2020",
    "America/Montreal",
    ("veille", "2020-10-31T23:30:00-04:00", "2020-11-01T00:30:00-04:00"),
    ("minuit", "2020-11-01T00:30:00-04:00", "2020-11-01T01:30:00-04:00"),
    # after a 30-minute break, in the second pass of 01:00–02:00
    ("matin", "2020-11-01T01:00:00-05:00", "2020-11-01T01:30:00-05:00"),
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
async def nights(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Api, Clock]]:
    paths = [
        programme_file(tmp_path, data, f"{data['slug']}.yaml") for data in (OCTOBER, MARCH, MONTREAL_SHOW)
    ]
    async with clocked_api(sqlite_url, *paths, now=datetime(2020, 1, 1, tzinfo=UTC)) as running:
        yield running


async def read(api: Api, slug: str, name: str) -> Any:
    response = await api.client.get(f"/api/v1/events/{slug}/{name}".rstrip("/"))
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("programme", [OCTOBER, MARCH, MONTREAL_SHOW], ids=lambda p: p["slug"])
async def test_the_calendar_gives_every_segment_its_exact_instants(
    nights: tuple[Api, Clock], programme: dict[str, Any]
) -> None:
    api, _ = nights
    calendar = icalendar.Calendar.from_ical((await read(api, programme["slug"], "calendar.ics")).content)
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == [programme["timezone"]]
    events = calendar.walk("VEVENT")
    planned = [(utc(s["planned_start"]), utc(s["planned_end"])) for s in programme["segments"]]
    # In UTC: Python never finds a time of the repeated hour equal to a time in another zone.
    decoded = [(e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC)) for e in events]
    assert decoded == planned


async def test_a_time_in_the_repeated_hour_is_written_in_utc_the_first_pass_in_local_time(
    nights: tuple[Api, Clock],
) -> None:
    api, _ = nights
    calendar = icalendar.Calendar.from_ical((await read(api, "automne-2020", "calendar.ics")).content)
    lines = [
        (e["dtstart"].to_ical().decode(), e["dtstart"].params.get("TZID")) for e in calendar.walk("VEVENT")
    ]
    assert lines == [
        ("20201025T013000", "Europe/Paris"),
        ("20201025T023000", "Europe/Paris"),  # 02:30 CEST, the first pass: what RFC 5545 reads
        ("20201025T011500Z", None),  # 02:15 CET, the second pass: only UTC says it exactly
    ]
    # The VTIMEZONE itself, read as a time zone, puts the change at 01:00 UTC.
    (zone,) = calendar.walk("VTIMEZONE")
    described = zone.to_tz()
    offsets = [
        utc(moment).astimezone(described).utcoffset()
        for moment in ("2020-10-25T00:59:00Z", "2020-10-25T01:00:00Z")
    ]
    assert [offset.total_seconds() / 3600 for offset in offsets if offset] == [2.0, 1.0]


async def test_the_schedule_says_local_times_with_the_offset_in_force_and_real_durations(
    nights: tuple[Api, Clock],
) -> None:
    api, _ = nights
    expected = {
        "automne-2020": [
            ("2020-10-25T01:30:00+02:00", "01:30", "01:00"),
            ("2020-10-25T02:30:00+02:00", "02:30", "00:45"),
            ("2020-10-25T02:15:00+01:00", "02:15", "00:45"),
        ],
        "printemps-2021": [
            ("2021-03-28T01:30:00+01:00", "01:30", "00:25"),
            ("2021-03-28T01:55:00+01:00", "01:55", "00:15"),
            ("2021-03-28T03:10:00+02:00", "03:10", "00:20"),
        ],
        "montreal-2020": [
            ("2020-10-31T23:30:00-04:00", "23:30", "01:00"),
            ("2020-11-01T00:30:00-04:00", "00:30", "01:00"),
            ("2020-11-01T01:00:00-05:00", "01:00", "00:30"),
        ],
    }
    for slug, times in expected.items():
        document = (await read(api, slug, "schedule.json")).json()
        events = assert_c3voc_json(document)
        assert [(e["date"], e["start"], e["duration"]) for e in events] == times, slug
        xml_events = assert_c3voc_xml((await read(api, slug, "schedule.xml")).content)
        assert [
            (e.findtext("date"), e.findtext("start"), e.findtext("duration")) for e in xml_events
        ] == times
    montreal = (await read(api, "montreal-2020", "schedule.json")).json()["schedule"]["conference"]
    assert montreal["time_zone_name"] == "America/Montreal"
    assert [(d["date"], d["day_start"], d["day_end"]) for d in montreal["days"]] == [
        ("2020-10-31", "2020-10-31T23:30:00-04:00", "2020-11-01T00:30:00-04:00"),
        ("2020-11-01", "2020-11-01T00:30:00-04:00", "2020-11-01T01:30:00-05:00"),
    ]


async def test_the_report_counts_real_seconds_across_the_change(nights: tuple[Api, Clock]) -> None:
    api, clock = nights
    slug = "automne-2020"
    for version, (moment, action) in enumerate(
        [("2020-10-25T01:30:00+02:00", "start"), ("2020-10-25T02:40:00+02:00", "next"),
         ("2020-10-25T02:20:00+01:00", "next"), ("2020-10-25T02:50:00+01:00", "end")]
    ):  # fmt: skip
        clock.now = utc(moment)
        assert (await api.control(action, version, slug=slug)).status_code == 200
    rows = list(csv.DictReader(io.StringIO((await read(api, slug, "report.csv")).text)))
    pendant = next(r for r in rows if r["item_id"] == "pendant-item")
    assert [pendant[k] for k in ("planned_start", "planned_end", "planned_duration_seconds")] == [
        "2020-10-25T02:30:00+02:00",
        "2020-10-25T02:15:00+01:00",
        "2700",
    ]
    assert [
        pendant[k] for k in ("actual_start", "actual_end", "actual_duration_seconds", "overrun_seconds")
    ] == [
        "2020-10-25T02:40:00+02:00",
        "2020-10-25T02:20:00+01:00",
        "2400",
        "-300",
    ]
    assert pendant["start_delay_seconds"] == "600"
    chapters = (await read(api, slug, "chapters.txt")).text.splitlines()
    assert [line.split(" ", 1)[0] for line in chapters] == ["0:00", "1:10:00", "1:50:00"]


async def test_a_delay_is_projected_across_the_change_of_time(nights: tuple[Api, Clock]) -> None:
    api, clock = nights
    clock.now = utc("2020-10-25T01:40:00+02:00")  # ten minutes late, before the change
    assert (await api.control("start", 0, slug="automne-2020")).status_code == 200
    event = (await read(api, "automne-2020", "")).json()
    starts = [s["projected_start"] for s in event["segments"]]
    assert starts == [None, "2020-10-25T00:40:00Z", "2020-10-25T01:25:00Z"]
    # 00:40Z is 02:40 in the first pass (CEST); 01:25Z is 02:25 in the second pass (CET).
    local = [datetime.fromisoformat(s).astimezone(PARIS) for s in starts[1:]]
    assert [(t.strftime("%H:%M"), t.utcoffset().total_seconds() / 3600) for t in local] == [  # type: ignore[union-attr]
        ("02:40", 2.0),
        ("02:25", 1.0),
    ]
    assert event["projected_end"] == "2020-10-25T02:10:00Z"  # 03:10 CET


async def test_a_gap_absorbs_part_of_a_delay_in_montreal(nights: tuple[Api, Clock]) -> None:
    api, clock = nights
    clock.now = utc("2020-11-01T00:10:00-04:00")  # forty minutes late
    assert (await api.control("start", 0, slug="montreal-2020")).status_code == 200
    live = (await read(api, "montreal-2020", "live")).json()
    assert live["projected_end"] == "2020-11-01T06:40:00Z"
    event = (await read(api, "montreal-2020", "")).json()
    matin = event["segments"][2]
    # Forty minutes late, a thirty-minute break: the last segment starts ten minutes late.
    assert matin["projected_start"] == "2020-11-01T06:10:00Z"
    local = datetime.fromisoformat(matin["projected_start"]).astimezone(MONTREAL)
    assert (local.strftime("%H:%M %Z"), local.fold) == ("01:10 EST", 1)
