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

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
