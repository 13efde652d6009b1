"""The frab / c3voc schedule, as XML and as JSON: what the c3voc tools and conference apps read.

Every room is listed: the main room (the stream, where the running order plays) and the rooms the
programme names. Each programme item is one schedule event in the main room, except an item with
parallel sessions (« Ateliers »): each of its sessions is an event in its own room at the item's
time, so parallel sessions are parallel events in parallel rooms. No room's link is exported (a
capacity-limited session's is a seat). The format needs a start and a duration for every event, so
items without a planned time of their own get an estimated slot: their stretch of the programme
shared evenly, on whole minutes (`show.planned_slots`). Persons are the item's public speakers (a
session's facilitators) only: a mystery guest appears at the reveal.

Event ids are integers in both formats, and importers (pretalx's, c3voc's schedule merger) key
on them across every conference of an instance, so a running number per event would collide
between two events: an id is a 31-bit hash of the event's slug and the item's id instead,
stable across re-imports of the programme. In the XML a person carries the same guid as in the
JSON, and an integer id made the same way from their name (the same person across events).
Links point to the event's page for people under the configured public base URL
(`REGIE_PUBLIC_URL`), and so do uploaded documents (the pages relay them).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from app.domain.programme import MAIN_ROOM_ID
from app.domain.show import planned_slots
from app.exports.base import GENERATOR, GENERATOR_VERSION, ExportData, Exporter, one_line
from app.public import ItemPublic, SegmentPublic, SessionPublic, SpeakerPublic, main_room_name

SCHEMA_URL = "https://c3voc.de/schedule/schema.json"
LANGUAGE = "fr"
TIMESLOT = "00:05"


@dataclass(frozen=True)
class _Talk:
    """One schedule event: a programme item, or one parallel session of it (`session`)."""

    id: int
    segment: SegmentPublic
    item: ItemPublic
    session: SessionPublic | None
    room: str
    # Aware local times for display; lengths and order come from `length` and UTC, because two
    # datetimes in the same zone subtract as wall clocks, an hour off across a DST change.
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    @property
    def key(self) -> str:
        """What the event's guid and slug are made of: the item's id, or the session's."""
        return self.item.id if self.session is None else self.session.id

    @property
    def title(self) -> str:
        return one_line(self.item.title if self.session is None else self.session.title)

    @property
    def subtitle(self) -> str:
        """A session's block (« Ateliers 1 »), which conference apps show under its title."""
        return "" if self.session is None else one_line(self.item.title)

    @property
    def abstract(self) -> str:
        if self.session is not None:
            return one_line(self.session.description or "")
        item = self.item
        return one_line(item.teaser or "") if item.mystery else one_line(item.description or "")

    @property
    def details(self) -> str:
        return one_line(self.item.announcement or "") if self.item.mystery and self.session is None else ""

    @property
    def persons(self) -> list[SpeakerPublic]:
        return self.item.speakers if self.session is None else self.session.facilitators


@dataclass(frozen=True)
class _Day:
    index: int
    date: date
    talks: list[_Talk]

    @property
    def start(self) -> datetime:
        return min((t.start for t in self.talks), key=lambda moment: moment.astimezone(UTC))

    @property
    def end(self) -> datetime:
        return max((t.end for t in self.talks), key=lambda moment: moment.astimezone(UTC))


def acronym(slug: str) -> str:
    """The conference acronym the c3voc schema accepts: no hyphen, at least four characters."""
    name = slug.replace("-", "_")
    return name if len(name) >= 4 else f"event_{name}"


def _guid(data: ExportData, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "regie:" + "/".join((data.event.slug, *parts))))


def stable_id(*parts: str) -> int:
    """A positive 31-bit integer for `parts`: the same on every run, distinct in practice."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def _person_id(name: str) -> int:
    return stable_id("person", name)


def _hh_mm(length: timedelta) -> str:
    minutes = int(length.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class _Room:
    name: str
    guid: str


def _rooms(data: ExportData) -> tuple[_Room, dict[str, _Room]]:
    """The main room, where the running order plays, and the programme's rooms by id.

    A programme that names no room has only the main room (`main`, as public reads give it),
    which its sessions use; a named room called like the main room is the same room to the
    format, which keys on names.
    """
    main = _Room(main_room_name(data.event.location), _guid(data, "room"))
    named = {
        room.id: main if room.name == main.name else _Room(room.name, _guid(data, "room", room.id))
        for room in data.event.rooms
    }
    named.setdefault(MAIN_ROOM_ID, main)
    return main, named


def _room_list(data: ExportData) -> list[_Room]:
    """Every room once, the main room first: what the schedule lists, even a room left empty."""
    main, named = _rooms(data)
    rooms = {main.name: main}
    for room in named.values():
        rooms.setdefault(room.name, room)
    return list(rooms.values())


def _days(data: ExportData) -> list[_Day]:
    slots = planned_slots(data.plan, resolution=timedelta(minutes=1))
    main, named = _rooms(data)
    by_date: dict[date, list[_Talk]] = {}
    for segment, item in data.items():
        start, end = data.local(slots[item.id][0]), data.local(slots[item.id][1])
        if not item.sessions:
            talks = [_Talk(stable_id(data.event.slug, item.id), segment, item, None, main.name, start, end)]
        else:
            talks = [
                _Talk(
                    stable_id(data.event.slug, item.id, "session", session.id),
                    segment,
                    item,
                    session,
                    named.get(session.room, main).name,
                    start,
                    end,
                )
                for session in item.sessions
            ]
        by_date.setdefault(start.date(), []).extend(talks)
    return [_Day(index, day, talks) for index, (day, talks) in enumerate(sorted(by_date.items()), start=1)]


def _by_room(data: ExportData, day: _Day) -> dict[str, list[_Talk]]:
    """The day's events room by room, every room present (in the schedule's order)."""
    rooms: dict[str, list[_Talk]] = {room.name: [] for room in _room_list(data)}
    for talk in day.talks:
        rooms[talk.room].append(talk)
    return rooms


def _slug(data: ExportData, talk: _Talk) -> str:
    return re.sub(r"-+$", "", f"{acronym(data.event.slug)}-{talk.id}-{talk.key}")


def _guid_of(data: ExportData, talk: _Talk) -> str:
    # An item keeps the guid it always had; a session's is its own (sessions never were events).
    return _guid(data, "item", talk.item.id) if talk.session is None else _guid(data, "session", talk.key)


def _biography(role: str | None, organisation: str | None) -> str:
    return ", ".join(part for part in (role, organisation) if part)


class ScheduleJsonExporter(Exporter):
    filename = "schedule.json"
    media_type = "application/json"
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["$schema", "generator", "schedule"],
        "properties": {
            "$schema": {"type": "string", "format": "uri", "const": SCHEMA_URL},
            "generator": {
                "type": "object",
                "required": ["name", "version"],
                "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
            },
            "schedule": {
                "type": "object",
                "required": ["version", "conference"],
                "properties": {"version": {"type": "string"}, "conference": {"type": "object"}},
            },
        },
    }
    summary = "The programme in the frab / c3voc schedule format (JSON)"
    description = (
        "The c3voc `schedule.json` (https://c3voc.de/schedule/schema.json) that the c3voc tools and "
        "conference apps read: every room, one event per programme item in the main room, and each "
        "parallel session as an event in its own room at its item's time; local times of the event's "
        "time zone. Items without a planned time of their own get an estimated slot."
    )
    example = (
        '{"$schema": "https://c3voc.de/schedule/schema.json", "generator": {"name": "Régie", …}, '
        '"schedule": {"version": "0", "conference": {"acronym": "diner_elus_entreprises_2020", …}}}'
    )

    def render(self, data: ExportData) -> bytes:
        return json.dumps(self.document(data), ensure_ascii=False, indent=1).encode()

    def document(self, data: ExportData) -> dict[str, Any]:
        event, days = data.event, _days(data)
        conference: dict[str, Any] = {
            "acronym": acronym(event.slug),
            "title": event.title,
            "start": days[0].date.isoformat(),
            "end": days[-1].date.isoformat(),
            "daysCount": len(days),
            "timeslot_duration": TIMESLOT,
            "time_zone_name": event.timezone,
            "url": data.page_url,
            "rooms": [{"name": room.name, "guid": room.guid} for room in _room_list(data)],
            "days": [
                {
                    "index": day.index,
                    "date": day.date.isoformat(),
                    "day_start": day.start.isoformat(),
                    "day_end": day.end.isoformat(),
                    "rooms": {
                        room: [self._talk(data, talk) for talk in talks]
                        for room, talks in _by_room(data, day).items()
                    },
                }
                for day in days
            ],
        }
        if event.description:
            conference["description"] = event.description
        return {
            "$schema": SCHEMA_URL,
            "generator": {"name": GENERATOR, "version": GENERATOR_VERSION},
            "schedule": {"version": str(event.version), "conference": conference},
        }

    def _talk(self, data: ExportData, talk: _Talk) -> dict[str, Any]:
        item = talk.item
        return {
            "id": talk.id,
            "guid": _guid_of(data, talk),
            "date": talk.start.isoformat(),
            "start": f"{talk.start:%H:%M}",
            "duration": _hh_mm(talk.length),
            "room": talk.room,
            "slug": _slug(data, talk),
            "url": data.item_url(item.id),
            "title": talk.title,
            "subtitle": talk.subtitle,
            "track": one_line(talk.segment.title),
            "type": item.kind,
            "language": LANGUAGE,
            "abstract": talk.abstract,
            "description": talk.details or None,
            "persons": [
                {
                    "name": speaker.name,
                    "public_name": speaker.name,
                    "guid": _guid(data, "person", speaker.name),
                    "biography": _biography(speaker.role, speaker.organisation),
                }
                for speaker in talk.persons
            ],
            "links": [{"url": data.resource_url(r.url), "title": one_line(r.title)} for r in item.resources],
        }


class ScheduleXmlExporter(Exporter):
    filename = "schedule.xml"
    media_type = "application/xml; charset=utf-8"
    summary = "The programme in the frab / c3voc schedule format (XML)"
    description = (
        "The frab `schedule.xml` that the c3voc tools and conference apps (Giggity, ConfClerk…) "
        "read: one `<event>` per programme item in the main room, each parallel session an `<event>` in "
        "its own `<room>` at its item's time; local times of the event's time zone. Items without a "
        "planned time of their own get an estimated slot."
    )
    example = (
        '<?xml version="1.0" encoding="utf-8"?>\n<schedule><version>0</version><conference>'
        '<acronym>diner_elus_entreprises_2020</acronym>…</conference><day index="1" …>…</day></schedule>'
    )

    def render(self, data: ExportData) -> bytes:
        event, days = data.event, _days(data)
        root = ET.Element("schedule")
        ET.SubElement(root, "generator", name=GENERATOR, version=GENERATOR_VERSION)
        ET.SubElement(root, "version").text = str(event.version)
        conference = ET.SubElement(root, "conference")
        for name, value in (
            ("acronym", acronym(event.slug)),
            ("title", event.title),
            ("start", days[0].date.isoformat()),
            ("end", days[-1].date.isoformat()),
            ("days", str(len(days))),
            ("timeslot_duration", TIMESLOT),
            ("time_zone_name", event.timezone),
        ):
            ET.SubElement(conference, name).text = value
        for day in days:
            day_element = ET.SubElement(
                root,
                "day",
                index=str(day.index),
                date=day.date.isoformat(),
                start=day.start.isoformat(),
                end=day.end.isoformat(),
            )
            for room, talks in _by_room(data, day).items():
                room_element = ET.SubElement(day_element, "room", name=room)
                for talk in talks:
                    self._talk(data, talk, room_element)
        ET.indent(root)
        body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        return body + b"\n"

    def _talk(self, data: ExportData, talk: _Talk, parent: ET.Element) -> None:
        item = talk.item
        element = ET.SubElement(parent, "event", id=str(talk.id), guid=_guid_of(data, talk))
        for name, value in (
            ("date", talk.start.isoformat()),
            ("start", f"{talk.start:%H:%M}"),
            ("duration", _hh_mm(talk.length)),
            ("room", talk.room),
            ("slug", _slug(data, talk)),
            ("url", data.item_url(item.id)),
            ("title", talk.title),
            ("subtitle", talk.subtitle),
            ("track", one_line(talk.segment.title)),
            ("type", item.kind),
            ("language", LANGUAGE),
            ("abstract", talk.abstract),
            ("description", talk.details),
        ):
            ET.SubElement(element, name).text = value
        persons = ET.SubElement(element, "persons")
        for speaker in talk.persons:
            person = ET.SubElement(
                persons, "person", id=str(_person_id(speaker.name)), guid=_guid(data, "person", speaker.name)
            )
            person.text = speaker.name
        links = ET.SubElement(element, "links")
        for resource in item.resources:
            ET.SubElement(links, "link", href=data.resource_url(resource.url)).text = one_line(resource.title)
