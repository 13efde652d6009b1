"""Conditional GET for every public read: `ETag`, `Cache-Control`, `If-None-Match` → 304.

A middleware rather than code in each route, because the validator must be computed from the
exact bytes that leave the server: it is a digest of the public body (or a route's own weak
ETag, see `/live`), so it can never carry anything the body does not — a mystery guest's name
cannot leak through a validator. Reads are `no-cache`: any cache may keep them but must ask
again each time, so a reveal is public everywhere at once; the 304 keeps that cheap.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import responses

READ_CACHE_CONTROL = "public, no-cache"
ERROR_CACHE_CONTROL = "no-store"
_TAG = re.compile(r'\*|(?:W/)?"[^"]*"')


def strong_etag(body: bytes) -> str:
    return '"' + base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode() + '"'


def weak_etag(body: bytes) -> str:
    return "W/" + strong_etag(body)


def programme_etag(revision: int, body: bytes) -> str:
    """A programme read's validator: its revision, then a digest of its exact bytes.

    The digest serves `If-None-Match` (any change of the body, a press included, is a new tag);
    the revision serves `If-Match` on a save, which asks only whether the *programme* is still the
    one that was edited: a moderator's press in between does not make an organiser's edit stale.
    """
    return f'"r{revision}-' + strong_etag(body).strip('"') + '"'


_REVISION_TAG = re.compile(r'(W/)?"r(\d{1,12})-[^"]*"')


def expected_revisions(if_match: str | None) -> frozenset[int] | None:
    """The programme revisions an `If-Match` accepts; None when it sets no precondition.

    `*` asks only that the programme exists. A weak tag never matches (RFC 9110 §13.1.1: If-Match
    compares strongly), nor does a tag this server did not make: both leave an empty set, a 412.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    return frozenset(int(m[2]) for m in _REVISION_TAG.finditer(if_match) if not m[1])


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: `*` matches any current representation; tags compare weakly."""
    wanted = _TAG.findall(if_none_match)
    return "*" in wanted or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in wanted}


class ConditionalGetMiddleware:
    """Adds validators and caching rules to the API's GET answers; answers 304 when it can."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()
        streaming = False

        async def capture(message: Message) -> None:
            nonlocal start, streaming
            if streaming:
                await send(message)
            elif message["type"] == "http.response.start":
                # A stream (SSE) never ends: it has no validator, and goes out as it comes.
                if Headers(raw=message["headers"]).get("content-type", "").startswith("text/event-stream"):
                    streaming = True
                    await send(message)
                else:
                    start = message
            elif message["type"] == "http.response.body" and start is not None:
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._answer(scope, start, bytes(body), send)
            else:
                await send(message)

        await self.app(scope, receive, capture)

    async def _answer(self, scope: Scope, start: Message, body: bytes, send: Send) -> None:
        headers = MutableHeaders(raw=list(start["headers"]))
        status: int = start["status"]
        if status != 200:
            headers.setdefault("Cache-Control", ERROR_CACHE_CONTROL)
        elif "no-store" not in headers.get("Cache-Control", ""):
            headers.setdefault("Cache-Control", READ_CACHE_CONTROL)
            etag = headers.setdefault("ETag", strong_etag(body))
            if_none_match = Headers(scope=scope).get("If-None-Match")
            if if_none_match is not None and _matches(if_none_match, etag):
                for name in ("Content-Length", "Content-Type", "Content-Disposition"):
                    del headers[name]
                await send({"type": "http.response.start", "status": 304, "headers": headers.raw})
                await send({"type": "http.response.body", "body": b""})
                return
        await send({**start, "headers": headers.raw})
        await send({"type": "http.response.body", "body": body})


# --- What the OpenAPI document says about it -------------------------------------------------

_VALIDATOR_HEADERS: dict[str, Any] = {
    "ETag": {
        "description": "A validator of this exact representation (a digest of its bytes); "
        "send it back in `If-None-Match`.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`public, no-cache`: any cache may store it but must revalidate each time.",
        "schema": {"type": "string"},
    },
}

IF_MATCH: dict[str, Any] = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` of the programme read you edited. If the programme was saved since "
    "(another organiser), the answer is 412 and nothing is stored. Presses of the show in between do "
    "not count: only the programme's revision is compared.",
    "schema": {"type": "string"},
    "example": '"r3-3q2-7wEjRZ0k9lQ2vM1l0c1J"',
}

CONDITIONAL_READ: dict[str, Any] = {
    "parameters": [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "The `ETag` of a copy you hold: the answer is then 304 with no body "
            "if it is still current.",
            "schema": {"type": "string"},
            "example": '"3q2-7wEjRZ0k9lQ2vM1l0c1J"',
        }
    ]
}


def read_responses(*codes: int, ok: dict[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """A conditional read's 200 (with `ok`'s content) and 304, and its documented error answers."""
    documented: dict[int | str, dict[str, Any]] = {
        200: {**(ok or {}), "headers": _VALIDATOR_HEADERS},
        304: {
            "description": "Not modified: the copy whose `ETag` was sent in `If-None-Match` is current.",
            "headers": _VALIDATOR_HEADERS,
        },
    }
    # Every read touches the database, which may be out of reach for a moment.
    documented.update(responses(*codes, 503))
    return documented
