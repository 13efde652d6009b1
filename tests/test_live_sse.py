"""The live state as server-sent events, on a real socket, read by a plain HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import DINER, Api

SSE = f"/api/v1/events/{DINER}/live/sse"


@dataclass
class Event:
    event: str
    id: str | None
    data: Any


class EventReader:
    """Reads one `text/event-stream` as a browser's EventSource does (comments skipped)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = 5) -> Event:
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if not line:
                    if fields:
                        return Event(
                            fields.get("event", "message"), fields.get("id"), json.loads(fields["data"])
                        )
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")


@contextlib.asynccontextmanager
async def stream(api: Api, path: str = SSE, **headers: str) -> AsyncIterator[EventReader]:
    async with (
        httpx.AsyncClient(base_url=api.url, timeout=10) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield EventReader(response)


async def test_the_current_state_on_connect_then_every_change(api: Api) -> None:
    async with stream(api) as events:
        first = await events.next()
        assert (first.event, first.id, first.data["version"], first.data["status"]) == (
            "live",
            "0",
            0,
            "scheduled",
        )
        assert first.data == {**(await api.live()), "server_time": first.data["server_time"]}
        await api.control("start", 0)
        await api.control("next", 1)
        started, moved = await events.next(), await events.next()
    assert (started.id, started.data["item"]["id"]) == ("1", "accueil")
    assert (moved.id, moved.data["version"]) == ("2", 2)


async def test_a_reconnection_gets_what_it_missed_at_once_and_nothing_it_has(api: Api) -> None:
    await api.control("start", 0)
    await api.control("next", 1)
    async with stream(api, **{"Last-Event-ID": "1"}) as events:
        caught_up = await events.next()
        assert (caught_up.id, caught_up.data["version"]) == ("2", 2)
    async with stream(api, **{"Last-Event-ID": "2"}) as events:
        await api.control("next", 2)
        assert (await events.next()).id == "3"  # version 2 was not sent again


async def test_the_question_list_comes_as_its_own_event(api: Api) -> None:
    asked = await api.client.post(f"/api/v1/events/{DINER}/questions", json={"text": "Par SSE ?"})
    question = asked.json()["id"]
    async with stream(api) as events:
        assert (await events.next()).event == "live"
        await api.client.post(
            f"/api/v1/events/{DINER}/questions/{question}/moderation",
            json={"action": "approve"},
            headers={"Authorization": f"Bearer {await api.token()}"},
        )
        listed = await events.next()
    assert listed.event == "questions" and listed.id is None
    assert [(q["id"], q["text"], q["status"]) for q in listed.data] == [(question, "Par SSE ?", "approved")]


async def test_an_unknown_event_is_a_404_in_the_contracts_shape(api: Api) -> None:
    response = await api.client.get("/api/v1/events/nope/live/sse")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no event « nope ».", "code": "unknown_event"}


async def test_sse_viewers_go_through_the_hub_and_leave_it(api: Api) -> None:
    hub = api.server.config.app.state.hub
    async with stream(api) as events:
        await events.next()
        async with stream(api) as other:
            await other.next()
            assert hub.audience_of(DINER) == 2
    for _ in range(50):  # the server notices the disconnection on its next read
        if hub.audience_of(DINER) == 0:
            break
        await asyncio.sleep(0.1)
    assert hub.audience_of(DINER) == 0
