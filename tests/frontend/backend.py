"""The real backend for the frontend's tests: a seeded copy on a loopback socket, with faults.

The frontend's tests never run against a second implementation of the show. They get the real
application (`app.main.create_app`) on its own SQLite copy, and the faults they need wrap it:
`Faults` counts what the frontend asks, holds requests back (`delays`), moves the backend's
clock (`clock`), and drops every live WebSocket (`drop_live`); `Backend.stop()` and `start()`
take the whole server down and back on the same port.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import programme_samples as samples
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.cli import server_config
from app.config import Settings
from app.main import create_app
from tests.conftest import PASSWORD, Api, free_port

# What the tests' own requests carry, so that `Faults` counts only the frontend's.
TEST_HEADER = "x-regie-test"
USER, USER_PASSWORD = "regie", "motdepasse"


class Clock:
    """The backend's clock: real time, shifted by `shift` seconds, or stopped at `fixed`."""

    def __init__(self) -> None:
        self.shift = 0.0
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        if self.fixed is not None:
            return self.fixed
        return datetime.now(UTC) + timedelta(seconds=self.shift)


class Faults:
    """ASGI middleware around the real backend: counts, delays and drops, changes nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: Counter[tuple[str, str]] = Counter()
        self.delays: dict[str, float] = {}
        self.live_sockets = 0
        self._drops: set[asyncio.Event] = set()

    def count(self, method: str, pattern: str) -> int:
        """How many frontend requests with `method` had a path matching `pattern`."""
        return sum(n for (m, path), n in self.requests.items() if m == method and re.fullmatch(pattern, path))

    def drop_live(self) -> None:
        """Close every live WebSocket now, as a network cut would (the frontend reconnects)."""
        for drop in self._drops:
            drop.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        path = scope["path"]
        if TEST_HEADER.encode() not in headers:
            method = scope.get("method", "WS")
            self.requests[(method, path)] += 1
        for pattern, delay in self.delays.items():
            if re.fullmatch(pattern, path):
                await asyncio.sleep(delay)
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        drop = asyncio.Event()
        self._drops.add(drop)
        self.live_sockets += 1

        async def dropping_receive() -> Message:
            receiving = asyncio.ensure_future(receive())
            dropped = asyncio.ensure_future(drop.wait())
            done, _ = await asyncio.wait({receiving, dropped}, return_when=asyncio.FIRST_COMPLETED)
            if receiving in done:
                dropped.cancel()
                return receiving.result()
            receiving.cancel()
            return {"type": "websocket.disconnect", "code": 1006}

        async def dropping_send(message: Message) -> None:
            if drop.is_set() and message["type"] == "websocket.send":
                return
            await send(message)

        try:
            await self.app(scope, dropping_receive, dropping_send)
        finally:
            self.live_sockets -= 1
            self._drops.discard(drop)
            if drop.is_set():
                # The connection is cut: the peer sees it close, whatever the app did.
                with _suppress():
                    await send({"type": "websocket.close", "code": 1012})


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(Exception)


@dataclass
class Backend:
    """The real backend on a loopback port, its faults, and a client for the tests' own calls."""

    database_url: str
    port: int = field(default_factory=free_port)
    clock: Clock = field(default_factory=Clock)
    faults: Faults | None = None
    # The deployment's REGIE_SECRET_KEY, shared with the frontend (its relay credential); None: random.
    secret_key: str | None = None
    api: Api | None = None
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        if self.secret_key is None:
            return Settings(database_url=self.database_url)
        return Settings(database_url=self.database_url, secret_key=self.secret_key)

    async def start(self) -> None:
        faults = self.faults or Faults(create_app(self.settings, clock=self.clock))
        if self.faults is None:
            self.faults = faults
        else:
            faults.app = create_app(self.settings, clock=self.clock)
        config = server_config(faults, host="127.0.0.1", port=self.port)
        config.access_log = False
        config.lifespan = "on"
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.url, timeout=10, headers={TEST_HEADER: "1"})
            self.api = Api(url=self.url, settings=self.settings, client=self._client, server=self._server)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def close(self) -> None:
        await self.stop()
        if self._client is not None:
            await self._client.aclose()

    # --- the tests' own calls ---------------------------------------------------------------

    async def version(self) -> int:
        assert self.api is not None
        return int((await self.api.live(samples.SLUG))["version"])

    async def press(self, action: str, target: str | None = None) -> dict[str, Any]:
        """A moderator's press through the real control API, on the current version."""
        assert self.api is not None
        response = await self.api.control(action, await self.version(), target, slug=samples.SLUG)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def replace(self, **changes: Any) -> dict[str, Any]:
        """Replace the test programme through the real `PUT`, as an admin, with `changes`."""
        assert self.api is not None
        headers = {"Authorization": f"Bearer {await self.api.token('admin')}"}
        document = {**samples.document(), **changes}
        response = await self.api.client.put(f"/api/v1/events/{samples.SLUG}", json=document, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def live(self) -> dict[str, Any]:
        assert self.api is not None
        return await self.api.live(samples.SLUG)

    def reads_of_programme(self) -> int:
        """GETs of the programme by the frontend (`/api/v1/events/{slug}`)."""
        assert self.faults is not None
        return self.faults.count("GET", rf"/api/v1/events/{samples.SLUG}")


__all__ = ["PASSWORD", "USER", "USER_PASSWORD", "Backend", "Clock", "Faults"]
