"""Presence and the live page without WebSockets, on the real backend.

The frontend reports its browsers (public and overlay sockets, its SSE streams, its pollers) to
the backend, which counts them once — never the frontend's own upstream subscription; a page
that cannot use WebSockets reads the very same messages over SSE, or polls them with
If-None-Match."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import programme_samples as samples
from backend import Backend
from test_frontend_sockets import receive_state, ws_url
from websockets.asyncio.client import connect

from frontend.live import HEARTBEAT
from frontend.presence import sse_frame

LIVE = f"/events/{samples.SLUG}"


class SseReader:
    """The `data` of each event of a text/event-stream, joined as a browser's EventSource does."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines

    async def next(self) -> str:
        data: list[str] = []
        async with asyncio.timeout(5):
            async for line in self._lines:
                if line == "":
                    if data:
                        return "\n".join(data)
                    continue
                if line.startswith("data: "):
                    data.append(line.removeprefix("data: "))
        raise AssertionError("the stream ended")

    async def next_state(self) -> str:
        while (message := await self.next()) == HEARTBEAT:
            pass
        return message


@contextlib.asynccontextmanager
async def sse(http: httpx.AsyncClient, url: str) -> AsyncIterator[SseReader]:
    async with http.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield SseReader(response.aiter_lines())


async def audience(backend: Backend) -> dict[str, Any]:
    assert backend.api is not None
    response = await backend.api.client.get(
        f"/api/v1/events/{samples.SLUG}/audience",
        headers={"Authorization": f"Bearer {await backend.api.token()}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until_viewers(backend: Backend, viewers: int, within: float = 6.0) -> dict[str, Any]:
    """The promise is « counted within 5 s »: one report interval (1.5 s) plus the backend's read."""
    started = time.monotonic()
    while (now := await audience(backend))["viewers"] != viewers:
        assert time.monotonic() - started < within, f"{now}, wanted {viewers} viewers"
        await asyncio.sleep(0.1)
    return now


def test_an_sse_frame_gives_back_the_exact_message() -> None:
    assert sse_frame("a\nb") == b"data: a\ndata: b\n\n"
    assert sse_frame("<p>x</p>") == b"data: <p>x</p>\n\n"


async def test_the_sse_stream_carries_the_same_bytes_as_the_socket(web_url: str, backend: Backend) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        connect(ws_url(web_url, f"{LIVE}/ws"), origin=web_url) as socket,
        sse(http, f"{web_url}{LIVE}/sse") as stream,
    ):
        assert await stream.next_state() == await receive_state(socket)
        await backend.press("start")
        pushed = await receive_state(socket)
        assert await stream.next_state() == pushed
        assert 'data-version="1"' in pushed


async def test_polling_answers_304_until_the_show_changes(web_url: str, backend: Backend) -> None:
    async with httpx.AsyncClient(base_url=web_url, timeout=10) as http:
        first = await http.get(f"{LIVE}/fragments", params={"page": "abcdefgh1234"})
        assert first.status_code == 200
        tag = first.headers["etag"]
        assert 'id="live-status"' in first.text
        again = await http.get(f"{LIVE}/fragments", headers={"If-None-Match": tag})
        assert (again.status_code, again.content) == (304, b"")
        await backend.press("start")
        deadline = time.monotonic() + 5
        conditional = {"If-None-Match": tag}
        while (changed := await http.get(f"{LIVE}/fragments", headers=conditional)).status_code == 304:
            assert time.monotonic() < deadline, "the press never reached the polled fragments"
            await asyncio.sleep(0.1)
        assert changed.status_code == 200 and changed.headers["etag"] != tag
        assert 'data-version="1"' in changed.text
        unknown = await http.get("/events/nope/fragments")
        assert unknown.status_code == 404


async def test_every_open_page_is_counted_once_and_the_frontend_itself_never(
    web_url: str, backend: Backend
) -> None:
    assert (await audience(backend))["viewers"] == 0
    public, overlay = ws_url(web_url, f"{LIVE}/ws"), ws_url(web_url, f"{LIVE}/overlay/ws")
    async with (
        httpx.AsyncClient(timeout=10) as http,
        connect(public, origin=web_url) as one,
        connect(public, origin=web_url) as two,
        connect(overlay, origin=web_url) as obs,
        sse(http, f"{web_url}{LIVE}/sse") as stream,
    ):
        await receive_state(one), await receive_state(two), await receive_state(obs)
        await stream.next_state()
        # Two pages, the overlay, one SSE stream; the hub's upstream subscription is not a viewer.
        await until_viewers(backend, 4)
        polled = await http.get(f"{web_url}{LIVE}/fragments", params={"page": "p0ll3r0000001"})
        assert polled.status_code == 200
        # A malformed page id is served but not counted: nobody inflates the count with junk.
        assert (await http.get(f"{web_url}{LIVE}/fragments", params={"page": "x"})).status_code == 200
        now = await until_viewers(backend, 5)
        assert now["peak"] == 5
    # Sockets and stream closed; the poller stops polling and ages out (12 s) with the reports.
    await until_viewers(backend, 0, within=20)


async def test_moderators_see_the_audience_now_in_the_console_and_its_curve_on_the_replay(
    web_url: str, backend: Backend, client: httpx.AsyncClient
) -> None:
    from test_frontend_console import log_in

    public = ws_url(web_url, f"{LIVE}/ws")
    async with connect(public, origin=web_url) as one, connect(public, origin=web_url) as two:
        await receive_state(one), await receive_state(two)
        await until_viewers(backend, 2)  # the backend records the minute as a moderator reads it
        async with httpx.AsyncClient(base_url=web_url, timeout=10) as viewer:
            replay = await viewer.get(f"{LIVE}/replay")
            assert replay.status_code == 200 and "audience-curve" not in replay.text
            denied = await viewer.get(f"{LIVE}/replay/report.csv")
            assert denied.status_code == 303
        assert (await log_in(client)).status_code == 303
        box = await client.get(f"{LIVE}/console/audience")
        assert box.status_code == 200 and box.headers["cache-control"] == "no-store"
        assert 'data-viewers="2"' in box.text and 'data-peak="2"' in box.text
    replay = await client.get(f"{LIVE}/replay")
    assert replay.status_code == 200
    assert '<svg class="audience-curve"' in replay.text and "<polyline points=" in replay.text
    assert "Pic de 2 spectateurs" in replay.text  # the text alternative says what it draws
    report = await client.get(f"{LIVE}/replay/report.csv")
    assert report.status_code == 200 and ",audience," not in report.text
    assert report.text.splitlines()[0].endswith(",minute,viewers")
    assert report.text.splitlines()[-1].startswith("audience,") and report.text.rstrip().endswith(",2")


async def test_a_stream_keeps_the_newest_message_of_each_kind_in_order() -> None:
    """A questions message never replaces a live state the stream has not sent yet."""
    from frontend.presence import StreamViewer

    stream = StreamViewer("public", label="essai")
    frames = stream.frames()
    assert await anext(frames) == b"retry: 2000\n\n"
    first, second = (f'<p id="live-link" hidden></p><section id="live-status">{v}</section>' for v in "12")
    stream.offer(first)
    stream.offer('<section id="questions">q1</section>')
    stream.offer(second)
    assert await anext(frames) == sse_frame('<section id="questions">q1</section>')
    assert await anext(frames) == sse_frame(second)
    stream.stop()
    assert [frame async for frame in frames] == []
