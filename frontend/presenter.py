"""What a page shows, computed from the API's data: the running order with past / live / coming,
the guests revealed so far, what the console may do. Pure functions, no I/O, easy to test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse
from zoneinfo import ZoneInfo

from frontend.formatting import MONTHS, duration, hour_minute
from frontend.models import (
    ENDED,
    LIVE,
    SCHEDULED,
    Event,
    Item,
    LiveState,
    Segment,
    SegmentSummary,
    TimelineEntry,
    VideoChapter,
)

State = Literal["past", "skipped", "live", "coming"]

STATE_LABELS: dict[str, str] = {
    "past": "terminé",
    "skipped": "non présenté",
    "live": "en cours",
    "coming": "à venir",
}
STATUS_LABELS: dict[str, str] = {SCHEDULED: "À venir", LIVE: "En direct", ENDED: "Terminé"}
KIND_LABELS: dict[str, str] = {
    "talk": "Intervention",
    "debate": "Débat",
    "announcement": "Annonce",
    "closing": "Clôture",
    "welcome": "Accueil",
    "testimony": "Témoignage",
    "break": "Pause",
    "workshop": "Atelier",
}
VIDEO_SUFFIXES = (".mp4", ".webm", ".ogv", ".ogg", ".mov", ".m4v")
# A projection is shown once it is at least this late: the same threshold as "à l'heure" for the
# drift, so the page never says "on time" and "20 h 00 → 20 h 00" at once.
LATE = timedelta(seconds=60)
# A show started this far from its planned start, on another date, was moved (a rehearsal of a
# past programme, a postponed evening), not delayed: it is measured against its real start.
MOVED = timedelta(hours=12)


def projected_if_late(planned: datetime | None, projected: datetime | None) -> datetime | None:
    """The projected time, when it is late enough against the plan to be worth saying."""
    if planned is None or projected is None or projected - planned < LATE:
        return None
    return projected


@dataclass(frozen=True, slots=True)
class ItemView:
    item: Item
    state: State
    is_next: bool

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True, slots=True)
class SegmentView:
    segment: Segment
    state: State
    items: tuple[ItemView, ...]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True, slots=True)
class Headline:
    """How the show stands against its plan, in one place for the live page and the console."""

    tone: Literal["late", "early", "ontime", "overrun"]
    sentence: str  # the live page: « Le direct a 4 min de retard. »
    short: str  # the console's state line: « 4 min de retard »


@dataclass(frozen=True, slots=True)
class ShowView:
    """One version of the show, ready for the templates of the live page and the console.

    `event` and `live` carry the plan the show is measured against: the programme's, or, for a
    show started on another day than planned, the programme moved to its real start (`shift`),
    so that no figure counts the days between. `planned_event` is the programme as published.
    """

    event: Event
    live: LiveState
    segments: tuple[SegmentView, ...]
    planned_event: Event | None = None
    shift: timedelta = timedelta(0)

    @property
    def zone(self) -> ZoneInfo:
        return self.event.zone

    @property
    def version(self) -> int:
        return self.live.version

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.live.status, self.live.status)

    @property
    def epoch(self) -> int:
        """The programme's revision (its import time, in ms): a re-imported programme may restart
        its versions from zero, and pages must then take the lower versions, not ignore them."""
        updated = self.event.updated_at
        return int(updated.timestamp() * 1000) if updated is not None else 0

    @property
    def stamp(self) -> int:
        """Grows when projected times move within one version (an item overrunning between two
        presses), and is the same number in every frontend process for the same data.

        Projections only ever move later while a version lasts, so their sum in whole seconds
        never decreases: pages take a re-rendering with a higher stamp and drop a stale one.
        """
        moments: list[datetime | None] = [self.event.projected_end]
        for segment in self.event.segments:
            moments += [segment.projected_start, segment.projected_end]
            moments += [item.projected_start for item in segment.items]
        return sum(int(moment.timestamp()) for moment in moments if moment is not None)

    @property
    def projected_end(self) -> datetime | None:
        """When the show should now end, while it is live."""
        if self.live.status != LIVE:
            return None
        return self.event.projected_end or self.live.projected_end

    @property
    def late_end(self) -> datetime | None:
        return projected_if_late(self.event.ends_at, self.projected_end)

    @property
    def published(self) -> Event:
        """The programme as published, whatever day the show really started."""
        return self.planned_event or self.event

    @property
    def moved_day(self) -> str | None:
        """« commencé le 1er décembre au lieu du 23 novembre 2020 », for a show moved to another day."""
        if not self.shift or self.live.started_at is None:
            return None
        zone = self.zone
        real = self.live.started_at.astimezone(zone)
        planned = self.published.starts_at.astimezone(zone)
        this_year = self.live.server_time.astimezone(zone).year
        return f"commencé le {_day(real, with_year=real.year != this_year)} au lieu du {_day(planned)}"

    @property
    def headline(self) -> Headline:
        live = self.live
        if live.status != LIVE:
            return Headline("ontime", "", "")
        planned_end = self.event.ends_at
        if live.server_time - planned_end >= LATE:
            end = hour_minute(planned_end, self.zone)
            return Headline(
                "overrun", f"Le direct dépasse sa fin prévue à {end}.", f"Au-delà de la fin prévue ({end})"
            )
        lateness = live.drift_seconds
        if self.projected_end is not None:
            lateness = max(lateness, (self.projected_end - planned_end).total_seconds())
        if lateness >= LATE.total_seconds():
            late = f"{duration(lateness)} de retard"
            return Headline("late", f"Le direct a {late}.", late)
        if lateness <= -LATE.total_seconds():
            early = f"{duration(lateness)} d'avance"
            return Headline("early", f"Le direct a {early}.", early)
        return Headline("ontime", "Le direct est à l'heure.", "À l'heure")

    @property
    def past_date(self) -> bool:
        """A show still to start whose planned end has passed: not « imminent », just not run."""
        return self.live.status == SCHEDULED and self.live.server_time >= self.event.ends_at

    @property
    def live_segment(self) -> SegmentSummary | None:
        """The segment on air, as the programme read with this version has it (its projected
        times refresh with the programme, the live state's do not)."""
        wanted = self.live.segment
        if wanted is None:
            return None
        return next((s for s in self.event.segments if s.id == wanted.id), wanted)

    @property
    def next_item(self) -> Item | None:
        wanted = self.live.next_item
        if wanted is None:
            return None
        return next((i for i in self.event.items if i.id == wanted.id), wanted)

    @property
    def guests(self) -> tuple[Item, ...]:
        """The mystery guests revealed so far, in the order of the programme."""
        return tuple(item for item in self.event.items if item.mystery and item.revealed)

    @property
    def can_start(self) -> bool:
        return self.live.status == SCHEDULED

    @property
    def can_move(self) -> bool:
        return self.live.status == LIVE

    @property
    def reveal_now(self) -> Item | None:
        """The live item, when it is a mystery still to reveal: the console's `R` reveals it."""
        item = self.live.item
        return item if item is not None and item.secret else None


def item_state(index: int, live_index: int | None, item: Item, status: str) -> State:
    if status == SCHEDULED:
        return "coming"
    if live_index is None:
        if status == ENDED:
            return "past" if item.actual_start is not None else "skipped"
        return "coming"
    if index == live_index:
        return "live" if status == LIVE else "past"
    if index < live_index:
        return "past" if item.actual_start is not None else "skipped"
    return "skipped" if status == ENDED else "coming"


def _day(moment: datetime, *, with_year: bool = True) -> str:
    day = "1er" if moment.day == 1 else str(moment.day)
    return f"{day} {MONTHS[moment.month - 1]}" + (f" {moment.year}" if with_year else "")


def day_shift(event: Event, live: LiveState) -> timedelta:
    """How far a show started on another day than planned was moved; zero for a show on its day."""
    started = live.started_at or event.started_at
    if started is None:
        return timedelta(0)
    offset = started - event.starts_at
    zone = event.zone
    if abs(offset) < MOVED or started.astimezone(zone).date() == event.starts_at.astimezone(zone).date():
        return timedelta(0)
    return offset


def _moved(moment: datetime | None, shift: timedelta) -> datetime | None:
    return None if moment is None else moment + shift


def _moved_item(item: Item | None, shift: timedelta) -> Item | None:
    if item is None:
        return None
    return item.model_copy(update={"planned_start": _moved(item.planned_start, shift)})


def _moved_segment(segment: SegmentSummary, shift: timedelta) -> dict[str, datetime]:
    return {"planned_start": segment.planned_start + shift, "planned_end": segment.planned_end + shift}


def moved_plan(event: Event, live: LiveState, shift: timedelta) -> tuple[Event, LiveState]:
    """The programme and live state with every planned time moved by `shift`, drift measured anew."""
    segments = [
        segment.model_copy(
            update={**_moved_segment(segment, shift), "items": [_moved_item(i, shift) for i in segment.items]}
        )
        for segment in event.segments
    ]
    moved_event = event.model_copy(
        update={"starts_at": event.starts_at + shift, "ends_at": event.ends_at + shift, "segments": segments}
    )
    moved_live = live.model_copy(
        update={
            "drift_seconds": live.drift_seconds - shift.total_seconds(),
            "segment": (
                live.segment.model_copy(update=_moved_segment(live.segment, shift)) if live.segment else None
            ),
            "item": _moved_item(live.item, shift),
            "next_item": _moved_item(live.next_item, shift),
        }
    )
    return moved_event, moved_live


def show_view(event: Event, live: LiveState) -> ShowView:
    planned_event = event
    shift = day_shift(event, live)
    if shift:
        event, live = moved_plan(event, live, shift)
    items = event.items
    live_id = live.item.id if live.item is not None else None
    next_id = live.next_item.id if live.next_item is not None else None
    live_index = next((i for i, item in enumerate(items) if item.id == live_id), None)
    segments: list[SegmentView] = []
    index = 0
    for segment in event.segments:
        views: list[ItemView] = []
        for item in segment.items:
            state = item_state(index, live_index, item, live.status)
            views.append(ItemView(item=item, state=state, is_next=item.id == next_id))
            index += 1
        segments.append(SegmentView(segment=segment, state=_segment_state(views), items=tuple(views)))
    return ShowView(
        event=event, live=live, segments=tuple(segments), planned_event=planned_event, shift=shift
    )


def _segment_state(items: list[ItemView]) -> State:
    states = {view.state for view in items}
    if "live" in states:
        return "live"
    if "coming" in states:
        return "past" if states & {"past"} else "coming"
    return "past" if "past" in states else "skipped"


# --- the replay page -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlayedRow:
    """A segment or an item of the running order as played: when it was planned, when it actually
    started, and where the recording's chapter for it begins."""

    title: str
    level: Literal["segment", "item"]
    planned: datetime | None
    actual: datetime | None
    # Where its first chapter starts in the recording, as the API's chapters cut it (None when
    # it has none: skipped, or on air for too short a time to be a chapter).
    offset_seconds: float | None
    item: Item | None = None
    # While the show is live, when a row still to come should now start (only when late).
    projected: datetime | None = None


def show_started_at(event: Event, timeline: list[TimelineEntry]) -> datetime | None:
    if event.started_at is not None:
        return event.started_at
    return next((entry.at for entry in timeline if entry.action == "start"), None)


def as_played(
    event: Event, timeline: list[TimelineEntry], video_chapters: list[VideoChapter]
) -> list[PlayedRow]:
    """Segments and items in programme order, each with its first actual start and its chapter.

    Actual starts come from the timeline, the record of what happened (the programme's
    `actual_start` fills in when it names no item, as after a `goto`). Where each one is in the
    recording comes from the API's chapters — the rule the video's own chapter track and the
    exports follow — so that a jump on this page lands where the player's chapter begins.
    """
    first_item: dict[str, datetime] = {}
    first_segment: dict[str, datetime] = {}
    for entry in timeline:
        if entry.action == "reveal":
            continue
        if entry.item_id and entry.item_id not in first_item:
            first_item[entry.item_id] = entry.at
        if entry.segment_id and entry.segment_id not in first_segment:
            first_segment[entry.segment_id] = entry.at
    chapter_at: dict[str, float] = {}
    for chapter in video_chapters:
        chapter_at.setdefault(chapter.item_id, chapter.start_seconds)

    result: list[PlayedRow] = []
    for segment in event.segments:
        at = first_segment.get(segment.id) or segment.actual_start
        offsets = [chapter_at[item.id] for item in segment.items if item.id in chapter_at]
        late = projected_if_late(segment.planned_start, segment.projected_start) if at is None else None
        offset = min(offsets) if offsets else None
        result.append(PlayedRow(segment.title, "segment", segment.planned_start, at, offset, projected=late))
        for item in segment.items:
            at = first_item.get(item.id) or item.actual_start
            late = projected_if_late(item.planned_start, item.projected_start) if at is None else None
            offset = chapter_at.get(item.id)
            result.append(PlayedRow(item.title, "item", item.planned_start, at, offset, item, late))
    return result


def replay_kind(url: str | None) -> Literal["video", "youtube", "link", "none"]:
    if not url:
        return "none"
    parsed = urlparse(url)
    if parsed.path.lower().endswith(VIDEO_SUFFIXES):
        return "video"
    host = (parsed.hostname or "").removeprefix("www.").removeprefix("m.")
    if host in {"youtube.com", "youtu.be"}:
        return "youtube"
    return "link"


def youtube_at(url: str, seconds: float) -> str:
    """The same YouTube link, starting at `seconds`."""
    parsed = urlparse(url)
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    query["t"] = f"{max(0, int(seconds))}s"
    return urlunparse(parsed._replace(query=urlencode(query)))
