"""CSRF tokens, Origin checks and the browser's session id cookie.

The API token never leaves the server: the browser holds only a random session id, and the
session (user name, token) lives in `sessions`. Every browser gets an id on its first visit, so
that the login form itself carries a CSRF token; a successful login replaces that id with a fresh
one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontend.sessions import new_session_id

SESSION_COOKIE = "regie_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def csrf_token(secret_key: str, session_id: str) -> str:
    """Bound to the session id, so a token stolen before login is useless after it."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, session_id: str, candidate: str | None) -> bool:
    return bool(candidate) and hmac.compare_digest(csrf_token(secret_key, session_id), candidate or "")


def same_origin(headers: Mapping[str, str], *, scheme: str, allowed: frozenset[str]) -> bool:
    """Whether a request's Origin (when the browser sent one) is this site or an allowed one.

    Browsers always send Origin on WebSocket handshakes and cross-site posts; a client without
    it is not a browser and cannot be tricked into acting with a moderator's cookie.
    """
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    host = headers.get("host", "")
    parts = urlsplit(origin)
    if not parts.netloc:
        return False
    expected_schemes = {"http", "https"} if scheme in {"http", "ws"} else {"https"}
    return parts.scheme in expected_schemes and parts.netloc == host


def safe_next(url: str | None, default: str = "/") -> str:
    """Only paths of this site: a login link must not bounce anyone elsewhere."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return default
    return url


class BrowserIdMiddleware:
    """Gives a browser a session id cookie where a form needs one, and a new one when a route
    rotates it.

    Routes read the id from `request.state.session_id` and rotate it (login, logout) by setting
    `request.state.new_session_id`. A browser without the cookie is given one only on the paths in
    `issue_on` (the login form, whose CSRF token is bound to it): public pages and static files set
    no cookie, so that a cached copy of one never hands a session id to whoever gets it next, and
    an anonymous viewer carries nothing that identifies them.
    """

    def __init__(self, app: ASGIApp, *, secure: bool, issue_on: tuple[str, ...] = ("/login",)) -> None:
        self.app = app
        self.secure = secure
        self.issue_on = issue_on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        current = _cookie(scope, SESSION_COOKIE)
        issued = current is None or not _plausible(current)
        state["session_id"] = current if current is not None and not issued else new_session_id()
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        issued = issued and scope.get("path", "") in self.issue_on

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                rotated = state.get("new_session_id")
                if issued or rotated:
                    value = rotated or state["session_id"]
                    cookie = f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
                    if self.secure or https:
                        cookie += "; Secure"
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _plausible(session_id: str) -> bool:
    return 20 <= len(session_id) <= 64 and all(c.isalnum() or c in "-_" for c in session_id)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                cookie_name, _, cookie_value = part.strip().partition("=")
                if cookie_name == name:
                    return str(cookie_value)
    return None
