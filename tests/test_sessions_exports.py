"""Rooms and parallel sessions in the exports, read back as their consumers read them.

The frab / c3voc schedule (checked against c3voc's schema.json and schedule.xml.xsd as
tests.test_exports encodes them) lists every room and runs each session of a block as an event in
its own room at the block's time; `calendar.ics`, read with `icalendar` and with `vobject`, gives
every entry its room as LOCATION. No room's link is in any of them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject

from tests.conftest import Api, programme_file
from tests.test_exports import assert_c3voc_json, assert_c3voc_xml
from tests.test_projection import clocked_api
from tests.test_sessions import OPEN_LINK, PRIVATE_LINK, SLUG, WORKSHOPS

SESSIONS = ("Quelle gouvernance choisir ?", "Comment changer d'échelle ?")


@pytest.fixture
async def workshops(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    path = programme_file(tmp_path, WORKSHOPS)
    async with clocked_api(sqlite_url, path, now=datetime(2030, 2, 20, 9, tzinfo=UTC)) as (api, _):
        yield api


async def read(api: Api, name: str, slug: str = SLUG) -> bytes:
    response = await api.client.get(f"/api/v1/events/{slug}/{name}")
    assert response.status_code == 200, response.text
    return response.content


def json_rooms(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every day's events room by room (this Rencontre has one day)."""
    [day] = document["schedule"]["conference"]["days"]
    rooms: dict[str, list[dict[str, Any]]] = day["rooms"]
    return rooms


async def test_the_schedule_json_lists_every_room_and_each_session_in_its_own(workshops: Api) -> None:
    document = (await workshops.client.get(f"/api/v1/events/{SLUG}/schedule.json")).json()
    assert_c3voc_json(document)
    conference = document["schedule"]["conference"]
    assert [room["name"] for room in conference["rooms"]] == ["Direct", "Salle A", "Salle B"]
    assert len({room["guid"] for room in conference["rooms"]}) == 3

    rooms = json_rooms(document)
    assert list(rooms) == ["Direct", "Salle A", "Salle B"]
    assert [e["title"] for e in rooms["Direct"]] == ["Accueil", "Au revoir"]  # the block is its sessions
    [governance], [scale] = rooms["Salle A"], rooms["Salle B"]
    assert (governance["title"], scale["title"]) == SESSIONS
    for room, events in rooms.items():
        assert all(event["room"] == room for event in events)
    # Parallel: both at the block's time, for its whole slot.
    for session in (governance, scale):
        assert (session["date"], session["start"], session["duration"]) == (
            "2030-03-01T10:00:00+01:00",
            "10:00",
            "01:00",
        )
        assert (session["subtitle"], session["track"], session["type"]) == (
            "Ateliers en parallèle",
            "Ateliers",
            "workshop",
        )
        assert session["url"].endswith("#item-ateliers-bloc")
    assert governance["persons"] == [
        {
            "name": "Camille Martin",
            "public_name": "Camille Martin",
            "guid": governance["persons"][0]["guid"],
            "biography": "Le Labo",
        }
    ]
    assert scale["persons"] == []
    events = [e for events in rooms.values() for e in events]
    assert len({e["id"] for e in events}) == len({e["guid"] for e in events}) == len(events) == 4


async def test_the_schedule_xml_has_the_same_rooms_and_events_as_the_json(workshops: Api) -> None:
    body = await read(workshops, "schedule.xml")
    events = assert_c3voc_xml(body)
    [day] = ET.fromstring(body).findall("day")
    assert [room.get("name") for room in day.findall("room")] == ["Direct", "Salle A", "Salle B"]
    for room in day.findall("room"):
        assert all(event.findtext("room") == room.get("name") for event in room.findall("event"))
    by_room = {room.get("name"): [e.findtext("title") for e in room.findall("event")] for room in day}
    assert by_room == {"Direct": ["Accueil", "Au revoir"], "Salle A": [SESSIONS[0]], "Salle B": [SESSIONS[1]]}
    sessions = [e for e in events if e.findtext("room") != "Direct"]
    assert {(e.findtext("start"), e.findtext("duration")) for e in sessions} == {("10:00", "01:00")}
    assert [p.text for p in sessions[0].findall("persons/person")] == ["Camille Martin"]

    json_events = [
        e for events in json_rooms(json_of(await read(workshops, "schedule.json"))).values() for e in events
    ]
    assert [(e.get("guid"), e.get("id")) for e in events] == [(e["guid"], str(e["id"])) for e in json_events]


def json_of(body: bytes) -> dict[str, Any]:
    import json

    document: dict[str, Any] = json.loads(body)
    return document


async def test_the_seed_of_2015_runs_four_workshops_at_once_in_four_rooms(api: Api) -> None:
    slug = "rencontre-pionniers-2015"
    document = json_of(await read(api, "schedule.json", slug))
    events = assert_c3voc_json(document)
    conference = document["schedule"]["conference"]
    assert len(conference["rooms"]) == 9  # the main room and the programme's eight
    first_block = [e for e in events if e["subtitle"].startswith("Ateliers 1 - ")]
    assert [e["title"] for e in first_block] == [
        "Comment changer d'échelle ?",
        "Quels modèles économiques adopter ?",
        "Quelle gouvernance choisir ?",
        "Comment mobiliser les acteurs sur le territoire ?",
    ]
    assert len({e["room"] for e in first_block}) == 4
    assert len({(e["date"], e["duration"]) for e in first_block}) == 1
    xml_events = assert_c3voc_xml(await read(api, "schedule.xml", slug))
    assert len(xml_events) == len(events)


async def test_every_calendar_entry_has_its_room_as_location(workshops: Api) -> None:
    body = await read(workshops, "calendar.ics")
    calendar = icalendar.Calendar.from_ical(body)
    assert [component.errors for component in calendar.walk()] == [[]] * len(calendar.walk())
    entries = {str(e["summary"]): e for e in calendar.walk("VEVENT")}
    assert list(entries) == ["Matinée", "Ateliers", *SESSIONS, "Clôture"]
    assert {name: str(e["location"]) for name, e in entries.items()} == {
        "Matinée": "Direct",
        "Ateliers": "Direct",
        SESSIONS[0]: "Salle A",
        SESSIONS[1]: "Salle B",
        "Clôture": "Direct",
    }
    block = entries["Ateliers"]
    for title in SESSIONS:
        session = entries[title]
        assert session.decoded("dtstart") == datetime(2030, 3, 1, 9, tzinfo=UTC)
        assert session.decoded("dtend") == datetime(2030, 3, 1, 10, tzinfo=UTC)
        assert str(session["related-to"]) == str(block["uid"])
        assert session["related-to"].params["RELTYPE"] == "PARENT"
    assert "Animé par Camille Martin (Le Labo)" in str(entries[SESSIONS[0]]["description"])
    assert len({str(e["uid"]) for e in entries.values()}) == 5

    # vobject, as CalDAV tools read it, sees the same rooms.
    parsed = vobject.readOne(body.decode())
    assert [(e.summary.value, e.location.value) for e in parsed.contents["vevent"]] == [
        (name, str(e["location"])) for name, e in entries.items()
    ]


async def test_no_room_link_is_in_the_schedule_or_the_calendar(workshops: Api) -> None:
    for name in ("schedule.json", "schedule.xml", "calendar.ics"):
        body = await read(workshops, name)
        assert PRIVATE_LINK.encode() not in body and OPEN_LINK.encode() not in body, name
