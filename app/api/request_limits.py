"""Bounds every request body and marks every response `nosniff`, for the whole API.

A request body is read whole into memory before a route sees it (a programme is validated whole,
a form is parsed whole), so its size is bounded before that: by its declared `Content-Length`,
and by counting what arrives for a chunked body that declares none. Past `MAX_BODY_BYTES` the
answer is 413 `payload_too_large` and the rest is not read. A programme (the largest body the
API takes) is a few tens of kilobytes; the seeds are under 20 KB.

`X-Content-Type-Options: nosniff` keeps a browser from reading a JSON answer (which may quote a
value from the request) as HTML or script.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.domain.programme_yaml import MAX_DOCUMENT_BYTES

MAX_BODY_BYTES = MAX_DOCUMENT_BYTES


def too_large(limit: int) -> HTTPException:
    # An HTTPException, not a Refusal: FastAPI turns any other error raised while it reads a body
    # into a 400. `app.api.errors` gives 413 its code, `payload_too_large`.
    return HTTPException(413, f"The request body is larger than {limit // 1000} KB: the rest was not read.")


class RequestLimits:
    """`larger` gives routes that bound their own bodies (file uploads) a limit of their own, by
    the ending of their path."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        path = scope.get("path", "")
        limit = next(
            (size for ending, size in self.larger.items() if path.endswith(ending)), self.max_body_bytes
        )
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            # Raised where the route reads its body, inside the app: its error handlers answer.
            if declared is not None and declared > limit:
                raise too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit)
            return message

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("x-content-type-options", "nosniff")
            await send(message)

        await self.app(scope, bounded_receive, send_nosniff)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
