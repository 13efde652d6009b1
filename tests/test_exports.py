"""Exports: each file read back by a maintained parser of its format, as third parties read it.

iCalendar with `icalendar`, WebVTT with `webvtt-py`, CSV with the standard library, and the frab /
c3voc schedule against the structure of its published schema (c3voc's `schema.json` and
`schedule.xml.xsd`): every required field, its type and its format, encoded below.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import openpyxl
import pytest
import webvtt
from websockets.asyncio.client import connect

from tests.conftest import DINER, Api, programme_file
from tests.test_projection import DINER_FILE, Clock, clocked_api

EXPORTS = (
    "calendar.ics", "schedule.xml", "schedule.json", "chapters.vtt", "chapters.txt",
    "chapters.json", "report.csv", "report.xlsx",
)  # fmt: skip
PARIS = ZoneInfo("Europe/Paris")


def paris(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2020, 11, day, hour, minute, second, tzinfo=PARIS)


async def get(api: Api, name: str, slug: str = DINER) -> Any:
    response = await api.client.get(f"/api/v1/events/{slug}/{name}")
    assert response.status_code == 200, response.text
    return response


@pytest.fixture
async def diner(sqlite_url: str) -> AsyncIterator[tuple[Api, Clock]]:
    async with clocked_api(sqlite_url, DINER_FILE, now=paris(23, 18)) as running:
        yield running


async def play_the_diner(api: Api, clock: Clock) -> None:
    """A real evening: late start, a slip undone, items skipped, a reveal, an early end."""
    steps: list[tuple[datetime, str, str | None]] = [
        (paris(23, 19, 2), "start", None),
        (paris(23, 19, 12), "next", None),
        (paris(23, 19, 12, 3), "next", None),  # one press too many…
        (paris(23, 19, 12, 6), "previous", None),  # …undone three seconds later
        (paris(23, 19, 25), "next", None),
        (paris(23, 19, 40), "goto", "invite-mystere-1"),
        (paris(23, 19, 41), "reveal", "invite-mystere-1"),
        (paris(23, 19, 50), "goto", "cloture-ministre"),
        (paris(23, 19, 55), "end", None),
    ]
    for version, (moment, action, target) in enumerate(steps):
        clock.now = moment
        response = await api.control(action, version, target)
        assert response.status_code == 200, response.text
    clock.now = paris(23, 22)


# --- iCalendar -------------------------------------------------------------------------------


async def test_the_calendar_has_one_event_per_segment_in_the_event_time_zone(
    diner: tuple[Api, Clock],
) -> None:
    api, _ = diner
    response = await get(api, "calendar.ics")
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.content)
    assert [component.errors for component in calendar.walk()] == [[]] * len(calendar.walk())
    assert calendar["version"] == "2.0" and calendar["prodid"]
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]

    events = calendar.walk("VEVENT")
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in events] == [
        (paris(23, 19), paris(23, 20)),
        (paris(23, 20), paris(23, 20, 40)),
        (paris(23, 20, 40), paris(23, 20, 57)),
        (paris(23, 20, 57), paris(23, 21)),
    ]
    assert all(e["dtstart"].params["TZID"] == "Europe/Paris" for e in events)
    assert [str(e["summary"]) for e in events][3] == "Les mots de la... suite"
    assert len({str(e["uid"]) for e in events}) == 4
    assert all(isinstance(e.decoded("dtstamp"), datetime) for e in events)
    first = str(events[0]["description"])
    assert "• 19:00 Accueil — Charles-Benoît HEIDSIECK (Président-Fondateur du RAMEAU, Le RAMEAU)" in first
    assert (
        "• L'engagement du monde académique au service des territoires\n  Un premier invité mystère" in first
    )
    assert "Premier invité mystère" not in first


# --- frab / c3voc schedule --------------------------------------------------------------------

UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ACRONYM = re.compile(r"^[a-z0-9_-][a-z0-9_]{3,}(-2[0-9]{3}-[a-z]+)?$")
EVENT_SLUG = re.compile(r"^[a-z0-9_-]+[a-z0-9]$")
JSON_DURATION = re.compile(r"^[0-9]+:[0-9]{2}$")
TIME_ZONE_NAME = re.compile(r"^([A-Z][a-z]+/[A-Z][a-z]+)|UTC$")
XML_DURATION = re.compile(r"^(([0-9]{1,2}:[0-9]{2})|([0-9]{1,2}:[0-9]{2}:[0-9]{1,2}))$")
XML_START = re.compile(r"^(([0-2][0-9]:[0-5][0-9])|([0-2][0-9]:[0-5][0-9]:[0-5][0-9]))$")
XML_DATE_TIME_TZ = re.compile(r"^.+(Z|\+[0-9]{1,2}:[0-9]{2}|-[0-9]{1,2}:[0-9]{2})$")

# c3voc schema.json: Conference, Day and Event forbid unknown properties.
CONFERENCE_REQUIRED = {"title", "acronym", "days", "daysCount", "start", "end", "timeslot_duration"}
CONFERENCE_ALLOWED = CONFERENCE_REQUIRED | {
    "description", "time_zone_name", "logo", "colors", "keywords", "url", "tracks", "rooms", "meta",
}  # fmt: skip
DAY_FIELDS = {"index", "date", "day_start", "day_end", "rooms"}
EVENT_REQUIRED = {
    "abstract", "date", "duration", "guid", "id", "language", "links", "persons", "room", "slug",
    "start", "subtitle", "title", "track", "type", "url",
}  # fmt: skip
EVENT_ALLOWED = EVENT_REQUIRED | {
    "logo", "description", "recording_license", "do_not_record", "do_not_stream", "attachments", "answers",
}  # fmt: skip


def is_uri(value: Any) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return bool(parts and parts.scheme and (parts.netloc or parts.path))


def is_date_time(value: Any) -> bool:
    if not (isinstance(value, str) and DATE_TIME.match(value)):
        return False
    return datetime.fromisoformat(value).tzinfo is not None


def is_date(value: Any) -> bool:
    return isinstance(value, str) and bool(DATE.match(value)) and bool(date.fromisoformat(value))


def str_or_null(value: Any) -> bool:
    return value is None or isinstance(value, str)


def assert_c3voc_json(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Check a schedule.json against c3voc's schema.json; return its events."""
    assert set(document) <= {"schedule", "$schema", "generator"} and "schedule" in document
    assert isinstance(document.get("$schema", ""), str)
    generator = document.get("generator", {})
    assert all(isinstance(generator.get(k, ""), str) for k in ("name", "version"))
    schedule = document["schedule"]
    assert {"conference", "version"} <= set(schedule) and "rooms" not in schedule
    assert isinstance(schedule["version"], str)
    if "base_url" in schedule:
        assert is_uri(schedule["base_url"])

    conference = schedule["conference"]
    assert CONFERENCE_REQUIRED <= set(conference) <= CONFERENCE_ALLOWED, set(conference) ^ CONFERENCE_ALLOWED
    assert isinstance(conference["title"], str)
    assert isinstance(conference["acronym"], str) and ACRONYM.match(conference["acronym"])
    assert is_date(conference["start"]) or is_date_time(conference["start"])
    assert is_date(conference["end"])
    assert isinstance(conference["daysCount"], int) and conference["daysCount"] == len(conference["days"])
    assert isinstance(conference["timeslot_duration"], str)
    if "time_zone_name" in conference:
        assert isinstance(conference["time_zone_name"], str)
        assert TIME_ZONE_NAME.search(conference["time_zone_name"])
    if "description" in conference:
        assert isinstance(conference["description"], str)
    if "url" in conference:
        assert is_uri(conference["url"])
    for room in conference.get("rooms", []):
        assert {"guid", "name"} <= set(room) <= {"name", "guid", "description", "capacity"}
        assert isinstance(room["name"], str) and UUID.match(room["guid"])

    events: list[dict[str, Any]] = []
    assert isinstance(conference["days"], list)
    for day in conference["days"]:
        assert set(day) == DAY_FIELDS
        assert isinstance(day["index"], int) and is_date(day["date"])
        assert is_date_time(day["day_start"]) and is_date_time(day["day_end"])
        assert isinstance(day["rooms"], dict)
        for room_events in day["rooms"].values():
            assert isinstance(room_events, list)
            events += room_events
    for event in events:
        assert EVENT_REQUIRED <= set(event) <= EVENT_ALLOWED, set(event) ^ EVENT_REQUIRED
        assert isinstance(event["id"], int) and not isinstance(event["id"], bool) and event["id"] >= 1
        assert UUID.match(event["guid"])
        assert is_date_time(event["date"])
        # schema.json annotates `start` as date-time, but c3voc's own examples (pretalx, frab) write the
        # wall-clock "HH:MM" the XSD requires, and format is not asserted: conference apps read "HH:MM".
        assert isinstance(event["start"], str) and XML_START.match(event["start"])
        assert isinstance(event["duration"], str) and JSON_DURATION.match(event["duration"])
        assert isinstance(event["room"], str)
        assert isinstance(event["slug"], str) and EVENT_SLUG.match(event["slug"])
        assert is_uri(event["url"])
        assert isinstance(event["title"], str) and isinstance(event["type"], str)
        assert isinstance(event["language"], str)
        assert all(str_or_null(event[k]) for k in ("subtitle", "track", "abstract"))
        assert str_or_null(event.get("description"))
        assert isinstance(event["links"], list) and isinstance(event["persons"], list)
        for person in event["persons"]:
            frab = isinstance(person.get("public_name"), str) and type(person.get("id")) is int
            pretalx = isinstance(person.get("name"), str)
            assert frab != pretalx, f"a person must match exactly one of FrabPerson, PretalxPerson: {person}"
            assert UUID.match(person.get("guid", str(uuid.uuid4())))
    return events


XML_EVENT_REQUIRED = {
    "room",
    "title",
    "subtitle",
    "type",
    "date",
    "start",
    "duration",
    "abstract",
    "slug",
    "track",
}
XML_EVENT_OPTIONAL = {
    "logo", "persons", "language", "description", "recording", "links", "attachments",
    "video_download_url", "url",
}  # fmt: skip
XML_CONFERENCE = {
    "title",
    "acronym",
    "start",
    "end",
    "days",
    "timeslot_duration",
    "base_url",
    "time_zone_name",
}


def positive_integer(text: str | None) -> bool:
    return bool(text and text.isdigit() and int(text) >= 1)


def assert_c3voc_xml(body: bytes) -> list[ET.Element]:
    """Check a schedule.xml against c3voc's schedule.xml.xsd; return its events."""
    root = ET.fromstring(body)
    assert root.tag == "schedule"
    children = [child.tag for child in root]
    head = ["generator", "version", "conference"] if children[0] == "generator" else ["version", "conference"]
    assert children[: len(head)] == head and set(children[len(head) :]) == {"day"}, children

    conference = root.find("conference")
    assert conference is not None
    tags = [child.tag for child in conference]
    assert len(tags) == len(set(tags)) and {"title", "acronym"} <= set(tags) <= XML_CONFERENCE
    for name in ("start", "end"):
        assert is_date(conference.findtext(name))
    assert (conference.findtext("days") or "").isdigit()
    assert XML_DURATION.match(conference.findtext("timeslot_duration") or "")

    events: list[ET.Element] = []
    for day in root.findall("day"):
        assert is_date(day.get("date")) and positive_integer(day.get("index"))
        assert all(
            XML_DATE_TIME_TZ.match(day.get(k, "")) and is_date_time(day.get(k)) for k in ("start", "end")
        )
        assert {child.tag for child in day} <= {"room"}
        for room in day:
            assert set(room.attrib) <= {"name"} and {child.tag for child in room} <= {"event"}
            events += list(room)
    for event in events:
        assert positive_integer(event.get("id")) and UUID.match(event.get("guid", ""))
        tags = [child.tag for child in event]
        assert len(tags) == len(set(tags)), "xs:all: each element at most once"
        assert XML_EVENT_REQUIRED <= set(tags) <= XML_EVENT_REQUIRED | XML_EVENT_OPTIONAL, set(tags)
        assert XML_DATE_TIME_TZ.match(event.findtext("date") or "") and is_date_time(event.findtext("date"))
        assert XML_START.match(event.findtext("start") or "")
        assert XML_DURATION.match(event.findtext("duration") or "")
        url = event.findtext("url")
        assert url is None or re.match(r"^https?://", url)
        for person in event.findall("persons/person"):
            assert person.text and (person.get("id") is None or positive_integer(person.get("id")))
        assert {child.tag for child in event.find("persons") or []} <= {"person"}
        assert {child.tag for child in event.find("links") or []} <= {"link"}
    for key in (lambda e: e.get("guid"), lambda e: e.get("id"), lambda e: e.findtext("slug")):
        assert len({key(e) for e in events}) == len(events), "guid, id and slug are unique"
    indexes = [day.get("index") for day in root.findall("day")]
    assert len(indexes) == len(set(indexes))
    return events


async def test_the_schedule_json_follows_the_c3voc_schema(diner: tuple[Api, Clock]) -> None:
    api, _ = diner
    response = await get(api, "schedule.json")
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    events = assert_c3voc_json(document)
    conference = document["schedule"]["conference"]
    assert conference["acronym"] == "diner_elus_entreprises_2020"
    assert (conference["start"], conference["end"], conference["time_zone_name"]) == (
        "2020-11-23",
        "2020-11-23",
        "Europe/Paris",
    )
    assert len(events) == 19
    first = events[0]
    assert (first["title"], first["date"], first["start"], first["duration"]) == (
        "Accueil",
        "2020-11-23T19:00:00+01:00",
        "19:00",
        "00:10",
    )
    assert first["persons"][0]["name"] == "Charles-Benoît HEIDSIECK"
    closing = events[-1]
    assert (closing["start"], closing["duration"], closing["track"]) == (
        "20:57",
        "00:03",
        "Les mots de la... suite",
    )
    mystery = next(e for e in events if e["slug"].endswith("invite-mystere-1"))
    assert mystery["persons"] == [] and mystery["abstract"].startswith("Un premier invité mystère")


async def test_the_schedule_xml_follows_the_c3voc_xsd(diner: tuple[Api, Clock]) -> None:
    api, _ = diner
    response = await get(api, "schedule.xml")
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    events = assert_c3voc_xml(response.content)
    assert len(events) == 19
    assert [events[0].findtext(k) for k in ("title", "start", "duration", "date")] == [
        "Accueil",
        "19:00",
        "00:10",
        "2020-11-23T19:00:00+01:00",
    ]
    assert [p.text for p in events[0].findall("persons/person")] == ["Charles-Benoît HEIDSIECK"]
    json_events = assert_c3voc_json((await get(api, "schedule.json")).json())
    assert [e.get("guid") for e in events] == [e["guid"] for e in json_events]


# --- Chapters and the report, from a show actually played ---------------------------------------

CHAPTERS = [
    (0, 600, "Accueil — Charles-Benoît HEIDSIECK"),
    (600, 1380, "Les résultats de l'étude IMPACT-Elus locaux — Anne ROBIN"),
    (1380, 2280, "Les regards croisés entre élus sur la valeur du « jouer collectif » — Anne-Marie JEAN, "
     "Michel FOURNIER, Pierre LEROY, Sylvain WASERMAN"),
    (2280, 2880, "L'engagement du monde académique au service des territoires — Premier invité mystère"),
    (2880, 3180, "Les mots de la... suite — Sarah EL HAÏRY"),
]  # fmt: skip


async def test_webvtt_chapters_follow_the_actual_timeline(diner: tuple[Api, Clock]) -> None:
    api, clock = diner
    assert (await get(api, "chapters.vtt")).text == "WEBVTT\n"
    await play_the_diner(api, clock)
    response = await get(api, "chapters.vtt")
    assert response.headers["content-type"] == "text/vtt; charset=utf-8"
    captions = webvtt.from_string(response.text).captions
    assert [(c.start_in_seconds, c.end_in_seconds, c.text) for c in captions] == CHAPTERS
    assert [c.start for c in captions[:2]] == ["00:00:00.000", "00:10:00.000"]


async def test_json_chapters_are_the_webvtt_chapters_with_their_items(diner: tuple[Api, Clock]) -> None:
    api, clock = diner
    assert (await get(api, "chapters.json")).json() == {"chapters": []}
    await play_the_diner(api, clock)
    response = await get(api, "chapters.json")
    assert response.headers["content-type"] == "application/json"
    chapters = response.json()["chapters"]
    assert [(c["start_seconds"], c["end_seconds"], c["title"]) for c in chapters] == CHAPTERS
    assert [c["item_id"] for c in chapters][:2] == ["accueil", "resultats-impact-elus-locaux"]


async def test_youtube_chapters_start_at_zero_ascending_and_ten_seconds_apart(
    diner: tuple[Api, Clock],
) -> None:
    api, clock = diner
    assert (await get(api, "chapters.txt")).text == (
        "# Moins de 3 chapitres (0) : YouTube n'affiche pas de chapitres pour cette vidéo. "
        "La liste paraîtra ici quand le direct en comptera au moins 3.\n"
    )
    await play_the_diner(api, clock)
    lines = (await get(api, "chapters.txt")).text.splitlines()
    assert lines == [
        "0:00 Accueil — Charles-Benoît HEIDSIECK",
        "10:00 Les résultats de l'étude IMPACT-Elus locaux — Anne ROBIN",
        "23:00 " + CHAPTERS[2][2],
        "38:00 " + CHAPTERS[3][2],
        "48:00 Les mots de la... suite — Sarah EL HAÏRY",
    ]
    starts = [youtube_seconds(line.split(" ", 1)[0]) for line in lines]
    assert starts[0] == 0 and all(b - a >= 10 for a, b in itertools.pairwise(starts))


def youtube_seconds(stamp: str) -> int:
    seconds = 0
    for part in stamp.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


async def test_chapters_of_a_live_show_end_now_and_a_long_show_counts_hours(diner: tuple[Api, Clock]) -> None:
    api, clock = diner
    clock.now = paris(23, 19)
    assert (await api.control("start", 0)).status_code == 200
    clock.now = paris(23, 20, 5, 30)
    assert (await api.control("next", 1)).status_code == 200
    clock.now = paris(23, 20, 6)  # the second item has been on air for 30 s
    cues = webvtt.from_string((await get(api, "chapters.vtt")).text).captions
    assert [(c.start, c.end) for c in cues] == [
        ("00:00:00.000", "01:05:30.000"),
        ("01:05:30.000", "01:06:00.000"),
    ]
    # Two chapters: YouTube would show none, and the file says so.
    assert (await get(api, "chapters.txt")).text.startswith("# Moins de 3 chapitres (2) : YouTube")
    assert (await api.control("next", 2)).status_code == 200
    clock.now = paris(23, 20, 7)
    lines = (await get(api, "chapters.txt")).text.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["0:00", "1:05:30", "1:06:00"]


async def test_the_report_sets_what_was_planned_against_what_happened(diner: tuple[Api, Clock]) -> None:
    api, clock = diner
    await play_the_diner(api, clock)
    response = await get(api, "report.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    items = {row["item_id"]: row for row in rows if row["level"] == "item"}
    segments = {row["segment_id"]: row for row in rows if row["level"] == "segment"}
    (show,) = [row for row in rows if row["level"] == "show"]
    assert len(items) == 19 and len(segments) == 4

    def columns(row: dict[str, str], *names: str) -> list[str]:
        return [row[name] for name in names]

    timing = ("planned_start", "planned_end", "planned_duration_seconds", "actual_start", "actual_end")
    delays = ("actual_duration_seconds", "start_delay_seconds", "overrun_seconds")
    assert columns(items["accueil"], *timing, *delays) == [
        "2020-11-23T19:00:00+01:00", "", "",
        "2020-11-23T19:02:00+01:00", "2020-11-23T19:12:00+01:00", "600", "120", "",
    ]  # fmt: skip
    # Back to it after the slip: it keeps its first start, and ends when it really ended.
    assert columns(
        items["resultats-impact-elus-locaux"], "actual_start", "actual_end", "actual_duration_seconds"
    ) == [
        "2020-11-23T19:12:00+01:00",
        "2020-11-23T19:25:00+01:00",
        "780",
    ]
    assert columns(items["territoires-ruraux-ingenierie-locale"], "actual_start", "actual_end") == ["", ""]
    assert (
        items["invite-mystere-1"]["speakers"] == "Premier invité mystère (Représentant du monde académique)"
    )
    assert items["invite-mystere-2"]["speakers"] == ""
    assert columns(items["cloture-ministre"], *timing, *delays) == [
        "2020-11-23T20:57:00+01:00", "2020-11-23T21:00:00+01:00", "180",
        "2020-11-23T19:50:00+01:00", "2020-11-23T19:55:00+01:00", "300", "-4020", "120",
    ]  # fmt: skip
    assert columns(segments["elus-a-la-manoeuvre"], "actual_end", *delays) == [
        "2020-11-23T19:50:00+01:00",
        "2880",
        "120",
        "-720",
    ]
    assert columns(segments["engagement-territorial-entreprises"], "actual_start", "overrun_seconds") == [
        "",
        "",
    ]
    assert columns(show, "title", "planned_duration_seconds", *delays) == [
        "3ème dîner « Elus & Entreprises »",
        "7200",
        "3180",
        "120",
        "-4020",
    ]


# --- The secret holds in every export until the reveal -------------------------------------------

CANARIES = ("Ursule CANARI-NOM-4b1d", "CANARI-ROLE-e8a2", "CANARI-ORG-93c7", "CANARI-ANNONCE-a5f0")
CANARY_SHOW: dict[str, Any] = {
    "slug": "soiree-canari",
    "title": "Soirée canari",
    "timezone": "Europe/Paris",
    "starts_at": "2020-11-23T19:00:00+01:00",
    "ends_at": "2020-11-23T20:00:00+01:00",
    "segments": [
        {
            "id": "unique",
            "title": "Le seul segment",
            "planned_start": "2020-11-23T19:00:00+01:00",
            "planned_end": "2020-11-23T20:00:00+01:00",
            "items": [
                {"id": "accueil", "title": "Accueil", "speakers": [{"name": "Anne Publique"}]},
                {
                    "id": "surprise",
                    "kind": "announcement",
                    "title": "Une annonce",
                    "mystery": True,
                    "teaser": "Un invité mystère…",
                    "hidden": {
                        "speakers": [{"name": CANARIES[0], "role": CANARIES[1], "organisation": CANARIES[2]}],
                        "announcement": CANARIES[3],
                    },
                },
                {"id": "fin", "title": "Fin"},
            ],
        }
    ],
}


async def everything_public(api: Api, slug: str) -> dict[str, str]:
    """Every export and JSON read, body and headers, and the live WebSocket's first message."""
    texts: dict[str, str] = {}
    for name in (*EXPORTS, "", "live", "timeline"):
        response = await api.client.get(f"/api/v1/events/{slug}/{name}".rstrip("/"))
        assert response.status_code == 200, (name, response.text)
        # iCalendar folds lines at 75 octets: unfold, or a secret cut in two would slip through.
        body = response.text.replace("\r\n ", "")
        if name.endswith(".xlsx"):  # compressed: read its cells as a spreadsheet does
            body = workbook_text(response.content)
        texts[name or "event"] = body + json.dumps(dict(response.headers))
    texts["events"] = (await api.client.get("/api/v1/events")).text
    async with connect(api.ws_url(slug)) as websocket:
        texts["ws"] = str(await websocket.recv())
    return texts


def workbook_text(body: bytes) -> str:
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    return "\n".join(
        "\t".join("" if cell is None else str(cell) for cell in row)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


def leaks(texts: dict[str, str]) -> dict[str, list[str]]:
    return {name: found for name, text in texts.items() if (found := [c for c in CANARIES if c in text])}


async def test_no_export_tells_the_secret_before_the_reveal_and_every_one_after(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = programme_file(tmp_path, CANARY_SHOW)
    async with clocked_api(sqlite_url, path, now=paris(23, 18)) as (api, clock):
        slug = CANARY_SHOW["slug"]
        assert leaks(await everything_public(api, slug)) == {}
        clock.now = paris(23, 19)
        assert (await api.control("start", 0, slug=slug)).status_code == 200
        clock.now = paris(23, 19, 10)
        assert (await api.control("next", 1, slug=slug)).status_code == 200
        clock.now = paris(23, 19, 20)  # the mystery guest is on air, not yet revealed
        assert leaks(await everything_public(api, slug)) == {}

        assert (await api.control("reveal", 2, "surprise", slug=slug)).status_code == 200
        clock.now = paris(23, 19, 30)
        found = leaks(await everything_public(api, slug))
        assert found["calendar.ics"] == list(CANARIES)
        assert found["schedule.json"] == list(CANARIES)
        assert found["schedule.xml"] == [CANARIES[0], CANARIES[3]]
        assert found["chapters.vtt"] == found["chapters.json"] == [CANARIES[0]]
        assert "chapters.txt" not in found  # two chapters so far: too few for YouTube, none listed
        assert found["report.csv"] == found["report.xlsx"] == list(CANARIES[:3])
        assert found["event"] == found["live"] == found["ws"] == list(CANARIES)
        clock.now = paris(23, 19, 40)
        assert (await api.control("next", 3, slug=slug)).status_code == 200
        clock.now = paris(23, 19, 55)
        assert leaks(await everything_public(api, slug))["chapters.txt"] == [CANARIES[0]]


# --- What every export says about itself ---------------------------------------------------------


async def test_every_export_names_its_file_and_answers_404_for_an_unknown_event(api: Api) -> None:
    for name in EXPORTS:
        response = await get(api, name)
        assert response.headers["content-disposition"] == f'inline; filename="{DINER}-{name}"'
        missing = await api.client.get(f"/api/v1/events/nobody-2020/{name}")
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "There is no event « nobody-2020 ».", "code": "unknown_event"},
        )
        assert missing.headers["cache-control"] == "no-store" and "etag" not in missing.headers


async def test_exports_are_listed_in_the_openapi_document_with_their_content_type(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    types = {
        name: next(iter(paths[f"/api/v1/events/{{slug}}/{name}"]["get"]["responses"]["200"]["content"]))
        for name in EXPORTS
    }
    assert types == {
        "calendar.ics": "text/calendar",
        "schedule.xml": "application/xml",
        "schedule.json": "application/json",
        "chapters.vtt": "text/vtt",
        "chapters.txt": "text/plain",
        "chapters.json": "application/json",
        "report.csv": "text/csv",
        "report.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }


async def test_a_show_crossing_midnight_has_two_schedule_days(sqlite_url: str, tmp_path: Path) -> None:
    late = {
        "slug": "nuit-blanche",
        "title": "Nuit blanche",
        "timezone": "Europe/Paris",
        "starts_at": "2020-11-23T23:00:00+01:00",
        "ends_at": "2020-11-24T01:00:00+01:00",
        "segments": [
            {
                "title": "Avant minuit",
                "planned_start": "2020-11-23T23:00:00+01:00",
                "planned_end": "2020-11-24T00:00:00+01:00",
                "items": [{"title": "Veille"}],
            },
            {
                "title": "Après minuit",
                "planned_start": "2020-11-24T00:00:00+01:00",
                "planned_end": "2020-11-24T01:00:00+01:00",
                "items": [{"title": "Lendemain"}],
            },
        ],
    }
    async with clocked_api(
        sqlite_url, programme_file(tmp_path, late), now=datetime(2020, 1, 1, tzinfo=UTC)
    ) as (
        api,
        _,
    ):
        document = (await get(api, "schedule.json", "nuit-blanche")).json()
        assert_c3voc_json(document)
        days = document["schedule"]["conference"]["days"]
        assert [(d["index"], d["date"], d["day_start"], d["day_end"]) for d in days] == [
            (1, "2020-11-23", "2020-11-23T23:00:00+01:00", "2020-11-24T00:00:00+01:00"),
            (2, "2020-11-24", "2020-11-24T00:00:00+01:00", "2020-11-24T01:00:00+01:00"),
        ]
        assert document["schedule"]["conference"]["daysCount"] == 2
        xml_days = ET.fromstring((await get(api, "schedule.xml", "nuit-blanche")).content).findall("day")
        assert [(d.get("index"), d.get("date")) for d in xml_days] == [
            ("1", "2020-11-23"),
            ("2", "2020-11-24"),
        ]


async def test_the_report_keeps_formula_like_titles_as_text(api: Api, tmp_path: Path) -> None:
    from app.cli import import_programmes, read_programme

    show = {
        "slug": "tableur",
        "title": "Tableur",
        "starts_at": "2021-03-01T18:00:00+01:00",
        "ends_at": "2021-03-01T19:00:00+01:00",
        "segments": [
            {
                "title": '=HYPERLINK("http://example.invalid")',
                "planned_start": "2021-03-01T18:00:00+01:00",
                "planned_end": "2021-03-01T19:00:00+01:00",
                "items": [{"title": "@SUM(A1)", "speakers": [{"name": "+33 Anne"}]}, {"title": "Accueil"}],
            }
        ],
    }
    await import_programmes(api.settings, [read_programme(programme_file(tmp_path, show))])
    rows = list(csv.DictReader(io.StringIO((await get(api, "report.csv", slug="tableur")).text)))
    assert [row["title"] for row in rows] == [
        "'@SUM(A1)",
        "Accueil",
        '\'=HYPERLINK("http://example.invalid")',
        "Tableur",
    ]
    assert rows[0]["speakers"].startswith("'+33 Anne")
