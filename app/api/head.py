"""`HEAD` on every `GET` route: the same status and headers, no body (RFC 9110 §9.3.2).

FastAPI routes declared for GET answer HEAD with 405, and link checkers, feed readers and
calendar apps probe with HEAD before they download. Rather than doubling every route, the
request runs as a GET and its body is dropped on the way out, so the headers (`Content-Length`,
`ETag`, `Content-Type`) are exactly those of the GET.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        answered = False

        # The response ends with its headers: a stream (the SSE live feed) would otherwise keep
        # a HEAD open for ever, and no body is sent anyway. The server then reports the request
        # as disconnected to the app, which stops producing.
        async def without_body(message: Message) -> None:
            nonlocal answered
            if answered:
                return
            if message["type"] == "http.response.start":
                answered = True
                await send(message)
                await send({"type": "http.response.body", "body": b""})

        await self.app({**scope, "method": "GET"}, receive, without_body)
