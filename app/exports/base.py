"""What every exporter is given, and what it must say about itself."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from app.domain.show import Plan
from app.public import (
    RESOURCE_PATH,
    EventPublic,
    ItemPublic,
    SegmentPublic,
    SpeakerPublic,
    TimelineEntryPublic,
    plan_from_public,
)

GENERATOR = "Régie"
GENERATOR_VERSION = "1.0.0"


@dataclass(frozen=True)
class ExportData:
    """An event as the public sees it, what happened during its show, and where to read it.

    `now` only closes the item on air in the exports of a show that is still live; everything
    else is a function of the public data, so the bytes (and their ETag) change only when the
    programme or its run does.
    """

    event: EventPublic
    timeline: tuple[TimelineEntryPublic, ...]
    now: datetime
    # The event's page for people (`{REGIE_PUBLIC_URL}/events/{slug}`): what a calendar entry or
    # a schedule item links to; it carries the stream while live and the replay once over. Never
    # built from the request, whose Host header any client chooses.
    page_url: str

    # Where an uploaded document (`/api/v1/resources/{id}`) is downloaded from, up to its id: the
    # pages' own relay under REGIE_PUBLIC_URL (`{public_url}/resources/`) when it is configured,
    # else this API (`http://host:port/api/v1/resources/`). Empty: the link stays relative.
    documents_base: str = ""
    # The audience curve, `(minute, viewers)` in order: moderators' data (`GET …/audience/curve`),
    # so only in the report a moderator's bearer asks for; empty in every public file.
    audience: tuple[tuple[datetime, int], ...] = ()

    def resource_url(self, url: str) -> str:
        """A document's link as the public follows it: uploaded files under `documents_base`."""
        if self.documents_base and url.startswith(RESOURCE_PATH):
            return self.documents_base + url.removeprefix(RESOURCE_PATH)
        return url

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.event.timezone)

    @cached_property
    def plan(self) -> Plan:
        return plan_from_public(self.event)

    def local(self, moment: datetime) -> datetime:
        """`moment` on the event's wall clock, with the offset in force then."""
        return moment.astimezone(self.zone)

    def item_url(self, item_id: str) -> str:
        """The item in the event's page (its line in the running order)."""
        return f"{self.page_url}#item-{item_id}"

    def items(self) -> Iterator[tuple[SegmentPublic, ItemPublic]]:
        for segment in self.event.segments:
            for item in segment.items:
                yield segment, item


class Exporter(ABC):
    """One export format: a file name under `/api/v1/events/{slug}/` and its content type."""

    filename: ClassVar[str]
    media_type: ClassVar[str]
    summary: ClassVar[str]
    description: ClassVar[str]
    example: ClassVar[str]
    # What the OpenAPI document says the body is: text, unless the format is JSON.
    schema: ClassVar[dict[str, Any]] = {"type": "string"}
    # Whether a moderator's bearer adds the audience curve (`ExportData.audience`).
    with_audience: ClassVar[bool] = False

    @abstractmethod
    def render(self, data: ExportData) -> bytes:
        """The whole file; deterministic for the same data."""


def speaker_line(speakers: list[SpeakerPublic]) -> str:
    """Who speaks, on one line: « Name (role, organisation), Name ». Empty for a hidden guest."""
    people = []
    for speaker in speakers:
        details = ", ".join(part for part in (speaker.role, speaker.organisation) if part)
        people.append(f"{speaker.name} ({details})" if details else speaker.name)
    return ", ".join(people)


def one_line(text: str) -> str:
    return " ".join(text.split())
