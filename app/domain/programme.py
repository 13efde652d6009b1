"""The programme document: what `regie import FILE` and `PUT /api/v1/events/{slug}` accept.

A programme is validated whole before anything is stored, and every error is reported with
where it happened in the show's own words (segment 2 « … », item 3 « … », field `speakers`),
because the person importing it is an organiser fixing a YAML file, not a developer reading a
pydantic trace.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

Text = Annotated[str, Field(min_length=1, max_length=500)]
LongText = Annotated[str, Field(min_length=1, max_length=5000)]
IDENTIFIER = r"^[a-z0-9][a-z0-9-]{0,79}$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


def is_slug(value: str) -> bool:
    """Whether `value` could be an event's slug at all (what a lookup checks before any query)."""
    return re.fullmatch(IDENTIFIER, value) is not None


# Times a show can have. Beyond, converting to UTC or to the event's time zone overflows Python's
# datetime (year 1 or 9999 with an offset), and nobody schedules a dinner there.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def _to_utc(value: datetime) -> datetime:
    try:
        converted = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("this time falls outside the calendar once converted to UTC") from None
    if not EARLIEST_YEAR <= converted.year <= LATEST_YEAR:
        raise ValueError(f"a programme's times fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return converted


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]

# The room every event has when its programme names none: the stream everyone follows.
MAIN_ROOM_ID = "main"

ITEM_KINDS = ("talk", "debate", "announcement", "closing", "welcome", "testimony", "break", "workshop")


# Caps that keep a programme a programme: a document is validated whole, in memory, before anything
# is stored, so its size is bounded here rather than left to whoever sends it.
MAX_SEGMENTS = 100
MAX_ITEMS_PER_SEGMENT = 100
MAX_SPEAKERS_PER_ITEM = 50
MAX_LIST = 100


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """No text may hold a NUL: PostgreSQL cannot store one (SQLite would, silently)."""
        if isinstance(data, dict):
            for key, value in data.items():
                for text in value if isinstance(value, list) else (value,):
                    if isinstance(text, str) and "\x00" in text:
                        raise ValueError(
                            f"field `{key}` contains a NUL character (\\x00), which no text may hold"
                        )
        return data


class Speaker(_Document):
    name: Text
    role: Text | None = None
    organisation: Text | None = None


class Hidden(_Document):
    """What a mystery item keeps secret until a moderator reveals it live."""

    speakers: list[Speaker] = Field(default_factory=list, max_length=MAX_SPEAKERS_PER_ITEM)
    announcement: LongText | None = None


Url = Annotated[str, Field(pattern=r'^https?://[^\s<>"]+$', max_length=2000)]


class ResourceLink(_Document):
    """A document handed out with an item, by link (files are uploaded apart: POST …/resources)."""

    title: Text
    url: Url


class RoomDocument(_Document):
    """Where a session happens: a stream or a video-conference room."""

    id: Identifier
    name: Text
    url: Url | None = Field(
        default=None,
        description="The room's stream or video-conference link. Not public when a session with a "
        "`capacity` runs in it: only those signed up to that session receive it.",
    )


class SessionDocument(_Document):
    """One of the parallel sessions (« ateliers ») that run while their item is on air."""

    id: Identifier | None = None
    title: Text
    room: Identifier = Field(description="The `id` of one of the event's `rooms`.")
    description: LongText | None = None
    facilitators: list[Speaker] = Field(default_factory=list, max_length=50)
    capacity: int | None = Field(default=None, ge=1, le=100_000, description="Seats; null: unlimited.")


class ItemDocument(_Document):
    id: Identifier | None = None
    kind: str = Field(default="talk", pattern=r"^[a-z][a-z_]{1,31}$")
    title: Text
    description: LongText | None = None
    planned_start: UtcDatetime | None = None
    speakers: list[Speaker] = Field(default_factory=list, max_length=MAX_SPEAKERS_PER_ITEM)
    mystery: bool = False
    teaser: LongText | None = None
    hidden: Hidden | None = None
    resources: list[ResourceLink] = Field(
        default_factory=list,
        max_length=50,
        description="Links to documents for this item; a mystery item's stay hidden until its reveal.",
    )
    sessions: list[SessionDocument] = Field(
        default_factory=list,
        max_length=50,
        description="Parallel sessions run side by side while this item is on air; `next` enters "
        "and leaves the whole block.",
    )
    signup_opens_at: UtcDatetime | None = None
    signup_closes_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _sessions_in_their_own_rooms(self) -> Self:
        rooms = [session.room for session in self.sessions]
        if len(rooms) != len(set(rooms)):
            raise ValueError("two parallel sessions of one item share a room: each runs in its own")
        if (self.signup_opens_at or self.signup_closes_at) and not self.sessions:
            raise ValueError("`signup_opens_at` and `signup_closes_at` are only for items with `sessions`")
        if self.signup_opens_at and self.signup_closes_at and self.signup_closes_at <= self.signup_opens_at:
            raise ValueError("`signup_closes_at` must come after `signup_opens_at`")
        if self.mystery and self.sessions:
            raise ValueError("a mystery item cannot have `sessions`: they would give its secret away")
        return self

    @model_validator(mode="after")
    def _mystery_keeps_its_secret_apart(self) -> Self:
        if self.mystery:
            if self.speakers:
                raise ValueError(
                    "a mystery item lists its guests under `hidden.speakers`, not `speakers`, "
                    "so that they stay secret until the reveal"
                )
            if self.hidden is None:
                raise ValueError("a mystery item needs `hidden` (its secret speakers and announcement)")
        elif self.hidden is not None or self.teaser is not None:
            raise ValueError("`hidden` and `teaser` are only for items with `mystery: true`")
        return self


class SegmentDocument(_Document):
    id: Identifier | None = None
    title: Text
    planned_start: UtcDatetime
    planned_end: UtcDatetime
    items: list[ItemDocument] = Field(min_length=1, max_length=MAX_ITEMS_PER_SEGMENT)

    @model_validator(mode="after")
    def _times_in_order(self) -> Self:
        if self.planned_end <= self.planned_start:
            raise ValueError("`planned_end` must come after `planned_start`")
        for item in self.items:
            if item.planned_start is not None and not (
                self.planned_start <= item.planned_start < self.planned_end
            ):
                raise ValueError(
                    f"item « {item.title} »: its `planned_start` falls outside its segment's times"
                )
        return self


class ProgrammeDocument(_Document):
    slug: Identifier
    title: Text
    subtitle: Text | None = None
    description: LongText | None = None
    timezone: str = "Europe/Paris"
    location: Text | None = None
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    organiser: Text | None = None
    partners: list[Text] = Field(default_factory=list, max_length=MAX_LIST)
    see_also: list[Identifier] = Field(
        default_factory=list,
        max_length=MAX_LIST,
        description="Slugs of related events (a follow-up, a previous edition).",
    )
    stream_url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000)] | None = None
    replay_url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000)] | None = None
    rooms: list[RoomDocument] = Field(
        default_factory=list,
        max_length=100,
        description="Where parallel sessions happen. An event that names none has one main room "
        f"(id `{MAIN_ROOM_ID}`, the stream).",
    )
    segments: list[SegmentDocument] = Field(min_length=1, max_length=MAX_SEGMENTS)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"« {value} » is not an IANA time zone (for example Europe/Paris)") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("`ends_at` must come after `starts_at`")
        previous_end: datetime | None = None
        for index, segment in enumerate(self.segments, start=1):
            if previous_end is not None and segment.planned_start < previous_end:
                raise ValueError(
                    f"segment {index} « {segment.title} » starts before the previous segment ends"
                )
            previous_end = segment.planned_end
        segment_ids = [s.id for s in self.segments if s.id is not None]
        if len(segment_ids) != len(set(segment_ids)):
            raise ValueError("two segments share the same `id`")
        item_ids = [i.id for s in self.segments for i in s.items if i.id is not None]
        if len(item_ids) != len(set(item_ids)):
            raise ValueError("two items share the same `id`")
        room_ids = [room.id for room in self.rooms]
        if len(room_ids) != len(set(room_ids)):
            raise ValueError("two rooms share the same `id`")
        known_rooms = set(room_ids) or {MAIN_ROOM_ID}
        for item in (i for s in self.segments for i in s.items):
            for session in item.sessions:
                if session.room not in known_rooms:
                    raise ValueError(
                        f"item « {item.title} », session « {session.title} »: room « {session.room} » "
                        f"is not one of the event's `rooms` ({', '.join(sorted(known_rooms))})"
                    )
        session_ids = [x.id for s in self.segments for i in s.items for x in i.sessions if x.id]
        if len(session_ids) != len(set(session_ids)):
            raise ValueError("two sessions share the same `id`")
        return self

    def with_ids(self) -> ProgrammeDocument:
        """The same programme where every segment and item has its stable id.

        Ids that the file leaves out are derived from titles, so re-importing an edited file
        keeps the ids of what did not move (and the links that point at them).
        """
        taken: set[str] = (
            {s.id for s in self.segments if s.id}
            | {i.id for s in self.segments for i in s.items if i.id}
            | {x.id for s in self.segments for i in s.items for x in i.sessions if x.id}
        )

        def fresh(base: str) -> str:
            candidate, n = base, 2
            while candidate in taken:
                candidate, n = f"{base}-{n}", n + 1
            taken.add(candidate)
            return candidate

        segments = []
        for s_index, segment in enumerate(self.segments, start=1):
            segment_id = segment.id or fresh(slugify(segment.title, fallback=f"segment-{s_index}"))
            items = [
                item
                if item.id
                else item.model_copy(
                    update={
                        "id": fresh(f"{segment_id[:38]}-{slugify(item.title, fallback=str(i_index))}"[:80])
                    }
                )
                for i_index, item in enumerate(segment.items, start=1)
            ]
            items = [_with_session_ids(item, fresh) for item in items]
            segments.append(segment.model_copy(update={"id": segment_id, "items": items}))
        return self.model_copy(update={"segments": segments})


def _with_session_ids(item: ItemDocument, fresh: Callable[[str], str]) -> ItemDocument:
    if not item.sessions or all(session.id for session in item.sessions):
        return item
    assert item.id is not None
    sessions = [
        session
        if session.id
        else session.model_copy(
            update={"id": fresh(f"{item.id[:38]}-{slugify(session.title, fallback=str(index))}"[:80])}
        )
        for index, session in enumerate(item.sessions, start=1)
    ]
    return item.model_copy(update={"sessions": sessions})


def slugify(text: str, *, fallback: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")
    return slug or fallback


class ProgrammeError(ValueError):
    """A programme was refused; `problems` says where and why, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def parse_programme(data: Any, *, source: str) -> ProgrammeDocument:
    """Validate a programme document and give every segment and item its id.

    Raises ProgrammeError whose problems name the segment and item by number and title.
    """
    try:
        return ProgrammeDocument.model_validate(data).with_ids()
    except ValidationError as error:
        raise ProgrammeError(source, [locate(error_entry, data) for error_entry in error.errors()]) from None


_LABELS = {"segments": "segment", "items": "item", "sessions": "session", "rooms": "room"}


def locate(entry: Any, data: Any) -> str:
    """One pydantic error in the show's words: segment 2 « title », item 3 « title », field `x`."""
    parts: list[str] = []
    node = data
    loc = list(entry.get("loc", ()))
    fields: list[str] = []
    i = 0
    while i < len(loc):
        key = loc[i]
        if key in _LABELS and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = loc[i + 1]
            siblings = node.get(key) if isinstance(node, dict) else None
            child = siblings[index] if isinstance(siblings, list) and index < len(siblings) else None
            title = child.get("title") if isinstance(child, dict) else None
            label = _LABELS[key]
            parts.append(f"{label} {index + 1}" + (f" « {title} »" if isinstance(title, str) else ""))
            node = child
            i += 2
            continue
        fields.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
        i += 1
    if fields:
        parts.append("field `" + ".".join(fields) + "`")
    where = ", ".join(parts) if parts else "document"
    message = str(entry.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}"
