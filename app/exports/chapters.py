"""Chapters: what was on air, when, measured from the start of the show.

Built from the timeline (what moderators actually pressed), not from the plan, so a replay's
chapters match the recording: an item played twice appears twice, a skipped one not at all.
Offsets count from `started_at`, which is where a recording of the show is taken to begin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.domain.show import Action
from app.exports.base import ExportData, one_line

# YouTube ignores a chapter list with a chapter under 10 s; a chapter that short is a slip of a
# moderator's finger (a `next` undone by `previous`), not something a viewer wants to jump to.
MIN_CHAPTER_SECONDS = 10.0


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    item_id: str
    title: str

    @property
    def length(self) -> float:
        return self.end - self.start


# Timeline entries that do not change what is on air.
_NOT_MOVES = frozenset({Action.REVEAL, Action.EDIT, Action.QUESTION_ON_AIR, Action.QUESTION_OFF_AIR})


def chapters(data: ExportData) -> list[Chapter]:
    """Ascending, non-overlapping chapters; the first starts at 0; each lasts at least 10 s.

    A slip undone within seconds disappears; any other chapter shorter than that is folded into
    the one before it (the first, into the one after it); neighbours on the same item merge.
    """
    started = data.event.started_at
    if started is None:
        return []
    titles = {item.id: chapter_title(item.title, [s.name for s in item.speakers]) for _, item in data.items()}
    marks = [(entry.at, entry.item_id) for entry in data.timeline if entry.action not in _NOT_MOVES]
    closed_at = data.event.ended_at or max(data.now, started)
    raw: list[Chapter] = []
    for index, (at, item_id) in enumerate(marks):
        if item_id is None:
            continue
        until = marks[index + 1][0] if index + 1 < len(marks) else closed_at
        start, end = (at - started).total_seconds(), (until - started).total_seconds()
        if end > start:
            raw.append(Chapter(start, end, item_id, titles.get(item_id, item_id)))
    return _merge_short(raw)


def _merge_short(raw: list[Chapter]) -> list[Chapter]:
    chapters = list(raw)
    # A slip undone (X, then Y for a few seconds, then X again) is X all along.
    index = 1
    while index < len(chapters) - 1:
        before, slip, after = chapters[index - 1 : index + 2]
        if slip.length < MIN_CHAPTER_SECONDS and before.item_id == after.item_id:
            chapters[index - 1 : index + 2] = [replace(before, end=after.end)]
            index = max(1, index - 1)
        else:
            index += 1
    result: list[Chapter] = []
    for chapter in chapters:
        if result and (chapter.length < MIN_CHAPTER_SECONDS or result[-1].item_id == chapter.item_id):
            result[-1] = replace(result[-1], end=chapter.end)
        elif result and result[-1].length < MIN_CHAPTER_SECONDS:
            # Only the first chapter can still be short here: the next one takes over from 0.
            result[-1] = replace(chapter, start=result[-1].start)
        else:
            result.append(chapter)
    if result:
        result[0] = replace(result[0], start=0.0)
    return result


def chapter_title(title: str, speakers: list[str]) -> str:
    names = ", ".join(speakers)
    return one_line(f"{title} — {names}" if names else title)
