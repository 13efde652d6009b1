"""iCalendar (RFC 5545): one VEVENT per segment, in the event's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from app.exports.base import GENERATOR, GENERATOR_VERSION, ExportData, Exporter, one_line, speaker_line
from app.public import SegmentPublic


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
        calendar.add("name", event.title)
        calendar.add("x-wr-calname", event.title)
        calendar.add("x-wr-timezone", event.timezone)
        for segment in event.segments:
            calendar.add_component(_vevent(data, segment))
        # A VTIMEZONE that covers the show, not 1970–2038: a few hundred bytes instead of kilobytes.
        first, last = event.segments[0].planned_start, event.segments[-1].planned_end
        calendar.add_missing_timezones(
            first_date=(first - timedelta(days=366)).date(), last_date=(last + timedelta(days=366)).date()
        )
        body: bytes = calendar.to_ical()
        return body


def _vevent(data: ExportData, segment: SegmentPublic) -> icalendar.Event:
    event = data.event
    vevent = icalendar.Event()
    vevent.add("uid", f"{segment.id}.{event.slug}@regie")
    # Without METHOD, DTSTAMP is when the information was last revised: the programme's import
    # or a reveal in this segment, never the time of the request (it would defeat caching).
    revised = max([event.updated_at, *(i.revealed_at for i in segment.items if i.revealed_at)])
    vevent.add("dtstamp", revised.astimezone(UTC))
    vevent.add("last-modified", revised.astimezone(UTC))
    vevent.add("dtstart", _wall_clock(data, segment.planned_start))
    vevent.add("dtend", _wall_clock(data, segment.planned_end))
    vevent.add("summary", segment.title)
    vevent.add("description", _description(data, segment))
    vevent.add("status", "CONFIRMED")
    vevent.add("categories", [event.title])
    if event.location:
        vevent.add("location", event.location)
    url = event.stream_url or event.replay_url
    if url:
        vevent.add("url", url)
    return vevent


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
        speakers = speaker_line(item)
        if speakers:
            line += f" — {speakers}"
        lines.append(line)
        if item.mystery and not item.revealed and item.teaser:
            lines.append(f"  {one_line(item.teaser)}")
        if item.announcement:
            lines.append(f"  {one_line(item.announcement)}")
    return "\n".join(lines)
