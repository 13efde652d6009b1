"""Bounds every request body the pages take, before a route reads it.

Starlette parses a urlencoded form whole into memory, with no size limit of its own: without a
bound, one POST of a gigabyte to « Posez votre question » or the registration form would hold a
gigabyte in this process. A page's form is a few kilobytes; only the editor (a whole programme,
a YAML import) and document uploads are larger, and they get their own limit by path. Past the
limit the answer is 413 with the pages' French error, and the rest of the body is not read. The
backend has the same guard (`app.api.request_limits`); it is written again here because the
pages never import the backend.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_BYTES = 64 * 1024
"""A viewer's or moderator's form: a question is 500 characters, a registration a few fields."""

LARGER: tuple[tuple[re.Pattern[str], int], ...] = (
    # Document uploads: 20 MB and the multipart framing (frontend.routes.editor checks 20 MB).
    (re.compile(r"^/events/[^/]+/resources$"), 21 * 1024 * 1024),
    # A whole programme, from the editor's form or a YAML file (1 MB at most, with framing).
    (re.compile(r"^/events/(new|import|[^/]+/edit)$"), 2 * 1024 * 1024),
)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, form_bytes: int = FORM_BYTES) -> None:
        self.app = app
        self.form_bytes = form_bytes

    def limit_for(self, path: str) -> int:
        return next((size for pattern, size in LARGER if pattern.match(path)), self.form_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            # Raised where the route reads its body, inside the app: the pages' handlers answer.
            if declared is not None and declared > limit:
                raise HTTPException(413, "request body too large")
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, "request body too large")
            return message

        await self.app(scope, bounded_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
