"""Dates, times and durations as a French reader expects them, in the event's own time zone.

Written out by hand rather than through the C locale: the server's locale is not ours to choose,
and a show's times must read the same on every machine.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def hour_minute(moment: datetime, zone: ZoneInfo) -> str:
    """`19 h 05`."""
    local = moment.astimezone(zone)
    return f"{local.hour} h {local.minute:02d}"


def long_date(moment: datetime, zone: ZoneInfo) -> str:
    """`lundi 23 novembre 2020` (`1er` for the first of the month, as French writes it)."""
    local = moment.astimezone(zone)
    day = "1er" if local.day == 1 else str(local.day)
    return f"{DAYS[local.weekday()]} {day} {MONTHS[local.month - 1]} {local.year}"


def date_time(moment: datetime, zone: ZoneInfo) -> str:
    """`lundi 23 novembre 2020 à 19 h 00`."""
    return f"{long_date(moment, zone)} à {hour_minute(moment, zone)}"


def time_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """`19 h 00 – 21 h 00`, with the end's date when the span crosses midnight."""
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        return f"{hour_minute(start, zone)} – {hour_minute(end, zone)}"
    return f"{hour_minute(start, zone)} – {date_time(end, zone)}"


def zone_label(zone: ZoneInfo) -> str:
    """`heure de Paris` for Europe/Paris: the city names the zone for most readers."""
    key = zone.key
    if "/" not in key:
        return f"heure {key}"
    city = key.rsplit("/", 1)[1].replace("_", " ")
    return f"heure de {city}"


def duration(seconds: float) -> str:
    """`45 s`, `12 min`, `1 h 05`: the coarsest form that stays exact to the minute."""
    total = round(abs(seconds))
    if total < 60:
        return f"{total} s"
    minutes = round(total / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60:02d}"
    return f"{hours // 24} j {hours % 24:02d} h"


def drift(seconds: float) -> str:
    """How late the show runs, in words: `à l'heure`, `4 min de retard`, `2 min d'avance`."""
    if abs(seconds) < 60:
        return "à l'heure"
    if seconds > 0:
        return f"{duration(seconds)} de retard"
    return f"{duration(seconds)} d'avance"


def offset(seconds: float) -> str:
    """A position in the show or its video: `0:00`, `12:05`, `1:02:03` (chapter style)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def quoted(title: str) -> str:
    """A title between guillemets, once: one that already holds « » gets “ ” around it instead
    of « « L'alliance dynamique » incarnée localement »."""
    return f"“{title}”" if "«" in title else f"« {title} »"


def iso(moment: datetime) -> str:
    """The machine-readable form for `<time datetime>` and the page's clock scripts."""
    return moment.isoformat().replace("+00:00", "Z")


def file_size(size: int) -> str:
    """`1,2 Mo`, `350 ko`: a document's size as a French reader writes it."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")
    return f"{max(1, round(size / 1024))} ko"
