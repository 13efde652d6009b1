"""A small stand-in for the backend, speaking the public contract v1 on real sockets.

It lets the frontend's tests run the hub, the pages and the console against the same API shapes
the real backend serves, without its database. Behaviour follows contract.md: versions grow by
one per change, control answers 409 with the current live state, secrets stay out until reveal.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import programme_samples as samples
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fanout.wire import ViewerProtocol

TOKEN = "fake-token-moderator"
USERS = {"regie": "motdepasse"}


def now_iso(shift: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=shift)).isoformat().replace("+00:00", "Z")


class FakeShow:
    def __init__(self) -> None:
        self.programme = samples.programme()
        self.hidden = copy.deepcopy(samples.HIDDEN)
        self.version = 1
        self.status = "scheduled"
        self.current: int | None = None
        self.started_at: str | None = None
        self.ended_at: str | None = None
        self.revealed: dict[str, str] = {}
        self.starts: dict[str, str] = {}
        self.timeline: list[dict[str, Any]] = []
        self.subscribers: set[asyncio.Queue[str]] = set()
        self.event_reads = 0
        self.not_modified = 0
        self.control_delay = 0.0
        # The backend's clock minus the real one, in seconds: a backend whose clock is not ours.
        self.clock_shift = 0.0
        self.time_reads = 0
        # What the programme's projected times are while live: {"end": iso, "segments": {id:
        # (start, end)}, "items": {id: start}}; tests move them as an overrunning item would.
        self.projections: dict[str, Any] = {}
        self.updated_at: str | None = None

    @property
    def order(self) -> list[tuple[str, dict[str, Any]]]:
        return [(segment["id"], item) for segment in self.programme["segments"] for item in segment["items"]]

    def public_item(self, segment_id: str, item: dict[str, Any]) -> dict[str, Any]:
        data = dict(item, segment_id=segment_id, actual_start=self.starts.get(item["id"]))
        if self.status == "live":
            data["projected_start"] = self.projections.get("items", {}).get(item["id"])
        if item["mystery"] and item["id"] in self.revealed:
            data.update(self.hidden[item["id"]], revealed=True, revealed_at=self.revealed[item["id"]])
        return data

    def event(self) -> dict[str, Any]:
        event = copy.deepcopy(self.programme)
        event.update(
            status=self.status, version=self.version, started_at=self.started_at, ended_at=self.ended_at
        )
        if self.updated_at:
            event["updated_at"] = self.updated_at
        if self.status == "live":
            event["projected_end"] = self.projections.get("end")
        for segment in event["segments"]:
            if self.status == "live" and segment["id"] in self.projections.get("segments", {}):
                segment["projected_start"], segment["projected_end"] = self.projections["segments"][
                    segment["id"]
                ]
            segment["items"] = [self.public_item(segment["id"], item) for item in segment["items"]]
            starts = [self.starts[i["id"]] for i in segment["items"] if i["id"] in self.starts]
            segment["actual_start"] = min(starts) if starts else None
        return event

    def live(self) -> dict[str, Any]:
        order = self.order
        item = next_item = segment = None
        if self.current is not None:
            segment_id, raw = order[self.current]
            item = self.public_item(segment_id, raw)
            segment = next(
                {k: v for k, v in s.items() if k != "items"}
                for s in self.event()["segments"]
                if s["id"] == segment_id
            )
        upcoming = 0 if self.current is None else self.current + 1
        if self.status != "ended" and upcoming < len(order):
            next_item = self.public_item(*order[upcoming])
        return {
            "event": samples.SLUG,
            "version": self.version,
            "status": self.status,
            "server_time": now_iso(self.clock_shift),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "segment": segment,
            "item": item,
            "next_item": next_item,
            "drift_seconds": 120 if self.status == "live" else 0,
        }

    def apply(self, action: str, target: str | None) -> str | None:
        """Change the show, or say why the action does not fit."""
        order = self.order
        ids = [item["id"] for _, item in order]
        at = now_iso()
        if action == "start":
            if self.status != "scheduled":
                return "the show has already started"
            self.status, self.current, self.started_at = "live", 0, at
        elif action in {"next", "previous", "goto", "end"} and self.status != "live":
            return "the show is not live"
        elif action == "next":
            assert self.current is not None
            if self.current + 1 >= len(order):
                return "this is the last item"
            self.current += 1
        elif action == "previous":
            assert self.current is not None
            if self.current == 0:
                return "this is the first item"
            self.current -= 1
        elif action == "goto":
            if target not in ids:
                return "unknown"
            self.current = ids.index(target)
        elif action == "reveal":
            if target not in self.hidden:
                return "unknown"
            if target in self.revealed:
                return "already revealed"
            self.revealed[target] = at
        elif action == "end":
            self.status, self.ended_at = "ended", at
        self.version += 1
        if action != "reveal" and action != "end" and self.current is not None:
            self.starts.setdefault(ids[self.current], at)
        segment_id, item = order[self.current] if self.current is not None else (None, None)
        self.timeline.append(
            {
                "version": self.version,
                "at": at,
                "action": action,
                "segment_id": segment_id,
                "item_id": target if action == "reveal" else (item["id"] if item else None),
                "offset_seconds": 0.0 if action == "start" else 60.0 * len(self.timeline),
            }
        )
        return None

    def publish(self) -> None:
        message = json.dumps({"type": "live", "live": self.live()})
        for queue in self.subscribers:
            queue.put_nowait(message)


def create_fake_api(show: FakeShow) -> Starlette:
    async def events(request: Request) -> Response:
        event = show.event()
        summary = {
            k: event[k] for k in ("slug", "title", "subtitle", "timezone", "starts_at", "ends_at", "status")
        }
        return JSONResponse([summary])

    def known(request: Request) -> bool:
        return request.path_params["slug"] == samples.SLUG

    async def event(request: Request) -> Response:
        if not known(request):
            return JSONResponse({"detail": "No event has this slug."}, status_code=404)
        body = json.dumps(show.event()).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        if request.headers.get("if-none-match") == etag:
            show.not_modified += 1
            return Response(status_code=304, headers={"ETag": etag})
        show.event_reads += 1
        return Response(body, media_type="application/json", headers={"ETag": etag})

    async def server_time(request: Request) -> Response:
        show.time_reads += 1
        return JSONResponse({"server_time": now_iso(show.clock_shift)}, headers={"Cache-Control": "no-store"})

    async def chapters(request: Request) -> Response:
        if not known(request):
            return JSONResponse({"detail": "No event has this slug."}, status_code=404)
        return Response("WEBVTT\n\n00:00:00.000 --> 00:05:00.000\nAccueil\n", media_type="text/vtt")

    async def chapters_json(request: Request) -> Response:
        # A canned answer, as for the WebVTT: the rule that cuts chapters is the real backend's.
        if not known(request):
            return JSONResponse({"detail": "No event has this slug."}, status_code=404)
        canned = [
            {"start_seconds": 0.0, "end_seconds": 60.0, "item_id": "accueil", "title": "Accueil"},
            {"start_seconds": 60.0, "end_seconds": 300.0, "item_id": "etude", "title": "L'étude"},
        ]
        return JSONResponse({"chapters": canned if show.timeline else []})

    async def live(request: Request) -> Response:
        if not known(request):
            return JSONResponse({"detail": "No event has this slug."}, status_code=404)
        return JSONResponse(show.live())

    async def timeline(request: Request) -> Response:
        if not known(request):
            return JSONResponse({"detail": "No event has this slug."}, status_code=404)
        return JSONResponse(show.timeline)

    async def token(request: Request) -> Response:
        form = await request.form()
        if USERS.get(str(form.get("username"))) != form.get("password"):
            return JSONResponse({"detail": "Wrong user name or password."}, status_code=401)
        return JSONResponse({"access_token": TOKEN, "token_type": "bearer"})

    async def control(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"detail": "Not authenticated."}, status_code=401)
        if not known(request):
            return JSONResponse({"detail": "No event has this slug."}, status_code=404)
        body = await request.json()
        if show.control_delay:
            await asyncio.sleep(show.control_delay)
        if body.get("expected_version") != show.version:
            return JSONResponse({"detail": "Someone acted first.", "live": show.live()}, status_code=409)
        problem = show.apply(body["action"], body.get("target"))
        if problem == "unknown":
            return JSONResponse({"detail": "No such item."}, status_code=404)
        if problem:
            return JSONResponse({"detail": problem, "live": show.live()}, status_code=409)
        show.publish()
        return JSONResponse(show.live())

    async def live_ws(websocket: WebSocket) -> None:
        if websocket.path_params["slug"] != samples.SLUG:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        queue: asyncio.Queue[str] = asyncio.Queue()
        show.subscribers.add(queue)

        async def push() -> None:
            await websocket.send_text(json.dumps({"type": "live", "live": show.live()}))
            while True:
                await websocket.send_text(await queue.get())

        async def until_gone() -> None:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        tasks = [asyncio.create_task(push()), asyncio.create_task(until_gone())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            show.subscribers.discard(queue)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                    await task

    return Starlette(
        routes=[
            Route("/api/v1/events", events),
            Route("/api/v1/events/{slug}", event),
            Route("/api/v1/events/{slug}/live", live),
            Route("/api/v1/events/{slug}/timeline", timeline),
            Route("/api/v1/events/{slug}/chapters.vtt", chapters),
            Route("/api/v1/events/{slug}/chapters.json", chapters_json),
            Route("/api/v1/time", server_time),
            Route("/api/v1/auth/token", token, methods=["POST"]),
            Route("/api/v1/events/{slug}/control", control, methods=["POST"]),
            WebSocketRoute("/api/v1/events/{slug}/live/ws", live_ws),
        ]
    )


class _Server(uvicorn.Server):
    """Leaves signals alone: a test's Ctrl-C must stop pytest, not only this server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: Any, *, port: int = 0) -> AsyncIterator[str]:
    """Serve an ASGI app on loopback for the duration of the block; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    # The sockets as `regie web` serves them: through the fan-out's wire (fanout.wire).
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        ws=ViewerProtocol,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
