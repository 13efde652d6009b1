"""What the public API answers, as the frontend reads it.

The contract only ever adds fields, so every model ignores what it does not know: a newer
backend must not break an older frontend in the middle of a show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

SCHEDULED, LIVE, ENDED = "scheduled", "live", "ended"


class _ApiModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Speaker(_ApiModel):
    name: str
    role: str | None = None
    organisation: str | None = None


class Resource(_ApiModel):
    id: str
    title: str
    url: str
    content_type: str | None = None
    size: int | None = None

    @property
    def href(self) -> str:
        """Uploaded files are served through this app (`/resources/{id}`); links go where they say."""
        return self.url.removeprefix("/api/v1") if self.url.startswith("/api/v1/resources/") else self.url


class Room(_ApiModel):
    id: str
    name: str
    # Null when the room's link is only for those signed up to its session.
    url: str | None = None


class Session(_ApiModel):
    """A parallel session (« atelier ») of an item, in its own room."""

    id: str
    title: str
    room: str
    description: str | None = None
    facilitators: list[Speaker] = Field(default_factory=list)
    capacity: int | None = None
    seats_left: int | None = None


class Item(_ApiModel):
    id: str
    position: int = 0
    segment_id: str | None = None
    kind: str = "talk"
    title: str
    description: str | None = None
    planned_start: datetime | None = None
    speakers: list[Speaker] = Field(default_factory=list)
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    mystery: bool = False
    revealed: bool = False
    revealed_at: datetime | None = None
    teaser: str | None = None
    announcement: str | None = None
    # While the show is live: when this item should now start (only items with a planned time).
    projected_start: datetime | None = None
    resources: list[Resource] = Field(default_factory=list)
    sessions: list[Session] = Field(default_factory=list)
    signup_opens_at: datetime | None = None
    signup_closes_at: datetime | None = None

    @property
    def secret(self) -> bool:
        """A mystery the public has not seen yet."""
        return self.mystery and not self.revealed


class SegmentSummary(_ApiModel):
    id: str
    position: int = 0
    title: str
    planned_start: datetime
    planned_end: datetime
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    # While the show is live: when this segment should now start and end, given the delay so far.
    projected_start: datetime | None = None
    projected_end: datetime | None = None


class Segment(SegmentSummary):
    items: list[Item] = Field(default_factory=list)


class EventSummary(_ApiModel):
    slug: str
    title: str
    subtitle: str | None = None
    timezone: str = "Europe/Paris"
    starts_at: datetime
    ends_at: datetime
    status: str = SCHEDULED
    rehearsal: bool = False

    @cached_property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


class Event(EventSummary):
    description: str | None = None
    location: str | None = None
    organiser: str | None = None
    partners: list[str] = Field(default_factory=list)
    see_also: list[str] = Field(default_factory=list)
    stream_url: str | None = None
    replay_url: str | None = None
    rooms: list[Room] = Field(default_factory=list)
    registration_open: bool = False
    registered_count: int = 0
    version: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    segments: list[Segment] = Field(default_factory=list)
    # When the programme was last imported: a new one (a database reset and re-import) may restart
    # versions from zero, so pages order states by (updated_at, version), not by version alone.
    updated_at: datetime | None = None
    projected_end: datetime | None = None

    @property
    def items(self) -> list[Item]:
        return [item for segment in self.segments for item in segment.items]

    def room(self, room_id: str) -> Room | None:
        return next((room for room in self.rooms if room.id == room_id), None)


class QuestionOnAir(_ApiModel):
    """The audience question the show has on air (`LiveState.question`)."""

    id: str
    text: str
    author: str | None = None


class Question(_ApiModel):
    """An audience question as the API lists it: public ones for anyone, every one for moderators
    (`moderated_at`, `moderated_by` only there)."""

    id: str
    text: str
    author: str | None = None
    status: str
    votes: int = 0
    created_at: datetime
    answered_at: datetime | None = None
    moderated_at: datetime | None = None
    moderated_by: str | None = None


class LiveState(_ApiModel):
    event: str
    version: int
    status: str
    server_time: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    segment: SegmentSummary | None = None
    item: Item | None = None
    next_item: Item | None = None
    drift_seconds: float = 0
    projected_end: datetime | None = None
    question: QuestionOnAir | None = None


class Overrun(_ApiModel):
    """How the projected times of a pushed programme follow the clock (docs/live-websocket.md):
    each one, at a later `now`, is max(T, now + lead). Leads in seconds."""

    show_end: int | None = None
    segment_starts: dict[str, int] = Field(default_factory=dict)
    segment_ends: dict[str, int] = Field(default_factory=dict)
    item_starts: dict[str, int] = Field(default_factory=dict)

    def follow(self, event: Event, now: datetime) -> Event:
        """`event` with its projected times as they stand at `now`."""

        def moved(moment: datetime | None, lead: int | None) -> datetime | None:
            if moment is None or lead is None:
                return moment
            return max(moment, now + timedelta(seconds=lead))

        segments = [
            segment.model_copy(
                update={
                    "projected_start": moved(segment.projected_start, self.segment_starts.get(segment.id)),
                    "projected_end": moved(segment.projected_end, self.segment_ends.get(segment.id)),
                    "items": [
                        item.model_copy(
                            update={
                                "projected_start": moved(item.projected_start, self.item_starts.get(item.id))
                            }
                        )
                        for item in segment.items
                    ],
                }
            )
            for segment in event.segments
        ]
        return event.model_copy(
            update={"segments": segments, "projected_end": moved(event.projected_end, self.show_end)}
        )


class HiddenItem(_ApiModel):
    """A mystery item's secrets, as `GET /events/{slug}/hidden` gives them to a moderator."""

    id: str
    speakers: list[Speaker] = Field(default_factory=list)
    announcement: str | None = None


class TimelineEntry(_ApiModel):
    version: int
    at: datetime
    action: str
    segment_id: str | None = None
    item_id: str | None = None
    offset_seconds: float | None = None


class VideoChapter(_ApiModel):
    """One chapter of the recording, as the API's `chapters.json` (and its WebVTT) cuts it."""

    start_seconds: float
    end_seconds: float
    item_id: str
    title: str


def parse_timeline(payload: Any) -> list[TimelineEntry]:
    """The timeline is a list; an envelope object (`{"entries": [...]}`) is accepted too."""
    if isinstance(payload, dict):
        payload = payload.get("entries", payload.get("timeline", []))
    if not isinstance(payload, list):
        return []
    return [TimelineEntry.model_validate(entry) for entry in payload]
