"""The two reads every viewer makes, answered before FastAPI's routing and dependency injection.

`GET /api/v1/events/{slug}/live` and `GET /api/v1/events/{slug}` are most of a live show's
traffic. Served from the per-process snapshot they cost microseconds, and FastAPI's routing and
dependency resolution would then be most of their price. This middleware answers them directly
with the same response builders as the documented routes in `app.api.live` and `app.api.events`,
and hands over to those routes whenever it cannot (unknown event, database unreachable), so
every error still has one path and one shape. It sits inside the CORS and conditional-GET
middlewares, which apply to its answers as to any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.events import event_response
from app.api.live import live_response
from app.services.programmes import EventNotFound
from app.services.snapshots import Snapshots

_HOT_PATH = re.compile(r"/api/v1/events/([a-z0-9][a-z0-9-]{0,79})(/live)?")


class HotReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _HOT_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        snapshots: Snapshots = state.snapshots
        clock: Callable[[], datetime] = state.clock
        try:
            entry = await snapshots.get(match[1])
        except (EventNotFound, SQLAlchemyError, OSError):
            await self.app(scope, receive, send)  # the documented route answers 404 or 503
            return
        now = clock()
        response = (
            live_response(snapshots, entry, now=now)
            if match[2]
            else event_response(snapshots, entry, now=now)
        )
        await response(scope, receive, send)
