"""What a change of the programme may touch once the show has begun: the rule of live edits.

A control room changes its running order during the show (a speaker is late, an item is
added, a slot shrinks), but what has aired is the record: the replay, the timeline and the
exports are built on it. So an edit is judged on the old and the new document against the run:

- an item that has started (the live one included) stays as it was, in its segment;
- a past segment (one that has aired and is no longer on air) stays as it was, whole;
- in the live segment, the running order up to the live item stays as it was: nothing new
  can be slipped into the past, and what is still to come may be added, changed, moved or removed;
- the event's own fields (title, links, replay…) may change at any time.

Resources (documents handed out) are not part of the record: a deck may be shared after its talk.
Pure: no I/O, no clock; the service that stores the edit calls `judge()` inside its transaction.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from app.domain.programme import ItemDocument, ProgrammeDocument, SegmentDocument
from app.domain.refusals import Code, Refusal
from app.domain.show import Run

# Fields of an item that are not part of what aired (compared without them).
_NOT_RECORD = frozenset({"resources"})


@dataclass(frozen=True)
class Changes:
    """What an edit changes, by id: the timeline's « what » and the organiser's undo list."""

    event: bool = False
    segments_added: tuple[str, ...] = ()
    segments_removed: tuple[str, ...] = ()
    segments_changed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.event
            or self.segments_added
            or self.segments_removed
            or self.segments_changed
            or self.added
            or self.removed
            or self.moved
            or self.changed
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "segments_added": list(self.segments_added),
            "segments_removed": list(self.segments_removed),
            "segments_changed": list(self.segments_changed),
            "items_added": list(self.added),
            "items_removed": list(self.removed),
            "items_moved": list(self.moved),
            "items_changed": list(self.changed),
        }


def _record(item: ItemDocument) -> dict[str, Any]:
    return item.model_dump(exclude=set(_NOT_RECORD) & set(type(item).model_fields))


def _segment_fields(segment: SegmentDocument) -> dict[str, Any]:
    return segment.model_dump(exclude={"items"})


def _event_fields(document: ProgrammeDocument) -> dict[str, Any]:
    return document.model_dump(exclude={"segments"})


def _key(part: SegmentDocument | ItemDocument) -> str:
    assert part.id is not None, "documents are compared with their ids (ProgrammeDocument.with_ids)"
    return part.id


def diff(old: ProgrammeDocument, new: ProgrammeDocument) -> Changes:
    """Every difference between two documents, by id (both with their ids, see `with_ids`)."""
    old_segments = {_key(s): s for s in old.segments}
    new_segments = {_key(s): s for s in new.segments}
    old_items = {_key(i): (_key(s), i) for s in old.segments for i in s.items}
    new_items = {_key(i): (_key(s), i) for s in new.segments for i in s.items}
    old_order = [_key(i) for s in old.segments for i in s.items]
    new_order = [_key(i) for s in new.segments for i in s.items]
    rank = {item_id: n for n, item_id in enumerate(old_order)}
    kept_new = [i for i in new_order if i in old_items]
    stayed = _longest_rising(kept_new, rank)
    moved = tuple(
        item_id
        for item_id in kept_new
        if item_id not in stayed or old_items[item_id][0] != new_items[item_id][0]
    )
    return Changes(
        event=_event_fields(old) != _event_fields(new),
        segments_added=tuple(s for s in new_segments if s not in old_segments),
        segments_removed=tuple(s for s in old_segments if s not in new_segments),
        segments_changed=tuple(
            s
            for s, segment in new_segments.items()
            if s in old_segments and _segment_fields(old_segments[s]) != _segment_fields(segment)
        ),
        added=tuple(i for i in new_order if i not in old_items),
        removed=tuple(i for i in old_order if i not in new_items),
        moved=moved,
        changed=tuple(i for i in kept_new if old_items[i][1] != new_items[i][1]),
    )


def _longest_rising(order: list[str], rank: dict[str, int]) -> set[str]:
    """The most items that kept their relative order (a longest increasing subsequence of their
    old ranks): those did not move; the others are the ones an organiser moved."""
    tails: list[int] = []  # tails[k]: index in `order` of the smallest tail of a rising run of k+1
    tail_ranks: list[int] = []
    previous: list[int | None] = [None] * len(order)
    for index, item_id in enumerate(order):
        k = bisect_left(tail_ranks, rank[item_id])
        previous[index] = tails[k - 1] if k else None
        if k == len(tails):
            tails.append(index)
            tail_ranks.append(rank[item_id])
        else:
            tails[k], tail_ranks[k] = index, rank[item_id]
    kept: set[str] = set()
    cursor = tails[-1] if tails else None
    while cursor is not None:
        kept.add(order[cursor])
        cursor = previous[cursor]
    return kept


def judge(old: ProgrammeDocument, new: ProgrammeDocument, run: Run) -> Changes:
    """The changes `new` makes to `old`, or Refusal(item_started) naming what has aired.

    Refused whole: the first thing that touches the record is named, nothing is stored.
    """
    started = set(run.item_starts) | ({run.current} if run.current else set())
    new_items = {i.id: (s, i) for s in new.segments for i in s.items}
    new_segments = {s.id: s for s in new.segments}
    live_segment = next((s.id for s in old.segments for i in s.items if i.id == run.current), None)

    for segment in old.segments:
        aired = [i for i in segment.items if i.id in started]
        for item in aired:
            where = new_items.get(item.id)
            if where is None:
                raise _refusal(item, segment, "cannot be removed: it has already started")
            new_segment, new_item = where
            if new_segment.id != segment.id:
                raise _refusal(item, segment, "cannot move to another segment: it has already started")
            if _record(new_item) != _record(item):
                raise _refusal(item, segment, "cannot change: it has already started")
        if not aired:
            continue
        replaced = new_segments.get(segment.id)
        if segment.id != live_segment:
            if replaced is None or _without_resources(replaced) != _without_resources(segment):
                raise Refusal(
                    Code.ITEM_STARTED,
                    f"Segment « {segment.title} » has already aired: it is the record of the show "
                    "and cannot change.",
                    segment_id=segment.id,
                    item_id=None,
                )
            continue
        assert replaced is not None  # it holds the live item, which was checked above
        old_ids = [i.id for i in segment.items]
        new_ids = [i.id for i in replaced.items]
        cut = old_ids.index(run.current) + 1 if run.current in old_ids else 0
        if new_ids[:cut] != old_ids[:cut]:
            intruder = next((i for i in replaced.items[:cut] if i.id not in old_ids[:cut]), replaced.items[0])
            raise Refusal(
                Code.ITEM_STARTED,
                f"« {intruder.title} » cannot go before the live item of « {segment.title} »: "
                "that part of the show has already aired.",
                segment_id=segment.id,
                item_id=intruder.id,
            )
    return diff(old, new)


def _without_resources(segment: SegmentDocument) -> dict[str, Any]:
    return {**_segment_fields(segment), "items": [_record(i) for i in segment.items]}


def _refusal(item: ItemDocument, segment: SegmentDocument, why: str) -> Refusal:
    return Refusal(
        Code.ITEM_STARTED,
        f"« {item.title} » {why}; what has aired is the record of the show.",
        item_id=item.id,
        segment_id=segment.id,
    )
