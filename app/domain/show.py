"""The show's state machine: what a moderator's command does to the run of a show.

Pure and small on purpose: no I/O, no clock (the time of the command is passed in), no
database. `apply()` takes the plan (the programme's order), the current run and a command,
and returns the next run with the timeline entry that records it, or raises `ShowError`.
Persistence, publication and authorisation live elsewhere and never decide what a command means.

Rules worth knowing, because a live show is run by people under pressure:
- Entering an item starts it, unless it had already started (going back to an item keeps its
  first start); leaving an item ends it.
- `previous` undoes a mistaken `next`: the item left behind is back to "coming" (its start is
  erased), and the item before it is on air again, its end erased.
- Items jumped over by `goto` keep no times: the replay shows them as not played.
- Segment times are derived from their items, so they can never disagree with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, get_args

from app.domain.refusals import Code, Refusal, quoted


class Status(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class Action(StrEnum):
    START = "start"
    NEXT = "next"
    PREVIOUS = "previous"
    GOTO = "goto"
    REVEAL = "reveal"
    END = "end"
    # Not a command: the programme was edited (app.domain.edits), recorded on the same timeline.
    EDIT = "edit"
    # Not pressed either: an audience question's moderation (app.domain.questions) puts it on air.
    QUESTION_ON_AIR = "question_on_air"
    QUESTION_OFF_AIR = "question_off_air"

    @property
    def takes_target(self) -> bool:
        """`goto` and `reveal` name the item they act on, a question's actions the question; the
        other actions name none."""
        return self in _TARGETED


_TARGETED = frozenset({Action.GOTO, Action.REVEAL, Action.QUESTION_ON_AIR, Action.QUESTION_OFF_AIR})
_QUESTION_ACTIONS = (Action.QUESTION_ON_AIR, Action.QUESTION_OFF_AIR)
# What a moderator may press: every action but the programme's edits and the questions' moves
# (as a type, for requests).
COMMAND_ACTIONS = tuple(action for action in Action if action not in (Action.EDIT, *_QUESTION_ACTIONS))
CommandAction = Literal["start", "next", "previous", "goto", "reveal", "end"]
assert get_args(CommandAction) == tuple(a.value for a in COMMAND_ACTIONS)


class ShowError(Refusal):
    """The command does not fit the show's state: its code says which rule, its detail why."""


class UnknownTarget(ShowError):
    """The command names an item that is not in this programme."""

    def __init__(self, item_id: str) -> None:
        super().__init__(Code.UNKNOWN_ITEM, f"There is no item « {quoted(item_id)} » in this programme.")


@dataclass(frozen=True, slots=True)
class PlannedItem:
    id: str
    segment_id: str
    planned_start: datetime | None = None
    mystery: bool = False


@dataclass(frozen=True, slots=True)
class PlannedSegment:
    id: str
    planned_start: datetime
    planned_end: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """The programme as the state machine sees it: segments and items in running order."""

    segments: tuple[PlannedSegment, ...]
    items: tuple[PlannedItem, ...]

    def index_of(self, item_id: str) -> int:
        for index, item in enumerate(self.items):
            if item.id == item_id:
                return index
        raise UnknownTarget(item_id)

    def segment(self, segment_id: str) -> PlannedSegment:
        return next(s for s in self.segments if s.id == segment_id)

    def segment_items(self, segment_id: str) -> tuple[PlannedItem, ...]:
        return tuple(i for i in self.items if i.segment_id == segment_id)


@dataclass(frozen=True, slots=True)
class AiredQuestion:
    """An audience question on air, as the live state shows it (its text as approved)."""

    id: str
    text: str
    author: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """What has happened so far; stored whole with its version, replaced whole on each command."""

    status: Status = Status.SCHEDULED
    version: int = 0
    current: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    item_starts: Mapping[str, datetime] = field(default_factory=dict)
    item_ends: Mapping[str, datetime] = field(default_factory=dict)
    revealed: Mapping[str, datetime] = field(default_factory=dict)
    question: AiredQuestion | None = None

    def to_json(self) -> dict[str, Any]:
        """The run as stored in the event row (the status and version have their own columns)."""

        def times(mapping: Mapping[str, datetime]) -> dict[str, str]:
            return {key: value.isoformat() for key, value in mapping.items()}

        return {
            "current": self.current,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "item_starts": times(self.item_starts),
            "item_ends": times(self.item_ends),
            "revealed": times(self.revealed),
            "question": (
                {"id": self.question.id, "text": self.question.text, "author": self.question.author}
                if self.question
                else None
            ),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, status: str, version: int) -> Run:
        def times(key: str) -> dict[str, datetime]:
            return {k: datetime.fromisoformat(v) for k, v in (data.get(key) or {}).items()}

        def moment(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if value else None

        return cls(
            status=Status(status),
            version=version,
            current=data.get("current"),
            started_at=moment("started_at"),
            ended_at=moment("ended_at"),
            item_starts=times("item_starts"),
            item_ends=times("item_ends"),
            revealed=times("revealed"),
            question=AiredQuestion(**data["question"]) if data.get("question") else None,
        )


@dataclass(frozen=True, slots=True)
class Command:
    """A moderator's press. Whether it names a target is checked here, once, for every caller."""

    action: Action
    target: str | None = None
    question: AiredQuestion | None = None
    """For QUESTION_ON_AIR: the question that goes on air (`target` is its id)."""

    def __post_init__(self) -> None:
        if self.action is Action.EDIT:
            raise ShowError(
                Code.INVALID_REQUEST,
                f"`{self.action.value}` is not a command: the programme is edited by PUT.",
            )
        if self.action.takes_target and not self.target:
            raise ShowError(Code.TARGET_REQUIRED, f"`{self.action.value}` needs a `target` item id.")
        if not self.action.takes_target and self.target is not None:
            raise ShowError(
                Code.TARGET_NOT_ALLOWED, f"`{self.action.value}` takes no `target`: leave it null."
            )


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the timeline: what the command did, when, and what was on air after it."""

    version: int
    at: datetime
    action: Action
    segment_id: str | None
    item_id: str | None


@dataclass(frozen=True, slots=True)
class Step:
    run: Run
    entry: Entry


def apply(plan: Plan, run: Run, command: Command, *, at: datetime) -> Step:
    """The run after `command`, pressed at `at`, with its timeline entry; or ShowError."""
    if at.tzinfo is None:
        raise ValueError("`at` must be an aware datetime")
    handler = _HANDLERS[command.action]
    new_run = handler(plan, run, command, at)
    new_run = replace(new_run, version=run.version + 1)
    if command.action is Action.REVEAL:
        item_id: str | None = command.target
    else:
        item_id = new_run.current
    segment_id = plan.items[plan.index_of(item_id)].segment_id if item_id else None
    entry = Entry(
        version=new_run.version, at=at, action=command.action, segment_id=segment_id, item_id=item_id
    )
    return Step(run=new_run, entry=entry)


def _require_live(run: Run) -> str:
    if run.status is Status.SCHEDULED:
        raise ShowError(Code.NOT_STARTED, "The show has not started yet: start it first.")
    if run.status is Status.ENDED or run.current is None:
        raise ShowError(Code.ALREADY_ENDED, "The show has ended.")
    return run.current


def _enter(run: Run, item_id: str, at: datetime) -> Run:
    starts = dict(run.item_starts)
    starts.setdefault(item_id, at)
    ends = {k: v for k, v in run.item_ends.items() if k != item_id}
    return replace(run, current=item_id, item_starts=starts, item_ends=ends)


def _leave(run: Run, item_id: str, at: datetime) -> Run:
    return replace(run, item_ends={**run.item_ends, item_id: at})


def _start(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    if run.status is Status.LIVE:
        raise ShowError(Code.ALREADY_LIVE, "The show is already live.")
    if run.status is Status.ENDED:
        raise ShowError(Code.ALREADY_ENDED, "The show has ended; it cannot start again.")
    if not plan.items:
        raise ShowError(Code.EMPTY_PROGRAMME, "The programme has no item to start with.")
    return _enter(replace(run, status=Status.LIVE, started_at=at), plan.items[0].id, at)


def _next(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    current = _require_live(run)
    index = plan.index_of(current)
    if index + 1 >= len(plan.items):
        raise ShowError(Code.LAST_ITEM, "This is the last item of the programme: end the show instead.")
    return _enter(_leave(run, current, at), plan.items[index + 1].id, at)


def _previous(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    current = _require_live(run)
    index = plan.index_of(current)
    if index == 0:
        raise ShowError(
            Code.FIRST_ITEM, "This is the first item of the programme: there is nothing before it."
        )
    undone = replace(
        run,
        item_starts={k: v for k, v in run.item_starts.items() if k != current},
        item_ends={k: v for k, v in run.item_ends.items() if k != current},
    )
    return _enter(undone, plan.items[index - 1].id, at)


def _goto(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    current = _require_live(run)
    target = _target(plan, command)
    if target == current:
        raise ShowError(Code.ALREADY_ON_AIR, f"« {target} » is already on air.")
    return _enter(_leave(run, current, at), target, at)


def _reveal(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    target = _target(plan, command)
    if run.status is Status.SCHEDULED:
        raise ShowError(Code.NOT_STARTED, "Mystery guests are revealed live: start the show first.")
    if not plan.items[plan.index_of(target)].mystery:
        raise ShowError(Code.NOT_MYSTERY, f"« {target} » is not a mystery item: there is nothing to reveal.")
    if target in run.revealed:
        raise ShowError(Code.ALREADY_REVEALED, f"« {target} » has already been revealed.")
    return replace(run, revealed={**run.revealed, target: at})


def _end(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    current = _require_live(run)
    return replace(_leave(run, current, at), status=Status.ENDED, current=None, ended_at=at, question=None)


def _question_on_air(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    _require_live(run)
    if command.question is None or command.question.id != command.target:
        raise ValueError("`question_on_air` carries the question that goes on air")
    if run.question == command.question:
        raise ShowError(Code.QUESTION_STATE, "This question is already on air.")
    return replace(run, question=command.question)


def _question_off_air(plan: Plan, run: Run, command: Command, at: datetime) -> Run:
    if run.question is None or (command.target is not None and command.target != run.question.id):
        raise ShowError(Code.QUESTION_STATE, "This question is not on air.")
    return replace(run, question=None)


def _target(plan: Plan, command: Command) -> str:
    assert command.target is not None  # Command checks that goto and reveal name one
    plan.index_of(command.target)
    return command.target


_HANDLERS = {
    Action.START: _start,
    Action.NEXT: _next,
    Action.PREVIOUS: _previous,
    Action.GOTO: _goto,
    Action.REVEAL: _reveal,
    Action.END: _end,
    Action.QUESTION_ON_AIR: _question_on_air,
    Action.QUESTION_OFF_AIR: _question_off_air,
}


# --- What the run says about the programme -------------------------------------------------


def segment_times(plan: Plan, run: Run, segment_id: str) -> tuple[datetime | None, datetime | None]:
    """Actual start and end of a segment, derived from its items so the two always agree.

    A segment has started when one of its items has; it has ended when the show has left it
    (nothing of it on air) — its end is then when its last played item ended.
    """
    ids = [item.id for item in plan.segment_items(segment_id)]
    starts = [run.item_starts[i] for i in ids if i in run.item_starts]
    if not starts:
        return None, None
    if run.current in ids:
        return min(starts), None
    ends = [run.item_ends[i] for i in ids if i in run.item_ends]
    return min(starts), (max(ends) if ends else None)


def current_segment_id(plan: Plan, run: Run) -> str | None:
    if run.current is None:
        return None
    return plan.items[plan.index_of(run.current)].segment_id


def next_item_id(plan: Plan, run: Run) -> str | None:
    """Who comes next: the first item after the live one, or the opening item before the show."""
    if run.status is Status.SCHEDULED:
        return plan.items[0].id if plan.items else None
    if run.current is None:
        return None
    index = plan.index_of(run.current)
    return plan.items[index + 1].id if index + 1 < len(plan.items) else None


def drift_seconds(plan: Plan, run: Run, *, show_planned_end: datetime) -> int:
    """How late the show runs, in seconds (negative when early).

    Live: the live item's start against its planned start, or, for items without a planned
    time, its segment's actual start against the segment's plan. Ended: how late it ended.
    """
    if run.status is Status.ENDED and run.ended_at is not None:
        return round((run.ended_at - show_planned_end).total_seconds())
    if run.status is not Status.LIVE or run.current is None:
        return 0
    item = plan.items[plan.index_of(run.current)]
    started = run.item_starts.get(item.id)
    if item.planned_start is not None and started is not None:
        return round((started - item.planned_start).total_seconds())
    segment_start, _ = segment_times(plan, run, item.segment_id)
    if segment_start is None:
        return 0
    return round((segment_start - plan.segment(item.segment_id).planned_start).total_seconds())


# --- Stretches, estimated slots and projected times ------------------------------------------
#
# Most items have no planned time of their own: a programme gives a time to each segment and to
# a few items ("19:00 Accueil"), and lists the rest in order. A *stretch* is what lies between two
# planned times: it starts at a segment's start or at an item that has its own `planned_start`,
# holds that item and the untimed items after it, and ends at the next planned time (the next
# timed item of the segment, or the segment's end). Stretches are the finest unit the plan
# really fixes, so projections are computed on them and never on invented item durations.


@dataclass(frozen=True, slots=True)
class Stretch:
    segment_id: str
    planned_start: datetime
    planned_end: datetime
    item_ids: tuple[str, ...]

    @property
    def duration(self) -> timedelta:
        return self.planned_end - self.planned_start


def stretches(plan: Plan) -> tuple[Stretch, ...]:
    """The plan cut at every planned time, in running order."""
    result: list[Stretch] = []
    for segment in plan.segments:
        heads: list[tuple[datetime, list[str]]] = []
        for item in plan.segment_items(segment.id):
            if not heads or item.planned_start is not None:
                heads.append((item.planned_start or segment.planned_start, [item.id]))
            else:
                heads[-1][1].append(item.id)
        for index, (start, ids) in enumerate(heads):
            end = heads[index + 1][0] if index + 1 < len(heads) else segment.planned_end
            # A programme may list timed items out of order; a stretch never runs backwards.
            result.append(Stretch(segment.id, start, max(start, end), tuple(ids)))
    return tuple(result)


def planned_slots(
    plan: Plan, *, resolution: timedelta = timedelta(minutes=1)
) -> dict[str, tuple[datetime, datetime]]:
    """An estimated start and end for every item, for formats that demand one per item.

    Items with a planned time keep it; the untimed items of a stretch share its time evenly,
    cut on `resolution` (whole minutes for published schedules). This is an estimate, used
    only where a format has no way to say "some time in this segment" (frab schedules, the
    rehearsal autopilot); projections never rely on it.
    """
    slots: dict[str, tuple[datetime, datetime]] = {}
    for stretch in stretches(plan):
        count = len(stretch.item_ids)
        cuts = [
            stretch.planned_start + _floor(stretch.duration * index / count, resolution)
            for index in range(count)
        ]
        cuts.append(stretch.planned_end)
        for index, item_id in enumerate(stretch.item_ids):
            slots[item_id] = (cuts[index], max(cuts[index], cuts[index + 1]))
    return slots


def _floor(delta: timedelta, resolution: timedelta) -> timedelta:
    return resolution * (delta // resolution) if resolution > timedelta(0) else delta


@dataclass(frozen=True, slots=True)
class Projection:
    """Where what is still to come should fall, as seen at one moment of a live show.

    Only what has not started yet is projected: `item_starts` (items with a planned time of
    their own; untimed items follow their segment's projection), `segment_starts`, and
    `segment_ends` (the live segment's included). Empty when the show is not live.
    """

    item_starts: Mapping[str, datetime] = field(default_factory=dict)
    segment_starts: Mapping[str, datetime] = field(default_factory=dict)
    segment_ends: Mapping[str, datetime] = field(default_factory=dict)
    show_end: datetime | None = None


def project(plan: Plan, run: Run, *, now: datetime, show_planned_end: datetime) -> Projection:
    """Projected times of the rest of a live show, the way Ontime computes them.

    The stretch on air ends at the later of its actual start plus its planned length and
    `now` (an overrun pushes it while it lasts). Every later stretch starts at the later of its
    planned start and the projected end of the one before: a delay carries over from stretch to
    stretch until a gap in the plan absorbs it, and nothing is projected earlier than planned
    (a show that runs early waits for its next planned time). Times are rounded to the second.
    """
    if run.status is not Status.LIVE or run.current is None:
        return Projection()
    all_stretches = stretches(plan)
    live_index = next(i for i, s in enumerate(all_stretches) if run.current in s.item_ids)
    live = all_stretches[live_index]
    played = live.item_ids[: live.item_ids.index(run.current) + 1]
    started = min(run.item_starts[i] for i in played if i in run.item_starts)
    cursor = max(started + live.duration, now)

    timed = {item.id for item in plan.items if item.planned_start is not None}
    started_segments = {plan.items[plan.index_of(i)].segment_id for i in run.item_starts}
    item_starts: dict[str, datetime] = {}
    segment_starts: dict[str, datetime] = {}
    segment_ends: dict[str, datetime] = {live.segment_id: _whole_second(cursor)}
    for stretch in all_stretches[live_index + 1 :]:
        start = max(stretch.planned_start, cursor)
        cursor = start + stretch.duration
        head = stretch.item_ids[0]
        if head in timed and head not in run.item_starts:
            item_starts[head] = _whole_second(start)
        if stretch.segment_id not in started_segments:
            segment_starts.setdefault(stretch.segment_id, _whole_second(start))
        if stretch.segment_id not in started_segments or stretch.segment_id == live.segment_id:
            segment_ends[stretch.segment_id] = _whole_second(cursor)
    return Projection(
        item_starts=item_starts,
        segment_starts=segment_starts,
        segment_ends=segment_ends,
        show_end=_whole_second(max(show_planned_end, cursor)),
    )


def _whole_second(moment: datetime) -> datetime:
    rounded = moment.replace(microsecond=0)
    return rounded + timedelta(seconds=1) if moment.microsecond >= 500_000 else rounded
