"""iCalendar (RFC 5545, with RFC 7986's calendar properties): one VEVENT per segment, in the
event's time zone, and one per parallel session at its item's time.

Each entry's LOCATION is its room: a segment plays in the main room (the event's place, or the
stream), a session in its own room, by name only — a room's link is never exported (a
capacity-limited session's is a seat). A session's entry is RELATED-TO its segment's, so a
calendar that nests entries shows the workshops inside their afternoon.

A calendar application that subscribes to the file (`webcal://…`) re-reads it every
REFRESH-INTERVAL and replaces an entry only when its SEQUENCE grew. Régie keeps no revision
counter per segment, so SEQUENCE is the segment's last revision (the programme's import or a
reveal in it) in seconds since 2020-01-01 UTC: it grows with every revision, stays the same
between two, and fits the 32-bit integer calendar applications read until 2088.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from app.domain.show import planned_slots
from app.exports.base import GENERATOR, GENERATOR_VERSION, ExportData, Exporter, one_line, speaker_line
from app.public import ItemPublic, SegmentPublic, SessionPublic, main_room_name

SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
# How often subscribers re-read the calendar: a programme changes in the days before a show.
REFRESH_INTERVAL = timedelta(hours=1)


class CalendarExporter(Exporter):
    filename = "calendar.ics"
    media_type = "text/calendar; charset=utf-8"
    summary = "The programme as an iCalendar file"
    description = (
        "One VEVENT per segment at its planned times, in the event's time zone (with its VTIMEZONE); "
        "each event's description lists the segment's items and who speaks. Subscribe to it from any "
        "calendar application."
    )
    example = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Régie//Régie 1.0.0//FR\r\n…\r\nBEGIN:VEVENT\r\n"
        "SUMMARY:Les élus à la manœuvre : de la connaissance aux compétences !\r\n"
        "DTSTART;TZID=Europe/Paris:20201123T190000\r\n…\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    def render(self, data: ExportData) -> bytes:
        event = data.event
        calendar = icalendar.Calendar()
        calendar.add("prodid", f"-//{GENERATOR}//{GENERATOR} {GENERATOR_VERSION}//FR")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        # As TEXT values, so that a `,` or `;` in a title is escaped instead of cutting it.
        calendar.add("name", icalendar.vText(event.title))
        calendar.add("x-wr-calname", icalendar.vText(event.title))
        about = event.subtitle or event.description
        if about:
            calendar.add("description", icalendar.vText(one_line(about)))
            calendar.add("x-wr-caldesc", icalendar.vText(one_line(about)))
        calendar.add("x-wr-timezone", event.timezone)
        if data.page_url:
            calendar.add("url", data.page_url, parameters={"VALUE": "URI"})
        calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", REFRESH_INTERVAL)
        slots = planned_slots(data.plan, resolution=timedelta(minutes=1))
        rooms = {room.id: room.name for room in event.rooms}
        for segment in event.segments:
            calendar.add_component(_vevent(data, segment))
            for item in segment.items:
                for session in item.sessions:
                    start, end = slots[item.id]
                    room = rooms.get(session.room, main_room_name(event.location))
                    calendar.add_component(_session_vevent(data, segment, item, session, room, start, end))
        # A VTIMEZONE that covers the show, not 1970–2038: a few hundred bytes instead of kilobytes.
        first, last = event.segments[0].planned_start, event.segments[-1].planned_end
        calendar.add_missing_timezones(
            first_date=(first - timedelta(days=366)).date(), last_date=(last + timedelta(days=366)).date()
        )
        body: bytes = calendar.to_ical()
        return body


def _uid(data: ExportData, segment: SegmentPublic) -> str:
    return f"{segment.id}.{data.event.slug}@regie"


def _revised(data: ExportData, segment: SegmentPublic) -> datetime:
    # Without METHOD, DTSTAMP is when the information was last revised: the programme's import
    # or a reveal in this segment, never the time of the request (it would defeat caching).
    return max([data.event.updated_at, *(i.revealed_at for i in segment.items if i.revealed_at)])


def _common(
    data: ExportData, vevent: icalendar.Event, segment: SegmentPublic, start: datetime, end: datetime
) -> None:
    revised = _revised(data, segment)
    vevent.add("dtstamp", revised.astimezone(UTC))
    vevent.add("last-modified", revised.astimezone(UTC))
    vevent.add("sequence", sequence(revised))
    vevent.add("dtstart", _wall_clock(data, start))
    vevent.add("dtend", _wall_clock(data, end))


def _vevent(data: ExportData, segment: SegmentPublic) -> icalendar.Event:
    event = data.event
    vevent = icalendar.Event()
    vevent.add("uid", _uid(data, segment))
    _common(data, vevent, segment, segment.planned_start, segment.planned_end)
    vevent.add("summary", segment.title)
    vevent.add("description", _description(data, segment))
    vevent.add("status", "CONFIRMED")
    vevent.add("categories", [event.title])
    vevent.add("location", main_room_name(event.location))
    # The page for people: it carries the stream while live and the replay once over.
    if data.page_url:
        vevent.add("url", data.page_url)
    return vevent


def _session_vevent(
    data: ExportData,
    segment: SegmentPublic,
    item: ItemPublic,
    session: SessionPublic,
    room: str,
    start: datetime,
    end: datetime,
) -> icalendar.Event:
    """A parallel session at its item's time, in its room. Identifiers hold no `.`, so its UID
    (three parts) never meets a segment's (two)."""
    vevent = icalendar.Event()
    vevent.add("uid", f"{session.id}.{item.id}.{data.event.slug}@regie")
    _common(data, vevent, segment, start, end)
    vevent.add("summary", session.title)
    lines = [f"{one_line(item.title)} — {one_line(segment.title)}"]
    if session.description:
        lines.append(one_line(session.description))
    facilitators = speaker_line(session.facilitators)
    if facilitators:
        lines.append(f"Animé par {facilitators}")
    vevent.add("description", "\n".join(lines))
    vevent.add("status", "CONFIRMED")
    vevent.add("categories", [data.event.title])
    vevent.add("location", room)
    vevent.add("related-to", _uid(data, segment), parameters={"RELTYPE": "PARENT"})
    if data.page_url:
        vevent.add("url", data.item_url(item.id))
    return vevent


def sequence(revised: datetime) -> int:
    """SEQUENCE for an entry last revised at `revised` (see the module's docstring)."""
    return max(0, int((revised - SEQUENCE_EPOCH).total_seconds()))


def _wall_clock(data: ExportData, moment: datetime) -> datetime:
    """Local time with its TZID, except in the hour that a DST change repeats.

    RFC 5545 reads an ambiguous local time as its first occurrence, so a time in the second
    pass of that hour (fold=1) can only be written exactly in UTC.
    """
    local = data.local(moment)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def _description(data: ExportData, segment: SegmentPublic) -> str:
    lines = []
    for item in segment.items:
        line = f"• {one_line(item.title)}"
        if item.planned_start:
            line = f"• {data.local(item.planned_start):%H:%M} {one_line(item.title)}"
        speakers = speaker_line(item.speakers)
        if speakers:
            line += f" — {speakers}"
        lines.append(line)
        if item.mystery and not item.revealed and item.teaser:
            lines.append(f"  {one_line(item.teaser)}")
        if item.announcement:
            lines.append(f"  {one_line(item.announcement)}")
    return "\n".join(lines)
