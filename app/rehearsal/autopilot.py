"""The rehearsal autopilot: presses a moderator's buttons on the programme's planned times.

It is an ordinary client of the HTTP API, with a bearer token of its own, so that each press
goes through the same control service as a moderator's — one conditional write, then published
to every viewer by the API process that owns the broadcast (with `regie up` in another terminal,
the in-process `memory://` broadcast; a process writing to the database directly would reach
nobody). Every press carries the version the autopilot last saw: as soon as anyone else presses
anything, its next press is refused with 409, or its polling sees a version it did not make, and
it stops and says so. The moderator has the show from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from app.domain.show import Action, Status, planned_slots
from app.public import EventPublic, plan_from_public

# While waiting for a cue further away than this, the autopilot looks at the live state this
# often, to notice a moderator taking over without waiting for its next press.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Cue:
    at: datetime
    action: Action
    target: str | None
    label: str


def cues(event: EventPublic) -> list[Cue]:
    """What to press and when: `start`, a `next` at each item's planned (or estimated) start,
    a `reveal` a third of the way into each mystery item, and `end` at the planned end."""
    slots = planned_slots(plan_from_public(event), resolution=timedelta(milliseconds=1))
    items = [item for segment in event.segments for item in segment.items]
    planned: list[Cue] = []
    for index, item in enumerate(items):
        start, end = slots[item.id]
        action = Action.START if index == 0 else Action.NEXT
        planned.append(Cue(start, action, None, item.title))
        if item.mystery:
            planned.append(Cue(start + (end - start) / 3, Action.REVEAL, item.id, item.title))
    last_end = slots[items[-1].id][1]
    planned.append(Cue(max(last_end, event.ends_at), Action.END, None, event.title))
    return sorted(planned, key=lambda cue: cue.at)  # stable: a reveal stays after its item's entry


class Outcome(StrEnum):
    FINISHED = "finished"
    TAKEN_OVER = "taken over"
    REFUSED = "refused"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    version: int
    message: str


class Autopilot:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        slug: str,
        token: str,
        say: Callable[[str], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.client = client
        self.slug = slug
        self.headers = {"Authorization": f"Bearer {token}"}
        self.say = say
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._live_etag: str | None = None
        self._seen_version = 0

    async def run(self) -> Result:
        response = await self.client.get(f"/api/v1/events/{self.slug}")
        if response.status_code != 200:
            return Result(Outcome.REFUSED, 0, _detail(response))
        event = EventPublic.model_validate(response.json())
        version = event.version
        if event.status is not Status.SCHEDULED:
            return Result(Outcome.REFUSED, version, f"the show is already {event.status.value}")
        for cue in cues(event):
            other = await self._wait_until(cue.at, version)
            if other is not None:
                return self._taken_over(other)
            response = await self.client.post(
                f"/api/v1/events/{self.slug}/control",
                json={"action": cue.action.value, "expected_version": version, "target": cue.target},
                headers=self.headers,
            )
            body: dict[str, Any] = response.json()
            if response.status_code == 409:
                current = int(body["live"]["version"])
                if current != version:
                    return self._taken_over(current)
                return Result(Outcome.REFUSED, version, body["detail"])
            if response.status_code != 200:
                return Result(Outcome.REFUSED, version, _detail(response))
            version = int(body["version"])
            late = (self.clock() - cue.at).total_seconds()
            self.say(
                f"v{version} {cue.action.value}: {cue.label}" + (f" ({late:.1f} s late)" if late > 1 else "")
            )
        return Result(Outcome.FINISHED, version, f"the rehearsal has ended (version {version})")

    def _taken_over(self, version: int) -> Result:
        message = (
            f"someone else moved the show (now at version {version}): the autopilot stops, the show is yours"
        )
        self.say(message)
        return Result(Outcome.TAKEN_OVER, version, message)

    async def _wait_until(self, moment: datetime, version: int) -> int | None:
        """Sleep until `moment`; the version someone else made meanwhile, if any."""
        while (remaining := (moment - self.clock()).total_seconds()) > 0:
            await asyncio.sleep(min(remaining, self.poll_seconds))
            if remaining > self.poll_seconds:
                seen = await self._live_version()
                if seen != version:
                    return seen
        return None

    async def _live_version(self) -> int:
        # A conditional GET: 304 until the show changes, which is cheap for a poller.
        headers = {"If-None-Match": self._live_etag} if self._live_etag else {}
        response = await self.client.get(f"/api/v1/events/{self.slug}/live", headers=headers)
        if response.status_code == 304:
            return self._seen_version
        response.raise_for_status()
        self._live_etag = response.headers.get("ETag")
        self._seen_version = int(response.json()["version"])
        return self._seen_version


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
