"""Who is logged in on this browser, looked up once per page so every page's header can say so.

A middleware rather than code in each route, because `page()` renders synchronously and the
session store may be Redis: the lookup happens before the route, on every GET of a page, and is
left in `request.state.moderator` (None for a viewer, or when the store is out of reach — a page
for the public must not fail because the moderators' sessions are unavailable).
"""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Receive, Scope, Send

from frontend.sessions import SessionStoreUnavailable


class IdentityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope["path"].startswith("/static/")
        ):
            state = scope.setdefault("state", {})
            state["moderator"] = None
            services = scope["app"].state.services
            with contextlib.suppress(SessionStoreUnavailable):
                state["moderator"] = await services.sessions.get(state.get("session_id"))
        await self.app(scope, receive, send)
